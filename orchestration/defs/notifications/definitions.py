"""Notifications in Dagster, thin wiring only (the work is operational_api.notifications.service):

- one asset per scheduled kind, partitioned in the practice time zone: the daily digest by day (07:00 on
  working days), the Monday report by week (Monday 07:00, the week just ended), the supervision-hours report by
  month (the 1st at 07:00, the month just ended). A backfill of any partition renders and sends only what the
  outbox does not hold yet for it;
- an asset check on each digest run: every active clinician (minus those who switched the digest off) has a
  message for the day;
- a sensor over the store's compliance alerts every 30 seconds (not the 15-minute refresh): critical alerts
  are mailed within a minute of reaching the store;
- appointment reminders to clients (e-mail, SMS): an hourly run queues and sends a reminder for every booked
  appointment starting within the lead time (REMINDER_LEAD_HOURS, 24) that the outbox does not hold yet.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

from mentalspace_platform.environment import current_environment
from orchestration.lib.resources import OperationalStoreResource

START_DATE = "2026-01-01"
TZ = current_environment().practice_timezone
SEND_HOUR = 7

# end_offset=1: the digest of day D is sent at 07:00 on D, while D's partition is still running.
DIGEST_DAYS = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=TZ, end_offset=1)
REPORT_WEEKS = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", timezone=TZ, day_offset=1)
REPORT_MONTHS = dg.MonthlyPartitionsDefinition(start_date=START_DATE, timezone=TZ)

DIGEST = dg.AssetKey(["notifications", "daily_digest"])
REMINDERS = dg.AssetKey(["notifications", "appointment_reminders"])
REMINDER_CRON = "5 * * * *"  # hourly, off the hour the digests and reports start on
DIGEST_COVERAGE = "every_active_clinician_has_a_digest"


def _metadata(summary) -> dict:
    d = summary.delivery
    return {
        "recipients": summary.eligible,
        "already_in_outbox": summary.already_in_outbox,
        "opted_out": summary.opted_out,
        "enqueued": summary.enqueued,
        "sent": d.sent,
        "retrying": d.retrying,
        "failed_permanent": d.failed_permanent,
        "bounced": d.bounced,
        "mail_server_unreachable": d.server_unreachable,
        "skipped": summary.skipped_reason or "",
    }


@dg.asset(
    key=DIGEST,
    partitions_def=DIGEST_DAYS,
    group_name="notifications",
    kinds={"email"},
    check_specs=[dg.AssetCheckSpec(DIGEST_COVERAGE, asset=DIGEST)],
)
def daily_digest(context: dg.AssetExecutionContext, store: OperationalStoreResource):
    """Each active clinician's morning digest for the partition's day (working days only)."""
    from operational_api.notifications import service  # imported when a run needs it: it loads the page code

    day = dt.date.fromisoformat(context.partition_key)
    summary = service.run_daily_digest(store.engine(), day)
    yield dg.MaterializeResult(metadata=_metadata(summary))
    missing = (
        []
        if summary.skipped_reason
        else sorted(set(summary.expected) - set(summary.recipients) - set(summary.opted_out_ids))
    )
    yield dg.AssetCheckResult(
        check_name=DIGEST_COVERAGE,
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "active_clinicians": len(summary.expected),
            "with_a_digest": len(summary.recipients),
            "missing_user_ids": ", ".join(map(str, missing)),
        },
        description=f"{len(missing)} active clinician(s) got no digest for {day}" if missing else None,
    )


@dg.asset(
    key=["notifications", "monday_report"],
    partitions_def=REPORT_WEEKS,
    group_name="notifications",
    kinds={"email"},
)
def monday_report(context: dg.AssetExecutionContext, store: OperationalStoreResource) -> dg.MaterializeResult:
    """The Monday report of the partition's week to clinicians, supervisors and administrators."""
    from operational_api.notifications import service

    summary = service.run_monday_report(store.engine(), dt.date.fromisoformat(context.partition_key))
    return dg.MaterializeResult(metadata=_metadata(summary))


@dg.asset(
    key=["notifications", "supervision_report"],
    partitions_def=REPORT_MONTHS,
    group_name="notifications",
    kinds={"email"},
)
def supervision_report(
    context: dg.AssetExecutionContext, store: OperationalStoreResource
) -> dg.MaterializeResult:
    """The partition's month of supervision hours to each supervisor and to administrators."""
    from operational_api.notifications import service

    summary = service.run_supervision_report(store.engine(), dt.date.fromisoformat(context.partition_key))
    return dg.MaterializeResult(metadata=_metadata(summary))


class ReminderConfig(dg.Config):
    """`as_of`: the UTC instant the window starts at (ISO; empty = now); `lead_hours`: 0 = REMINDER_LEAD_HOURS."""

    as_of: str = ""
    lead_hours: float = 0


@dg.asset(key=REMINDERS, group_name="notifications", kinds={"email", "sms"})
def appointment_reminders(
    context: dg.AssetExecutionContext, config: ReminderConfig, store: OperationalStoreResource
) -> dg.MaterializeResult:
    """One reminder per booked appointment in the lead window and channel the client agreed to (e-mail, SMS)."""
    from operational_api.notifications import reminders

    now = dt.datetime.fromisoformat(config.as_of) if config.as_of else None
    lead = dt.timedelta(hours=config.lead_hours) if config.lead_hours else None
    summary = reminders.run_appointment_reminders(store.engine(), now=now, lead=lead)
    return dg.MaterializeResult(
        metadata={
            "appointments": summary.appointments,
            "email_enqueued": summary.enqueued["reminder_email"],
            "sms_enqueued": summary.enqueued["reminder_sms"],
            "already_in_outbox": summary.already_in_outbox,
            "without_consent": summary.without_consent,
            "without_address": summary.without_address,
            "withdrawn": summary.withdrawn,
            "email_sent": summary.email.sent,
            "sms_sent": summary.sms.sent,
            "waiting": summary.email.retrying + summary.sms.retrying,
            "failed_permanent": summary.email.failed_permanent + summary.sms.failed_permanent,
            "bounced": summary.email.bounced,
        }
    )


def _job(name: str, asset: dg.AssetsDefinition):
    return dg.define_asset_job(name, selection=[asset.key])


DIGEST_JOB = _job("daily_digest_job", daily_digest)
MONDAY_JOB = _job("monday_report_job", monday_report)
SUPERVISION_JOB = _job("supervision_report_job", supervision_report)
REMINDER_JOB = _job("appointment_reminders_job", appointment_reminders)


def _local(context: dg.ScheduleEvaluationContext) -> dt.datetime:
    return context.scheduled_execution_time.astimezone(ZoneInfo(TZ))


@dg.schedule(
    job=DIGEST_JOB,
    cron_schedule=f"0 {SEND_HOUR} * * 1-5",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_digest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _local(context).date()
    return dg.RunRequest(run_key=f"digest-{day}", partition_key=day.isoformat())


@dg.schedule(
    job=MONDAY_JOB,
    cron_schedule=f"0 {SEND_HOUR} * * 1",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def monday_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    week = _local(context).date() - dt.timedelta(days=7)
    return dg.RunRequest(run_key=f"monday-{week}", partition_key=week.isoformat())


@dg.schedule(
    job=SUPERVISION_JOB,
    cron_schedule=f"0 {SEND_HOUR} 1 * *",
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def supervision_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    month = (_local(context).date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return dg.RunRequest(run_key=f"supervision-{month}", partition_key=month.isoformat())


@dg.schedule(
    job=REMINDER_JOB,
    cron_schedule=REMINDER_CRON,
    execution_timezone=TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def appointment_reminders_hourly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Each hour's run, keyed by the hour so a tick is never run twice; the window starts when the run does."""
    hour = context.scheduled_execution_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    return dg.RunRequest(run_key=f"reminders-{hour}")


def build_critical_alert_sensor(clock: Callable[[], dt.datetime] | None = None) -> dg.SensorDefinition:
    """The sensor, with an injectable clock (tests evaluate it directly at a chosen time)."""

    @dg.sensor(
        name="critical_alert_sensor",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def critical_alert_sensor(context: dg.SensorEvaluationContext, store: OperationalStoreResource):
        """Mail each open critical alert to each person it names, within a minute of it reaching the store."""
        from operational_api.notifications import service

        summary = service.run_critical_alerts(store.engine(), clock=clock)
        d = summary.delivery
        return dg.SkipReason(
            f"critical alerts: {summary.enqueued} new message(s), {d.sent} sent, {d.retrying} waiting for the "
            f"mail server, {d.failed_permanent + d.bounced} refused"
        )

    return critical_alert_sensor


defs = dg.Definitions(
    assets=[daily_digest, monday_report, supervision_report, appointment_reminders],
    jobs=[DIGEST_JOB, MONDAY_JOB, SUPERVISION_JOB, REMINDER_JOB],
    schedules=[
        daily_digest_schedule,
        monday_report_schedule,
        supervision_report_schedule,
        appointment_reminders_hourly_schedule,
    ],
    sensors=[build_critical_alert_sensor()],
)
