"""dbt models, seeds and tests as Dagster assets and checks (a `dbt build` per multi-asset, events streamed)."""

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from mentalspace_platform.catalog import generate_catalog
from mentalspace_platform.environment import SKIP_CATALOG_VAR, SKIP_DATA_TESTS_VAR, current_environment
from mentalspace_platform.fact_keys import plan_facts_build, record_facts_built
from mentalspace_platform.measure_window import (
    plan_measures_build,
    record_measures_built,
    record_plan,
    recorded_plan,
)
from mentalspace_platform.view_reuse import (
    KEPT,
    record_views_built,
    views_are_current,
    views_can_be_kept,
    views_context,
)
from operational_api.errors import PlatformError
from operational_api.settings import practice_timezone
from orchestration.defs.advancedmd.keys import LANDING_TABLES as ADVANCEDMD_LANDING_TABLES
from orchestration.defs.alerts.assets import store_compliance_alerts
from orchestration.defs.dbt.partitions import (
    METRIC_MONTHS,
    MeasuresBuild,
    measures_window_build,
    metric_window_build,
)
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DbtCli, dbt_project
from orchestration.defs.dbt.run_config import REALTIME_REFRESH, DbtBuildConfig, MeasuresBuildConfig
from orchestration.defs.era.assets import era_landing_tables
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.run_queue import WAREHOUSE_REFRESH_TAGS

# Schedules follow the practice's day, not the server's.
PRACTICE_TZ = practice_timezone()

PROJECT = dbt_project()


# Two dbt builds in a refresh, in this order, since a multi-asset's assets cannot sit both upstream and downstream
# of another's: every model the measures read, then the measures and the views stacking them (partitioned by
# month, orchestration/defs/dbt/partitions.py) with what reads them (the compliance alerts' thresholds and
# escalations). The alerts share the measures' build, and so their partitions, rather than a third build after
# them: each `dbt build` costs about 2.5 s of start-up, a sixth of the 15-minute refresh's budget (issue 17).
METRIC_PATHS = ("models/marts/metrics/", "models/intermediate/metrics/")
METRIC_MODELS = " ".join(f"path:{p.rstrip('/')}" for p in METRIC_PATHS)
AFTER_METRICS = "fct_practice_metrics+"
METRICS_GROUP = "metrics"


def _measures_build_nodes(manifest) -> set[str]:
    """The models of the measures' build: those under METRIC_PATHS and every model reading them."""
    nodes = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["original_file_path"].startswith(METRIC_PATHS)
    }
    unread = list(nodes)
    while unread:
        for child in manifest["child_map"].get(unread.pop(), ()):
            if child.startswith("model.") and child not in nodes:
                nodes.add(child)
                unread.append(child)
    return nodes


class _MetricsTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props) -> str:
        # Its own group: the dashboards' Backfills page offers a backfill per partitioned group.
        return METRICS_GROUP

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        # The edges among the build's own models (mtr_* -> int_practice_metrics_unioned -> fct_practice_metrics
        # -> the alerts') are left out of the asset graph: Dagster fails a run without partitions (the refresh) of
        # a partitioned asset whose partitioned parent was ever materialized (it maps the parent's partitions
        # through the run's partition range, which such a run has not). dbt still orders them, being one build.
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not hasattr(self, "_metric_keys"):
            self._metric_keys = {
                self.get_asset_key(manifest["nodes"][node]) for node in _measures_build_nodes(manifest)
            }
        if spec.key not in self._metric_keys:
            return spec
        return spec.replace_attributes(deps=[d for d in spec.deps if d.asset_key not in self._metric_keys])


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCli,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
    window: MeasuresBuild,
):
    excluded = excluded_resource_types(config.data_tests)
    # dbt finds the copy through the environment `writing()` sets (MENTALSPACE_DUCKDB_PATH). Outside a refresh
    # (this step alone, from the UI, or a backfill) the copy is swapped in after dbt's events have streamed: a
    # failed swap then fails the step after its models were reported built, in a copy that is discarded.
    with warehouse.writing() as wh, _environment(window.env):
        step = context.op_def.name
        # A run of some of the step's models makes only some of its views: it records nothing.
        whole_step = context.selected_asset_keys == context.assets_def.keys
        with wh.held_open():
            # Not on PostgreSQL, which never keeps its views: hashing the project and reading the catalog for nothing.
            views = views_context(wh, current_environment()) if views_can_be_kept(wh) else None
            keep_views = config.reuse_views and views is not None and views_are_current(wh, step, views)
        if keep_views:
            context.log.info(
                "keeping the views and seeds of the last build: nothing they are made from changed"
            )
        kept = _KeptViews(context, keep_views)
        yield from kept.ready()
        for event in dbt.cli(
            [
                "build",
                *(arg for kind in excluded for arg in ("--exclude-resource-type", kind)),
                *(KEPT if keep_views else ()),
                *window.args,
            ],
            context=context,
        ).stream():
            yield event
            if isinstance(event, dg.Output):
                kept.built(context.assets_def.keys_by_output_name[event.output_name])
                yield from kept.ready()
        yield from kept.rest()
        if views is not None and whole_step and not keep_views:
            record_views_built(wh, step, views)


def excluded_resource_types(data_tests: bool) -> list[str]:
    """What a `dbt build` of the warehouse leaves out.

    Unit tests check formulas against fixed fixtures, not data: they run in the test suite
    (tests/dbt/test_measures_demo.py, both warehouses), not on every refresh of the warehouse. Data tests cost about
    as much as the models they test; the 15-minute refresh leaves them to the nightly run (`data_tests` false: their
    asset checks then show as not run in that refresh), and so does every build under the test suite
    (SKIP_DATA_TESTS_VAR), which runs them once per kind of warehouse instead."""
    if data_tests and os.environ.get(SKIP_DATA_TESTS_VAR) != "1":
        return ["unit_test"]
    return ["unit_test", "test"]


class _KeptViews:
    """The views and seeds a build kept, reported as current: without an event Dagster would skip every step after
    this one (the measures, the alerts, the publishing) as if they had failed to build. Dagster wants a step's
    assets in the order of their dependencies, so each goes out once every model it reads has."""

    def __init__(self, context: dg.AssetExecutionContext, keep: bool) -> None:
        selected = context.selected_asset_keys
        self.waiting = {
            spec.key: {dep.asset_key for dep in spec.deps if dep.asset_key in selected}
            for spec in context.assets_def.specs
            if keep
            and spec.key in selected
            and spec.metadata.get("dagster-dbt/materialization_type") in ("view", "seed")
        }
        self.done: set[dg.AssetKey] = set()

    def built(self, key: dg.AssetKey) -> None:
        self.done.add(key)

    def ready(self) -> Iterator[dg.MaterializeResult]:
        while ready := [key for key, reads in self.waiting.items() if reads <= self.done]:
            for key in ready:
                yield self._kept(key)

    def rest(self) -> Iterator[dg.MaterializeResult]:
        for key in list(self.waiting):
            yield self._kept(key)

    def _kept(self, key: dg.AssetKey) -> dg.MaterializeResult:
        del self.waiting[key]
        self.done.add(key)
        return dg.MaterializeResult(
            asset_key=key, metadata={"kept": "made by an earlier build: nothing it is made from changed"}
        )


@contextlib.contextmanager
def _environment(variables: dict[str, str]):
    """`variables` set for the dbt process the step starts (dagster-dbt passes it this process's environment), and
    the previous values back afterwards."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    exclude=f"{METRIC_MODELS} {AFTER_METRICS}",
    name="warehouse_models",
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCli, warehouse: WarehouseResource, config: DbtBuildConfig
):
    """Every staging, intermediate and mart model and seed the measures read; dbt tests arrive as asset checks.

    The by-period intermediates the measures read (int_*_by_period, incremental `period_window`) recompute the
    window the measures' build will: the plan made here from the marks, recorded for warehouse_metrics."""
    with warehouse.writing() as wh:
        # The plans read the warehouse a dozen times: through one connection (each open of the 100-clinician file
        # cost ~50 ms, 0.4 s of the refresh), closed before dbt, which writes the file from its own process.
        with wh.held_open():
            plan = plan_measures_build(wh, current_environment())
            record_plan(wh, _refresh_id(context), plan)
            window = measures_window_build(plan.window)
            # Every period recomputed is a build with --full-refresh, which rebuilds the keyed facts whole too.
            whole = f"every period recomputed: {plan.reason}" if plan.window is None else ""
            facts = plan_facts_build(wh, current_environment(), whole_because=whole)
        context.log.info(f"facts: {'by key' if facts.by_key else 'rebuilt whole'} ({facts.reason})")
        yield from _build(
            context, dbt, warehouse, config, dataclasses.replace(window, env={**window.env, **facts.env})
        )
        # Only once dbt succeeded, and only by a build of every model (a run of some leaves the keys to the next).
        if context.selected_asset_keys == context.assets_def.keys:
            record_facts_built(wh, facts)


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    select=f"{METRIC_MODELS} {AFTER_METRICS}",
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
    period after a full landing. The compliance alerts reading them are rebuilt whole by either."""
    if context.has_partition_key or context.has_partition_key_range:
        yield from _build(context, dbt, warehouse, config, metric_window_build(context.partition_time_window))
        return
    with warehouse.writing() as wh:
        # In a refresh, the plan the models' build of this run made (the marks its intermediates were built from).
        with wh.held_open():
            plan = recorded_plan(wh, _refresh_id(context))
            if plan is None:
                plan = plan_measures_build(wh, current_environment(), every_period=config.every_period)
            elif config.every_period:
                plan = dataclasses.replace(plan, window=None, reason="every period asked for")
        context.log.info(
            f"measures: recomputing {'every period' if plan.window is None else 'periods from ' + str(plan.window[0])}"
            f" ({plan.reason})"
        )
        yield from _build(context, dbt, warehouse, config, measures_window_build(plan.window))
        # Only once dbt succeeded: a failed build leaves the marks for the next one.
        record_measures_built(wh, plan)


def _refresh_id(context: dg.AssetExecutionContext) -> str:
    # A re-execution of a failed refresh (from the failed step) shares its first run's plan.
    return context.run.root_run_id or context.run_id


CATALOG_KEY = dg.AssetKey(["warehouse", "catalog"])


@dg.asset(
    key=CATALOG_KEY,
    # After every dbt build of the refresh, before the swap: dbt reads the run's copy of an embedded warehouse,
    # never the live file the dashboards hold open.
    deps=[*warehouse_models.keys, *warehouse_metrics.keys],
    group_name="warehouse",
)
def warehouse_catalog(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The analysts' catalog: dbt's docs site of the warehouse (every model's grain, columns and their meaning),
    written to the catalog folder when what it shows has changed (mentalspace_platform/catalog.py)."""
    if os.environ.get(SKIP_CATALOG_VAR) == "1":
        context.log.info(f"analysts' catalog not written: {SKIP_CATALOG_VAR} is set (test suite)")
        return dg.MaterializeResult(metadata={"generated": False, "skipped": SKIP_CATALOG_VAR})
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
    | dg.AssetSelection.assets(warehouse_models, warehouse_metrics, warehouse_catalog, warehouse_published),
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
