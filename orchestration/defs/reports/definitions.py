"""Scheduled report delivery in Dagster, thin wiring only (the work is operational_api.reports.service):
one asset partitioned by practice-local day and one 07:00 schedule. Each day's run delivers the daily
subscriptions (yesterday), on Mondays the weekly ones (the week just ended), on the 1st the monthly ones; a
backfill of a missed day renders and sends only what the outbox does not hold yet."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.defs.notifications.definitions import SEND_HOUR, START_DATE, TZ
from orchestration.lib.resources import OperationalStoreResource

# end_offset=1: the run of day D (for the periods that ended before D) goes at 07:00 on D.
REPORT_DAYS = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=TZ, end_offset=1)


@dg.asset(
    key=["notifications", "report_subscriptions"],
    partitions_def=REPORT_DAYS,
    group_name="notifications",
    kinds={"email"},
)
def report_subscriptions(
    context: dg.AssetExecutionContext, store: OperationalStoreResource
) -> dg.MaterializeResult:
    """Every report subscription due on the partition's day, rendered and sent once."""
    from operational_api.reports import service

    run = service.run_report_subscriptions(store.engine(), dt.date.fromisoformat(context.partition_key))
    d = run.delivery
    return dg.MaterializeResult(
        metadata={
            "due": run.due,
            "already_in_outbox": run.already_in_outbox,
            "enqueued": run.enqueued,
            "not_rendered": ", ".join(run.failed),
            "sent": d.sent,
            "retrying": d.retrying,
            "failed_permanent": d.failed_permanent,
            "bounced": d.bounced,
            "mail_server_unreachable": d.server_unreachable,
        }
    )


REPORTS_JOB = dg.define_asset_job("report_subscriptions_job", selection=[report_subscriptions.key])


@dg.schedule(
    job=REPORTS_JOB,
    cron_schedule=f"0 {SEND_HOUR} * * *",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def report_subscriptions_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.astimezone(ZoneInfo(TZ)).date()
    return dg.RunRequest(run_key=f"reports-{day}", partition_key=day.isoformat())


defs = dg.Definitions(
    assets=[report_subscriptions], jobs=[REPORTS_JOB], schedules=[report_subscriptions_schedule]
)
