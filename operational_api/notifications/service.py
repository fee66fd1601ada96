"""One call per message kind: render what the outbox does not hold yet for the period, then deliver.

Each call is safe to repeat: a (kind, recipient, period) already in the outbox is neither rendered nor sent
again, whatever its status. Delivery sends everything due (this kind's new rows and earlier retries); without
SMTP settings (no SMTP_URL and no loopback server) the rows wait in the outbox for the next run that has them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from mentalspace_platform.environment import Environment, current_environment
from operational_api.db import session_scope
from operational_api.notifications import content as c
from operational_api.notifications.kinds import (
    CRITICAL_ALERT,
    CRITICAL_ALERT_TYPES,
    DAILY_DIGEST,
    MONDAY_REPORT,
    SUPERVISION_REPORT,
    opted_out,
)
from operational_api.notifications.outbox import DeliverySummary, deliver, enqueue, existing_keys, utcnow
from operational_api.notifications.reminders import withdraw_stale
from operational_api.notifications.render import ChartRenderer, render
from operational_api.notifications.sms import configured_sms, deliver_sms
from operational_api.notifications.smtp import SmtpSettings, configured_settings

log = logging.getLogger(__name__)
# Messages of other kinds the critical-alert sensor sends per evaluation (retries after the server was down).
RETRY_BATCH = 100


@dataclass
class RunSummary:
    kind: str
    period: str
    eligible: int = 0  # recipients this kind and period has
    already_in_outbox: int = 0
    opted_out: int = 0
    enqueued: int = 0
    recipients: list[int] = field(default_factory=list)  # everyone who has a row for this period now
    expected: list[int] = field(
        default_factory=list
    )  # who should have one (digest: the warehouse's active clinicians)
    opted_out_ids: list[int] = field(default_factory=list)
    delivery: DeliverySummary = field(default_factory=DeliverySummary)
    skipped_reason: str | None = None


def _deliver(
    engine: Engine, settings: SmtpSettings | None, now: dt.datetime, clock=None, kinds=None, limit=None
) -> DeliverySummary:
    if settings is None:
        log.info("SMTP_URL is not set: messages wait in the outbox until a run with a mail server")
        return DeliverySummary()
    return deliver(engine, settings, now=now, clock=clock, kinds=kinds, limit=limit)


def _prepare(engine: Engine, kind: str, period: str, eligible: list[c.Person]):
    with session_scope(engine) as session:
        off = opted_out(session, kind)
    have = {r for r, p in existing_keys(engine, kind, [period])}
    todo = [p for p in eligible if p.user_id not in have and p.user_id not in off]
    summary = RunSummary(
        kind,
        period,
        eligible=len(eligible),
        already_in_outbox=sum(1 for p in eligible if p.user_id in have),
        opted_out=sum(1 for p in eligible if p.user_id in off and p.user_id not in have),
        expected=sorted(p.user_id for p in eligible),
        opted_out_ids=sorted(off),
    )
    return summary, todo


def _finish(engine, summary: RunSummary, contents, settings, now, sender=None) -> RunSummary:
    summary.enqueued = enqueue(engine, (render(x, sender) for x in contents), now=now)
    summary.recipients = sorted(r for r, _ in existing_keys(engine, summary.kind, [summary.period]))
    summary.delivery = _deliver(engine, settings, now)
    return summary


def _settings(settings: SmtpSettings | None | object) -> SmtpSettings | None:
    return configured_settings() if settings is _CONFIGURED else settings  # type: ignore[return-value]


_CONFIGURED = object()


def _id(person: c.Person) -> int:
    return person.user_id


def _active_clinician_ids(src: c.Sources) -> set[int]:
    """Staff who see clients (clinicians and supervisors) and are active, as the warehouse's dim_clinicians says."""
    return set(
        src.q("select clinician_id from marts.dim_clinicians where is_active")["clinician_id"].to_list()
    )


def active_clinicians(src: c.Sources) -> list[c.Person]:
    active = _active_clinician_ids(src)
    return sorted((p for p in src.people().values() if p.user_id in active), key=_id)


def run_daily_digest(
    engine: Engine,
    day: dt.date,
    settings=_CONFIGURED,
    now: dt.datetime | None = None,
    env: Environment | None = None,
) -> RunSummary:
    """The digests of `day` (a practice-local date) for every active clinician who has not had theirs."""
    now = now or utcnow()
    if not c.is_working_day(day):
        return RunSummary(DAILY_DIGEST, day.isoformat(), skipped_reason="not a working day")
    with c.Sources(engine, env) as src:
        active = _active_clinician_ids(src)
        people = src.people()
        summary, todo = _prepare(
            engine, DAILY_DIGEST, day.isoformat(), sorted((people[i] for i in active if i in people), key=_id)
        )
        # Expected = the warehouse's active clinicians, whether or not the store still has them with an address:
        # the asset check names anyone left without a digest.
        summary.expected = sorted(active)
        contents = c.daily_digests(src, day, todo)
    return _finish(engine, summary, contents, _settings(settings), now)


def run_monday_report(
    engine: Engine,
    week_start: dt.date,
    settings=_CONFIGURED,
    now: dt.datetime | None = None,
    env: Environment | None = None,
    charts: bool = True,
) -> RunSummary:
    """The Monday report of the week starting `week_start` (the last complete week) to clinicians,
    supervisors (their team) and administrators (the practice)."""
    now = now or utcnow()
    if week_start.weekday() != 0:
        raise ValueError(
            f"a Monday report covers a week starting on Monday, not {week_start:%A} {week_start}"
        )
    with c.Sources(engine, env) as src:
        people = src.people()
        clinicians = active_clinicians(src)
        supervisor_ids = {p.supervisor_id for p in people.values() if p.supervisor_id}
        supervisors = sorted(
            (p for p in people.values() if p.user_id in supervisor_ids), key=lambda p: p.user_id
        )
        admins = sorted((p for p in people.values() if p.role == "ADMIN"), key=lambda p: p.user_id)
        # One person can be all three (a supervising clinician): the report per role would share one key, so
        # such a person gets their team's report (which leads with the team; their own figures are on My Practice).
        by_id = {p.user_id: p for p in [*clinicians, *supervisors, *admins]}
        summary, todo = _prepare(engine, MONDAY_REPORT, week_start.isoformat(), list(by_id.values()))
        todo_ids = {p.user_id for p in todo}
        admin_ids = {p.user_id for p in admins}
        sup_ids = {p.user_id for p in supervisors} - admin_ids
        with ChartRenderer() if charts else _NoCharts() as renderer:
            contents = c.monday_reports(
                src,
                week_start,
                [p for p in clinicians if p.user_id in todo_ids - sup_ids - admin_ids],
                [p for p in supervisors if p.user_id in todo_ids and p.user_id in sup_ids],
                [p for p in admins if p.user_id in todo_ids],
                renderer if charts else None,
            )
            if renderer is not None:
                renderer.fill(contents)
    return _finish(engine, summary, contents, _settings(settings), now)


class _NoCharts:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def run_supervision_report(
    engine: Engine, month_start: dt.date, settings=_CONFIGURED, now: dt.datetime | None = None, env=None
) -> RunSummary:
    """Supervision hours of the month starting `month_start`, to each supervisor and to administrators."""
    now = now or utcnow()
    if month_start.day != 1:
        raise ValueError(
            f"a supervision report covers a calendar month, starting on the 1st, not {month_start}"
        )
    with c.Sources(engine, env) as src:
        people = src.people()
        supervisor_ids = {p.supervisor_id for p in people.values() if p.supervisor_id}
        supervisors = sorted(
            (p for p in people.values() if p.user_id in supervisor_ids), key=lambda p: p.user_id
        )
        admins = sorted((p for p in people.values() if p.role == "ADMIN"), key=lambda p: p.user_id)
        by_id = {p.user_id: p for p in [*supervisors, *admins]}
        summary, todo = _prepare(engine, SUPERVISION_REPORT, month_start.isoformat(), list(by_id.values()))
        todo_ids = {p.user_id for p in todo}
        admin_ids = {p.user_id for p in admins}
        contents = c.supervision_reports(
            src,
            month_start,
            [p for p in supervisors if p.user_id in todo_ids and p.user_id not in admin_ids],
            [p for p in admins if p.user_id in todo_ids],
        )
    return _finish(engine, summary, contents, _settings(settings), now)


def run_critical_alerts(
    engine: Engine,
    settings=_CONFIGURED,
    clock: Callable[[], dt.datetime] | None = None,
    env: Environment | None = None,
) -> RunSummary:
    """Mail every open critical alert of CRITICAL_ALERT_TYPES to each person it names who has not had it yet.

    The key is the alert's own key, so an alert is mailed once per recipient; a supervisor the alert names
    later (a note reaching day 7) is a new recipient and is told then. Critical alerts ignore preferences.
    Reads the store only, so it is cheap enough to run every 30 seconds.
    """
    clock = clock or utcnow
    now = clock()
    env = env or current_environment()
    with c.Sources(engine, env) as src:
        alerts = src.open_alerts(CRITICAL_ALERT_TYPES)
        have = existing_keys(engine, CRITICAL_ALERT, [a.alert_key for a in alerts])
        pending = [
            (a, u, role) for a in alerts for u, role in c.alert_recipients(a) if (u, a.alert_key) not in have
        ]
        summary = RunSummary(CRITICAL_ALERT, now.isoformat(timespec="seconds"), eligible=len(pending))
        if pending:
            people = src.people()
            client_ids = {a.entity_id for a, _, _ in pending if a.entity_type == "client"}
            try:
                names = src.client_initials(client_ids)
            except Exception:  # noqa: BLE001 (the warehouse may be rebuilding: record numbers are enough)
                names = {}
            contents = [
                m
                for a, u, role in pending
                if (m := c.critical_alert(people, a, u, role, names, env.practice_timezone)) is not None
            ]
            summary.enqueued = enqueue(engine, (render(x) for x in contents), now=now)
    # Critical mail first, then a bounded batch of whatever else is due (retries of a digest or report the
    # mail server missed go within a minute of its return, not at the next schedule): this runs inside a
    # sensor evaluation every 30 seconds, so each batch is small.
    smtp = _settings(settings)
    critical = _deliver(engine, smtp, now, clock=clock, kinds=[CRITICAL_ALERT], limit=200)
    summary.delivery = critical
    # A reminder waiting for its retry must not go once its appointment is off the books.
    withdraw_stale(engine, now)
    if smtp is not None and not critical.server_unreachable:
        rest = deliver(engine, smtp, now=now, clock=clock, limit=RETRY_BATCH)
        summary.delivery = DeliverySummary(
            sent=critical.sent + rest.sent,
            retrying=critical.retrying + rest.retrying,
            failed_permanent=critical.failed_permanent + rest.failed_permanent,
            bounced=critical.bounced + rest.bounced,
            server_unreachable=rest.server_unreachable,
        )
    # Text reminders the SMS provider missed go within a minute of its return too.
    deliver_sms(engine, configured_sms(), now=now, limit=RETRY_BATCH)
    return summary


def local_now(env: Environment | None = None) -> dt.datetime:
    env = env or current_environment()
    return dt.datetime.now(ZoneInfo(env.practice_timezone))
