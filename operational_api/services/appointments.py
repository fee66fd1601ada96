"""Appointments: book (single, recurring series, a shared group/family slot), reschedule, cancel / late cancel,
check in, clinician ready, complete, no-show; the waitlist offered a slot when it frees up.

Rules (each refusal leaves nothing written: the caller's transaction rolls back):
- Georgia rule 3: no booking without an informed consent current on the appointment's practice-local date
  (`consent.informed_missing`); rule 5: a minor on that date (export.py's `is_minor_on_date`), unless
  emancipated, also needs a current guardian consent (`consent.guardian_missing`); rule 6: a telehealth
  appointment needs a current telehealth consent (`consent.telehealth_missing`).
- No double booking of a clinician or a client (`appointment.double_booked`): checked here for the message and
  enforced by the database (migration 0007), so of concurrent bookings exactly one wins.
- Inside the clinician's availability (`appointment.outside_availability`) unless an administrator or the
  clinician's supervisor records an override with a reason (audited).
- Data-quality rule 4: no COMPLETED while required demographics are incomplete (`appointment.demographics_incomplete`).
- Status changes follow TRANSITIONS (`appointment.invalid_transition`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import Appointment, AppointmentStatusChange, Client, User
from operational_api.models_api import WaitlistEntry
from operational_api.services.availability import FREE_STATUSES, within_availability
from operational_api.services.errors import Forbidden, InvalidInput, NotFound, RuleViolation, VersionConflict
from operational_api.services.ids import RecordId
from operational_api.services.listing import Page, page, touch
from operational_api.services.rules import (
    client_missing_demographics,
    has_current_consent,
    is_minor_on_date,
    local_date,
)
from operational_api.services.scope import (
    appointment_visible,
    check_clinician_visible,
    visible_appointment_or_none,
    visible_client,
)

SCHEDULERS = ("ADMIN", "FRONT_DESK", "CLINICIAN", "SUPERVISOR")
# Who may book outside a clinician's availability: administrators, and a supervisor for their supervisees.
OVERRIDERS = ("ADMIN", "SUPERVISOR")
MAX_DURATION = dt.timedelta(hours=12)  # the SQLite overlap trigger searches a day back (migration 0007)

# The appointment state machine: from each status, the statuses it may move to. Final statuses move nowhere.
TRANSITIONS: dict[str, frozenset[str]] = {
    "SCHEDULED": frozenset({"CONFIRMED", "CHECKED_IN", "CANCELLED", "RESCHEDULED", "NO_SHOW"}),
    "CONFIRMED": frozenset({"CHECKED_IN", "CANCELLED", "RESCHEDULED", "NO_SHOW"}),
    "CHECKED_IN": frozenset({"COMPLETED", "CANCELLED"}),
    "COMPLETED": frozenset(),
    "NO_SHOW": frozenset(),
    "CANCELLED": frozenset(),
    "RESCHEDULED": frozenset(),
}
SHARED_SLOT_TYPES = ("GROUP_THERAPY", "FAMILY_THERAPY")
CANCEL_REASONS = ("CLIENT_REQUEST", "ILLNESS", "CLINICIAN", "WEATHER", "OTHER")

AppointmentKind = Literal[
    "INITIAL_EVALUATION",
    "FOLLOW_UP",
    "MEDICATION_MANAGEMENT",
    "THERAPY_SESSION",
    "GROUP_THERAPY",
    "FAMILY_THERAPY",
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Slot(_Input):
    start_at: dt.datetime = Field(description="UTC (naive = UTC)")
    end_at: dt.datetime
    availability_override_reason: str | None = Field(
        default=None,
        max_length=200,
        description="book outside the clinician's availability (administrators; supervisors for supervisees)",
    )

    @model_validator(mode="after")
    def _times(self):
        self.start_at = _naive_utc(self.start_at)
        self.end_at = _naive_utc(self.end_at)
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        if self.end_at - self.start_at > MAX_DURATION:
            raise ValueError("an appointment lasts at most 12 hours")
        return self


class AppointmentBook(Slot):
    client_id: RecordId
    clinician_id: RecordId
    appointment_type: AppointmentKind = "THERAPY_SESSION"
    is_telehealth: bool = False
    is_booked_online: bool = False
    shared_slot_id: RecordId | None = Field(
        default=None, description="join this group/family appointment's slot (same clinician, time and type)"
    )


class SeriesBook(AppointmentBook):
    interval_weeks: int = Field(default=1, ge=1, le=4)
    occurrences: int = Field(ge=2, le=52)


class Reschedule(Slot):
    pass


class Cancel(_Input):
    reason: Literal["CLIENT_REQUEST", "ILLNESS", "CLINICIAN", "WEATHER", "OTHER"]
    late: bool = Field(default=False, description="a late cancellation (recorded as LATE_CANCEL)")


class CheckIn(_Input):
    arrived_at: dt.datetime | None = Field(default=None, description="default: now")


class WaitlistCreate(_Input):
    client_id: RecordId
    clinician_id: RecordId
    appointment_type: AppointmentKind = "THERAPY_SESSION"
    is_telehealth: bool = False
    window_start_at: dt.datetime
    window_end_at: dt.datetime

    @model_validator(mode="after")
    def _window(self):
        self.window_start_at = _naive_utc(self.window_start_at)
        self.window_end_at = _naive_utc(self.window_end_at)
        if self.window_end_at <= self.window_start_at:
            raise ValueError("window_end_at must be after window_start_at")
        return self


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


# --- helpers ----------------------------------------------------------------------------------------------------


def _audit(session, actor, action, appointment: Appointment, now, source: str = audit.API, **detail) -> None:
    audit.record(
        session,
        action=action,
        source=source,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity="appointment",
        entity_id=appointment.id,
        client_ids=[appointment.client_id],
        detail=detail or None,
        now=now,
    )


def _require_scheduler(actor: SignedInUser) -> None:
    if actor.role not in SCHEDULERS:
        raise Forbidden("auth.role_forbidden", f"the {actor.role} role may not schedule")


def visible_appointment(session: Session, actor: SignedInUser, appointment_id: int) -> Appointment:
    appointment = visible_appointment_or_none(session, actor, appointment_id)
    if appointment is None:
        raise NotFound("appointment.not_found", f"no appointment {appointment_id}", field="appointment_id")
    return appointment


def _clinician(session: Session, actor: SignedInUser, clinician_id: int) -> User:
    check_clinician_visible(actor, clinician_id)
    user = session.get(User, clinician_id)
    if user is None or user.role not in ("CLINICIAN", "SUPERVISOR") or not user.is_active:
        raise NotFound("clinician.not_found", f"no active clinician {clinician_id}", field="clinician_id")
    return user


def check_consents(session: Session, client: Client, start_at: dt.datetime, is_telehealth: bool) -> None:
    """Georgia rules 3, 5 and 6 on the appointment's practice-local date."""
    on = local_date(start_at)
    if not has_current_consent(session, client.id, "INFORMED", on):
        raise RuleViolation(
            "consent.informed_missing",
            f"client {client.id} has no informed consent current on {on.isoformat()} (Georgia rule 3)",
            field="client_id",
        )
    if (
        not client.is_emancipated
        and is_minor_on_date(session, client, on)
        and not has_current_consent(session, client.id, "GUARDIAN", on)
    ):
        raise RuleViolation(
            "consent.guardian_missing",
            f"client {client.id} is a minor on {on.isoformat()} without a current guardian consent (Georgia rule 5)",
            field="client_id",
        )
    if is_telehealth and not has_current_consent(session, client.id, "TELEHEALTH", on):
        raise RuleViolation(
            "consent.telehealth_missing",
            f"client {client.id} has no telehealth consent current on {on.isoformat()} (Georgia rule 6)",
            field="is_telehealth",
        )


# Built once (a booking binds its values): the appointments holding a slot that overlap [start_at, end_at) for
# the clinician or the client.
_OVERLAPPING = select(
    Appointment.id, Appointment.clinician_id, Appointment.client_id, Appointment.shared_slot_id
).where(
    Appointment.status.not_in(FREE_STATUSES),
    Appointment.start_at < bindparam("end_at"),
    Appointment.end_at > bindparam("start_at"),
    (Appointment.clinician_id == bindparam("clinician_id"))
    | (Appointment.client_id == bindparam("client_id")),
)


def _overlaps(
    session: Session, *, clinician_id: int, client_id: int, start_at, end_at, shared_slot_id, exclude_id
):
    rows = session.execute(
        _OVERLAPPING,
        {"start_at": start_at, "end_at": end_at, "clinician_id": clinician_id, "client_id": client_id},
    )
    for row in rows:
        if row.id == exclude_id:
            continue
        if row.client_id == client_id:
            return True
        shared = shared_slot_id is not None and shared_slot_id in (row.id, row.shared_slot_id)
        if not shared:
            return True
    return False


def _check_slot(
    session: Session,
    actor: SignedInUser,
    *,
    client: Client,
    clinician_id: int,
    start_at: dt.datetime,
    end_at: dt.datetime,
    is_telehealth: bool,
    override_reason: str | None,
    shared_slot_id: int | None,
    exclude_id: int | None = None,
) -> None:
    """Every rule a slot must pass, before anything is written."""
    check_consents(session, client, start_at, is_telehealth)
    if not within_availability(session, clinician_id, start_at, end_at):
        if override_reason is None:
            raise RuleViolation(
                "appointment.outside_availability",
                f"clinician {clinician_id} is not available then; an administrator or their supervisor may "
                "book it with availability_override_reason",
                field="start_at",
            )
        if actor.role not in OVERRIDERS:
            raise Forbidden(
                "appointment.override_forbidden",
                f"the {actor.role} role may not book outside a clinician's availability",
                field="availability_override_reason",
            )
    if _overlaps(
        session,
        clinician_id=clinician_id,
        client_id=client.id,
        start_at=start_at,
        end_at=end_at,
        shared_slot_id=shared_slot_id,
        exclude_id=exclude_id,
    ):
        raise RuleViolation(
            "appointment.double_booked",
            f"clinician {clinician_id} or client {client.id} already has an appointment overlapping that time",
            field="start_at",
        )


def _history(session: Session, appointment: Appointment, actor: SignedInUser, now: dt.datetime) -> None:
    session.add(
        AppointmentStatusChange(
            updated_at=now,
            appointment_id=appointment.id,
            status=appointment.status,
            changed_by=actor.user_id,
            changed_at=now,
        )
    )


def _new_appointment(
    session: Session,
    actor: SignedInUser,
    payload: AppointmentBook,
    *,
    start_at: dt.datetime,
    end_at: dt.datetime,
    now: dt.datetime,
    **extra,
) -> Appointment:
    overridden = payload.availability_override_reason is not None and not within_availability(
        session, payload.clinician_id, start_at, end_at
    )
    appointment = Appointment(
        client_id=payload.client_id,
        clinician_id=payload.clinician_id,
        appointment_type=payload.appointment_type,
        status="SCHEDULED",
        start_at=start_at,
        end_at=end_at,
        is_telehealth=payload.is_telehealth,
        is_booked_online=payload.is_booked_online,
        shared_slot_id=payload.shared_slot_id,
        booked_at=now,
        status_changed_at=now,
        availability_override_by=actor.user_id if overridden else None,
        availability_override_reason=payload.availability_override_reason if overridden else None,
        created_at=now,
        updated_at=now,
        **extra,
    )
    session.add(appointment)
    session.flush()
    _history(session, appointment, actor, now)
    return appointment


def _resolve_shared_slot(session: Session, actor: SignedInUser, payload: AppointmentBook) -> AppointmentBook:
    """Joining a group/family slot: the slot's clinician, times and type; the slot id is its first appointment."""
    if payload.shared_slot_id is None:
        return payload
    anchor = visible_appointment(session, actor, payload.shared_slot_id)
    if anchor.appointment_type not in SHARED_SLOT_TYPES or anchor.status in FREE_STATUSES:
        raise RuleViolation(
            "appointment.slot_not_shared",
            f"appointment {anchor.id} is not an open group or family session",
            field="shared_slot_id",
        )
    root = anchor.shared_slot_id or anchor.id
    return payload.model_copy(
        update={
            "shared_slot_id": root,
            "clinician_id": anchor.clinician_id,
            "start_at": anchor.start_at,
            "end_at": anchor.end_at,
            "appointment_type": anchor.appointment_type,
        }
    )


# --- booking --------------------------------------------------------------------------------------------------


def book_appointment(
    session: Session, actor: SignedInUser, payload: AppointmentBook, *, now: dt.datetime
) -> Appointment:
    _require_scheduler(actor)
    client = visible_client(session, actor, payload.client_id)
    payload = _resolve_shared_slot(session, actor, payload)
    _clinician(session, actor, payload.clinician_id)
    if client.status == "DISCHARGED":
        raise RuleViolation(
            "appointment.client_discharged", f"client {client.id} is discharged", field="client_id"
        )
    _check_slot(
        session,
        actor,
        client=client,
        clinician_id=payload.clinician_id,
        start_at=payload.start_at,
        end_at=payload.end_at,
        is_telehealth=payload.is_telehealth,
        override_reason=payload.availability_override_reason,
        shared_slot_id=payload.shared_slot_id,
    )
    appointment = _new_appointment(
        session, actor, payload, start_at=payload.start_at, end_at=payload.end_at, now=now
    )
    detail = {"override": True} if appointment.availability_override_by else {}
    _audit(session, actor, "appointment.book", appointment, now, **detail)
    _claim_waitlist_offer(session, appointment, now)
    return appointment


def book_series(
    session: Session, actor: SignedInUser, payload: SeriesBook, *, now: dt.datetime
) -> list[Appointment]:
    """A weekly series, all or nothing: one occurrence refused refuses the series (the message names it)."""
    _require_scheduler(actor)
    if payload.shared_slot_id is not None:
        raise InvalidInput(
            "appointment.series_shared_slot", "a series cannot join a shared slot", field="shared_slot_id"
        )
    client = visible_client(session, actor, payload.client_id)
    _clinician(session, actor, payload.clinician_id)
    step = dt.timedelta(weeks=payload.interval_weeks)
    rule = f"FREQ=WEEKLY;INTERVAL={payload.interval_weeks};COUNT={payload.occurrences}"
    booked: list[Appointment] = []
    for n in range(payload.occurrences):
        start_at, end_at = payload.start_at + n * step, payload.end_at + n * step
        try:
            _check_slot(
                session,
                actor,
                client=client,
                clinician_id=payload.clinician_id,
                start_at=start_at,
                end_at=end_at,
                is_telehealth=payload.is_telehealth,
                override_reason=payload.availability_override_reason,
                shared_slot_id=None,
            )
        except (RuleViolation, Forbidden) as exc:
            raise type(exc)(
                exc.rule, f"occurrence {n + 1} of {payload.occurrences}: {exc.message}", field=exc.field
            ) from None
        appointment = _new_appointment(
            session,
            actor,
            payload,
            start_at=start_at,
            end_at=end_at,
            now=now,
            is_recurring=True,
            recurrence_rule=rule,
            series_id=booked[0].id if booked else None,
        )
        if not booked:
            appointment.series_id = appointment.id
        booked.append(appointment)
        _audit(session, actor, "appointment.book", appointment, now, series=True)
    session.flush()
    return booked


# --- status changes -------------------------------------------------------------------------------------------


def _transition(
    session: Session,
    actor: SignedInUser,
    appointment_id: int,
    target: str,
    *,
    expected_version: int | None,
    now: dt.datetime,
) -> Appointment:
    _require_scheduler(actor)
    appointment = visible_appointment(session, actor, appointment_id)
    if expected_version is not None and appointment.version != expected_version:
        raise VersionConflict(
            "appointment.version_conflict",
            f"appointment {appointment_id} is at version {appointment.version}, not {expected_version}",
        )
    if target not in TRANSITIONS[appointment.status]:
        raise RuleViolation(
            "appointment.invalid_transition",
            f"appointment {appointment_id} is {appointment.status}: it cannot become {target}",
            field="status",
        )
    return appointment


def _apply(
    session, actor, appointment: Appointment, target: str, now: dt.datetime, source: str = audit.API, **detail
) -> Appointment:
    appointment.status = target
    appointment.status_changed_at = now
    touch(appointment, now)
    session.flush()
    _history(session, appointment, actor, now)
    _audit(session, actor, f"appointment.{target.lower()}", appointment, now, source, **detail)
    return appointment


def confirm(session, actor, appointment_id: int, *, expected_version=None, now: dt.datetime) -> Appointment:
    appointment = _transition(
        session, actor, appointment_id, "CONFIRMED", expected_version=expected_version, now=now
    )
    return _apply(session, actor, appointment, "CONFIRMED", now)


def check_in(
    session,
    actor,
    appointment_id: int,
    payload: CheckIn,
    *,
    expected_version=None,
    now: dt.datetime,
    source: str = audit.API,
) -> Appointment:
    appointment = _transition(
        session, actor, appointment_id, "CHECKED_IN", expected_version=expected_version, now=now
    )
    arrived = _naive_utc(payload.arrived_at) if payload.arrived_at else now
    if arrived > now or local_date(arrived) != local_date(appointment.start_at):
        raise InvalidInput(
            "appointment.arrival_invalid",
            "arrived_at must be on the appointment's day and not in the future",
            field="arrived_at",
        )
    appointment.arrived_at = arrived
    return _apply(session, actor, appointment, "CHECKED_IN", now, source)


def clinician_ready(
    session, actor, appointment_id: int, *, expected_version=None, now: dt.datetime
) -> Appointment:
    """The clinician is ready to see the checked-in client (check-in-to-ready time); not a status change."""
    _require_scheduler(actor)
    appointment = visible_appointment(session, actor, appointment_id)
    if expected_version is not None and appointment.version != expected_version:
        raise VersionConflict(
            "appointment.version_conflict", f"appointment {appointment_id} changed; read it again"
        )
    if appointment.status != "CHECKED_IN":
        raise RuleViolation(
            "appointment.invalid_transition",
            f"appointment {appointment_id} is {appointment.status}: the clinician is ready only after check-in",
            field="status",
        )
    if appointment.clinician_ready_at is not None:
        raise RuleViolation(
            "appointment.already_ready", f"appointment {appointment_id} already has a ready time"
        )
    appointment.clinician_ready_at = max(now, appointment.arrived_at or now)
    touch(appointment, now)
    session.flush()
    _audit(session, actor, "appointment.clinician_ready", appointment, now)
    return appointment


def complete(
    session, actor, appointment_id: int, *, expected_version=None, now: dt.datetime, source: str = audit.API
) -> Appointment:
    appointment = _transition(
        session, actor, appointment_id, "COMPLETED", expected_version=expected_version, now=now
    )
    if now < appointment.start_at:
        raise RuleViolation("appointment.not_started", f"appointment {appointment_id} has not started yet")
    client = session.get(Client, appointment.client_id)
    missing = client_missing_demographics(session, client)
    if missing:
        raise RuleViolation(
            "appointment.demographics_incomplete",
            f"client {client.id} is missing required demographics ({', '.join(missing)}): complete them before "
            "completing the appointment (data-quality rule 4)",
            field="client_id",
        )
    return _apply(session, actor, appointment, "COMPLETED", now, source)


def no_show(
    session, actor, appointment_id: int, *, expected_version=None, now: dt.datetime, source: str = audit.API
) -> Appointment:
    appointment = _transition(
        session, actor, appointment_id, "NO_SHOW", expected_version=expected_version, now=now
    )
    if now < appointment.start_at:
        raise RuleViolation("appointment.not_started", f"appointment {appointment_id} has not started yet")
    return _apply(session, actor, appointment, "NO_SHOW", now, source)


def cancel(
    session,
    actor,
    appointment_id: int,
    payload: Cancel,
    *,
    expected_version=None,
    now: dt.datetime,
    source: str = audit.API,
) -> Appointment:
    appointment = _transition(
        session, actor, appointment_id, "CANCELLED", expected_version=expected_version, now=now
    )
    appointment.cancellation_reason = "LATE_CANCEL" if payload.late else payload.reason
    _apply(session, actor, appointment, "CANCELLED", now, source, reason=payload.reason, late=payload.late)
    _offer_freed_slot(session, appointment, now)
    return appointment


def reschedule(
    session, actor, appointment_id: int, payload: Reschedule, *, expected_version=None, now: dt.datetime
) -> Appointment:
    """The original becomes RESCHEDULED; the replacement (returned) carries `rescheduled_from_id`."""
    original = _transition(
        session, actor, appointment_id, "RESCHEDULED", expected_version=expected_version, now=now
    )
    client = session.get(Client, original.client_id)
    _check_slot(
        session,
        actor,
        client=client,
        clinician_id=original.clinician_id,
        start_at=payload.start_at,
        end_at=payload.end_at,
        is_telehealth=original.is_telehealth,
        override_reason=payload.availability_override_reason,
        shared_slot_id=original.shared_slot_id,
        exclude_id=original.id,
    )
    _apply(session, actor, original, "RESCHEDULED", now)
    booking = AppointmentBook(
        client_id=original.client_id,
        clinician_id=original.clinician_id,
        appointment_type=original.appointment_type,
        is_telehealth=original.is_telehealth,
        is_booked_online=original.is_booked_online,
        start_at=payload.start_at,
        end_at=payload.end_at,
        availability_override_reason=payload.availability_override_reason,
        shared_slot_id=original.shared_slot_id,
    )
    replacement = _new_appointment(
        session,
        actor,
        booking,
        start_at=payload.start_at,
        end_at=payload.end_at,
        now=now,
        rescheduled_from_id=original.id,
        is_recurring=original.is_recurring,
        recurrence_rule=original.recurrence_rule,
        series_id=original.series_id,
    )
    _audit(session, actor, "appointment.book", replacement, now, rescheduled_from=original.id)
    _offer_freed_slot(session, original, now)
    return replacement


# --- reads ----------------------------------------------------------------------------------------------------


def get_appointment(session: Session, actor: SignedInUser, appointment_id: int) -> Appointment:
    return visible_appointment(session, actor, appointment_id)


def list_appointments(
    session: Session,
    actor: SignedInUser,
    *,
    limit: int = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    clinician_id: int | None = None,
    client_id: int | None = None,
    status: str | None = None,
    start_from: dt.datetime | None = None,
    start_to: dt.datetime | None = None,
) -> Page:
    stmt = select(Appointment).where(appointment_visible(actor))
    if clinician_id is not None:
        stmt = stmt.where(Appointment.clinician_id == clinician_id)
    if client_id is not None:
        stmt = stmt.where(Appointment.client_id == client_id)
    if status is not None:
        stmt = stmt.where(Appointment.status == status)
    if start_from is not None:
        stmt = stmt.where(Appointment.start_at >= _naive_utc(start_from))
    if start_to is not None:
        stmt = stmt.where(Appointment.start_at < _naive_utc(start_to))
    return page(
        session,
        stmt,
        Appointment.id,
        limit=limit,
        cursor=cursor,
        updated_column=Appointment.updated_at,
        updated_since=updated_since,
    )


# --- waitlist -------------------------------------------------------------------------------------------------


def add_to_waitlist(
    session: Session, actor: SignedInUser, payload: WaitlistCreate, *, now: dt.datetime
) -> WaitlistEntry:
    _require_scheduler(actor)
    client = visible_client(session, actor, payload.client_id)
    _clinician(session, actor, payload.clinician_id)
    if payload.window_end_at <= now:
        raise InvalidInput("waitlist.window_past", "the window has already passed", field="window_end_at")
    entry = WaitlistEntry(
        client_id=client.id,
        clinician_id=payload.clinician_id,
        appointment_type=payload.appointment_type,
        is_telehealth=payload.is_telehealth,
        window_start_at=payload.window_start_at,
        window_end_at=payload.window_end_at,
        status="WAITING",
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        action="waitlist.add",
        source=audit.API,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity="waitlist_entry",
        entity_id=entry.id,
        client_ids=[client.id],
        now=now,
    )
    return entry


def _offer_freed_slot(session: Session, freed: Appointment, now: dt.datetime) -> WaitlistEntry | None:
    """A slot in the future came free: offer it to the longest-waiting entry whose window holds it."""
    if freed.start_at <= now or freed.shared_slot_id is not None:
        return None
    still_held = session.scalar(
        select(Appointment.id).where(
            Appointment.shared_slot_id == freed.id, Appointment.status.not_in(FREE_STATUSES)
        )
    )
    if still_held is not None:  # a group session goes on without this client
        return None
    entry = session.scalar(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.clinician_id == freed.clinician_id,
            WaitlistEntry.status == "WAITING",
            WaitlistEntry.window_start_at <= freed.start_at,
            WaitlistEntry.window_end_at >= freed.end_at,
            WaitlistEntry.client_id != freed.client_id,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(1)
    )
    if entry is None:
        return None
    entry.status = "OFFERED"
    entry.offered_start_at, entry.offered_end_at, entry.offered_at = freed.start_at, freed.end_at, now
    entry.updated_at = now
    session.flush()
    audit.record(
        session,
        action="waitlist.offer",
        source=audit.API,
        entity="waitlist_entry",
        entity_id=entry.id,
        client_ids=[entry.client_id],
        detail={"freed_appointment_id": freed.id},
        now=now,
    )
    return entry


def _claim_waitlist_offer(session: Session, appointment: Appointment, now: dt.datetime) -> None:
    entry = session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.client_id == appointment.client_id,
            WaitlistEntry.clinician_id == appointment.clinician_id,
            WaitlistEntry.status == "OFFERED",
            WaitlistEntry.offered_start_at == appointment.start_at,
        )
    )
    if entry is not None:
        entry.status = "BOOKED"
        entry.booked_appointment_id = appointment.id
        entry.updated_at = now
        session.flush()


def book_waitlist_offer(
    session: Session, actor: SignedInUser, entry_id: int, *, now: dt.datetime
) -> Appointment:
    """Book the slot a waitlist entry was offered (the usual booking rules apply)."""
    _require_scheduler(actor)
    entry = _visible_entry(session, actor, entry_id)
    if entry.status != "OFFERED":
        raise RuleViolation(
            "waitlist.not_offered", f"waitlist entry {entry_id} is {entry.status}, not OFFERED"
        )
    return book_appointment(
        session,
        actor,
        AppointmentBook(
            client_id=entry.client_id,
            clinician_id=entry.clinician_id,
            appointment_type=entry.appointment_type,
            is_telehealth=entry.is_telehealth,
            start_at=entry.offered_start_at,
            end_at=entry.offered_end_at,
        ),
        now=now,
    )


def cancel_waitlist_entry(
    session: Session, actor: SignedInUser, entry_id: int, *, now: dt.datetime
) -> WaitlistEntry:
    _require_scheduler(actor)
    entry = _visible_entry(session, actor, entry_id)
    if entry.status not in ("WAITING", "OFFERED"):
        raise RuleViolation("waitlist.closed", f"waitlist entry {entry_id} is {entry.status}")
    entry.status = "CANCELLED"
    entry.updated_at = now
    session.flush()
    audit.record(
        session,
        action="waitlist.cancel",
        source=audit.API,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity="waitlist_entry",
        entity_id=entry.id,
        client_ids=[entry.client_id],
        now=now,
    )
    return entry


def _visible_entry(session: Session, actor: SignedInUser, entry_id: int) -> WaitlistEntry:
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None or not actor.can_see_clinician(entry.clinician_id):
        raise NotFound("waitlist.not_found", f"no waitlist entry {entry_id}", field="waitlist_entry_id")
    return entry


def get_waitlist_entry(session: Session, actor: SignedInUser, entry_id: int) -> WaitlistEntry:
    return _visible_entry(session, actor, entry_id)


def list_waitlist(
    session: Session,
    actor: SignedInUser,
    *,
    limit: int = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    clinician_id: int | None = None,
    status: str | None = None,
) -> Page:
    stmt = select(WaitlistEntry)
    if actor.visible_clinician_ids is not None:
        stmt = stmt.where(WaitlistEntry.clinician_id.in_(actor.visible_clinician_ids))
    if clinician_id is not None:
        stmt = stmt.where(WaitlistEntry.clinician_id == clinician_id)
    if status is not None:
        stmt = stmt.where(WaitlistEntry.status == status)
    return page(
        session,
        stmt,
        WaitlistEntry.id,
        limit=limit,
        cursor=cursor,
        updated_column=WaitlistEntry.updated_at,
        updated_since=updated_since,
    )
