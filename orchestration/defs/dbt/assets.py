"""dbt models, seeds and tests as Dagster assets and checks (one `dbt build`, events streamed)."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import DBT_EXECUTABLE, dbt_project

PROJECT = dbt_project()


@dbt_assets(manifest=PROJECT.manifest_path, project=PROJECT)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Every staging, intermediate and mart model and seed; dbt tests arrive as asset checks."""
    yield from dbt.cli(["build"], context=context).stream()


WAREHOUSE_JOB = dg.define_asset_job("warehouse_refresh_job", selection=dg.AssetSelection.all())

# Real-time measures (KVR, unsigned notes, today's schedule) every 15 minutes in the practice's day;
# the nightly run also picks up everything that only changes daily.
warehouse_realtime_schedule = dg.ScheduleDefinition(
    name="warehouse_realtime_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="*/15 7-20 * * 1-6",
    execution_timezone="America/New_York",
)
warehouse_daily_schedule = dg.ScheduleDefinition(
    name="warehouse_daily_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="30 2 * * *",
    execution_timezone="America/New_York",
)

defs = dg.Definitions(
    assets=[warehouse_models],
    jobs=[WAREHOUSE_JOB],
    schedules=[warehouse_realtime_schedule, warehouse_daily_schedule],
    resources={"dbt": DbtCliResource(project_dir=PROJECT, dbt_executable=DBT_EXECUTABLE, target=PROJECT.target)},
)
