"""The Dagster code location loads, and its asset graph is what the README describes."""

from __future__ import annotations

import importlib

from operational_api.export import exported_tables
from tests.conftest import STEP_TIMEOUT


def test_definitions_load_with_every_job_and_expected_assets(parsed_var_dir):
    module = importlib.import_module("orchestration.definitions")
    defs = importlib.reload(module).defs
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"operational/{t.name}" for t in exported_tables()} <= keys
    assert {
        "staging/stg_operational__appointments",
        "marts/fct_appointments",
        "marts/mtr_kept_visit_rate",
        "marts/fct_practice_metrics",
        "reference/metric_dictionary",
    } <= keys
    for job in defs.jobs or []:
        defs.resolve_job_def(job.name)
    assert {s.name for s in defs.schedules} >= {"warehouse_realtime_schedule", "warehouse_daily_schedule"}


def test_staging_reads_the_landed_operational_source(parsed_var_dir):
    defs = importlib.import_module("orchestration.definitions").defs
    graph = defs.resolve_asset_graph()
    from dagster import AssetKey

    parents = graph.get(AssetKey(["staging", "stg_operational__appointments"])).parent_keys
    assert AssetKey(["operational", "appointments"]) in parents


def test_advancedmd_landing_feeds_its_staging_and_the_unioned_appointments(parsed_var_dir):
    defs = importlib.import_module("orchestration.definitions").defs
    graph = defs.resolve_asset_graph()
    from dagster import AssetKey

    for entity in ("patients", "insurance", "visits", "charges", "eligibility"):
        parents = graph.get(AssetKey(["staging", f"stg_advancedmd__{entity}"])).parent_keys
        assert AssetKey(["advancedmd", entity]) in parents
    unioned = graph.get(AssetKey(["intermediate", "int_appointments_unioned"])).parent_keys
    assert {
        AssetKey(["intermediate", "int_advancedmd_visits_linked"]),
        AssetKey(["staging", "stg_operational__appointments"]),
    } <= unioned
    linked = graph.get(AssetKey(["intermediate", "int_advancedmd_visits_linked"])).parent_keys
    assert {
        AssetKey(["staging", "stg_advancedmd__visits"]),
        AssetKey(["staging", "stg_operational__advancedmd_patients"]),
        AssetKey(["staging", "stg_operational__advancedmd_provider_links"]),
    } <= linked
    assert {s.name for s in defs.schedules} >= {
        "advancedmd_visits_15min_schedule",
        "advancedmd_patients_hourly_schedule",
    }


def test_workspace_validates_as_the_dagster_ui_loads_it(parsed_var_dir):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_warehouse_refresh_schedules_run_from_the_first_start(parsed_var_dir):
    """A fresh deployment refreshes its "real-time" measures without anyone switching a schedule on."""
    import dagster as dg

    defs = importlib.reload(importlib.import_module("orchestration.definitions")).defs
    status = {s.name: s.default_status for s in defs.schedules}
    for name in (
        "warehouse_realtime_schedule",
        "warehouse_daily_schedule",
        "warehouse_weekly_schedule",
        "warehouse_monthly_schedule",
    ):
        assert status[name] == dg.DefaultScheduleStatus.RUNNING, name
    # The embedded demo's AdvancedMD is the simulator: its syncs stay stopped (no measure reads them).
    assert status["advancedmd_visits_15min_schedule"] == dg.DefaultScheduleStatus.STOPPED


def test_only_the_realtime_refresh_lands_incrementally_and_skips_data_tests(parsed_var_dir):
    """The 15-minute refresh's run config is valid for the job and asks for an incremental landing and dbt builds
    without data tests; the nightly, weekly and monthly runs (and any run launched without config) land in full
    and test."""
    import dagster as dg

    from orchestration.defs.dbt.run_config import DBT_OPS

    defs = importlib.reload(importlib.import_module("orchestration.definitions")).defs
    job = defs.resolve_job_def("warehouse_refresh_job")
    for schedule in defs.schedules:
        if getattr(schedule, "job_name", None) != "warehouse_refresh_job":
            continue
        context = dg.build_schedule_context(scheduled_execution_time=None)
        config = next(iter(schedule.evaluate_tick(context).run_requests)).run_config
        ops = dg.validate_run_config(job, config)["ops"]
        realtime = schedule.name == "warehouse_realtime_schedule"
        assert ops["operational_tables"]["config"]["full"] is not realtime, schedule.name
        assert {ops[op]["config"]["data_tests"] for op in DBT_OPS} == {not realtime}, schedule.name


def test_advancedmd_schedules_run_by_default_against_live_advancedmd(var_dir, monkeypatch):
    import dagster as dg

    from orchestration.defs.advancedmd.schedules import default_schedule_status

    monkeypatch.setenv("MENTALSPACE_ADVANCEDMD", "live")
    assert default_schedule_status() == dg.DefaultScheduleStatus.RUNNING
    monkeypatch.setenv("MENTALSPACE_ADVANCEDMD", "simulator")
    assert default_schedule_status() == dg.DefaultScheduleStatus.STOPPED
