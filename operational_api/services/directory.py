"""The staff directory: users and clinicians (read), and clinicians' weekly availability (read and written here).
Administration (create, roles, MFA, training) is operational_api/services/users.py.

Availability (PRD scheduling: "as a clinician, I want to set my availability"): a clinician sets their own, a
supervisor their own and their supervisees', the front desk and administrators anyone's (the scheduling roles,
scoped like the dashboards). A clinician's slots on one weekday must not overlap within the dates both are in
effect (`availability.overlap`): free slots would be offered twice. Changing availability never touches
appointments already booked: they were inside it when made, and moving them is a reschedule.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import ClinicianAvailability, User
from operational_api.services import availability
from operational_api.services.availability import LocalTime
from operational_api.services.clinical_common import (
    ADMIN,
    CLINICIAN,
    FRONT_DESK,
    SUPERVISOR,
    check_version,
    record_write,
    require_role,
    versioned,
)
from operational_api.services.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from operational_api.services.listing import Page, page, touch

AVAILABILITY_WRITERS = frozenset({ADMIN, FRONT_DESK, SUPERVISOR, CLINICIAN})


def get_user(session: Session, actor: SignedInUser, user_id: int) -> User:
    """Administrators see everyone; others themselves and the clinicians in their scope."""
    user = session.get(User, user_id)
    if (
        user is None
        or user.role == "CLIENT"
        or (user_id != actor.user_id and not actor.can_see_clinician(user_id))
    ):
        raise NotFound("user.not_found", f"no user {user_id}", field="user_id")
    return user


def list_users(
    session: Session,
    actor: SignedInUser,
    *,
    limit: int = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    role: str | None = None,
) -> Page:
    if actor.role != "ADMIN":
        raise Forbidden("auth.role_forbidden", "only administrators list users")
    stmt = select(User).where(User.role != "CLIENT")
    if role is not None:
        stmt = stmt.where(User.role == role)
    return page(
        session,
        stmt,
        User.id,
        limit=limit,
        cursor=cursor,
        updated_column=User.updated_at,
        updated_since=updated_since,
    )


def get_clinician(session: Session, actor: SignedInUser, clinician_id: int) -> User:
    user = session.get(User, clinician_id)
    if (
        user is None
        or user.role not in ("CLINICIAN", "SUPERVISOR")
        or not actor.can_see_clinician(clinician_id)
    ):
        raise NotFound("clinician.not_found", f"no clinician {clinician_id}", field="clinician_id")
    return user


def list_availability(
    session: Session, actor: SignedInUser, clinician_id: int, *, on: dt.date | None = None
) -> list[ClinicianAvailability]:
    get_clinician(session, actor, clinician_id)
    stmt = select(ClinicianAvailability).where(ClinicianAvailability.clinician_id == clinician_id)
    if on is not None:
        return availability.availability_on(session, clinician_id, on)
    return list(
        session.scalars(stmt.order_by(ClinicianAvailability.weekday, ClinicianAvailability.start_time))
    )


def free_slots(
    session: Session, actor: SignedInUser, clinician_id: int, date_from: dt.date, date_to: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    get_clinician(session, actor, clinician_id)
    if date_to < date_from or (date_to - date_from).days > 62:
        raise InvalidInput(
            "request.date_range_invalid",
            "date_to must be on or after date_from, at most 62 days later",
            field="date_to",
        )
    return availability.free_slots(session, clinician_id, date_from, date_to)


class AvailabilityInput(BaseModel):
    """One weekly working slot, practice-local wall-clock times (weekday 0 = Monday)."""

    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6)
    start_time: LocalTime
    end_time: LocalTime
    slot_minutes: int = Field(default=60, ge=5, le=480)
    effective_from: dt.date
    effective_to: dt.date | None = None


class AvailabilityUpdate(BaseModel):
    """The fields sent are changed (`effective_to: null` makes the slot open-ended); at least one."""

    model_config = ConfigDict(extra="forbid")

    weekday: int | None = Field(default=None, ge=0, le=6)
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=480)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


def _check_slot(session: Session, row: ClinicianAvailability) -> None:
    """The slot as it would be stored: a time span, a date range, and no overlap with the clinician's others."""
    if row.start_time.tzinfo is not None or row.end_time.tzinfo is not None:
        raise InvalidInput(
            "availability.time_zone_given",
            "times are the practice's local wall-clock times: send them without an offset",
            field="start_time",
        )
    if row.end_time <= row.start_time:
        raise InvalidInput(
            "availability.times_invalid", "end_time must be after start_time", field="end_time"
        )
    span = dt.datetime.combine(dt.date.min, row.end_time) - dt.datetime.combine(dt.date.min, row.start_time)
    if dt.timedelta(minutes=row.slot_minutes) > span:
        raise InvalidInput(
            "availability.slot_too_long", "slot_minutes is longer than the working span", field="slot_minutes"
        )
    if row.effective_to is not None and row.effective_to < row.effective_from:
        raise InvalidInput(
            "availability.dates_invalid",
            "effective_to must be on or after effective_from",
            field="effective_to",
        )
    others = select(ClinicianAvailability.id).where(
        ClinicianAvailability.clinician_id == row.clinician_id,
        ClinicianAvailability.weekday == row.weekday,
        ClinicianAvailability.start_time < row.end_time,
        ClinicianAvailability.end_time > row.start_time,
        or_(
            ClinicianAvailability.effective_to.is_(None),
            ClinicianAvailability.effective_to >= row.effective_from,
        ),
    )
    if row.effective_to is not None:
        others = others.where(ClinicianAvailability.effective_from <= row.effective_to)
    if row.id is not None:
        others = others.where(ClinicianAvailability.id != row.id)
    clash = session.scalar(others.limit(1))
    if clash is not None:
        raise RuleViolation(
            "availability.overlap",
            f"clinician {row.clinician_id} already has availability {clash} on that weekday overlapping these "
            "times and dates: change or end that one first",
            field="start_time",
        )


def _lock_calendar(session: Session, clinician_id: int) -> None:
    """One availability writer per clinician at a time (PostgreSQL), so two overlapping slots cannot both pass
    the overlap check. NO KEY UPDATE: bookings, which only reference the clinician, do not wait on it. SQLite's
    write transactions are serial already (BEGIN IMMEDIATE)."""
    session.scalar(select(User.id).where(User.id == clinician_id).with_for_update(key_share=True))


def add_availability(
    session: Session,
    actor: SignedInUser,
    clinician_id: int,
    payload: AvailabilityInput,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicianAvailability:
    require_role(actor, AVAILABILITY_WRITERS, "set clinicians' availability")
    get_clinician(session, actor, clinician_id)
    _lock_calendar(session, clinician_id)
    row = ClinicianAvailability(updated_at=now, clinician_id=clinician_id, **payload.model_dump())
    _check_slot(session, row)
    session.add(row)
    session.flush()
    record_write(
        session, actor, "availability.create", "clinician_availability", row.id, source=source, now=now,
        detail={"clinician_id": clinician_id},
    )  # fmt: skip
    return row


def get_availability(session: Session, actor: SignedInUser, availability_id: int) -> ClinicianAvailability:
    """The slot, when its clinician is in the actor's scope (else NotFound, like a missing one)."""
    row = session.get(ClinicianAvailability, availability_id)
    if row is None or not actor.can_see_clinician(row.clinician_id):
        raise NotFound(
            "availability.not_found", f"no availability {availability_id}", field="availability_id"
        )
    return row


def update_availability(
    session: Session,
    actor: SignedInUser,
    availability_id: int,
    payload: AvailabilityUpdate,
    *,
    expected_version: int | None,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicianAvailability:
    require_role(actor, AVAILABILITY_WRITERS, "change clinicians' availability")
    row = get_availability(session, actor, availability_id)
    _lock_calendar(session, row.clinician_id)
    session.refresh(row)  # as committed by the writer that held the lock before us
    check_version(row, expected_version, "availability")
    changes = payload.model_dump(exclude_unset=True)
    cleared = [k for k, v in changes.items() if v is None and k != "effective_to"]
    if not changes or cleared:
        raise InvalidInput(
            "availability.no_change",
            "send at least one change; only effective_to can be cleared (null)",
            field=cleared[0] if cleared else None,
        )
    for name, value in changes.items():
        setattr(row, name, value)
    touch(row, now)
    with session.no_autoflush:  # checked before anything is written
        _check_slot(session, row)
    with versioned("availability", row.id):
        session.flush()
    record_write(
        session, actor, "availability.update", "clinician_availability", row.id, source=source, now=now,
        detail={"clinician_id": row.clinician_id, "fields": sorted(changes)},
    )  # fmt: skip
    return row
