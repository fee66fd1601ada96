"""The dashboards' quick actions (PRD Module 7), through the operational service layer like the API's.

- sign a pending note (My Practice: the clinician's own; `services.notes.sign_note`);
- co-sign a supervisee's note (My Team: the supervisor of record; `services.notes.cosign_note`);
- mark an appointment of today's list (My Practice: check in, completed, no-show, late cancel;
  `services.appointments`).

Each is the service function the API route calls, with the signed-in user as the actor: the same rules (a refusal
names its rule id), the same scope (a record outside the user's is "not found", as over the API), the same audit
rows in the change's transaction (source "dashboards"). A refusal leaves nothing written and is audited on its
own, as the API does. The lists to act on are read from the store, not the warehouse: the warehouse's tables show
a change at its next refresh (every 15 minutes), the action lists at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboards import audit_trail
from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.db import session_scope
from operational_api.models import Appointment, ClinicalNote
from operational_api.services import appointments, notes
from operational_api.services.constraints import translate_integrity_error
from operational_api.services.errors import ServiceError
from operational_api.services.rules import local_date

# Notes waiting for their author's signature: the states the note state machine lets its author sign.
UNSIGNED = tuple(status for status, action in notes.NOTE_TRANSITIONS if action == "sign")
# What the front-desk outcome picker offers, in the order of a visit. Completing needs a check-in first (the
# appointment state machine); the picker does not invent an arrival time.
OUTCOMES = {
    "CHECKED_IN": "Checked in (arrived now)",
    "COMPLETED": "Completed",
    "NO_SHOW": "No-show",
    "LATE_CANCEL": "Late cancel",
}
# The appointments that can still take an outcome today: those the state machine lets move on.
OPEN_STATUSES = tuple(status for status, after in appointments.TRANSITIONS.items() if after & set(OUTCOMES))
LIST_LIMIT = 500


@dataclass(frozen=True)
class Refused:
    """Why the service refused an action: its stable rule id and a message fit to show (no PHI)."""

    rule: str
    message: str

    def text(self) -> str:
        return f"Refused ({self.rule}): {self.message}"


def _now() -> dt.datetime:
    from dashboards.auth import clock

    return clock().astimezone(dt.UTC).replace(tzinfo=None)


def _engine():
    from dashboards.auth import store_engine

    return store_engine()


def _run(
    user: SignedInUser,
    action: str,
    entity: str,
    entity_id: int,
    change: Callable[[Session, dt.datetime], object],
) -> Refused | None:
    """Apply one service call in one transaction; a refusal is returned (and audited on its own), not raised."""
    try:
        try:
            with session_scope(_engine()) as session:
                change(session, _now())
        except IntegrityError as exc:
            raise translate_integrity_error(exc) from None
    except ServiceError as exc:
        # No client ids: the record may be one the user may not see (as the API's refusal rows).
        audit_trail.record(
            user, action, entity=entity, entity_id=entity_id, outcome="refused", detail={"rule": exc.rule}
        )
        return Refused(exc.rule, exc.message)
    return None


# ---- what there is to act on (live, from the store) ---------------------------------------------------------


@dataclass(frozen=True)
class NoteToSign:
    note_id: int
    client_id: int
    note_type: str
    created_at: dt.datetime
    version: int

    def label(self) -> str:
        return (
            f"Note {self.note_id} · {self.note_type.replace('_', ' ').lower()} · {self.created_at:%d %b %Y}"
        )


def _note_row(note: ClinicalNote) -> NoteToSign:
    return NoteToSign(note.id, note.client_id, note.note_type, note.created_at, note.version)


def notes_to_sign(user: SignedInUser, clinician_id: int) -> list[NoteToSign]:
    """`clinician_id`'s unsigned notes, oldest first, as far as `user` may see them (the service's scope)."""
    found: list[NoteToSign] = []
    with session_scope(_engine()) as session:
        for status in UNSIGNED:
            listed = notes.list_notes(
                session, user, clinician_id=clinician_id, status=status, limit=LIST_LIMIT
            )
            found += [_note_row(n) for n in listed.items]
    return sorted(found, key=lambda n: (n.created_at, n.note_id))


def cosign_queue(user: SignedInUser) -> list[NoteToSign]:
    """The user's supervisees' signed notes waiting for the user's co-signature (empty for anyone else)."""
    with session_scope(_engine()) as session:
        return [_note_row(n) for n in notes.cosign_queue(session, user)]


@dataclass(frozen=True)
class TodaysAppointment:
    appointment_id: int
    client_id: int
    start_at: dt.datetime  # naive UTC
    status: str
    appointment_type: str

    def label(self, zone: dt.tzinfo) -> str:
        local = self.start_at.replace(tzinfo=dt.UTC).astimezone(zone)
        kind = self.appointment_type.replace("_", " ").lower()
        return f"{local:%H:%M} · appointment {self.appointment_id} · {kind} · {self.status.lower()}"


def todays_appointments(user: SignedInUser, clinician_id: int) -> list[TodaysAppointment]:
    """`clinician_id`'s appointments of the practice-local today still open for an outcome, by start time."""
    now = _now()
    today = local_date(now)
    # A practice-local day lies within a UTC window a day either side; the local date is checked per row.
    window = (now - dt.timedelta(days=1), now + dt.timedelta(days=1))
    rows: list[Appointment] = []
    with session_scope(_engine()) as session:
        for status in OPEN_STATUSES:
            listed = appointments.list_appointments(
                session,
                user,
                clinician_id=clinician_id,
                status=status,
                start_from=window[0],
                start_to=window[1],
                limit=LIST_LIMIT,
            )
            rows += [a for a in listed.items if local_date(a.start_at) == today]
    return [
        TodaysAppointment(a.id, a.client_id, a.start_at, a.status, a.appointment_type)
        for a in sorted(rows, key=lambda a: (a.start_at, a.id))
    ]


# ---- the actions --------------------------------------------------------------------------------------------


def _note_action(
    user: SignedInUser, action: str, service, note_id: int, version: int | None
) -> Refused | None:
    return _run(
        user,
        action,
        "clinical_note",
        note_id,
        lambda session, now: service(
            session, user, note_id, expected_version=version, now=now, source=audit.DASHBOARDS
        ),
    )


def sign_note(user: SignedInUser, note_id: int, version: int | None = None) -> Refused | None:
    """The author signs their note (`version`: the one the page showed, so a note changed since is refused)."""
    return _note_action(user, "note.sign", notes.sign_note, note_id, version)


def cosign_note(user: SignedInUser, note_id: int, version: int | None = None) -> Refused | None:
    """The supervisor of record co-signs a supervisee's signed note."""
    return _note_action(user, "note.cosign", notes.cosign_note, note_id, version)


def mark_outcome(user: SignedInUser, appointment_id: int, outcome: str) -> Refused | None:
    """Record one of OUTCOMES for an appointment (the service's state machine and rules decide)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown appointment outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    source = audit.DASHBOARDS

    def change(session: Session, now: dt.datetime) -> object:
        if outcome == "CHECKED_IN":
            payload = appointments.CheckIn(arrived_at=None)
            return appointments.check_in(session, user, appointment_id, payload, now=now, source=source)
        if outcome == "COMPLETED":
            return appointments.complete(session, user, appointment_id, now=now, source=source)
        if outcome == "NO_SHOW":
            return appointments.no_show(session, user, appointment_id, now=now, source=source)
        payload = appointments.Cancel(reason="CLIENT_REQUEST", late=True)
        return appointments.cancel(session, user, appointment_id, payload, now=now, source=source)

    action = "appointment.late_cancel" if outcome == "LATE_CANCEL" else f"appointment.{outcome.lower()}"
    return _run(user, action, "appointment", appointment_id, change)
