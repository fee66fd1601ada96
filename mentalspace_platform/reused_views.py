"""Whether a refresh may leave the warehouse's dbt views as they are instead of re-creating them (issue 17).

A view holds no rows: what it returns follows its tables at query time, so re-creating it only matters when its SQL
would differ, which is decided by the dbt project's files and the settings rendered into that SQL (the target, the
practice's time zone, the systems of record: `measures_context`, and a pinned as-of date). Re-creating the ~80
staging and intermediate views was a large share of every 15-minute refresh's dbt work, for nothing.

So a build that re-created a step's views records the context it built them under
(`refresh_state.views_built`, one row per dbt step), and a refresh that asks to reuse them leaves them out when
that record matches the current context. Only on DuckDB: its views are bound by name when queried, so replacing
a table under a view leaves the view working; PostgreSQL binds a view to the table itself, and dbt's and the
landing's `drop ... cascade` of a replaced table drops the views on it, which must then be re-created.
"""

from __future__ import annotations

import os

import polars as pl

from mentalspace_platform.environment import Environment
from mentalspace_platform.measure_window import STATE_SCHEMA, measures_context

VIEWS_TABLE = "views_built"
# The var dbt_project.yml reads the pinned as-of date from: the views' SQL carries it as a literal when pinned.
AS_OF_VAR = "MENTALSPACE_AS_OF_DATE"


def views_context(env: Environment) -> str:
    """Everything a view's SQL is rendered from besides the data."""
    return f"{measures_context(env)}:{os.environ.get(AS_OF_VAR, '').strip()}"


def views_current(warehouse, env: Environment, step: str) -> bool:
    """Whether `step`'s views in `warehouse` (the build's copy) were last built under the current context."""
    if env.warehouse_kind != "duckdb":
        return False
    exists = warehouse.query(
        "select count(*) as n from information_schema.tables "
        f"where table_schema = '{STATE_SCHEMA}' and table_name = '{VIEWS_TABLE}'"
    )
    if not exists["n"][0]:
        return False
    frame = warehouse.query(f"select step, context from {STATE_SCHEMA}.{VIEWS_TABLE}")
    built = dict(zip(frame["step"].to_list(), frame["context"].to_list(), strict=True))
    return built.get(step) == views_context(env)


def record_views_built(warehouse, env: Environment, step: str, *, built: bool = True) -> None:
    """After a build of every view of `step` succeeded: the context they were built under; before it
    (`built=False`): none, since a build failing half-way leaves views of both contexts."""
    from mentalspace_platform.warehouse import TableWrite

    row = pl.DataFrame({"step": [step], "context": [views_context(env) if built else ""]})
    warehouse.write_together([TableWrite(STATE_SCHEMA, VIEWS_TABLE, [row], partition=("step", step))])
