"""Appointment reminders to clients (issue 15, Module 3): e-mail and SMS, `REMINDER_LEAD_HOURS` (24) ahead.

Each run (hourly in Dagster, or `mentalspace notify reminders`) queues a reminder for every booked appointment
(SCHEDULED or CONFIRMED) starting within the lead time, on each channel the client agreed to
(`clients.has_email_contact_consent`, `has_sms_contact_consent`) and has an address for, then delivers what is
due. The outbox key is (kind `reminder_email` / `reminder_sms`, the client, the appointment id), so a re-run,
an overlapping run or a retry never sends a second reminder for one appointment and channel.

Content is the minimum a client needs and nothing clinical: their first name, the date and time in the practice
time zone, the clinician's name, and the place (the practice's `practice_address` setting) or the telehealth
link (the `telehealth_url` setting plus the appointment id). Never a diagnosis, a note, the appointment type or
the client's last name.

A queued reminder whose appointment has since been cancelled or rescheduled, or has begun, is `withdrawn`
before each delivery instead of sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import aliased

from operational_api.db import session_scope
from operational_api.models import Appointment, AppointmentStatus, Client, PracticeSetting, User
from operational_api.notifications.kinds import REMINDER_EMAIL, REMINDER_KINDS, REMINDER_SMS
from operational_api.notifications.models import OutboxMessage, OutboxStatus
from operational_api.notifications.outbox import DeliverySummary, Draft, deliver, enqueue, utcnow
from operational_api.notifications.render import _POLICY, _TEMPLATES
from operational_api.notifications.sms import SmsSettings, configured_sms, deliver_sms, e164, outbox_key
from operational_api.notifications.smtp import DEFAULT_SENDER, SmtpSettings, configured_settings
from operational_api.settings import practice_timezone

log = logging.getLogger(__name__)

DEFAULT_LEAD = dt.timedelta(hours=24)
BOOKED = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)
SUBJECT = "Appointment reminder"
_CONFIGURED = object()


def lead_time() -> dt.timedelta:
    """How far ahead reminders go: `REMINDER_LEAD_HOURS` (default 24)."""
    raw = os.environ.get("REMINDER_LEAD_HOURS", "").strip()
    if not raw:
        return DEFAULT_LEAD
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"REMINDER_LEAD_HOURS must be a number of hours, not {raw!r}") from None
    if not 0 < hours <= 24 * 14:
        raise ValueError(f"REMINDER_LEAD_HOURS must be between 0 and 336, not {raw!r}")
    return dt.timedelta(hours=hours)


@dataclass(frozen=True)
class ReminderContent:
    """What one reminder says: plain data for the templates, nothing clinical."""

    appointment_id: int
    client_id: int
    first_name: str
    local_start: dt.datetime  # aware, practice time zone
    clinician: str
    location: str | None
    telehealth_link: str | None
    practice_name: str

    def context(self) -> dict:
        t = self.local_start
        clock = f"{t:%I:%M %p}".lstrip("0")
        return dict(
            first_name=self.first_name,
            when=f"{t:%A} {t.day} {t:%B %Y}, {clock} ({t:%Z})",
            when_short=f"{t:%a} {t.day} {t:%b} at {clock} {t:%Z}",
            clinician=self.clinician,
            location=self.location,
            telehealth_link=self.telehealth_link,
            practice_name=self.practice_name,
        )


@dataclass
class ReminderSummary:
    appointments: int = 0  # booked appointments starting within the lead time
    enqueued: dict[str, int] = field(default_factory=lambda: {REMINDER_EMAIL: 0, REMINDER_SMS: 0})
    already_in_outbox: int = 0
    without_consent: int = 0  # (appointment, channel) pairs the client did not agree to
    without_address: int = 0  # agreed, but no e-mail address or no usable phone number
    withdrawn: int = 0
    email: DeliverySummary = field(default_factory=DeliverySummary)
    sms: DeliverySummary = field(default_factory=DeliverySummary)


def _settings(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return dict(session.execute(select(PracticeSetting.key, PracticeSetting.value)).tuples().all())


def render_email(content: ReminderContent, address: str, sender: str | None = None) -> Draft:
    context = content.context()
    text = _TEMPLATES.get_template("reminder.txt.j2").render(**context)
    html = _TEMPLATES.get_template("reminder.html.j2").render(**context)
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = SUBJECT
    message["From"] = sender or os.environ.get("SMTP_FROM") or DEFAULT_SENDER
    message["To"] = address  # the address alone: the client's name stays out of the headers
    message["Date"] = format_datetime(utcnow().replace(tzinfo=dt.UTC))
    message["Message-ID"] = (
        f"<{outbox_key(REMINDER_EMAIL, content.client_id, str(content.appointment_id))}@mentalspace>"
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return Draft(
        kind=REMINDER_EMAIL,
        recipient_user_id=None,
        recipient_client_id=content.client_id,
        recipient_email=address,
        period=str(content.appointment_id),
        subject=SUBJECT,
        body_text=text,
        body_html=html,
        mime=message.as_string(policy=_POLICY),
    )


def render_sms(content: ReminderContent, number: str) -> Draft:
    text = _TEMPLATES.get_template("reminder.sms.j2").render(**content.context()).strip()
    return Draft(
        kind=REMINDER_SMS,
        recipient_user_id=None,
        recipient_client_id=content.client_id,
        recipient_email=number,
        period=str(content.appointment_id),
        subject=SUBJECT,
        body_text=text,
        body_html="",
        mime="",
    )


def withdraw_stale(engine: Engine, now: dt.datetime) -> int:
    """Mark queued reminders whose appointment is no longer booked, or has begun, as withdrawn."""
    with session_scope(engine) as session:
        queued = dict(
            session.execute(
                select(OutboxMessage.id, OutboxMessage.period).where(
                    OutboxMessage.kind.in_(REMINDER_KINDS), OutboxMessage.status == OutboxStatus.QUEUED
                )
            ).all()
        )
        if not queued:
            return 0
        booked = set(
            session.scalars(
                select(Appointment.id).where(
                    Appointment.id.in_({int(p) for p in queued.values()}),
                    Appointment.status.in_(BOOKED),
                    Appointment.start_at > now,
                )
            )
        )
        stale = [message_id for message_id, period in queued.items() if int(period) not in booked]
        if stale:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(stale), OutboxMessage.status == OutboxStatus.QUEUED)
                .values(
                    status=OutboxStatus.WITHDRAWN,
                    claimed_until=None,
                    last_error="appointment cancelled, rescheduled or begun before the reminder went",
                )
            )
    return len(stale)


def queue_reminders(
    engine: Engine, now: dt.datetime, lead: dt.timedelta | None = None, summary: ReminderSummary | None = None
) -> ReminderSummary:
    """Queue the reminders for booked appointments starting in (now, now + lead] that the outbox lacks."""
    lead = lead or lead_time()
    summary = summary or ReminderSummary()
    settings = _settings(engine)
    tz = ZoneInfo(practice_timezone())
    clinician = aliased(User)
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.start_at,
                Appointment.is_telehealth,
                Client.id,
                Client.first_name,
                Client.email,
                Client.phone,
                Client.has_email_contact_consent,
                Client.has_sms_contact_consent,
                clinician.first_name,
                clinician.last_name,
            )
            .join(Client, Client.id == Appointment.client_id)
            .join(clinician, clinician.id == Appointment.clinician_id)
            .where(
                Appointment.status.in_(BOOKED),
                Appointment.start_at > now,
                Appointment.start_at <= now + lead,
            )
            .order_by(Appointment.start_at, Appointment.id)
        ).all()
        have = set(
            session.execute(
                select(OutboxMessage.kind, OutboxMessage.recipient_client_id, OutboxMessage.period).where(
                    OutboxMessage.kind.in_(REMINDER_KINDS),
                    OutboxMessage.period.in_([str(r[0]) for r in rows] or ["-"]),
                )
            ).tuples()
        )
    summary.appointments = len(rows)
    drafts: list[Draft] = []
    telehealth_url = (settings.get("telehealth_url") or "").rstrip("/")
    for aid, start, online, cid, first, email, phone, email_ok, sms_ok, c_first, c_last in rows:
        content = ReminderContent(
            appointment_id=aid,
            client_id=cid,
            first_name=first,
            local_start=start.replace(tzinfo=dt.UTC).astimezone(tz),
            clinician=f"{c_first} {c_last}",
            location=None if online else settings.get("practice_address"),
            telehealth_link=f"{telehealth_url}/{aid}" if online and telehealth_url else None,
            practice_name=settings.get("practice_name") or "your practice",
        )
        for kind, agreed, address in (
            (REMINDER_EMAIL, email_ok, email or None),
            (REMINDER_SMS, sms_ok, e164(phone)),
        ):
            if (kind, cid, str(aid)) in have:
                summary.already_in_outbox += 1
            elif not agreed:
                summary.without_consent += 1
            elif address is None:
                summary.without_address += 1
            else:
                drafts.append(
                    render_email(content, address) if kind == REMINDER_EMAIL else render_sms(content, address)
                )
    for kind in REMINDER_KINDS:
        summary.enqueued[kind] = enqueue(engine, [d for d in drafts if d.kind == kind], now=now)
    return summary


def run_appointment_reminders(
    engine: Engine,
    now: dt.datetime | None = None,
    lead: dt.timedelta | None = None,
    smtp: SmtpSettings | None | object = _CONFIGURED,
    sms: SmsSettings | None | object = _CONFIGURED,
) -> ReminderSummary:
    """Withdraw stale reminders, queue the new ones, deliver both channels; safe to repeat at any time."""
    now = now or utcnow()
    summary = ReminderSummary()
    summary.withdrawn = withdraw_stale(engine, now)
    queue_reminders(engine, now, lead, summary)
    smtp_settings = configured_settings() if smtp is _CONFIGURED else smtp
    sms_settings = configured_sms() if sms is _CONFIGURED else sms
    if smtp_settings is None:
        log.info("SMTP_URL is not set: e-mail reminders wait in the outbox")
    else:
        summary.email = deliver(engine, smtp_settings, now=now, kinds=[REMINDER_EMAIL])  # type: ignore[arg-type]
    summary.sms = deliver_sms(engine, sms_settings, now=now)  # type: ignore[arg-type]
    return summary


__all__ = [
    "DEFAULT_LEAD",
    "ReminderContent",
    "ReminderSummary",
    "lead_time",
    "queue_reminders",
    "run_appointment_reminders",
    "withdraw_stale",
]
