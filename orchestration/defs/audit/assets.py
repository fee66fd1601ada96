"""The audit log's nightly export: one practice-local day per partition, written once (operational_api.audit_export).

Partitions end at yesterday, so the schedule exports the day that just ended, and a day the daemon missed is a
backfill of its partition. Re-materialising an exported day verifies its file and rows instead of writing.
"""

import datetime as dt

import dagster as dg

from operational_api.audit_export import export_day
from orchestration.lib.environment import current_environment
from orchestration.lib.resources import OperationalStoreResource

# The audit log arrived with migration 0005; earlier days would only be empty files.
START_DATE = "2026-12-01"

AUDIT_DAYS = dg.DailyPartitionsDefinition(
    start_date=START_DATE, timezone=current_environment().practice_timezone
)


@dg.asset(key=["audit", "daily_export"], partitions_def=AUDIT_DAYS, group_name="audit", kinds={"sqlalchemy"})
def audit_daily_export(
    context: dg.AssetExecutionContext, store: OperationalStoreResource
) -> dg.MaterializeResult:
    """One append-only JSON-lines file of the day's audit rows; its SHA-256 and the chain hash in audit_exports."""
    done = export_day(
        store.engine(),
        dt.date.fromisoformat(context.partition_key),
        timezone=current_environment().practice_timezone,
    )
    return dg.MaterializeResult(
        metadata={
            "rows": done.rows,
            "file": str(done.path),
            "file_sha256": done.file_sha256,
            "chain_hash": done.chain_hash,
            "written": done.written,
        }
    )


audit_export_job = dg.define_asset_job("audit_export_job", selection=[audit_daily_export])
# 00:30 practice time, every day: runs on the embedded demo too (`make run` starts the daemon).
audit_export_schedule = dg.build_schedule_from_partitioned_job(
    audit_export_job, hour_of_day=0, minute_of_hour=30, default_status=dg.DefaultScheduleStatus.RUNNING
)

defs = dg.Definitions(assets=[audit_daily_export], jobs=[audit_export_job], schedules=[audit_export_schedule])
