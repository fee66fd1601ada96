"""Run asset selections in-process against the persistent Dagster instance (used by the CLI and tests),
so a command-line build shows up in the Dagster UI like any scheduled run."""

from __future__ import annotations

import dagster as dg

from operational_api.errors import PlatformError

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# The run tags Dagster's own backfills use for a range of partitions in one run (no public constant).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def load_definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


# Groups a plain build lands on its own (or never: AdvancedMD syncs run on their own schedules,
# and the build only creates their empty tables through `advancedmd_setup`).
LANDING_GROUPS = ("operational", "era_setup", "advancedmd_setup", "advancedmd")


def unpartitioned(defs: dg.Definitions) -> dg.AssetSelection:
    """Every asset a run without a partition key builds: a plain build never needs one (ERA files and
    AdvancedMD days are materialized per partition by their own jobs and backfills). The measures' months are
    the exception: without a partition they are rebuilt whole (orchestration/defs/dbt/partitions.py)."""
    from orchestration.defs.dbt.partitions import METRIC_MONTHS

    graph = defs.resolve_asset_graph()
    keys = [
        key
        for key in graph.get_all_asset_keys()
        if graph.get(key).partitions_def is None or graph.get(key).partitions_def is METRIC_MONTHS
    ]
    return dg.AssetSelection.assets(*keys)


def materialize_groups(
    defs: dg.Definitions, *groups: str, instance: dg.DagsterInstance | None = None
) -> None:
    """Materialize landing groups (by name) in one run or, with none named, everything downstream: dbt and alerts."""
    if groups:
        selection = dg.AssetSelection.groups(*groups) & unpartitioned(defs)
    else:
        selection = unpartitioned(defs) - dg.AssetSelection.groups(*LANDING_GROUPS)
    job = dg.define_asset_job("cli_landing" if groups else "cli_warehouse", selection=selection)
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
    instance = instance or dg.DagsterInstance.get()
    result = resolved.execute_in_process(instance=instance, run_config=QUIET_LOGS, raise_on_error=False)
    _raise_if_failed(result)


def run_job(
    defs: dg.Definitions,
    job_name: str,
    *,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute one job of `defs` in-process against the instance: unpartitioned, one partition, or a
    range of partitions in one run (for assets with a single-run backfill policy).

    A failed run is a one-line PlatformError naming the run and the step, like `materialize_groups`."""
    job = defs.resolve_job_def(job_name)
    config = {**QUIET_LOGS, **(run_config or {})}
    tags = None
    if partition_range is not None:
        tags = {PARTITION_RANGE_START_TAG: partition_range[0], PARTITION_RANGE_END_TAG: partition_range[1]}
    result = job.execute_in_process(
        instance=instance or dg.DagsterInstance.get(),
        run_config=config,
        partition_key=partition_key,
        tags=tags,
        raise_on_error=False,
    )
    _raise_if_failed(result)
    return result


def _raise_if_failed(result: dg.ExecuteInProcessResult) -> None:
    """A failed run as one line naming the run, the failing step and the useful part of its error."""
    if result.success:
        return
    failures = [e for e in result.all_events if e.is_step_failure]
    reason = "unknown failure"
    if failures and failures[0].step_failure_data.error:
        reason = _reason(failures[0].step_failure_data.error)
    where = failures[0].step_key if failures else "?"
    raise PlatformError(f"Dagster run {result.run_id[:8]} failed in {where}: {reason}")


def _reason(error) -> str:
    """The useful part of a step failure: for dbt, the failing node's lines rather than the command."""
    text = "\n".join(filter(None, [error.message, *(getattr(c, "message", "") for c in _causes(error))]))
    # Dagster's own wrapper ("Error occurred while executing op ...") says nothing the step key does not.
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.lstrip().startswith("dagster._core.errors.DagsterExecutionStepExecutionError")
    ]
    detail = [
        line
        for line in lines
        if any(w in line for w in ("Error in", "Database Error", "Failure in", "FAIL ", "Compilation Error"))
    ]
    return "; ".join((detail or lines)[:3])[:600]


def _causes(error):
    while getattr(error, "cause", None) is not None:
        error = error.cause
        yield error
