"""dbt models, seeds and tests as Dagster assets and checks (one `dbt build`, events streamed)."""

import dagster as dg
from dagster_dbt import dbt_assets

from operational_api.settings import practice_timezone
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DbtCli, dbt_project
from orchestration.lib.resources import STAGED_RUN_TAGS, WarehouseResource
from orchestration.lib.run_queue import WAREHOUSE_REFRESH_TAGS

# Schedules follow the practice's day, not the server's.
PRACTICE_TZ = practice_timezone()

PROJECT = dbt_project()


@dbt_assets(manifest=PROJECT.manifest_path, project=PROJECT)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCli, warehouse: WarehouseResource):
    """Every staging, intermediate and mart model and seed; dbt tests arrive as asset checks."""
    # `warehouse` is unused here but required: it is what points dbt at a staged run's copy of the file
    # (a run re-executing only this step would otherwise build the live file in place).
    del warehouse
    # Unit tests check formulas against fixed fixtures, not data: they run in the test suite
    # (tests/dbt/test_measures_demo.py, both warehouses), not on every refresh of the warehouse.
    yield from dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context).stream()


# Land the store, build every model, sync alerts. Partitioned ingest (ERA files, AdvancedMD days)
# runs in its own jobs; this one never needs a partition key. AdvancedMD syncs are not part of it
# (they keep to the API's tier budget on their own schedules); only their empty landing tables are.
# One process and one staged copy of the embedded warehouse per run (WarehouseResource), swapped in when
# every step succeeded, as `mentalspace build` does.
WAREHOUSE_JOB = dg.define_asset_job(
    "warehouse_refresh_job",
    selection=dg.AssetSelection.groups("operational", "era_setup", "advancedmd_setup", "alerts")
    | dg.AssetSelection.assets(warehouse_models),
    executor_def=dg.in_process_executor,
    tags={**STAGED_RUN_TAGS, **WAREHOUSE_REFRESH_TAGS},
)

# Real-time measures (KVR, unsigned notes, today's schedule) every 15 minutes in the practice's day;
# the nightly run also picks up everything that only changes daily. Every warehouse schedule runs
# from the first start of a deployment (demo or production): a stopped one leaves "real-time" measures
# and alerts as old as the last manual build, and nobody is told.
REFRESH_STATUS = dg.DefaultScheduleStatus.RUNNING
warehouse_realtime_schedule = dg.ScheduleDefinition(
    name="warehouse_realtime_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="*/15 7-20 * * 1-6",
    execution_timezone=PRACTICE_TZ,
    default_status=REFRESH_STATUS,
)
warehouse_daily_schedule = dg.ScheduleDefinition(
    name="warehouse_daily_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="30 2 * * *",
    execution_timezone=PRACTICE_TZ,
    default_status=REFRESH_STATUS,
)

# Weekly and monthly aggregations close at their period boundaries (Monday, the 1st) in the practice's zone;
# the 04:00 run re-cuts the period that just ended with its late documentation and postings included.
warehouse_weekly_schedule = dg.ScheduleDefinition(
    name="warehouse_weekly_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="0 4 * * 1",
    execution_timezone=PRACTICE_TZ,
    default_status=REFRESH_STATUS,
)
warehouse_monthly_schedule = dg.ScheduleDefinition(
    name="warehouse_monthly_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="15 4 1 * *",
    execution_timezone=PRACTICE_TZ,
    default_status=REFRESH_STATUS,
)

defs = dg.Definitions(
    assets=[warehouse_models],
    jobs=[WAREHOUSE_JOB],
    schedules=[
        warehouse_realtime_schedule,
        warehouse_daily_schedule,
        warehouse_weekly_schedule,
        warehouse_monthly_schedule,
    ],
    resources={"dbt": DbtCli(project_dir=PROJECT, dbt_executable=DBT_EXECUTABLE, target=PROJECT.target)},
)
