"""Whether a refresh's `dbt build` may keep the views and seeds the last build made instead of making them again.

A view's definition and a seed's rows depend only on what dbt renders them from: the project's files, the target,
the vars dbt_project.yml takes from the environment (time zone, a pinned as-of date, the systems of record), dbt's
and its adapter's versions, and, for a view reading `select *` of a landed table, the landed tables' columns. When
none of those changed since a build made them, making them again gives the same views and rows: on the
100-clinician practice the 15-minute refresh spent about 9 s of its dbt threads' time on 71 views and 8 seeds
(issue 17's 15 s budget).

Only on DuckDB, whose views name their tables and bind to them when queried: a table rebuilt under them keeps them
valid. PostgreSQL's views bind to the table itself, and dbt replaces a table by dropping the old one with CASCADE,
which drops the views reading it: there every build makes its views.

Each dbt step records, once it succeeded, the context it made its views in (`refresh_state.views_built`, one row per
step, in the build's copy of the warehouse). Only runs that ask for it (the 15-minute refresh, `reuse_views` in
orchestration/defs/dbt/run_config.py) keep views; the nightly run and every run by hand make them all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib.metadata import version as installed_version

import polars as pl

from mentalspace_platform.environment import Environment
from mentalspace_platform.measure_window import STATE_SCHEMA, measures_context

VIEWS_TABLE = "views_built"
# What a build keeps when its views are current (`dbt build` arguments).
KEPT = ("--exclude", "config.materialized:view", "--exclude-resource-type", "seed")
VIEWS_SCHEMA = {"step": pl.Utf8, "context": pl.Utf8, "built_at": pl.Datetime("us")}


def views_context(warehouse, env: Environment) -> str:
    """A digest of everything the views and seeds are rendered from (see the module docstring)."""
    digest = hashlib.sha256(measures_context(env).encode())
    digest.update(f"as_of={env.as_of_date or ''}\0".encode())
    for package in ("dbt-core", "dbt-duckdb", "dbt-postgres"):
        try:
            digest.update(f"{package}={installed_version(package)}\0".encode())
        except Exception:  # noqa: BLE001 - a package not installed renders nothing
            digest.update(f"{package}=\0".encode())
    columns = warehouse.query(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema like 'raw_%' order by 1, 2, 3"
    )
    digest.update(columns.write_csv().encode())
    return digest.hexdigest()


def views_can_be_kept(warehouse) -> bool:
    """Whether a build in `warehouse` may keep views at all (see the module docstring): only then is a context
    worth computing and recording."""
    return warehouse.kind == "duckdb"


def views_are_current(warehouse, step: str, context: str) -> bool:
    """Whether `step`'s last successful build made its views and seeds in `context` (DuckDB only)."""
    if not views_can_be_kept(warehouse):
        return False
    if not warehouse.has_table(STATE_SCHEMA, VIEWS_TABLE):
        return False
    recorded = warehouse.query(f"select context from {STATE_SCHEMA}.{VIEWS_TABLE} where step = ?", [step])
    return recorded.height == 1 and recorded["context"][0] == context


def record_views_built(warehouse, step: str, context: str) -> None:
    """After `step`'s build made its views and seeds and succeeded: the context it made them in."""
    from mentalspace_platform.warehouse import TableWrite

    row = pl.DataFrame(
        {"step": [step], "context": [context], "built_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)]},
        schema=VIEWS_SCHEMA,
    )
    warehouse.write_together([TableWrite(STATE_SCHEMA, VIEWS_TABLE, [row], partition=("step", step))])
