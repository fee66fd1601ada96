"""A refresh keeps the views and seeds of the last build only while nothing they are made from changed
(mentalspace_platform/view_reuse.py)."""

from __future__ import annotations

import dataclasses

import polars as pl

from mentalspace_platform.environment import current_environment
from mentalspace_platform.view_reuse import record_views_built, views_are_current, views_context
from mentalspace_platform.warehouse import TableWrite, Warehouse
from tests.conftest import postgres_env

STEP = "warehouse_models"


def _landed(warehouse: Warehouse, columns: dict[str, list]) -> None:
    warehouse.write_together([TableWrite("raw_operational", "payers", [pl.DataFrame(columns)])])


def test_views_are_kept_only_in_the_context_they_were_made_in(var_dir, monkeypatch):
    env = current_environment()
    warehouse = Warehouse(env)
    _landed(warehouse, {"id": [1], "name": ["Payer A"]})
    context = views_context(warehouse, env)
    assert not views_are_current(warehouse, STEP, context), "never built: every view is made"

    record_views_built(warehouse, STEP, context)
    assert views_are_current(warehouse, STEP, views_context(warehouse, env))
    assert not views_are_current(warehouse, "warehouse_metrics", context), "each step records its own"

    # New rows change no view.
    _landed(warehouse, {"id": [1, 2], "name": ["Payer A", "Payer B"]})
    assert views_are_current(warehouse, STEP, views_context(warehouse, env))
    # Another column of a landed table (a view may read `select *`), another pinned day, another system of
    # record: the views are made again.
    _landed(warehouse, {"id": [1], "name": ["Payer A"], "payer_code": ["X"]})
    assert not views_are_current(warehouse, STEP, views_context(warehouse, env))
    _landed(warehouse, {"id": [1], "name": ["Payer A"]})
    assert views_are_current(warehouse, STEP, views_context(warehouse, env))
    assert not views_are_current(
        warehouse, STEP, views_context(warehouse, dataclasses.replace(env, as_of_date="2026-01-05"))
    )
    monkeypatch.setenv("MENTALSPACE_BILLING_RECORD", "advancedmd")
    assert not views_are_current(warehouse, STEP, views_context(warehouse, env))


def test_postgresql_always_makes_its_views(var_dir, pg_database, monkeypatch):
    # dbt replaces a PostgreSQL table by dropping the old one with CASCADE, which drops the views reading it.
    for name, value in postgres_env(var_dir, pg_database).items():
        monkeypatch.setenv(name, value)
    env = current_environment()
    warehouse = Warehouse(env)
    _landed(warehouse, {"id": [1], "name": ["Payer A"]})
    context = views_context(warehouse, env)
    record_views_built(warehouse, STEP, context)
    assert not views_are_current(warehouse, STEP, context)
