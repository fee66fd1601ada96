"""Saved custom reports, subscriptions, and the run that delivers due subscriptions through the outbox.

A subscription's period is the cadence's last complete period before the run day (practice-local): daily =
yesterday, weekly = the week (Monday start) just ended, run on Mondays, monthly = the month just ended, run on
the 1st. Each delivery is an outbox row keyed (kind="report:<name>", recipient, "<cadence>:<period start>"), so a
re-run, a backfill or a retry of the same day renders and sends nothing twice.

The table is the report's own loader (dashboards.data.module10), scoped to what the recipient may see, so the
CSV attachment has the rows the page shows for that period.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Engine, select

from operational_api.auth import _visible_clinicians
from operational_api.db import session_scope
from operational_api.models import User
from operational_api.notifications.outbox import DeliverySummary, enqueue, existing_keys, utcnow
from operational_api.notifications.render import Content, Section, render
from operational_api.reports.models import Cadence, ReportSubscription, SavedReport

log = logging.getLogger(__name__)

SUBSCRIBER_ROLES = ("ADMIN", "BILLING")
CUSTOM_PREFIX = "custom:"
GRAINS = ("week", "month")
BODY_ROWS = 25  # rows shown in the message body; the attachment has them all
# The page each fixed report lives on: a recipient must be allowed that page.
REPORT_PAGES = {
    "productivity": "productivity_report",
    "compliance": "compliance_report",
    "unsigned_notes": "compliance_report",
    "demographics": "demographics_report",
    "quarterly_review": "quarterly_review",
    "revenue": "reports",
    "ar_aging": "reports",
    "denials": "reports",
    "payer_mix": "reports",
}
CADENCE_GRAIN = {Cadence.DAILY: "day", Cadence.WEEKLY: "week", Cadence.MONTHLY: "month"}


class ReportError(ValueError):
    """A report or subscription that cannot be saved: the message names the field and the reason."""


# --- saving ---------------------------------------------------------------------------------------------


def validate_definition(definition: dict, known_metrics: set[str]) -> dict:
    keys = list(definition.get("metric_keys") or [])
    if not keys:
        raise ReportError("metric_keys: pick at least one measure")
    unknown = sorted(set(keys) - known_metrics)
    if unknown:
        raise ReportError(f"metric_keys: not in the metric dictionary: {', '.join(unknown)}")
    if definition.get("grain") not in GRAINS:
        raise ReportError(f"grain: {definition.get('grain')!r} is not one of {', '.join(GRAINS)}")
    scope = definition.get("scope")
    if scope not in ("practice", "clinicians"):
        raise ReportError("scope: 'practice' or 'clinicians'")
    ids = sorted(int(i) for i in definition.get("clinician_ids") or [])
    if scope == "clinicians" and not ids:
        raise ReportError("clinician_ids: pick at least one clinician")
    first, last = (dt.date.fromisoformat(str(definition[k])) for k in ("date_from", "date_to"))
    if first > last:
        raise ReportError(f"date_from: {first} is after date_to {last}")
    return {
        "metric_keys": keys,
        "scope": scope,
        "clinician_ids": ids if scope == "clinicians" else [],
        "grain": definition["grain"],
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
    }


def save_report(
    engine: Engine, owner_user_id: int, name: str, definition: dict, known_metrics: set[str]
) -> int:
    """Save (or replace) the owner's report of this name; the definition's clinicians must be in their scope."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ReportError("name: give the report a name of 1 to 100 characters")
    clean = validate_definition(definition, known_metrics)
    with session_scope(engine) as session:
        owner = session.get(User, owner_user_id)
        if owner is None:
            raise ReportError(f"owner_user_id: no user {owner_user_id}")
        _check_scope(session, owner, clean)
        row = session.scalar(
            select(SavedReport).where(SavedReport.owner_user_id == owner_user_id, SavedReport.name == name)
        )
        if row is None:
            row = SavedReport(owner_user_id=owner_user_id, name=name, definition=clean)
            session.add(row)
        else:
            row.definition = clean
        session.flush()
        return row.id


def _check_scope(session, user: User, definition: dict) -> None:
    visible = _visible_clinicians(session, user)
    if definition["scope"] == "practice" and visible is not None:
        raise ReportError("scope: the whole practice is outside what this user may see")
    if visible is not None and not set(definition["clinician_ids"]) <= visible:
        raise ReportError("clinician_ids: some clinicians are outside what this user may see")


def saved_reports(engine: Engine, owner_user_id: int | None = None) -> list[tuple[int, str, dict]]:
    with session_scope(engine) as session:
        query = select(SavedReport.id, SavedReport.name, SavedReport.definition).order_by(SavedReport.name)
        if owner_user_id is not None:
            query = query.where(SavedReport.owner_user_id == owner_user_id)
        return [(i, n, d) for i, n, d in session.execute(query)]


# --- subscribing ----------------------------------------------------------------------------------------


def subscribe(
    engine: Engine,
    *,
    actor_user_id: int,
    report_name: str,
    recipient_user_id: int,
    cadence: str,
    filters: dict | None = None,
) -> int:
    """An administrator or billing user subscribes a recipient to a report; the recipient must be allowed to
    see it (its page for a fixed report, its clinicians for a custom one). Subscribing again updates filters."""
    from dashboards.access import pages_for

    if cadence not in set(Cadence):
        raise ReportError(f"cadence: {cadence!r} is not one of daily, weekly, monthly")
    filters = dict(filters or {})
    with session_scope(engine) as session:
        actor = session.get(User, actor_user_id)
        if actor is None or actor.role not in SUBSCRIBER_ROLES:
            raise ReportError("actor: only administrators and billing staff subscribe people to reports")
        recipient = session.get(User, recipient_user_id)
        if recipient is None or not recipient.is_active or recipient.role == "CLIENT":
            raise ReportError(f"recipient_user_id: {recipient_user_id} is not an active staff member")
        if report_name.startswith(CUSTOM_PREFIX):
            saved = session.get(SavedReport, _custom_id(report_name))
            if saved is None:
                raise ReportError(f"report_name: no saved report {report_name}")
            _check_scope(session, recipient, saved.definition)
        elif report_name in REPORT_PAGES:
            if REPORT_PAGES[report_name] not in pages_for(recipient.role):
                raise ReportError(
                    f"recipient_user_id: a {recipient.role.lower()} may not see the {report_name} report"
                )
        else:
            raise ReportError(f"report_name: no report called {report_name!r}")
        row = session.scalar(
            select(ReportSubscription).where(
                ReportSubscription.report_name == report_name,
                ReportSubscription.recipient_user_id == recipient_user_id,
                ReportSubscription.cadence == cadence,
            )
        )
        if row is None:
            row = ReportSubscription(
                report_name=report_name,
                recipient_user_id=recipient_user_id,
                cadence=cadence,
                filters=filters,
                created_by_user_id=actor_user_id,
                active=True,
            )
            session.add(row)
        else:
            row.filters, row.active = filters, True
        session.flush()
        return row.id


def _custom_id(report_name: str) -> int:
    try:
        return int(report_name.removeprefix(CUSTOM_PREFIX))
    except ValueError:
        raise ReportError(f"report_name: {report_name!r} is not custom:<saved report id>") from None


# --- delivering -----------------------------------------------------------------------------------------


def due_period(cadence: str, day: dt.date) -> tuple[dt.date, dt.date] | None:
    """The period a subscription of this cadence delivers on `day` (practice-local), or None (not its day)."""
    if cadence == Cadence.DAILY:
        yesterday = day - dt.timedelta(days=1)
        return yesterday, yesterday
    if cadence == Cadence.WEEKLY:
        if day.weekday() != 0:
            return None
        return day - dt.timedelta(days=7), day - dt.timedelta(days=1)
    if cadence == Cadence.MONTHLY:
        if day.day != 1:
            return None
        last = day - dt.timedelta(days=1)
        return last.replace(day=1), last
    raise ReportError(f"cadence: {cadence!r} is not one of daily, weekly, monthly")


def report_table(
    report_name: str, first: dt.date, last: dt.date, filters: dict, scope_ids, definition: dict | None = None
) -> tuple[str, pl.DataFrame]:
    """(title, table) of one report over [first, last] for a recipient whose scope is `scope_ids`."""
    from dashboards.data import module10
    from dashboards.data.periods import period_start

    if definition is not None:
        clean = dict(definition)
        if scope_ids is not None:
            clean["clinician_ids"] = [i for i in clean.get("clinician_ids", []) if i in scope_ids]
        grain = clean["grain"]
        return "", module10.custom_table(clean, period_start(first, grain), period_start(last, grain))
    spec = module10.fixed_reports()[report_name]
    filters = dict(filters)
    if scope_ids is not None:
        wanted = filters.get("clinician_ids") or sorted(scope_ids)
        filters["clinician_ids"] = [i for i in wanted if i in scope_ids] or [-1]
    grain = filters.get("grain") or "month"
    if report_name in ("productivity", "compliance"):
        first, last = period_start(first, grain), period_start(last, grain)
    elif report_name in ("revenue", "ar_aging", "denials", "payer_mix"):
        first, last = first.replace(day=1), last.replace(day=1)
    return spec.title, spec.table(first, last, filters)


@dataclass
class SubscriptionRun:
    day: dt.date
    due: int = 0
    already_in_outbox: int = 0
    enqueued: int = 0
    failed: list[str] = field(default_factory=list)  # "subscription <id>: reason" (no content)
    delivery: DeliverySummary = field(default_factory=DeliverySummary)


_CONFIGURED = object()


def run_report_subscriptions(
    engine: Engine,
    day: dt.date,
    settings=_CONFIGURED,
    now: dt.datetime | None = None,
    sender: str | None = None,
) -> SubscriptionRun:
    """Render each subscription due on `day` that the outbox does not hold yet, enqueue it, then deliver
    (through SMTP_URL's server by default; `settings=None` leaves the rows queued)."""
    from operational_api.notifications import service as notify
    from operational_api.notifications.smtp import configured_settings

    now = now or utcnow()
    run = SubscriptionRun(day)
    with session_scope(engine) as session:
        subs = list(session.scalars(select(ReportSubscription).where(ReportSubscription.active.is_(True))))
        users = {u.id: u for u in session.scalars(select(User).where(User.is_active.is_(True)))}
        scopes = {uid: _visible_clinicians(session, u) for uid, u in users.items()}
        saved = {r.id: (r.name, r.definition) for r in session.scalars(select(SavedReport))}
        session.expunge_all()
    contents = []
    for sub in subs:
        period = due_period(sub.cadence, day)
        recipient = users.get(sub.recipient_user_id)
        if period is None or recipient is None:
            continue
        run.due += 1
        kind, key = f"report:{sub.report_name}", f"{sub.cadence}:{period[0].isoformat()}"
        if (recipient.id, key) in existing_keys(engine, kind, [key]):
            run.already_in_outbox += 1
            continue
        try:
            definition = None
            if sub.report_name.startswith(CUSTOM_PREFIX):
                name, definition = saved[_custom_id(sub.report_name)]
                title = f"Custom report: {name}"
            title_fixed, table = report_table(
                sub.report_name, period[0], period[1], sub.filters or {}, scopes[recipient.id], definition
            )
            title = title_fixed or title
        except Exception as exc:  # noqa: BLE001 (one broken subscription must not stop the others)
            run.failed.append(f"subscription {sub.id}: {type(exc).__name__}")
            log.warning("report subscription %d not rendered: %s", sub.id, type(exc).__name__)
            continue
        contents.append(_content(kind, key, recipient, title, sub.cadence, period, table))
    run.enqueued = enqueue(engine, (render(c, sender) for c in contents), now=now)
    smtp = configured_settings() if settings is _CONFIGURED else settings
    run.delivery = notify._deliver(engine, smtp, now)
    return run


def _content(kind, key, recipient: User, title: str, cadence: str, period, table: pl.DataFrame) -> Content:
    first, last = period
    span = f"{first:%a %d %b %Y}" if first == last else f"{first:%d %b} to {last:%d %b %Y}"
    shown = table.head(BODY_ROWS)
    rows = [["" if v is None else str(v) for v in row] for row in shown.iter_rows()]
    note = (
        f"The first {BODY_ROWS} of {table.height} rows; the attached CSV has them all."
        if table.height > BODY_ROWS
        else "The attached CSV has the same rows."
    )
    slug = kind.removeprefix("report:").replace(":", "-")
    return Content(
        kind=kind,
        recipient_user_id=recipient.id,
        recipient_email=recipient.email,
        recipient_name=f"{recipient.first_name} {recipient.last_name}",
        period=key,
        subject=f"{title} ({cadence}): {span}",
        title=title,
        subtitle=f"{cadence.title()} report for {span}",
        sections=[Section(heading=f"{table.height} rows", columns=list(table.columns), rows=rows, note=note)],
        attachments=[(f"{slug}_{first.isoformat()}.csv", table.write_csv())],
    )
