"""Run asset selections in-process against the persistent Dagster instance (used by the CLI and tests),
so a command-line build shows up in the Dagster UI like any scheduled run."""

from __future__ import annotations

import dagster as dg

from operational_api.errors import PlatformError

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def load_definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def materialize_group(defs: dg.Definitions, group: str | None, instance: dg.DagsterInstance | None = None) -> None:
    """Materialize one asset group (or, with None, everything not yet covered: the dbt project)."""
    selection = dg.AssetSelection.groups(group) if group else dg.AssetSelection.all() - dg.AssetSelection.groups("operational")
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
