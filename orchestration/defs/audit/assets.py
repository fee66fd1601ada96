"""The audit log's nightly export: one practice-local day per partition, written once (operational_api.audit_export).

Partitions end at yesterday, so the schedule exports the day that just ended, and a day the daemon missed is a
backfill of its partition. Re-materialising an exported day verifies its file and rows instead of writing.
"""

import datetime as dt

import dagster as dg

from mentalspace_platform.environment import current_environment
from operational_api.audit_export import export_day
from orchestration.lib.resources import OperationalStoreResource

# The audit log arrived in December 2026 (migration 0005); days before it export as empty files.
START_DATE = "2026-11-01"

AUDIT_DAYS = dg.DailyPartitionsDefinition(
    start_date=START_DATE, timezone=current_environment().practice_timezone
)


@dg.asset(
    key=["audit", "daily_export"],
    partitions_def=AUDIT_DAYS,
    # A backfill of a missed month is one run writing its days in order, not thirty processes.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="audit",
    kinds={"sqlalchemy"},
)
def audit_daily_export(
    context: dg.AssetExecutionContext, store: OperationalStoreResource
) -> dg.MaterializeResult:
    """One append-only JSON-lines file per day of audit rows; its SHA-256 and the chain hash in audit_exports."""
    engine = store.engine()
    timezone = current_environment().practice_timezone
    done = [
        export_day(engine, dt.date.fromisoformat(key), timezone=timezone) for key in context.partition_keys
    ]
    last = done[-1]
    return dg.MaterializeResult(
        metadata={
            "days": len(done),
            "rows": sum(d.rows for d in done),
            "files_written": sum(d.written for d in done),
            "last_file": str(last.path),
            "last_file_sha256": last.file_sha256,
            "chain_hash": last.chain_hash,
        }
    )


audit_export_job = dg.define_asset_job("audit_export_job", selection=[audit_daily_export])
# 00:30 practice time, every day: runs on the embedded demo too (`make run` starts the daemon).
audit_export_schedule = dg.build_schedule_from_partitioned_job(
    audit_export_job, hour_of_day=0, minute_of_hour=30, default_status=dg.DefaultScheduleStatus.RUNNING
)

defs = dg.Definitions(assets=[audit_daily_export], jobs=[audit_export_job], schedules=[audit_export_schedule])
