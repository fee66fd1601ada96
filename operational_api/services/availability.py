"""Clinicians' weekly availability (practice-local wall-clock slots) turned into UTC spans, and free slots."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer, WithJsonSchema
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from operational_api.models import Appointment, ClinicianAvailability
from operational_api.services.rules import local_date
from operational_api.settings import practice_timezone

# A practice-local wall-clock time (availability), in and out of the API. The OpenAPI `time` format is RFC 3339
# full-time, which requires an offset a wall-clock time does not have: documented as a pattern instead.
LocalTime = Annotated[
    dt.time,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
            "description": "practice-local wall-clock time, HH:MM[:SS], no offset",
        }
    ),
]
# Statuses that no longer hold their slot (the double-booking constraints ignore them too: migration 0007).
FREE_STATUSES = ("CANCELLED", "RESCHEDULED")


def _utc(day: dt.date, at: dt.time) -> dt.datetime:
    local = dt.datetime.combine(day, at, tzinfo=ZoneInfo(practice_timezone()))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


# Built once (a booking's check binds the clinician and the day).
_AVAILABILITY_ON = (
    select(ClinicianAvailability)
    .where(
        ClinicianAvailability.clinician_id == bindparam("clinician_id"),
        ClinicianAvailability.weekday == bindparam("weekday"),
        ClinicianAvailability.effective_from <= bindparam("day"),
        or_(
            ClinicianAvailability.effective_to.is_(None),
            ClinicianAvailability.effective_to >= bindparam("day"),
        ),
    )
    .order_by(ClinicianAvailability.start_time)
)


def availability_on(session: Session, clinician_id: int, day: dt.date) -> list[ClinicianAvailability]:
    return list(
        session.scalars(
            _AVAILABILITY_ON, {"clinician_id": clinician_id, "weekday": day.weekday(), "day": day}
        )
    )


def within_availability(
    session: Session, clinician_id: int, start_at: dt.datetime, end_at: dt.datetime
) -> bool:
    """Whether [start_at, end_at) (naive UTC) lies inside one of the clinician's working spans that day."""
    day = local_date(start_at)
    for row in availability_on(session, clinician_id, day):
        if _utc(day, row.start_time) <= start_at and end_at <= _utc(day, row.end_time):
            return True
    return False


def free_slots(
    session: Session, clinician_id: int, date_from: dt.date, date_to: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The clinician's slots (availability cut into slot_minutes) between two local dates that no appointment
    holding its slot overlaps; UTC."""
    slots: list[tuple[dt.datetime, dt.datetime]] = []
    day = date_from
    while day <= date_to:
        for row in availability_on(session, clinician_id, day):
            start, end = _utc(day, row.start_time), _utc(day, row.end_time)
            step = dt.timedelta(minutes=row.slot_minutes or 60)
            while start + step <= end:
                slots.append((start, start + step))
                start += step
        day += dt.timedelta(days=1)
    if not slots:
        return []
    booked = session.execute(
        select(Appointment.start_at, Appointment.end_at).where(
            Appointment.clinician_id == clinician_id,
            Appointment.status.not_in(FREE_STATUSES),
            Appointment.start_at < slots[-1][1],
            Appointment.end_at > slots[0][0],
        )
    ).all()
    return [(s, e) for s, e in slots if not any(b_start < e and s < b_end for b_start, b_end in booked)]
