"""One clinical week of a small practice, written down once as facts, and two ways of loading it into a store.

`WEEK` is the practice's week in time order: who registered which client, who booked what, what became of each
appointment, the notes, co-signs, charges, the claim paid by a manual payment, client payments, a supervision
session, treatment and safety plans, a breach incident. Each event names the staff member who does it and when
(naive UTC), so:

- `load_through_api` plays it against the running HTTP API as those people would: each signs in with their
  password and authenticator code (after enrolling MFA the way the dashboards do), the test clock set to the
  event's time, and every id is the one the API answered;
- `generator_rows` writes the same facts as rows in the synthetic generator's layout (`synthetic.TABLE_COLUMNS`),
  for `bulk.load_tables`, with the generator's conventions (its own ids, a status-history row per change, a
  treatment-plan review as a new plan superseding the old one where the service updates the plan in place).

Two things have no API and are reference data in both stores: payers (`PAYER`) and clinicians' weekly
availability (`availability_rows`). The first administrator is bootstrapped the way `mentalspace users create`
does it.

All names are made up; nothing is a real person's data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from operational_api import audit, auth, mfa
from operational_api.db import session_scope
from operational_api.models import ClinicianAvailability, Payer, User
from operational_api.services import users as users_service
from operational_api.services.billing import FEES
from operational_api.services.notes import COSIGN_LICENSE_TYPES
from operational_api.synthetic import TABLE_COLUMNS

TZ = ZoneInfo("America/New_York")
WEEK_START = dt.date(2026, 6, 1)  # a Monday
# The warehouse's "today": the Friday after the week, once the late notes are signed and the claim is paid.
AS_OF = dt.date(2026, 6, 12)
PASSWORD = "Harbour-Lamp-42!"
TRAINED_ON = dt.date(2026, 3, 2)
TRAINING_DAYS = 365  # HIPAA_TRAINING validity_days (rule value)
VERIFICATION_DAYS = 90  # how long a manual insurance verification holds (services/clients.add_verification)
PLAN_REVIEW_DAYS = 90  # TREATMENT_PLAN_REVIEW / SAFETY_PLAN review_interval_days (rule values)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """Practice-local wall-clock time as naive UTC."""
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def d(n: int) -> dt.date:
    """The n-th day from the week's Monday (negative: before it)."""
    return WEEK_START + dt.timedelta(days=n)


SETUP = at(d(-4), 9)  # the Thursday before: clients and the week's bookings
# Earlier that morning: the first administrator is set up, adds the staff, and they enrol MFA.
BOOTSTRAP, STAFF_ADDED, MFA_ENROLLED = (SETUP - dt.timedelta(hours=h) for h in (3, 2, 1))


@dataclass(frozen=True)
class Staff:
    key: str
    role: str
    first_name: str
    last_name: str
    license_type: str | None = None
    supervisor: str | None = None

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@week.example.test".lower()


STAFF = (
    Staff("admin", "ADMIN", "Morgan", "Ashdown"),
    Staff("sup", "SUPERVISOR", "Reese", "Calloway", "LPC"),
    Staff("assoc", "CLINICIAN", "Quinn", "Dunmore", "LPC_ASSOCIATE", supervisor="sup"),
    Staff("lcsw", "CLINICIAN", "Sage", "Hartwell", "LCSW"),
    Staff("front", "FRONT_DESK", "Tatum", "Juniper"),
    Staff("billing", "BILLING", "Wren", "Kestrel"),
)
STAFF_BY_KEY = {s.key: s for s in STAFF}
CLINICIANS = ("sup", "assoc", "lcsw")
PAYER = {"name": "Week Test Health Plan", "payer_code": "WK01"}


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    by: str  # a STAFF key
    action: str
    ref: str  # the key of the record the event makes or acts on
    data: dict[str, Any] = field(default_factory=dict)


def _complete_demographics(**extra) -> dict[str, Any]:
    return {
        "phone": "555-0100",
        "address": "1 Main St",
        "city": "Atlanta",
        "state": "GA",
        "zip_code": "30301",
        "emergency_contact_name": "Em Contact",
        "emergency_contact_phone": "555-0101",
        "intake_date": d(-4).isoformat(),
        **extra,
    }


def _client(key, first, last, dob, clinician, **extra) -> Event:
    body = {"first_name": first, "last_name": last, "date_of_birth": dob, "primary_clinician": clinician}
    return Event(SETUP, "front", "client", key, body | extra)


def _book(key, client, clinician, day, hour, *, booked=SETUP, by="front", kind="THERAPY_SESSION", **extra):
    start = at(d(day), hour)
    minutes = 60 if kind == "INITIAL_EVALUATION" else 50
    body = {
        "client": client,
        "clinician": clinician,
        "start_at": start,
        "end_at": start + dt.timedelta(minutes=minutes),
        "appointment_type": kind,
        **extra,
    }
    return Event(booked, by, "book", key, body)


def _kept(appt, clinician, day, hour, *, minutes=50) -> list[Event]:
    """Check-in 5 minutes early, the clinician ready on time, completed at the end (the front desk closes it)."""
    start = at(d(day), hour)
    return [
        Event(start - dt.timedelta(minutes=5), "front", "check_in", appt),
        Event(start, clinician, "ready", appt),
        Event(start + dt.timedelta(minutes=minutes), "front", "complete", appt),
    ]


def _documented(note, appt, clinician, end: dt.datetime, signed: dt.datetime, kind="PROGRESS_NOTE") -> list:
    events = [
        Event(
            end + dt.timedelta(minutes=5), clinician, "note", note, {"appointment": appt, "note_type": kind}
        ),
        Event(signed, clinician, "sign", note),
    ]
    if STAFF_BY_KEY[clinician].license_type in COSIGN_LICENSE_TYPES:
        events.append(
            Event(signed + dt.timedelta(hours=20), STAFF_BY_KEY[clinician].supervisor, "cosign", note)
        )
    return events


def _end(day, hour, minutes=50) -> dt.datetime:
    return at(d(day), hour) + dt.timedelta(minutes=minutes)


def _charge(key, appt, day, cpt="90834", **extra) -> Event:
    """Billing enters a session's charge the morning after."""
    return Event(
        at(d(day + 1), 10), "billing", "charge", key, {"appointment": appt, "cpt_code": cpt, **extra}
    )


def _week() -> list[Event]:
    e: list[Event] = []
    # Thursday before: clients (a minor with a guardian, a telehealth client, one with an address missing).
    e += [
        _client(
            "avery",
            "Avery",
            "Brightwater",
            "1988-04-12",
            "assoc",
            **_complete_demographics(intake_date="2026-03-02"),
        ),
        _client(
            "blake", "Blake", "Eastbrook", "2012-09-03", "lcsw", **_complete_demographics(is_self_pay=True)
        ),
        _client(
            "dakota", "Dakota", "Fairhaven", "1979-01-20", "lcsw", **_complete_demographics(is_high_risk=True)
        ),
        _client(
            "emerson", "Emerson", "Glenwood", "1995-07-07", "sup", **_complete_demographics(is_self_pay=True)
        ),
        _client(
            "finley", "Finley", "Ironside", "2001-11-30", "assoc", **_complete_demographics(is_self_pay=True)
        ),
        _client(
            "gray",
            "Gray",
            "Larkspur",
            "1990-02-14",
            "sup",
            **_complete_demographics(address=None, is_self_pay=True, is_high_risk=True),
        ),
    ]
    e.append(
        Event(SETUP, "front", "guardian", "blake_parent", {"client": "blake", "full_name": "Casey Eastbrook"})
    )
    for client in ("avery", "blake", "dakota", "emerson", "finley", "gray"):
        e.append(
            Event(
                SETUP,
                "front",
                "consent",
                f"{client}_informed",
                {"client": client, "consent_type": "INFORMED"},
            )
        )
    guardian_consent = {"client": "blake", "consent_type": "GUARDIAN", "guardian": "blake_parent"}
    e.append(Event(SETUP, "front", "consent", "blake_guardian", guardian_consent))
    e.append(
        Event(SETUP, "front", "consent", "dakota_tele", {"client": "dakota", "consent_type": "TELEHEALTH"})
    )
    for client, member in (("avery", "WK-1001"), ("dakota", "WK-1002")):
        e.append(Event(SETUP, "front", "policy", f"{client}_policy", {"client": client, "member_id": member}))
        e.append(Event(SETUP, "front", "verify", f"{client}_verified", {"policy": f"{client}_policy"}))

    # Avery has been in care since March: her treatment plan, due for review this week, is on file.
    e.append(
        Event(SETUP, "assoc", "plan", "tp_avery", {"client": "avery", "effective_date": dt.date(2026, 3, 5)})
    )

    # The week's bookings, made on the Thursday before (one booked online).
    e += [
        _book("a1", "avery", "assoc", 0, 9),
        _book("a2", "emerson", "sup", 0, 10),
        _book("a3", "blake", "lcsw", 0, 15),
        _book("a4", "gray", "sup", 0, 11, kind="INITIAL_EVALUATION"),
        _book("a5", "dakota", "lcsw", 1, 9, is_telehealth=True),
        _book("a6", "finley", "assoc", 1, 10, kind="INITIAL_EVALUATION"),
        _book("a7", "emerson", "sup", 1, 13),
        _book("a8", "avery", "assoc", 2, 9),
        _book("a9", "blake", "lcsw", 2, 15),
        _book("a10", "finley", "assoc", 2, 11),
        _book("a11", "dakota", "lcsw", 2, 10, is_telehealth=True),
        _book("a15", "avery", "assoc", 4, 9, is_booked_online=True),
        _book("a16", "dakota", "lcsw", 4, 9, is_telehealth=True),
        _book("a17", "finley", "assoc", 4, 10),
        _book("a18", "emerson", "sup", 4, 14),
        _book("a19", "gray", "sup", 4, 10, kind="FOLLOW_UP"),
    ]
    e.append(Event(at(d(-3), 10), "front", "confirm", "a1"))
    e.append(Event(at(d(-3), 10, 5), "front", "confirm", "a5"))

    # Monday.
    e += _kept("a1", "assoc", 0, 9)
    e += _documented("n1", "a1", "assoc", _end(0, 9), at(d(0), 12))
    e.append(Event(at(d(0), 12, 30), "assoc", "review_plan", "tp_avery", {"reviewed_date": d(0)}))
    e.append(Event(at(d(0), 14), "sup", "plan", "tp_emerson", {"client": "emerson", "effective_date": d(0)}))
    e.append(Event(at(d(0), 17, 45), "lcsw", "plan", "tp_blake", {"client": "blake", "effective_date": d(0)}))
    e += _kept("a2", "sup", 0, 10)
    e += _documented("n2", "a2", "sup", _end(0, 10), at(d(0), 13))
    e.append(Event(at(d(0), 11, 20), "front", "no_show", "a4"))
    e.append(_book("a14", "gray", "sup", 3, 11, booked=at(d(0), 11, 30), kind="INITIAL_EVALUATION"))
    e.append(Event(at(d(0), 12, 15), "front", "reschedule", "a8", {"new": "a8r", "start_at": at(d(3), 14)}))
    e += _kept("a3", "lcsw", 0, 15)
    e += _documented("n3", "a3", "lcsw", _end(0, 15), at(d(0), 17, 30))
    e.append(Event(at(d(0), 16), "front", "cancel", "a9", {"reason": "ILLNESS", "late": False}))
    e.append(_book("a13", "blake", "lcsw", 3, 15, booked=at(d(0), 16, 5)))

    # Tuesday.
    e += _kept("a5", "lcsw", 1, 9)
    e += _documented("n5", "a5", "lcsw", _end(1, 9), at(d(1), 11))
    e.append(Event(at(d(1), 10), "front", "cancel", "a7", {"reason": "CLIENT_REQUEST", "late": True}))
    e.append(
        Event(at(d(1), 9, 30), "front", "breach", "b1",
              {"severity": "LOW", "category": "misdirected_fax", "detected_at": at(d(1), 9)})
    )  # fmt: skip
    e.append(Event(at(d(1), 11), "admin", "breach_respond", "b1"))
    e.append(Event(at(d(1), 12), "lcsw", "plan", "tp_dakota", {"client": "dakota", "effective_date": d(1)}))
    e.append(Event(at(d(1), 15), "assoc", "plan", "tp_finley", {"client": "finley", "effective_date": d(1)}))
    e.append(_book("a12", "emerson", "sup", 3, 10, booked=at(d(1), 10, 5)))
    e += _kept("a6", "assoc", 1, 10, minutes=60)
    e += [_charge("c1", "a1", 0), _charge("c2", "a2", 0), _charge("c3", "a3", 0)]
    e.append(
        Event(at(d(1), 12), "front", "payment", "p_emerson1",
              {"client": "emerson", "payment_method": "CREDIT_CARD", "amount": "130.00", "payment_date": d(1)})
    )  # fmt: skip
    e.append(Event(at(d(1), 12, 1), "front", "apply", "p_emerson1", {"charge": "c2", "amount": "130.00"}))

    # Wednesday.
    e += _kept("a11", "lcsw", 2, 10)
    e += _documented("n11", "a11", "lcsw", _end(2, 10), at(d(2), 16))
    # A crisis in the session: the intervention is documented as its own note.
    crisis = {"appointment": "a11", "note_type": "CRISIS_INTERVENTION"}
    e.append(Event(_end(2, 10) + dt.timedelta(minutes=15), "lcsw", "note", "n11c", crisis))
    e.append(Event(at(d(2), 16, 10), "lcsw", "sign", "n11c"))
    e.append(Event(at(d(2), 15), "admin", "breach_resolve", "b1"))
    e.append(Event(at(d(2), 11, 20), "front", "no_show", "a10"))
    e += [_charge("c5", "a5", 1, modifiers="95")]
    e.append(
        Event(at(d(2), 14), "front", "payment", "p_blake1",
              {"client": "blake", "payment_method": "CHECK", "amount": "50.00", "payment_date": d(2)})
    )  # fmt: skip
    e.append(Event(at(d(2), 14, 1), "front", "apply", "p_blake1", {"charge": "c3", "amount": "50.00"}))
    e.append(
        Event(at(d(2), 18), "sup", "supervision", "s1",
              {"supervisee": "assoc", "session_date": d(2), "duration_hours": "1.50", "session_type": "INDIVIDUAL"})
    )  # fmt: skip

    # Thursday: the address is completed before the evaluation can be.
    e.append(Event(at(d(3), 10, 30), "front", "update_client", "gray", {"address": "9 Elm St"}))
    e += _kept("a12", "sup", 3, 10)
    e += _documented("n12", "a12", "sup", _end(3, 10), at(d(3), 12))
    e += _kept("a14", "sup", 3, 11, minutes=60)
    e += _documented("n14", "a14", "sup", _end(3, 11, 60), at(d(3), 13), kind="INTAKE_ASSESSMENT")
    e.append(Event(at(d(3), 14), "sup", "plan", "tp_gray", {"client": "gray", "effective_date": d(3)}))
    e.append(
        Event(at(d(3), 14, 5), "sup", "safety_plan", "sp_gray", {"client": "gray", "effective_date": d(3)})
    )
    e += _kept("a8r", "assoc", 3, 14)
    e += _documented("n8r", "a8r", "assoc", _end(3, 14), at(d(3), 16))
    e += _kept("a13", "lcsw", 3, 15)
    input_ = {"client": "blake", "discipline": "PSYCHIATRY", "input_date": d(3)}
    e.append(Event(at(d(3), 17, 15), "lcsw", "case_input", "ci_blake", input_))
    e += [_charge("c11", "a11", 2, modifiers="95")]
    e.append(Event(at(d(3), 17), "sup", "sign_supervision", "s1"))

    # Friday.
    e.append(Event(at(d(4), 7), "front", "cancel", "a19", {"reason": "CLIENT_REQUEST", "late": True}))
    e += _kept("a15", "assoc", 4, 9)
    e += _documented("n15", "a15", "assoc", _end(4, 9), at(d(4), 10, 30))
    e.append(Event(at(d(4), 9, 20), "front", "no_show", "a16"))
    e.append(_book("a20", "avery", "assoc", 7, 9, booked=at(d(4), 10, 45)))
    e += [_charge("c12", "a12", 3), _charge("c14", "a14", 3, cpt="90791"), _charge("c8r", "a8r", 3)]
    e.append(
        Event(at(d(4), 11), "front", "payment", "p_emerson2",
              {"client": "emerson", "payment_method": "DEBIT_CARD", "amount": "130.00", "payment_date": d(4)})
    )  # fmt: skip
    e.append(Event(at(d(4), 11, 1), "front", "apply", "p_emerson2", {"charge": "c12", "amount": "130.00"}))
    e += _kept("a17", "assoc", 4, 10)
    e += _kept("a18", "sup", 4, 14)
    e += _documented("n18", "a18", "sup", _end(4, 14), at(d(4), 15, 30))

    # The week after: late notes, the Monday session booked on Friday, charges, the claims and their payment.
    e += _kept("a20", "assoc", 7, 9)
    e += _documented("n20", "a20", "assoc", _end(7, 9), at(d(7), 11))
    e += _documented("n6", "a6", "assoc", _end(1, 10, 60), at(d(7), 12), kind="INTAKE_ASSESSMENT")
    e += _documented("n13", "a13", "lcsw", _end(3, 15), at(d(7), 12, 30))
    e += [_charge("c6", "a6", 6, cpt="90791"), _charge("c13", "a13", 6)]
    e += [_charge("c15", "a15", 6), _charge("c18", "a18", 6)]
    e += _documented("n17", "a17", "assoc", _end(4, 10), at(d(9), 16))
    e += [_charge("c17", "a17", 8), _charge("c20", "a20", 8)]
    e.append(Event(at(d(8), 11), "billing", "claim", "cl_avery", {"charges": ["c1", "c8r", "c15"]}))
    e.append(Event(at(d(8), 11, 5), "billing", "claim", "cl_dakota", {"charges": ["c5", "c11"]}))
    e.append(Event(at(d(9), 9), "billing", "claim_status", "cl_avery", {"status": "ACCEPTED"}))
    e.append(Event(at(d(9), 9, 5), "billing", "claim_status", "cl_dakota", {"status": "ACCEPTED"}))
    e.append(
        Event(at(d(10), 14), "billing", "payment", "p_plan",
              {"payer": True, "payment_method": "INSURANCE", "amount": "390.00", "payment_date": d(10),
               "check_number": "WK-CHK-1001"})
    )  # fmt: skip
    for n, charge in enumerate(("c1", "c8r", "c15")):
        e.append(
            Event(at(d(10), 14, 1 + n), "billing", "apply", "p_plan", {"charge": charge, "amount": "130.00"})
        )
    return sorted(e, key=lambda ev: ev.at)  # stable: same-time events keep their written order


WEEK = _week()


# ---- reference data (no API) -----------------------------------------------------------------------------------


def availability_rows(clinician_ids: dict[str, int]) -> list[dict[str, Any]]:
    """Each clinician works Monday to Friday, 09:00-17:00 practice time, in 60-minute slots."""
    return [
        {
            "clinician_id": clinician_ids[key],
            "weekday": weekday,
            "start_time": dt.time(9),
            "end_time": dt.time(17),
            "slot_minutes": 60,
            "effective_from": dt.date(2026, 1, 1),
            "effective_to": None,
        }
        for key in CLINICIANS
        for weekday in range(5)
    ]


# ---- (b) the generator's path: rows for bulk.load_tables ------------------------------------------------------


class _Rows:
    """Rows per table as dicts (ids 1, 2, ... per table), turned into the generator's tuples at the end."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ids: dict[str, int] = {}

    def add(self, table: str, key: str | None = None, **values: Any) -> dict[str, Any]:
        row = {"id": len(self.tables[table]) + 1, **values}
        self.tables[table].append(row)
        if key is not None:
            self.ids[key] = row["id"]
        return row

    def get(self, table: str, key: str) -> dict[str, Any]:
        return self.tables[table][self.ids[key] - 1]

    def load_tables_input(self) -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
        out = {}
        for table, rows in self.tables.items():
            # A change stamp the week does not set is left to the bulk load (bulk.BulkLoad.write stamps it).
            stamped = any("updated_at" in row for row in rows)
            columns = tuple(c for c in TABLE_COLUMNS[table] if c != "updated_at" or stamped)
            unknown = {c for row in rows for c in row} - set(columns)
            assert not unknown, f"{table}: {unknown} are not generator columns"
            out[table] = (columns, [tuple(row.get(c) for c in columns) for row in rows])
        return out


def _money(value: str | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def generator_rows() -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
    """The week as the synthetic generator writes a practice: final rows, ids of its own, status history."""
    r = _Rows()
    r.add("payers", "payer", **PAYER)
    for s in STAFF:
        added = BOOTSTRAP if s.key == "admin" else STAFF_ADDED
        r.add(
            "users", s.key, email=s.email, first_name=s.first_name, last_name=s.last_name, role=s.role,
            license_type=s.license_type, is_active=True, failed_login_count=0, created_at=added, updated_at=added,
        )  # fmt: skip
    for s in STAFF:
        if s.supervisor:
            r.get("users", s.key)["supervisor_id"] = r.ids[s.supervisor]
        r.add(
            "hipaa_trainings", user_id=r.ids[s.key], completed_date=TRAINED_ON,
            expires_date=TRAINED_ON + dt.timedelta(days=TRAINING_DAYS),
        )  # fmt: skip
    for row in availability_rows({k: r.ids[k] for k in CLINICIANS}):
        r.add("clinician_availability", **row)

    for ev in WEEK:
        by = r.ids[ev.by]
        x = ev.data
        if ev.action == "client":
            fields = {"is_self_pay": False, "is_high_risk": False} | {
                k: v for k, v in x.items() if k != "primary_clinician"
            }
            fields["date_of_birth"] = dt.date.fromisoformat(fields["date_of_birth"])
            fields["intake_date"] = dt.date.fromisoformat(fields["intake_date"])
            r.add(
                "clients", ev.ref, **fields, primary_clinician_id=r.ids[x["primary_clinician"]], status="ACTIVE",
                has_suicidal_ideation=False, is_emancipated=False,
                has_email_contact_consent=False, has_sms_contact_consent=False,
                created_at=ev.at, updated_at=ev.at,
            )  # fmt: skip
        elif ev.action == "update_client":
            client = r.get("clients", ev.ref)
            client.update(x, updated_at=ev.at)
        elif ev.action == "guardian":
            r.add(
                "guardians",
                ev.ref,
                client_id=r.ids[x["client"]],
                full_name=x["full_name"],
                relationship="PARENT",
            )
        elif ev.action == "consent":
            r.add(
                "consents", ev.ref, client_id=r.ids[x["client"]], consent_type=x["consent_type"],
                guardian_id=r.ids.get(x.get("guardian")), signed_date=ev.at.date(),
            )  # fmt: skip
        elif ev.action == "policy":
            r.add(
                "insurance_policies", ev.ref, client_id=r.ids[x["client"]], payer_id=r.ids["payer"], rank=1,
                member_id=x["member_id"], effective_date=dt.date(2026, 1, 1),
            )  # fmt: skip
        elif ev.action == "verify":
            policy = r.get("insurance_policies", x["policy"])
            r.add(
                "insurance_verifications", ev.ref, policy_id=policy["id"], client_id=policy["client_id"],
                status="VERIFIED", is_eligible=True, source="MANUAL", verified_by=by, verified_at=ev.at,
                expires_at=ev.at + dt.timedelta(days=VERIFICATION_DAYS),
            )  # fmt: skip
        elif ev.action == "book":
            _book_row(r, ev.ref, ev.at, by, x)
        elif ev.action in ("confirm", "check_in", "complete", "no_show", "cancel"):
            appt = r.get("appointments", ev.ref)
            status = {"confirm": "CONFIRMED", "check_in": "CHECKED_IN", "complete": "COMPLETED"}.get(
                ev.action, ev.action.upper()
            )
            if ev.action == "cancel":
                status = "CANCELLED"
                appt["cancellation_reason"] = "LATE_CANCEL" if x["late"] else x["reason"]
            if ev.action == "check_in":
                appt["arrived_at"] = ev.at
            _status(r, appt, status, ev.at, by)
        elif ev.action == "ready":
            appt = r.get("appointments", ev.ref)
            appt.update(clinician_ready_at=max(ev.at, appt["arrived_at"]), updated_at=ev.at)
        elif ev.action == "reschedule":
            original = r.get("appointments", ev.ref)
            _status(r, original, "RESCHEDULED", ev.at, by)
            length = original["end_at"] - original["start_at"]
            body = {k: original[k] for k in ("appointment_type", "is_telehealth", "is_booked_online")}
            body |= {"start_at": x["start_at"], "end_at": x["start_at"] + length}
            replacement = _book_row(r, x["new"], ev.at, by, body, client_id=original["client_id"],
                                    clinician_id=original["clinician_id"])  # fmt: skip
            replacement["rescheduled_from_id"] = original["id"]
        elif ev.action == "note":
            appt = r.get("appointments", x["appointment"])
            author = STAFF_BY_KEY[ev.by]
            r.add(
                "clinical_notes", ev.ref, client_id=appt["client_id"], clinician_id=by, appointment_id=appt["id"],
                note_type=x["note_type"], status="DRAFT", content="Session documented.",
                requires_cosign=author.license_type in COSIGN_LICENSE_TYPES, created_at=ev.at, updated_at=ev.at,
            )  # fmt: skip
        elif ev.action == "sign":
            r.get("clinical_notes", ev.ref).update(
                status="SIGNED", signed_by=by, signed_at=ev.at, updated_at=ev.at
            )
        elif ev.action == "cosign":
            r.get("clinical_notes", ev.ref).update(cosigned_by=by, cosigned_at=ev.at, updated_at=ev.at)
        elif ev.action == "charge":
            appt = r.get("appointments", x["appointment"])
            note = next(n for n in r.tables["clinical_notes"] if n["appointment_id"] == appt["id"])
            r.add(
                "charges", ev.ref, client_id=appt["client_id"], clinician_id=appt["clinician_id"],
                appointment_id=appt["id"], note_id=note["id"], service_date=_local_date(appt["start_at"]),
                cpt_code=x["cpt_code"], modifiers=x.get("modifiers"), units=1, diagnosis_codes=None,
                charge_amount=FEES[x["cpt_code"]], payment_amount=_money("0"), adjustment_amount=_money("0"),
                patient_responsibility_amount=_money("0"), status="UNBILLED", is_billing_hold=False,
                created_by=by, created_at=ev.at, updated_at=ev.at,
            )  # fmt: skip
        elif ev.action == "claim":
            charges = [r.get("charges", c) for c in x["charges"]]
            claim = r.add(
                "claims", ev.ref, client_id=charges[0]["client_id"], payer_id=r.ids["payer"], status="SUBMITTED",
                total_charge_amount=sum((c["charge_amount"] for c in charges), Decimal("0")), submitted_at=ev.at,
            )  # fmt: skip
            claim["claim_control_number"] = f"MS{claim['id']:08d}"
            for charge in charges:
                charge.update(claim_id=claim["id"], status="BILLED", updated_at=ev.at)
        elif ev.action == "claim_status":
            claim = r.get("claims", ev.ref)
            claim["status"] = x["status"]
            if x["status"] == "ACCEPTED":
                claim["accepted_at"] = ev.at
        elif ev.action == "payment":
            r.add(
                "payments", ev.ref, client_id=r.ids.get(x.get("client")),
                payer_id=r.ids["payer"] if x.get("payer") else None, payment_amount=_money(x["amount"]),
                payment_method=x["payment_method"], payment_date=x["payment_date"],
                check_number=x.get("check_number"), created_by=by, created_at=ev.at,
            )  # fmt: skip
        elif ev.action == "apply":
            _apply_row(r, ev, x)
        elif ev.action == "supervision":
            r.add(
                "supervision_sessions", ev.ref, supervisee_id=r.ids[x["supervisee"]], supervisor_id=by,
                session_date=x["session_date"], duration_hours=_money(x["duration_hours"]),
                session_type=x["session_type"], is_note_signed=False,
            )  # fmt: skip
        elif ev.action == "sign_supervision":
            r.get("supervision_sessions", ev.ref).update(is_note_signed=True, signed_at=ev.at)
        elif ev.action in ("plan", "safety_plan"):
            table = "treatment_plans" if ev.action == "plan" else "safety_plans"
            r.add(
                table, ev.ref, client_id=r.ids[x["client"]], clinician_id=by, effective_date=x["effective_date"],
                review_due_date=x["effective_date"] + dt.timedelta(days=PLAN_REVIEW_DAYS),
            )  # fmt: skip
        elif ev.action == "review_plan":
            # The generator's way of a review: the plan ends on its review day and a new one takes over.
            old = r.get("treatment_plans", ev.ref)
            old.update(reviewed_date=x["reviewed_date"], superseded_date=x["reviewed_date"])
            r.add(
                "treatment_plans", ev.ref, client_id=old["client_id"], clinician_id=old["clinician_id"],
                effective_date=x["reviewed_date"],
                review_due_date=x["reviewed_date"] + dt.timedelta(days=PLAN_REVIEW_DAYS),
            )  # fmt: skip
        elif ev.action == "case_input":
            r.add("case_inputs", ev.ref, client_id=r.ids[x["client"]], contributor_id=by, **{
                k: x[k] for k in ("discipline", "input_date")
            })  # fmt: skip
        elif ev.action == "breach":
            r.add("breach_incidents", ev.ref, reported_by=by, **x)
        elif ev.action in ("breach_respond", "breach_resolve"):
            column = "responded_at" if ev.action == "breach_respond" else "resolved_at"
            r.get("breach_incidents", ev.ref)[column] = ev.at
        else:
            raise AssertionError(f"no row for {ev.action}")
    return r.load_tables_input()


def _local_date(value: dt.datetime) -> dt.date:
    return value.replace(tzinfo=dt.UTC).astimezone(TZ).date()


def _book_row(r: _Rows, key: str, when: dt.datetime, by: int, x: dict, **ids) -> dict[str, Any]:
    row = r.add(
        "appointments", key,
        client_id=ids.get("client_id") or r.ids[x["client"]],
        clinician_id=ids.get("clinician_id") or r.ids[x["clinician"]],
        appointment_type=x.get("appointment_type", "THERAPY_SESSION"), status="SCHEDULED",
        start_at=x["start_at"], end_at=x["end_at"], is_telehealth=x.get("is_telehealth", False),
        is_booked_online=x.get("is_booked_online", False), is_recurring=False, booked_at=when,
        status_changed_at=when, created_at=when, updated_at=when,
    )  # fmt: skip
    r.add(
        "appointment_status_history",
        appointment_id=row["id"],
        status="SCHEDULED",
        changed_by=by,
        changed_at=when,
    )
    return row


def _status(r: _Rows, appt: dict, status: str, when: dt.datetime, by: int) -> None:
    appt.update(status=status, status_changed_at=when, updated_at=when)
    r.add(
        "appointment_status_history", appointment_id=appt["id"], status=status, changed_by=by, changed_at=when
    )


def _apply_row(r: _Rows, ev: Event, x: dict) -> None:
    payment = r.get("payments", ev.ref)
    charge = r.get("charges", x["charge"])
    amount = _money(x["amount"])
    r.add(
        "payment_applications",
        payment_id=payment["id"],
        charge_id=charge["id"],
        applied_amount=amount,
        applied_at=ev.at,
    )
    paid = charge["payment_amount"] + amount
    charge.update(
        payment_amount=paid,
        status="PAID" if paid >= charge["charge_amount"] else "PARTIALLY_PAID",
        updated_at=ev.at,
    )
    if payment["payment_method"] == "INSURANCE" and charge.get("claim_id"):
        claim = r.tables["claims"][charge["claim_id"] - 1]
        statuses = {c["status"] for c in r.tables["charges"] if c.get("claim_id") == claim["id"]}
        claim["status"] = "PAID" if statuses == {"PAID"} else "PARTIALLY_PAID"
        claim["adjudicated_at"] = claim.get("adjudicated_at") or ev.at


# ---- (a) the HTTP path --------------------------------------------------------------------------------------


def _enrol_mfa(engine, email: str, now: dt.datetime) -> None:
    """MFA set up the way the dashboards' sign-in page does it (the API shows no QR code): password, a fresh
    secret, the authenticator's first code."""
    accepted = auth.check_password(engine, email, PASSWORD, source="dashboards", now=now)
    enrolment = auth.begin_enrolment(accepted)
    auth.confirm_enrolment(engine, accepted, enrolment, mfa.current_code(enrolment.secret, now), now=now)


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: {response.text}"
    )
    return response.json()


class StaffSessions:
    """Each staff member's API sign-in, kept the way a client program keeps it: one sign-in (password and the
    authenticator's code for the clock's 30-second step), the access token renewed through POST /auth/refresh
    when it expires, a new sign-in once the refresh token has (7 days)."""

    def __init__(self, url: str, engine, clock) -> None:
        self.url, self.engine, self.clock = url, engine, clock
        self._held: dict[int, tuple[httpx.Client, str, dt.datetime, dt.datetime]] = {}

    def __call__(self, user_id: int) -> httpx.Client:
        now = self.clock.now
        held = self._held.get(user_id)
        if held is not None and now < held[2]:
            return held[0]
        client = held[0] if held else httpx.Client(base_url=self.url, timeout=60)
        if held is not None and now < held[3]:
            pair = _ok(client.post("/auth/refresh", json={"refresh_token": held[1]}))
        else:
            pair = _ok(client.post("/auth/token", json=self._credentials(user_id)))
        client.headers["Authorization"] = f"Bearer {pair['access_token']}"
        self._held[user_id] = (
            client,
            pair["refresh_token"],
            now + dt.timedelta(seconds=pair["expires_in"]),
            now + dt.timedelta(seconds=pair["refresh_expires_in"]),
        )
        return client

    def _credentials(self, user_id: int) -> dict[str, str]:
        # The authenticator app's side: the enrolled secret and the clock's code.
        with session_scope(self.engine) as session:
            user = session.get(User, user_id)
            return {
                "email": user.email,
                "password": PASSWORD,
                "totp_code": mfa.current_code(user.mfa_secret, self.clock.now),
            }

    def close(self) -> None:
        for client, *_ in self._held.values():
            client.close()


def load_through_api(url: str, engine, clock) -> dict[str, int]:
    """Play WEEK against the API at `url` (serving `engine`, its clock `clock`) as each staff member; the keys'
    ids as the API answered them."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        payer = Payer(**PAYER)
        session.add(payer)
        session.flush()
        ids["payer"] = payer.id

    # The first administrator, as `mentalspace users create` / `users record-training` make one.
    clock.now = BOOTSTRAP
    first = STAFF_BY_KEY["admin"]
    operator = users_service.CommandLineOperator.current()
    with session_scope(engine) as session:
        admin = users_service.create_user(
            session, operator,
            users_service.NewUser(email=first.email, first_name=first.first_name, last_name=first.last_name,
                                  role=first.role, password=PASSWORD),
            source=audit.CLI, now=clock.now,
        )  # fmt: skip
        users_service.record_training(
            session, operator, admin.id, TRAINED_ON, source=audit.CLI, now=clock.now
        )
        ids["admin"] = admin.id
    _enrol_mfa(engine, first.email, clock.now)

    sessions = StaffSessions(url, engine, clock)
    try:
        # The administrator adds the staff and records their training; each enrols MFA at their first sign-in.
        clock.now = STAFF_ADDED
        admin_http = sessions(ids["admin"])
        for s in STAFF:
            if s.key == "admin":
                continue
            body = {
                "email": s.email, "first_name": s.first_name, "last_name": s.last_name, "role": s.role,
                "license_type": s.license_type, "supervisor_id": ids.get(s.supervisor), "password": PASSWORD,
            }  # fmt: skip
            ids[s.key] = _ok(admin_http.post("/users", json=body), 201)["id"]
        for s in STAFF:
            if s.key != "admin":
                training = {"user_id": ids[s.key], "completed_date": str(TRAINED_ON)}
                _ok(admin_http.post("/hipaa-trainings", json=training), 201)
        clock.now = MFA_ENROLLED
        for s in STAFF:
            if s.key != "admin":
                _enrol_mfa(engine, s.email, clock.now)
        with session_scope(engine) as session:
            session.add_all(ClinicianAvailability(**row) for row in availability_rows(ids))

        versions: dict[str, int] = {}
        for ev in WEEK:
            clock.now = ev.at
            _play(sessions(ids[ev.by]), ev, ids, versions)
    finally:
        sessions.close()
    return ids


def _play(http: httpx.Client, ev: Event, ids: dict[str, int], versions: dict[str, int]) -> None:
    x, ref = ev.data, ev.ref
    today = _local_date(ev.at).isoformat()

    def post(path: str, body: dict | None = None, status: int = 200) -> dict[str, Any]:
        return _ok(http.post(path, json=body), status)

    if ev.action == "client":
        body = {k: v for k, v in x.items() if k != "primary_clinician"}
        made = post("/clients", body | {"primary_clinician_id": ids[x["primary_clinician"]]}, 201)
        ids[ref], versions[ref] = made["id"], made["version"]
    elif ev.action == "update_client":
        headers = {"If-Match": f'"{versions[ref]}"'}
        versions[ref] = _ok(http.patch(f"/clients/{ids[ref]}", json=x, headers=headers))["version"]
    elif ev.action == "guardian":
        body = {"full_name": x["full_name"], "relationship": "PARENT"}
        ids[ref] = post(f"/clients/{ids[x['client']]}/guardians", body, 201)["id"]
    elif ev.action == "consent":
        body = {"consent_type": x["consent_type"], "signed_date": today}
        if "guardian" in x:
            body["guardian_id"] = ids[x["guardian"]]
        ids[ref] = post(f"/clients/{ids[x['client']]}/consents", body, 201)["id"]
    elif ev.action == "policy":
        body = {"payer_id": ids["payer"], "member_id": x["member_id"], "effective_date": "2026-01-01"}
        ids[ref] = post(f"/clients/{ids[x['client']]}/insurance-policies", body, 201)["id"]
        ids[f"{ref}.client"] = ids[x["client"]]
    elif ev.action == "verify":
        path = f"/clients/{ids[x['policy'] + '.client']}/insurance-policies/{ids[x['policy']]}/verifications"
        ids[ref] = post(path, {"status": "VERIFIED", "is_eligible": True}, 201)["id"]
    elif ev.action == "book":
        body = {k: v for k, v in x.items() if k not in ("client", "clinician")}
        body |= {"client_id": ids[x["client"]], "clinician_id": ids[x["clinician"]]}
        body |= {"start_at": x["start_at"].isoformat(), "end_at": x["end_at"].isoformat()}
        ids[ref] = post("/appointments", body, 201)["id"]
    elif ev.action in ("confirm", "complete", "no_show", "ready"):
        path = {"no_show": "no-show", "ready": "clinician-ready"}.get(ev.action, ev.action)
        post(f"/appointments/{ids[ref]}/{path}")
    elif ev.action == "check_in":
        post(f"/appointments/{ids[ref]}/check-in", {})
    elif ev.action == "cancel":
        post(f"/appointments/{ids[ref]}/cancel", {"reason": x["reason"], "late": x["late"]})
    elif ev.action == "reschedule":
        start = x["start_at"]
        original = _ok(http.get(f"/appointments/{ids[ref]}"))
        length = dt.datetime.fromisoformat(original["end_at"]) - dt.datetime.fromisoformat(
            original["start_at"]
        )
        body = {"start_at": start.isoformat(), "end_at": (start + length).isoformat()}
        ids[x["new"]] = post(f"/appointments/{ids[ref]}/reschedule", body, 201)["id"]
    elif ev.action == "note":
        appointment = _ok(http.get(f"/appointments/{ids[x['appointment']]}"))
        body = {
            "client_id": appointment["client_id"], "appointment_id": appointment["id"], "note_type": x["note_type"],
            "content": "Session documented.",
        }  # fmt: skip
        ids[ref] = post("/notes", body, 201)["id"]
    elif ev.action in ("sign", "cosign"):
        post(f"/notes/{ids[ref]}/{ev.action}")
    elif ev.action == "charge":
        body = {k: v for k, v in x.items() if k != "appointment"} | {"appointment_id": ids[x["appointment"]]}
        ids[ref] = post("/charges", body, 201)["id"]
    elif ev.action == "claim":
        ids[ref] = post("/claims", {"charge_ids": [ids[c] for c in x["charges"]]}, 201)["id"]
    elif ev.action == "claim_status":
        post(f"/claims/{ids[ref]}/status", {"status": x["status"]})
    elif ev.action == "payment":
        body = {
            "payment_method": x["payment_method"], "payment_amount": x["amount"],
            "payment_date": x["payment_date"].isoformat(), "check_number": x.get("check_number"),
        }  # fmt: skip
        if x.get("payer"):
            body["payer_id"] = ids["payer"]
        else:
            body["client_id"] = ids[x["client"]]
        ids[ref] = post("/payments", body, 201)["id"]
    elif ev.action == "apply":
        body = {"charge_id": ids[x["charge"]], "amount": x["amount"]}
        post(f"/payments/{ids[ref]}/applications", body, 201)
    elif ev.action == "supervision":
        body = {k: (str(v) if k == "session_date" else v) for k, v in x.items() if k != "supervisee"}
        ids[ref] = post("/supervision-sessions", body | {"supervisee_id": ids[x["supervisee"]]}, 201)["id"]
    elif ev.action == "sign_supervision":
        post(f"/supervision-sessions/{ids[ref]}/sign")
    elif ev.action in ("plan", "safety_plan"):
        body = {"client_id": ids[x["client"]], "effective_date": x["effective_date"].isoformat()}
        ids[ref] = post("/treatment-plans" if ev.action == "plan" else "/safety-plans", body, 201)["id"]
    elif ev.action == "review_plan":
        post(f"/treatment-plans/{ids[ref]}/review", {"reviewed_date": x["reviewed_date"].isoformat()})
    elif ev.action == "case_input":
        body = {
            "client_id": ids[x["client"]],
            "discipline": x["discipline"],
            "input_date": str(x["input_date"]),
        }
        ids[ref] = post("/case-inputs", body, 201)["id"]
    elif ev.action == "breach":
        ids[ref] = post("/breach-incidents", x | {"detected_at": x["detected_at"].isoformat()}, 201)["id"]
    elif ev.action in ("breach_respond", "breach_resolve"):
        post(f"/breach-incidents/{ids[ref]}/{ev.action.removeprefix('breach_')}")
    else:
        raise AssertionError(f"no route for {ev.action}")
