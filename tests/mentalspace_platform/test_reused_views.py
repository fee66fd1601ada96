"""Reusing the warehouse's dbt views (mentalspace_platform/reused_views.py): only for the step that built them,
under the same project and settings, and never after a build of them that did not finish."""

from __future__ import annotations

from mentalspace_platform.environment import current_environment
from mentalspace_platform.reused_views import AS_OF_VAR, record_views_built, views_current
from mentalspace_platform.warehouse import Warehouse


def test_views_are_reused_only_when_built_by_that_step_under_the_same_settings(var_dir, monkeypatch):
    monkeypatch.setenv(AS_OF_VAR, "2026-11-25")
    env = current_environment()
    assert env.warehouse_kind == "duckdb"
    warehouse = Warehouse(env)
    record_views_built(warehouse, env, "warehouse_alert_models")
    assert not views_current(warehouse, env, "warehouse_models")  # another step's views

    record_views_built(warehouse, env, "warehouse_models")
    assert views_current(warehouse, env, "warehouse_models")

    # A pinned as-of date is rendered into the views' SQL.
    monkeypatch.setenv(AS_OF_VAR, "2026-11-26")
    assert not views_current(warehouse, env, "warehouse_models")
    monkeypatch.setenv(AS_OF_VAR, "2026-11-25")
    assert views_current(warehouse, env, "warehouse_models")

    # A build of the views that started and did not finish leaves them of no known context.
    record_views_built(warehouse, env, "warehouse_models", built=False)
    assert not views_current(warehouse, env, "warehouse_models")


def test_another_system_of_record_rebuilds_the_views(var_dir, monkeypatch):
    env = current_environment()
    warehouse = Warehouse(env)
    record_views_built(warehouse, env, "warehouse_models")
    monkeypatch.setenv("MENTALSPACE_BILLING_RECORD", "advancedmd")
    assert not views_current(warehouse, env, "warehouse_models")
