"""Watch the ERA inbox: each new file becomes a partition and a run; a file seen before is skipped."""

import dagster as dg

from operational_api.era_inbox import drain_inbox
from orchestration.defs.dbt.assets import WAREHOUSE_JOB
from orchestration.defs.era.partitions import ERA_FILES
from orchestration.lib.run_queue import ERA_POSTING_TAGS

# The landing step writes a copy of the embedded warehouse and swaps it in at its end (WarehouseResource): a
# dashboard reading the live file cannot make the landing fail, and a refresh running meanwhile finishes first.
ERA_FILE_JOB = dg.define_asset_job(
    "era_file_job",
    selection=dg.AssetSelection.groups("era"),
    description="Parse one 835 file into raw_era, then match and post it.",
    executor_def=dg.in_process_executor,
    tags={**ERA_POSTING_TAGS},
)


@dg.sensor(job=ERA_FILE_JOB, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def era_inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """One run per new file in the inbox, keyed by the file's SHA-256 (so the same file posts once)."""
    known = set(context.instance.get_dynamic_partitions(ERA_FILES.name))
    new_keys, runs = [], []
    for stored in drain_inbox():
        if stored.file_hash in known or stored.file_hash in new_keys:
            context.log.info(
                f"{stored.file_name}: already received as {stored.file_hash[:12]}, not processed again"
            )
            continue
        new_keys.append(stored.file_hash)
        runs.append(
            dg.RunRequest(
                partition_key=stored.file_hash,
                run_key=stored.file_hash,
                tags={"era/file_name": stored.file_name},
            )
        )
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[ERA_FILES.build_add_request(new_keys)] if new_keys else [],
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ERA_FILE_JOB],
    request_job=WAREHOUSE_JOB,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def warehouse_after_era_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    """Rebuild the warehouse once a file is posted, so ERA marts and AR reflect it within minutes."""
    return dg.RunRequest(run_key=f"after-{context.dagster_run.run_id}")
