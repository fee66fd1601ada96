"""dbt models, seeds and tests as Dagster assets and checks (a `dbt build` per multi-asset, events streamed)."""

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from mentalspace_platform.catalog import generate_catalog
from mentalspace_platform.environment import current_environment
from mentalspace_platform.measure_window import plan_measures_build, record_measures_built
from operational_api.errors import PlatformError
from operational_api.settings import practice_timezone
from orchestration.defs.advancedmd.keys import LANDING_TABLES as ADVANCEDMD_LANDING_TABLES
from orchestration.defs.alerts.assets import store_compliance_alerts
from orchestration.defs.dbt.partitions import METRIC_MONTHS, measures_window_args, metric_window_args
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DbtCli, dbt_project
from orchestration.defs.dbt.run_config import REALTIME_REFRESH, DbtBuildConfig, MeasuresBuildConfig
from orchestration.defs.era.assets import era_landing_tables
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.run_queue import WAREHOUSE_REFRESH_TAGS

# Schedules follow the practice's day, not the server's.
PRACTICE_TZ = practice_timezone()

PROJECT = dbt_project()


# The measures and the views stacking them (partitioned by month, orchestration/defs/dbt/partitions.py), and what
# reads them (the compliance alerts): three dbt builds in a refresh, in this order, since a multi-asset's assets
# cannot sit both upstream and downstream of another's.
METRIC_PATHS = ("models/marts/metrics/", "models/intermediate/metrics/")
METRIC_MODELS = " ".join(f"path:{p.rstrip('/')}" for p in METRIC_PATHS)
AFTER_METRICS = "fct_practice_metrics+"
METRICS_GROUP = "metrics"


class _MetricsTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props) -> str:
        # Its own group: the dashboards' Backfills page offers a backfill per partitioned group.
        return METRICS_GROUP

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        # The measures' edges among themselves (mtr_* -> int_practice_metrics_unioned -> fct_practice_metrics)
        # are left out of the asset graph: Dagster fails a run without partitions (the refresh) of a partitioned
        # asset whose partitioned parent was ever materialized (it maps the parent's partitions through the run's
        # partition range, which such a run has not). dbt still orders them, being one `dbt build`.
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not hasattr(self, "_metric_keys"):
            self._metric_keys = {
                self.get_asset_key(node)
                for node in manifest["nodes"].values()
                if node["resource_type"] == "model" and node["original_file_path"].startswith(METRIC_PATHS)
            }
        if spec.key not in self._metric_keys:
            return spec
        return spec.replace_attributes(deps=[d for d in spec.deps if d.asset_key not in self._metric_keys])


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCli,
    warehouse: WarehouseResource,
    extra: list[str],
    config: DbtBuildConfig,
):
    # Unit tests check formulas against fixed fixtures, not data: they run in the test suite
    # (tests/dbt/test_measures_demo.py, both warehouses), not on every refresh of the warehouse. Data tests cost
    # about as much as the models they test; the 15-minute refresh leaves them to the nightly run (their asset
    # checks then show as not run in that refresh).
    excluded = ["unit_test"] if config.data_tests else ["unit_test", "test"]
    # dbt finds the copy through the environment `writing()` sets (MENTALSPACE_DUCKDB_PATH). Outside a refresh
    # (this step alone, from the UI, or a backfill) the copy is swapped in after dbt's events have streamed: a
    # failed swap then fails the step after its models were reported built, in a copy that is discarded.
    with warehouse.writing():
        yield from dbt.cli(
            ["build", *(arg for kind in excluded for arg in ("--exclude-resource-type", kind)), *extra],
            context=context,
        ).stream()


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    exclude=f"{METRIC_MODELS} {AFTER_METRICS}",
    name="warehouse_models",
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCli, warehouse: WarehouseResource, config: DbtBuildConfig
):
    """Every staging, intermediate and mart model and seed the measures read; dbt tests arrive as asset checks."""
    yield from _build(context, dbt, warehouse, [], config)


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    select=METRIC_MODELS,
    name="warehouse_metrics",
    partitions_def=METRIC_MONTHS,
    # A range of months is one `dbt build` (one window), not a run per month.
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=_MetricsTranslator(),
)
def warehouse_metrics(
    context: dg.AssetExecutionContext, dbt: DbtCli, warehouse: WarehouseResource, config: MeasuresBuildConfig
):
    """The measures (mtr_* and fct_practice_metrics): a range of months recomputes the periods starting in it;
    a run without partitions the periods its changes touch (mentalspace_platform/measure_window.py), every
    period after a full landing."""
    if context.has_partition_key or context.has_partition_key_range:
        yield from _build(context, dbt, warehouse, metric_window_args(context.partition_time_window), config)
        return
    with warehouse.writing() as wh:
        plan = plan_measures_build(wh, current_environment(), every_period=config.every_period)
        context.log.info(
            f"measures: recomputing {'every period' if plan.window is None else 'periods from ' + str(plan.window[0])}"
            f" ({plan.reason})"
        )
        yield from _build(context, dbt, warehouse, measures_window_args(plan.window), config)
        # Only once dbt succeeded: a failed build leaves the marks for the next one.
        record_measures_built(wh, plan)


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    select=AFTER_METRICS,
    exclude=METRIC_MODELS,
    name="warehouse_alert_models",
)
def warehouse_alert_models(
    context: dg.AssetExecutionContext, dbt: DbtCli, warehouse: WarehouseResource, config: DbtBuildConfig
):
    """The compliance alerts, which read the measures (thresholds, escalations)."""
    yield from _build(context, dbt, warehouse, [], config)


CATALOG_KEY = dg.AssetKey(["warehouse", "catalog"])


@dg.asset(
    key=CATALOG_KEY,
    # After every dbt build of the refresh, before the swap: dbt reads the run's copy of an embedded warehouse,
    # never the live file the dashboards hold open.
    deps=[*warehouse_models.keys, *warehouse_metrics.keys, *warehouse_alert_models.keys],
    group_name="warehouse",
)
def warehouse_catalog(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The analysts' catalog: dbt's docs site of the warehouse (every model's grain, columns and their meaning),
    written to the catalog folder when what it shows has changed (mentalspace_platform/catalog.py)."""
    try:
        with warehouse.writing():
            result = generate_catalog(current_environment())
    except PlatformError as exc:
        # The warehouse itself is sound: a catalog that could not be written must not keep it from being swapped
        # in. The previous catalog stays served; the warning says why it is not current.
        context.log.warning(f"the analysts' catalog was not updated: {exc}")
        return dg.MaterializeResult(metadata={"generated": False, "error": str(exc)})
    context.log.info(
        f"analysts' catalog {'written' if result.generated else 'already current'} in {result.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "generated": result.generated,
            "seconds": round(result.seconds, 2),
            "folder": str(result.folder),
        }
    )


@dg.asset(
    key=["warehouse", "published"],
    # Every other step of the refresh job comes first (the dbt build is upstream of the alert sync and the
    # catalog; the two setup steps are not upstream of dbt): tests/orchestration/test_dagster_swap.py checks that
    # it stays so.
    deps=[store_compliance_alerts.key, CATALOG_KEY, era_landing_tables.key, ADVANCEDMD_LANDING_TABLES],
    group_name="warehouse",
    description="The refresh's copy of the embedded warehouse swapped in whole, once every other step "
    "succeeded (nothing to do on PostgreSQL, or under `mentalspace build`, which swaps its own copy).",
)
def warehouse_published(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    swapped = warehouse.publish()
    context.log.info(
        "the rebuilt warehouse is now the live one" if swapped else "nothing to swap in this run"
    )
    return dg.MaterializeResult(metadata={"swapped": swapped})


# Land the store, build every model, sync alerts. Partitioned ingest (ERA files, AdvancedMD days)
# runs in its own jobs; this one never needs a partition key: without one the month-partitioned measures are
# rebuilt whole (a backfill of some months is metrics_backfill_job, or the Backfills page). AdvancedMD syncs are not part of it
# (they keep to the API's tier budget on their own schedules); only their empty landing tables are.
# One process and one staged copy of the embedded warehouse per run (WarehouseResource), swapped in by the
# last step, `warehouse/published`, when every other step succeeded, as `mentalspace build` does.
WAREHOUSE_JOB = dg.define_asset_job(
    "warehouse_refresh_job",
    selection=dg.AssetSelection.groups("operational", "era_setup", "advancedmd_setup", "alerts")
    | dg.AssetSelection.assets(
        warehouse_models, warehouse_metrics, warehouse_alert_models, warehouse_catalog, warehouse_published
    ),
    executor_def=dg.in_process_executor,
    tags={**WAREHOUSE_REFRESH_TAGS},
)

# A range of months of the measures in one run, from the measures the warehouse's other models give now:
# `mentalspace metrics backfill`, the Dagster UI, or the dashboards' Backfills page (the same asset selection).
METRICS_BACKFILL_JOB = dg.define_asset_job(
    "metrics_backfill_job",
    selection=dg.AssetSelection.assets(warehouse_metrics),
    partitions_def=METRIC_MONTHS,
)

# Real-time measures (KVR, unsigned notes, today's schedule) every 15 minutes in the practice's day;
# the nightly run also picks up everything that only changes daily. Every warehouse schedule runs
# from the first start of a deployment (demo or production): a stopped one leaves "real-time" measures
# and alerts as old as the last manual build, and nobody is told.
REFRESH_STATUS = dg.DefaultScheduleStatus.RUNNING
# The real-time refresh: an incremental landing, the periods it touches, no data tests (run_config.py).
warehouse_realtime_schedule = dg.ScheduleDefinition(
    name="warehouse_realtime_schedule",
    job=WAREHOUSE_JOB,
    cron_schedule="*/15 7-20 * * 1-6",
    execution_timezone=PRACTICE_TZ,
    default_status=REFRESH_STATUS,
    run_config=REALTIME_REFRESH,
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
    assets=[
        warehouse_models,
        warehouse_metrics,
        warehouse_alert_models,
        warehouse_catalog,
        warehouse_published,
    ],
    jobs=[WAREHOUSE_JOB, METRICS_BACKFILL_JOB],
    schedules=[
        warehouse_realtime_schedule,
        warehouse_daily_schedule,
        warehouse_weekly_schedule,
        warehouse_monthly_schedule,
    ],
    resources={"dbt": DbtCli(project_dir=PROJECT, dbt_executable=DBT_EXECUTABLE, target=PROJECT.target)},
)
