"""A hand-built practice for the notification tests: four staff, three clients, three weeks of appointments,
with each message kind's cases placed on purpose (as of Tuesday 2026-11-24, America/New_York):

- clinician 3 (supervised by 2): a note unsigned on day 5 (service Thu 11-19), a session at 23:30 local on
  Monday 11-23 (04:30 UTC on Tuesday: Monday's figures, not Tuesday's list) whose note was signed at 00:40
  local on Tuesday (not "signed yesterday"), a 00:15 local appointment today, HIPAA training expiring 12-10,
  an unsigned supervision session on 11-20;
- clinician 4 (no supervisor): a note unsigned on day 7 (escalated: to the administrator, as there is no
  supervisor), a high-risk client with no safety plan;
- administrator 1, supervisor 2.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import (
    Appointment,
    Client,
    ClinicalNote,
    Consent,
    HipaaTraining,
    SupervisionSession,
    TreatmentPlan,
    User,
)

TZ = ZoneInfo("America/New_York")
AS_OF = dt.date(2026, 11, 24)
ADMIN, SUPERVISOR, CLINICIAN, SOLO = 1, 2, 3, 4

# Full names and dates of birth that must never appear in a message.
CLIENTS = {
    1: ("Zephyrine", "Quillfeather", dt.date(1990, 4, 17), CLINICIAN, False),
    2: ("Bartholomew", "Nightingale", dt.date(1985, 9, 2), SOLO, True),
    3: ("Philippa", "Thistlewood", dt.date(2001, 1, 30), CLINICIAN, False),
}


def utc(local: str) -> dt.datetime:
    """Practice-local wall-clock time as the naive UTC the store keeps."""
    return dt.datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(dt.UTC).replace(tzinfo=None)


# id, clinician, client, local start, status, note: None (no note) | "unsigned" | local signing time.
# Sessions last 50 minutes (MINUTES says otherwise): the store refuses overlapping bookings.
APPOINTMENTS = [
    (1, CLINICIAN, 1, "2026-11-10 10:00", "COMPLETED", "2026-11-10 12:00"),
    (2, CLINICIAN, 3, "2026-11-11 10:00", "NO_SHOW", None),
    (3, CLINICIAN, 1, "2026-11-16 10:00", "COMPLETED", "2026-11-16 12:00"),
    (4, CLINICIAN, 3, "2026-11-17 10:00", "COMPLETED", "2026-11-17 12:00"),
    (5, CLINICIAN, 1, "2026-11-18 10:00", "CANCELLED", None),
    (6, CLINICIAN, 1, "2026-11-19 10:00", "COMPLETED", "unsigned"),  # day 5 on 11-24
    (7, CLINICIAN, 1, "2026-11-23 09:00", "COMPLETED", "2026-11-23 15:00"),
    (8, CLINICIAN, 3, "2026-11-23 23:30", "COMPLETED", "2026-11-24 00:40"),
    (9, CLINICIAN, 3, "2026-11-24 00:15", "SCHEDULED", None),
    (10, CLINICIAN, 1, "2026-11-24 14:00", "CONFIRMED", None),
    (11, CLINICIAN, 1, "2026-11-25 09:00", "SCHEDULED", None),  # tomorrow: not in today's list
    (12, SOLO, 2, "2026-11-10 11:00", "COMPLETED", "2026-11-10 13:00"),
    (13, SOLO, 2, "2026-11-17 11:00", "COMPLETED", "unsigned"),  # day 7 on 11-24
    (14, SOLO, 2, "2026-11-23 11:00", "NO_SHOW", None),
    (15, SOLO, 2, "2026-11-24 11:00", "SCHEDULED", None),
]
# The 23:30 session ends at 00:10, before the same clinician and client's 00:15 appointment.
MINUTES = {8: 40}
# Appointment reminders (tests/notifications/test_reminders.py): e-mail, phone, and which channels each client
# agreed to: client 1 both, client 2 neither (addresses on file all the same), client 3 SMS only.
CONTACT = {
    1: ("zq@mail.example", "404-555-0101", True, True),
    2: ("bn@mail.example", "404-555-0102", False, False),
    3: ("pt@mail.example", "(404) 555-0103", False, True),
}


def build(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    with session_scope(engine) as s:
        s.add_all(
            [
                User(
                    id=ADMIN,
                    email="ada.admin@practice.example",
                    first_name="Ada",
                    last_name="Admin",
                    role="ADMIN",
                ),
                User(
                    id=SUPERVISOR,
                    email="sam.super@practice.example",
                    first_name="Sam",
                    last_name="Super",
                    role="SUPERVISOR",
                    license_type="LCSW",
                ),
                User(
                    id=CLINICIAN,
                    email="cara.clin@practice.example",
                    first_name="Cara",
                    last_name="Clin",
                    role="CLINICIAN",
                    license_type="LPC_ASSOCIATE",
                    supervisor_id=SUPERVISOR,
                ),
                User(
                    id=SOLO,
                    email="ben.solo@practice.example",
                    first_name="Ben",
                    last_name="Solo",
                    role="CLINICIAN",
                    license_type="LPC",
                ),
            ]
        )
        s.flush()
        for uid in (ADMIN, SUPERVISOR, SOLO):
            s.add(
                HipaaTraining(
                    user_id=uid, completed_date=dt.date(2026, 6, 1), expires_date=dt.date(2027, 6, 1)
                )
            )
        s.add(
            HipaaTraining(
                user_id=CLINICIAN, completed_date=dt.date(2025, 12, 10), expires_date=dt.date(2026, 12, 10)
            )
        )
        for cid, (first, last, dob, clinician, high_risk) in CLIENTS.items():
            s.add(
                Client(
                    id=cid,
                    first_name=first,
                    last_name=last,
                    date_of_birth=dob,
                    status="ACTIVE",
                    primary_clinician_id=clinician,
                    is_high_risk=high_risk,
                    email=CONTACT[cid][0],
                    phone=CONTACT[cid][1],
                    has_email_contact_consent=CONTACT[cid][2],
                    has_sms_contact_consent=CONTACT[cid][3],
                    intake_date=dt.date(2026, 10, 1),
                    created_at=utc("2026-10-01 09:00"),
                )
            )
            s.add(
                Consent(
                    client_id=cid,
                    consent_type="INFORMED",
                    signed_date=dt.date(2026, 10, 1),
                    expiry_date=dt.date(2027, 10, 1),
                )
            )
            s.add(
                TreatmentPlan(
                    client_id=cid,
                    clinician_id=clinician,
                    effective_date=dt.date(2026, 10, 1),
                    review_due_date=dt.date(2026, 12, 30),
                    reviewed_date=dt.date(2026, 10, 1),
                )
            )
        s.flush()
        for aid, clinician, client, local, status, note in APPOINTMENTS:
            start = utc(local)
            s.add(
                Appointment(
                    id=aid,
                    client_id=client,
                    clinician_id=clinician,
                    appointment_type="THERAPY_SESSION",
                    status=status,
                    start_at=start,
                    end_at=start + dt.timedelta(minutes=MINUTES.get(aid, 50)),
                    booked_at=start - dt.timedelta(days=7),
                )
            )
            s.flush()
            if note is not None:
                signed = None if note == "unsigned" else utc(note)
                s.add(
                    ClinicalNote(
                        id=aid,
                        client_id=client,
                        clinician_id=clinician,
                        appointment_id=aid,
                        note_type="PROGRESS_NOTE",
                        status="DRAFT" if signed is None else "SIGNED",
                        content="Client discussed a private matter in detail.",
                        signed_by=None if signed is None else clinician,
                        signed_at=signed,
                        created_at=start + dt.timedelta(hours=1),
                    )
                )
        s.add_all(
            [
                SupervisionSession(
                    supervisee_id=CLINICIAN,
                    supervisor_id=SUPERVISOR,
                    session_date=dt.date(2026, 10, 6),
                    duration_hours=Decimal("1.50"),
                    session_type="INDIVIDUAL",
                    is_note_signed=True,
                    signed_at=utc("2026-10-06 17:00"),
                ),
                SupervisionSession(
                    supervisee_id=CLINICIAN,
                    supervisor_id=SUPERVISOR,
                    session_date=dt.date(2026, 10, 20),
                    duration_hours=Decimal("1.00"),
                    session_type="INDIVIDUAL",
                    is_note_signed=True,
                    signed_at=utc("2026-10-20 17:00"),
                ),
                SupervisionSession(
                    supervisee_id=CLINICIAN,
                    supervisor_id=SUPERVISOR,
                    session_date=dt.date(2026, 11, 20),
                    duration_hours=Decimal("1.00"),
                    session_type="INDIVIDUAL",
                    is_note_signed=False,
                ),
            ]
        )
    engine.dispose()


if __name__ == "__main__":
    import sys

    build(sys.argv[1])
