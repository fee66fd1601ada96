"""Run asset selections in-process against the persistent Dagster instance (used by the CLI and tests),
so a command-line build shows up in the Dagster UI like any scheduled run."""

from __future__ import annotations

import dagster as dg

from operational_api.errors import PlatformError

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def load_definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


LANDING_GROUPS = ("operational", "era_setup")


def unpartitioned(defs: dg.Definitions) -> dg.AssetSelection:
    """Every asset without partitions: a plain build never needs a partition key (ERA files and
    AdvancedMD days are materialized per partition by their own jobs and backfills)."""
    graph = defs.resolve_asset_graph()
    keys = [key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def is None]
    return dg.AssetSelection.assets(*keys)


def materialize_group(defs: dg.Definitions, group: str | None, instance: dg.DagsterInstance | None = None) -> None:
    """Materialize landing groups (by name) or, with None, everything downstream: dbt and alerts."""
    if group:
        selection = dg.AssetSelection.groups(group) & unpartitioned(defs)
    else:
        selection = unpartitioned(defs) - dg.AssetSelection.groups(*LANDING_GROUPS)
    job = dg.define_asset_job(f"cli_{group or 'warehouse'}", selection=selection)
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
    instance = instance or dg.DagsterInstance.get()
    result = resolved.execute_in_process(instance=instance, run_config=QUIET_LOGS, raise_on_error=False)
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        reason = "unknown failure"
        if failures and failures[0].step_failure_data.error:
            reason = failures[0].step_failure_data.error.message.strip().splitlines()[0]
        raise PlatformError(f"Dagster run {result.run_id[:8]} failed in {failures[0].step_key if failures else '?'}: {reason}")
