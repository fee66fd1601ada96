"""Synthetic practice generator: a deterministic, realistic group practice for demos, tests and benchmarks.

The same `PracticeSpec` (seed, size and as-of date) always produces the same rows. Behaviour varies by
clinician the way it does in real practices, so every metric and alert of the PRD has something to
show: no-shows between ~8% and ~20%, cancellations and reschedules, clients who stop rebooking,
note-signing lags with a long tail past 7 and 14 days, charge-entry lags, claim rejections and
denials, supervision shortfalls, lapsing consents and trainings, minors, telehealth, high-risk
clients without a safety plan, incomplete demographics, and a few data-quality slips (stale
"scheduled" appointments, notes and charges without an appointment).

All names are drawn from small synthetic lists; no real person's data is used.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from operational_api.bulk import BulkLoad
from operational_api.services.notes import COSIGN_LICENSE_TYPES

FIRST_NAMES = [
    "Avery",
    "Blake",
    "Casey",
    "Dakota",
    "Emerson",
    "Finley",
    "Gray",
    "Harper",
    "Indigo",
    "Jordan",
    "Kendall",
    "Logan",
    "Morgan",
    "Noel",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Tatum",
    "Umber",
    "Vale",
    "Wren",
    "Xen",
    "Yael",
    "Zion",
    "Arden",
    "Briar",
    "Cove",
    "Dell",
    "Ember",
    "Fable",
    "Gale",
    "Hollis",
    "Ivy",
    "Jules",
    "Kit",
    "Lark",
    "Marlo",
    "Nova",
    "Onyx",
    "Pax",
    "Rowan",
    "Sky",
    "Teal",
    "Vesper",
    "Winter",
    "Zephyr",
]
LAST_NAMES = [
    "Ashdown",
    "Brightwater",
    "Calloway",
    "Dunmore",
    "Eastbrook",
    "Fairhaven",
    "Glenwood",
    "Hartwell",
    "Ironside",
    "Juniper",
    "Kestrel",
    "Larkspur",
    "Marlowe",
    "Northcott",
    "Oakhurst",
    "Pemberton",
    "Quillfeather",
    "Ravensworth",
    "Stonebridge",
    "Thistlewood",
    "Underhill",
    "Valemont",
    "Whitlock",
    "Yarrow",
    "Zellwood",
    "Amberly",
    "Birchwood",
    "Copperfield",
    "Driftwood",
    "Elderberry",
]
PAYERS = (
    ("Peachstate Health Plan", "SYN01"),
    ("Blue Ridge Mutual", "SYN02"),
    ("Magnolia Care", "SYN03"),
    ("Federal Employee Synthetic Plan", "SYN04"),
    ("Synthetic Medicaid of Georgia", "SYN05"),
    ("Coastal Behavioral Health", "SYN06"),
)
# CPT codes with our own short labels and the practice's fee schedule.
FEES = {
    "90791": Decimal("220.00"),  # diagnostic evaluation
    "90792": Decimal("260.00"),  # diagnostic evaluation with medical services
    "90834": Decimal("130.00"),  # psychotherapy 45 min
    "90837": Decimal("175.00"),  # psychotherapy 60 min
    "90847": Decimal("150.00"),  # family psychotherapy
    "90853": Decimal("60.00"),  # group psychotherapy
    "99214": Decimal("165.00"),  # established patient visit (medication management)
    "90833": Decimal("85.00"),  # psychotherapy add-on with E/M
    "90839": Decimal("250.00"),  # crisis psychotherapy first 60 min
}
DENIAL_CARCS = ("16", "29", "97", "197", "50", "27")
# compliance_rules NOTE_SIGNATURE.billing_hold_day as the migrations seed it: a charge is held while its note is
# unsigned this many days after the session.
BILLING_HOLD_DAY = 14
THERAPY_LICENSES = ("LPC", "LPC_ASSOCIATE", "LMSW", "LCSW", "LMFT", "PSYCHOLOGIST")
SUPERVISED_LICENSES = {"LPC_ASSOCIATE": 2.0, "LMSW": 4.0, "LPC": 2.0}


@dataclass(frozen=True)
class PracticeSpec:
    """What to generate: `months` of history up to `as_of` (plus four weeks already booked)."""

    clinicians: int = 8
    months: int = 6
    seed: int = 42
    as_of: dt.date = dt.date(2026, 11, 25)
    timezone: str = "America/New_York"

    def __post_init__(self) -> None:
        if self.clinicians < 1 or self.months < 1:
            raise ValueError("a practice needs at least 1 clinician and 1 month")


@dataclass
class TableRows:
    """Rows of one table as tuples in `columns` order (tuples keep millions of rows affordable).

    Ids are row numbers from 1. Rows handed on by `take` leave memory; ids go on after them."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    handed_on: int = 0

    # The change column of a row not given one (models.ChangeStampMixin): its `created_at`, else this (the
    # practice's as-of time), as migration 0019 filled the rows there.
    stamp: dt.datetime | None = None

    def add(self, **values: Any) -> int:
        if "updated_at" in self.columns and values.get("updated_at") is None:
            values["updated_at"] = values.get("created_at") or self.stamp
        self.rows.append(tuple(values.get(c) for c in self.columns))
        return self.handed_on + len(self.rows)

    def next_id(self) -> int:
        return self.handed_on + len(self.rows) + 1

    def get(self, row_id: int) -> tuple[Any, ...]:
        return self.rows[row_id - 1 - self.handed_on]

    def put(self, row_id: int, row: Sequence[Any]) -> None:
        self.rows[row_id - 1 - self.handed_on] = tuple(row)

    def take(self) -> list[tuple[Any, ...]]:
        rows, self.rows = self.rows, []
        self.handed_on += len(rows)
        return rows


class PracticeSink(Protocol):
    """Where a streamed practice goes (`generate_into`): chunks of rows in id order, each table's rows of one
    chunk in `TABLE_COLUMNS` order; then the amounts of the insurance payments, which are opened as claims
    are paid and known only once every claim is (rows in chunks carry the amount so far)."""

    def write(self, chunk: dict[str, list[tuple[Any, ...]]]) -> None: ...

    def set_payment_amounts(self, amounts: dict[int, Decimal]) -> None: ...


def _cols(text: str) -> tuple[str, ...]:
    return tuple(text.split())


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "practice_settings": _cols("id key value updated_at"),
    "users": _cols(
        "id email first_name last_name role license_type supervisor_id is_active password_hash "
        "failed_login_count hired_date weekly_session_target created_at updated_at"
    ),
    "clinician_availability": _cols(
        "id clinician_id weekday start_time end_time slot_minutes effective_from effective_to updated_at"
    ),
    "hipaa_trainings": _cols("id user_id completed_date expires_date updated_at"),
    "payers": _cols("id name payer_code updated_at"),
    "clients": _cols(
        "id first_name last_name date_of_birth gender email phone address city state zip_code "
        "emergency_contact_name emergency_contact_phone referring_provider status primary_clinician_id "
        "is_high_risk has_suicidal_ideation is_emancipated is_self_pay has_email_contact_consent "
        "has_sms_contact_consent portal_user_id portal_activated_at intake_date discharged_date created_at updated_at"
    ),
    "guardians": _cols("id client_id full_name relationship phone updated_at"),
    "insurance_policies": _cols(
        "id client_id payer_id rank member_id group_number effective_date termination_date updated_at"
    ),
    "insurance_verifications": _cols(
        "id policy_id client_id status is_eligible source verified_by verified_at expires_at updated_at"
    ),
    "appointments": _cols(
        "id client_id clinician_id appointment_type status start_at end_at is_telehealth is_booked_online "
        "is_recurring recurrence_rule rescheduled_from_id cancellation_reason booked_at arrived_at "
        "clinician_ready_at status_changed_at created_at updated_at"
    ),
    "appointment_status_history": _cols("id appointment_id status changed_by changed_at updated_at"),
    "clinical_notes": _cols(
        "id client_id clinician_id appointment_id note_type status content icd10_codes requires_cosign "
        "signed_by signed_at cosigned_by cosigned_at created_at updated_at"
    ),
    "note_amendments": _cols("id note_id kind content created_by created_at signed_at updated_at"),
    "treatment_plans": _cols(
        "id client_id clinician_id note_id effective_date review_due_date reviewed_date superseded_date updated_at"
    ),
    "safety_plans": _cols(
        "id client_id clinician_id note_id effective_date review_due_date superseded_date updated_at"
    ),
    "consents": _cols(
        "id client_id consent_type guardian_id signed_date expiry_date revoked_date updated_at"
    ),
    "case_inputs": _cols("id client_id contributor_id discipline input_date updated_at"),
    "claims": _cols(
        "id client_id payer_id claim_control_number status total_charge_amount denial_carc_code "
        "rejection_reason submitted_at accepted_at rejected_at denied_at adjudicated_at updated_at"
    ),
    "charges": _cols(
        "id client_id clinician_id appointment_id note_id claim_id service_date cpt_code modifiers units "
        "diagnosis_codes charge_amount payment_amount adjustment_amount patient_responsibility_amount "
        "status is_billing_hold created_by created_at updated_at"
    ),
    "payments": _cols(
        "id client_id payer_id era_file_id payment_amount payment_method payment_date check_number "
        "transaction_id created_by created_at updated_at"
    ),
    "payment_applications": _cols(
        "id payment_id charge_id era_claim_id applied_amount applied_at updated_at"
    ),
    "charge_adjustments": _cols(
        "id charge_id era_claim_id group_code carc_code rarc_codes adjustment_amount adjusted_at updated_at"
    ),
    "supervision_sessions": _cols(
        "id supervisee_id supervisor_id session_date duration_hours session_type is_note_signed signed_at updated_at"
    ),
    "breach_incidents": _cols(
        "id reported_by severity category detected_at responded_at resolved_at updated_at"
    ),
    "performance_goals": _cols(
        "id user_id metric_key target_value start_date end_date status created_at updated_at"
    ),
}


@dataclass
class Practice:
    """A generated practice: rows per table."""

    spec: PracticeSpec
    tables: dict[str, TableRows]

    def row_counts(self) -> dict[str, int]:
        return {name: len(t.rows) for name, t in self.tables.items()}


@dataclass
class _Clinician:
    user_id: int
    license_type: str
    supervisor_id: int | None
    no_show_p: float
    cancel_p: float
    same_day_sign_p: float
    late_sign_scale: float
    charge_lag_scale: float
    online_booking_p: float
    new_clients_per_month: float
    slots: list[tuple[int, int]]  # (weekday, hour) in local time
    taken: set[tuple[int, int, int]] = field(default_factory=set)  # (week index, weekday, hour)


class _Generator:
    def __init__(self, spec: PracticeSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.tz = ZoneInfo(spec.timezone)
        self.end = spec.as_of
        self.start = _add_months(spec.as_of, -spec.months)
        self.horizon = spec.as_of + dt.timedelta(days=28)
        self.as_of_at = self.utc(spec.as_of, 18, 0)
        self.t = {name: TableRows(cols, stamp=self.as_of_at) for name, cols in TABLE_COLUMNS.items()}
        # Mondays from the start week through the booking horizon.
        self.week0 = self.start - dt.timedelta(days=self.start.weekday())
        self._weekly_payments: dict[tuple[int, dt.date], int] = {}
        self._payment_totals: dict[int, Decimal] = {}

    # ---- helpers ----------------------------------------------------------------------------

    def utc(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        """Local wall-clock time on `day` as naive UTC."""
        offset = _utc_offset(self.spec.timezone, day)
        return dt.datetime(day.year, day.month, day.day, hour, minute) - offset

    def name(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def lognormal_hours(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rng.gauss(0, sigma))

    # ---- generation -------------------------------------------------------------------------

    def run(self, sink: PracticeSink, chunk_rows: int | None) -> None:
        self.settings()
        self.payers()
        self.staff()
        self.staff_ids = [r[0] for r in self.t["users"].rows]
        self.clients_and_care(sink, chunk_rows)
        self.supervision()
        self.trainings_and_incidents()
        self.goals()
        self.flush(sink)
        sink.set_payment_amounts(self._payment_totals)

    def flush(self, sink: PracticeSink) -> None:
        sink.write({name: table.take() for name, table in self.t.items()})

    def pending_rows(self) -> int:
        return sum(len(table.rows) for table in self.t.values())

    def settings(self) -> None:
        # About what a clinician of this simulation collects in a month (~$7,000-8,600 applied), so the
        # practice lands near its target: some months above, some amber, now and then two below 90%.
        revenue_target = 8000 * self.spec.clinicians
        for key, value in (
            ("practice_name", "Synthetic Counseling Group"),
            ("timezone", self.spec.timezone),
            ("monthly_revenue_target", str(revenue_target)),
            ("state", "GA"),
            # Where in-person reminders send clients, and the telehealth room a reminder links (+ "/<appointment id>").
            ("practice_address", "200 Synthetic Plaza, Suite 300, Atlanta, GA 30303"),
            ("telehealth_url", "https://telehealth.practice.example/visit"),
        ):
            self.t["practice_settings"].add(id=self.t["practice_settings"].next_id(), key=key, value=value)

    def payers(self) -> None:
        for i, (name, code) in enumerate(PAYERS, start=1):
            self.t["payers"].add(id=i, name=name, payer_code=code)

    def add_user(
        self,
        role: str,
        license_type: str | None = None,
        supervisor_id: int | None = None,
        first: str | None = None,
        last: str | None = None,
        target: int | None = None,
    ) -> int:
        users = self.t["users"]
        uid = users.next_id()
        if first is None:
            first, last = self.name()
        hired = self.start - dt.timedelta(days=self.rng.randint(30, 2000))
        created = self.utc(hired, 9)
        users.add(
            id=uid,
            email=f"{role.lower()}{uid}@practice.example",
            first_name=first,
            last_name=last,
            role=role,
            license_type=license_type,
            supervisor_id=supervisor_id,
            is_active=True,
            password_hash=None,
            failed_login_count=0,
            hired_date=hired,
            weekly_session_target=target,
            created_at=created,
            updated_at=created,
        )
        return uid

    def staff(self) -> None:
        rng = self.rng
        self.admin_id = self.add_user("ADMIN")
        self.billing_ids = [self.add_user("BILLING") for _ in range(max(1, self.spec.clinicians // 15))]
        self.front_desk_ids = [self.add_user("FRONT_DESK") for _ in range(max(1, self.spec.clinicians // 8))]
        n_supervisors = max(1, round(self.spec.clinicians / 6))
        self.clinicians: list[_Clinician] = []
        supervisors: list[int] = []
        for i in range(self.spec.clinicians):
            is_supervisor = i < n_supervisors
            if is_supervisor:
                license_type = rng.choice(("LPC", "LCSW", "PSYCHOLOGIST"))
                supervisor_id = None
            else:
                license_type = rng.choices(
                    (*THERAPY_LICENSES, "PSYCHIATRIST"), weights=(22, 22, 16, 14, 10, 6, 6)
                )[0]
                supervisor_id = supervisors[i % len(supervisors)]
            target = rng.randint(20, 30)
            uid = self.add_user(
                "SUPERVISOR" if is_supervisor else "CLINICIAN", license_type, supervisor_id, target=target
            )
            if is_supervisor:
                supervisors.append(uid)
            # Working pattern: 4-5 days, 8 hourly slots a day, some with evening hours.
            days = sorted(rng.sample(range(5), rng.choice((4, 5, 5))))
            if rng.random() < 0.15:
                days.append(5)  # a Saturday clinic
            first_hour = rng.choice((8, 9, 9, 10, 12))
            slots = [(d, h) for d in days for h in range(first_hour, first_hour + 8) if h != first_hour + 4]
            for d in days:
                self.t["clinician_availability"].add(
                    id=self.t["clinician_availability"].next_id(),
                    clinician_id=uid,
                    weekday=d,
                    start_time=dt.time(first_hour),
                    end_time=dt.time(first_hour + 8),
                    slot_minutes=60,
                    effective_from=self.start - dt.timedelta(days=365),
                    effective_to=None,
                )
            self.clinicians.append(
                _Clinician(
                    user_id=uid,
                    license_type=license_type,
                    supervisor_id=supervisor_id,
                    no_show_p=rng.uniform(0.07, 0.18),
                    cancel_p=rng.uniform(0.03, 0.08),
                    same_day_sign_p=rng.choice((0.95, 0.9, 0.85, 0.75, 0.6, 0.45)),
                    late_sign_scale=rng.choice((1.5, 2.5, 4.0, 7.0)),
                    charge_lag_scale=rng.choice((0.3, 0.6, 1.2, 3.0)),
                    online_booking_p=rng.uniform(0.2, 0.55),
                    new_clients_per_month=len(slots) / rng.uniform(4.0, 6.0),
                    slots=slots,
                )
            )

    # ---- clients, appointments, notes, billing ----------------------------------------------

    def clients_and_care(self, sink: PracticeSink, chunk_rows: int | None) -> None:
        """Each client with all of their care; a client's rows are final once the next client starts (bar the
        insurance payments shared by many), so the rows go on to `sink` whenever `chunk_rows` have gathered."""
        rng = self.rng
        client_id = 0
        for clin in self.clinicians:
            # Start with an existing caseload, then take new clients month by month.
            month_starts = [_add_months(self.start, m) for m in range(self.spec.months + 1)]
            arrivals: list[dt.date] = []
            for _ in range(int(len(clin.slots) * 1.1)):
                arrivals.append(self.start - dt.timedelta(days=rng.randint(7, 300)))
            for m_start in month_starts:
                for _ in range(_poisson(rng, clin.new_clients_per_month)):
                    day = m_start + dt.timedelta(days=rng.randint(0, 27))
                    if day < self.horizon:
                        arrivals.append(day)
            for intake in sorted(arrivals):
                client_id += 1
                self.client(client_id, clin, intake)
                if chunk_rows is not None and self.pending_rows() >= chunk_rows:
                    self.flush(sink)
            # Nobody else books into this clinician's week grid.
            clin.taken.clear()

    def client(self, cid: int, clin: _Clinician, intake: dt.date) -> None:
        rng = self.rng
        t = self.t
        first, last = self.name()
        is_minor = rng.random() < 0.12
        age = rng.randint(6, 17) if is_minor else rng.randint(18, 78)
        dob = self.end - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        high_risk = rng.random() < 0.09
        telehealth_client = rng.random() < 0.35
        self_pay = rng.random() < 0.15
        # Incomplete demographics: a few fields left blank at intake, as happens at a busy front desk.
        missing = (
            set(rng.sample(("phone", "address", "emergency", "dob"), k=1)) if rng.random() < 0.09 else set()
        )
        portal = rng.random() < 0.58
        portal_user_id = None
        if portal:
            portal_user_id = self.add_user("CLIENT", first=first, last=last)
        created = self.utc(intake - dt.timedelta(days=rng.randint(1, 10)), 10)
        # How long the client stays in care, and how often they come.
        planned_sessions = min(80, max(1, int(rng.expovariate(1 / 22))))
        cadence = rng.choices((7, 14, 28), weights=(60, 32, 8))[0]
        status = "ACTIVE"
        t["clients"].add(
            id=cid,
            first_name=first,
            last_name=last,
            date_of_birth=None if "dob" in missing else dob,
            gender=rng.choice(("F", "M", "X", "F", "M")),
            email=f"client{cid}@mail.example",
            phone=None if "phone" in missing else f"404555{cid % 10000:04d}",
            address=None if "address" in missing else f"{rng.randint(10, 9999)} Synthetic Way",
            city="Atlanta",
            state="GA",
            zip_code=f"30{rng.randint(300, 399)}",
            emergency_contact_name=None if "emergency" in missing else " ".join(self.name()),
            emergency_contact_phone=None if "emergency" in missing else f"678555{cid % 10000:04d}",
            referring_provider=rng.choice((None, "Dr. Synthetic Referrer", "Self-referred")),
            status=status,
            primary_clinician_id=clin.user_id,
            is_high_risk=high_risk,
            has_suicidal_ideation=high_risk and rng.random() < 0.7,
            is_emancipated=is_minor and rng.random() < 0.03,
            is_self_pay=self_pay,
            # Reminder consent from the record number, not the random stream (which would reshuffle the rest of
            # the practice): about 45% e-mail only, 20% SMS only, 20% both, 15% neither.
            has_email_contact_consent=_consent_bucket(cid) in ("email", "both"),
            has_sms_contact_consent=_consent_bucket(cid) in ("sms", "both"),
            portal_user_id=portal_user_id,
            portal_activated_at=created + dt.timedelta(days=rng.randint(0, 30)) if portal else None,
            intake_date=intake,
            discharged_date=None,
            created_at=created,
            updated_at=created,
        )
        guardian_id = None
        if is_minor and rng.random() < 0.96:
            guardian_id = t["guardians"].next_id()
            t["guardians"].add(
                id=guardian_id,
                client_id=cid,
                full_name=" ".join(self.name()),
                relationship=rng.choice(("MOTHER", "FATHER", "GUARDIAN")),
                phone="7705550000",
            )
        policies = self.insurance(cid, intake, self_pay)
        last_day = self.appointments(
            cid, clin, intake, planned_sessions, cadence, telehealth_client, policies
        )
        # Discharge clients whose care ended a while ago.
        if last_day is not None and last_day < self.end - dt.timedelta(days=60):
            row = list(t["clients"].get(cid))
            cols = t["clients"].columns
            if rng.random() < 0.6:
                row[cols.index("status")] = "DISCHARGED"
                row[cols.index("discharged_date")] = last_day + dt.timedelta(days=rng.randint(7, 30))
            else:
                row[cols.index("status")] = "INACTIVE"
            t["clients"].put(cid, row)
        self.consents(cid, intake, is_minor, guardian_id, telehealth_client, last_day)
        self.plans(cid, clin, intake, high_risk, last_day)
        if rng.random() < 0.22:
            for _ in range(rng.randint(1, 3)):
                t["case_inputs"].add(
                    id=t["case_inputs"].next_id(),
                    client_id=cid,
                    contributor_id=rng.choice(self.clinicians).user_id,
                    discipline=rng.choice(
                        ("PSYCHIATRY", "CASE_CONFERENCE", "PRIMARY_CARE", "CARE_COORDINATION")
                    ),
                    input_date=min(self.end, intake + dt.timedelta(days=rng.randint(0, 120))),
                )

    def insurance(self, cid: int, intake: dt.date, self_pay: bool) -> list[tuple[int, int]]:
        rng = self.rng
        t = self.t
        policies: list[tuple[int, int]] = []
        if self_pay:
            return policies
        n = 2 if rng.random() < 0.1 else 1
        for rank in range(1, n + 1):
            pid = t["insurance_policies"].next_id()
            payer_id = rng.randint(1, len(PAYERS))
            t["insurance_policies"].add(
                id=pid,
                client_id=cid,
                payer_id=payer_id,
                rank=rank,
                member_id=f"SYN{rng.randint(10**8, 10**9 - 1)}",
                group_number=f"G{rng.randint(1000, 9999)}",
                effective_date=intake - dt.timedelta(days=rng.randint(30, 900)),
                termination_date=None,
            )
            policies.append((pid, payer_id))
            # Verified at intake and then about quarterly; some practices let it slip.
            day = intake - dt.timedelta(days=rng.randint(0, 5))
            diligence = rng.uniform(0.75, 1.0)
            while day <= self.end:
                if rng.random() < diligence or day == intake:
                    at = self.utc(day, 11)
                    ok = rng.random() < 0.97
                    t["insurance_verifications"].add(
                        id=t["insurance_verifications"].next_id(),
                        policy_id=pid,
                        client_id=cid,
                        status="VERIFIED" if ok else "FAILED",
                        is_eligible=ok,
                        source=rng.choice(("MANUAL", "ADVANCEDMD")),
                        verified_by=rng.choice(self.front_desk_ids),
                        verified_at=at,
                        expires_at=at + dt.timedelta(days=90),
                    )
                day += dt.timedelta(days=rng.randint(80, 120))
        return policies

    def free_slot(
        self, clin: _Clinician, day: dt.date, preferred: tuple[int, int] | None
    ) -> tuple[dt.date, int] | None:
        """A free (day, hour) for the clinician in the week of `day`, preferring the client's usual slot."""
        week_index = (day - self.week0).days // 7
        monday = self.week0 + dt.timedelta(days=week_index * 7)
        candidates = list(clin.slots)
        if preferred in candidates:
            candidates.remove(preferred)
            candidates.insert(0, preferred)
        else:
            self.rng.shuffle(candidates)
        for weekday, hour in candidates[:12]:
            key = (week_index, weekday, hour)
            if key not in clin.taken:
                clin.taken.add(key)
                return monday + dt.timedelta(days=weekday), hour
        return None

    def appointments(
        self,
        cid: int,
        clin: _Clinician,
        intake: dt.date,
        planned: int,
        cadence: int,
        telehealth_client: bool,
        policies: list[tuple[int, int]],
    ) -> dt.date | None:
        rng = self.rng
        day = intake
        preferred: tuple[int, int] | None = None
        last_completed: dt.date | None = None
        kept = 0
        first = True
        dropout_p = 0.015 + clin.no_show_p * 0.1
        booked_at: dt.datetime | None = None
        while kept < planned and day < self.horizon:
            if day < self.week0:
                day += dt.timedelta(days=cadence)
                continue
            slot = self.free_slot(clin, day, preferred)
            if slot is None:
                day += dt.timedelta(days=7)
                continue
            slot_day, hour = slot
            if preferred is None:
                preferred = (slot_day.weekday(), hour)
            if booked_at is None or first:
                lead = rng.randint(2, 21)
                booked_at = self.utc(
                    slot_day - dt.timedelta(days=lead), rng.randint(8, 17), rng.choice((0, 15, 30, 45))
                )
            appt_type = self.appointment_type(clin, first)
            is_tele = telehealth_client and rng.random() < 0.8
            outcome = self.book(cid, clin, slot_day, hour, appt_type, is_tele, booked_at, cadence, policies)
            if outcome == "COMPLETED":
                kept += 1
                last_completed = slot_day
                first = False
            if outcome in ("NO_SHOW", "CANCELLED") and rng.random() < dropout_p * 3:
                break  # the client drifts away after a missed session
            if outcome == "COMPLETED" and rng.random() < dropout_p:
                break
            next_day = slot_day + dt.timedelta(days=cadence)
            if rng.random() < 0.12:
                next_day += dt.timedelta(days=rng.randint(7, 35))  # a gap: holidays, money, life
            # The next visit is usually booked at the end of this one.
            booked_at = self.utc(slot_day, hour, 55) if rng.random() < 0.8 else None
            day = next_day
        return last_completed

    def appointment_type(self, clin: _Clinician, first: bool) -> str:
        if first:
            return "INITIAL_EVALUATION"
        if clin.license_type == "PSYCHIATRIST":
            return "MEDICATION_MANAGEMENT"
        return self.rng.choices(
            ("THERAPY_SESSION", "FOLLOW_UP", "FAMILY_THERAPY", "GROUP_THERAPY"), weights=(80, 8, 8, 4)
        )[0]

    def book(
        self,
        cid: int,
        clin: _Clinician,
        day: dt.date,
        hour: int,
        appt_type: str,
        is_tele: bool,
        booked_at: dt.datetime,
        cadence: int,
        policies: list[tuple[int, int]],
        rescheduled_from: int | None = None,
    ) -> str:
        rng = self.rng
        t = self.t
        aid = t["appointments"].next_id()
        start = self.utc(day, hour)
        end = start + dt.timedelta(minutes=50 if appt_type != "INITIAL_EVALUATION" else 60)
        booked_at = min(booked_at, start - dt.timedelta(hours=2))
        history = [("SCHEDULED", booked_at)]
        arrived = ready = None
        reason = None
        if start > self.as_of_at:
            status = (
                "CONFIRMED"
                if start < self.as_of_at + dt.timedelta(days=3) and rng.random() < 0.7
                else "SCHEDULED"
            )
            if status == "CONFIRMED":
                history.append(("CONFIRMED", start - dt.timedelta(days=2)))
        else:
            r = rng.random()
            reschedule_p = 0.04 if rescheduled_from is None else 0.0
            if r < clin.no_show_p:
                status = "NO_SHOW"
            elif r < clin.no_show_p + clin.cancel_p:
                status = "CANCELLED"
                reason = rng.choice(("CLIENT_REQUEST", "ILLNESS", "LATE_CANCEL", "CLINICIAN", "WEATHER"))
            elif r < clin.no_show_p + clin.cancel_p + reschedule_p:
                status = "RESCHEDULED"
            else:
                status = "COMPLETED"
            if rng.random() < 0.6 and status != "RESCHEDULED":
                history.append(("CONFIRMED", start - dt.timedelta(days=2)))
            # The front desk sometimes forgets to close out recent appointments.
            stale = (
                status != "RESCHEDULED"
                and start > self.as_of_at - dt.timedelta(days=6)
                and rng.random() < 0.06
            )
            if status == "COMPLETED":
                arrived = start - dt.timedelta(minutes=rng.randint(0, 15))
                ready = arrived + dt.timedelta(minutes=max(0.5, self.lognormal_hours(4.0, 0.6)))
                history.append(("CHECKED_IN", arrived))
                history.append(("COMPLETED", end))
            elif status == "NO_SHOW":
                history.append(("NO_SHOW", start + dt.timedelta(minutes=20)))
            elif status == "CANCELLED":
                history.append(("CANCELLED", start - dt.timedelta(hours=rng.choice((2, 12, 26, 50, 100)))))
            else:
                history.append(("RESCHEDULED", start - dt.timedelta(hours=rng.choice((20, 48, 72)))))
            if stale:
                status, history, arrived, ready = "SCHEDULED", history[:1], None, None
        changed_at = max(h[1] for h in history)
        t["appointments"].add(
            id=aid,
            client_id=cid,
            clinician_id=clin.user_id,
            appointment_type=appt_type,
            status=status,
            start_at=start,
            end_at=end,
            is_telehealth=is_tele,
            is_booked_online=rng.random() < clin.online_booking_p,
            is_recurring=cadence in (7, 14) and appt_type != "INITIAL_EVALUATION",
            recurrence_rule=f"FREQ=WEEKLY;INTERVAL={cadence // 7}" if cadence in (7, 14) else None,
            rescheduled_from_id=rescheduled_from,
            cancellation_reason=reason,
            booked_at=booked_at,
            arrived_at=arrived,
            clinician_ready_at=ready,
            status_changed_at=changed_at,
            created_at=booked_at,
            updated_at=changed_at,
        )
        history_rows = t["appointment_status_history"]
        for hstatus, at in history:
            history_rows.add(
                id=history_rows.next_id(),
                appointment_id=aid,
                status=hstatus,
                changed_by=rng.choice(self.front_desk_ids),
                changed_at=at,
            )
        if status == "RESCHEDULED":
            new_slot = self.free_slot(clin, day + dt.timedelta(days=rng.randint(1, 8)), None)
            if new_slot is not None:
                return self.book(
                    cid,
                    clin,
                    new_slot[0],
                    new_slot[1],
                    appt_type,
                    is_tele,
                    history[-1][1],
                    cadence,
                    policies,
                    rescheduled_from=aid,
                )
            return status
        if status == "COMPLETED":
            self.document_and_bill(aid, cid, clin, day, end, appt_type, is_tele, policies)
        elif status == "NO_SHOW" and rng.random() < 0.1:
            # A no-show fee: a charge with no note, billed to the client.
            self.charge(cid, clin, aid, None, None, day, "NOSHOW", Decimal("50.00"), start)
        return status

    def document_and_bill(
        self,
        aid: int,
        cid: int,
        clin: _Clinician,
        day: dt.date,
        end: dt.datetime,
        appt_type: str,
        is_tele: bool,
        policies: list[tuple[int, int]],
    ) -> None:
        rng = self.rng
        note_type = {
            "INITIAL_EVALUATION": "PSYCHIATRIC_EVALUATION"
            if clin.license_type == "PSYCHIATRIST"
            else "INTAKE_ASSESSMENT",
        }.get(appt_type, rng.choice(("PROGRESS_NOTE", "SOAP_NOTE")))
        note_id, signed_at = self.note(cid, clin, aid if rng.random() > 0.004 else None, note_type, end)
        if rng.random() < 0.025:
            self.note(cid, clin, aid, "CRISIS_INTERVENTION", end + dt.timedelta(minutes=10))
        if rng.random() < 0.03:
            return  # revenue leakage: a completed session nobody billed
        cpts = {
            "INITIAL_EVALUATION": ["90792" if clin.license_type == "PSYCHIATRIST" else "90791"],
            "MEDICATION_MANAGEMENT": ["99214", "90833"] if rng.random() < 0.5 else ["99214"],
            "FAMILY_THERAPY": ["90847"],
            "GROUP_THERAPY": ["90853"],
        }.get(appt_type) or [rng.choice(("90834", "90837", "90837"))]
        lag_days = int(rng.expovariate(1 / clin.charge_lag_scale)) if rng.random() < 0.7 else 0
        entered = end + dt.timedelta(days=lag_days, hours=rng.uniform(0.2, 5))
        # The claim waited for a note signed late (or never); the charge is held today only while its note is
        # still unsigned past the hold day, as the alert sync judges it (operational_api/alerts.py). A hold kept on a
        # note signed since was released by the first sync after a build, restamping months-old charges "now".
        hold = signed_at is None or signed_at > end + dt.timedelta(days=BILLING_HOLD_DAY)
        held_today = signed_at is None and (self.spec.as_of - day).days >= BILLING_HOLD_DAY
        charge_ids = [
            self.charge(
                cid,
                clin,
                aid,
                note_id,
                None,
                day,
                cpt,
                FEES[cpt],
                entered,
                hold=held_today,
                modifiers="95" if is_tele else None,
            )
            for cpt in cpts
        ]
        self.claim_and_pay(cid, clin, charge_ids, entered, policies, hold, signed_at)

    def note(
        self, cid: int, clin: _Clinician, aid: int | None, note_type: str, end: dt.datetime
    ) -> tuple[int, dt.datetime | None]:
        rng = self.rng
        t = self.t
        nid = t["clinical_notes"].next_id()
        if rng.random() < clin.same_day_sign_p:
            signed_at = end + dt.timedelta(hours=rng.uniform(0.1, 4.5))
        elif rng.random() < 0.01:
            signed_at = None  # never signed
        else:
            signed_at = end + dt.timedelta(days=self.lognormal_hours(clin.late_sign_scale, 0.9))
        if signed_at is not None and signed_at > self.as_of_at:
            signed_at = None
        requires_cosign = clin.license_type in COSIGN_LICENSE_TYPES
        cosigned_at = (
            signed_at + dt.timedelta(days=rng.uniform(0.2, 4)) if signed_at and requires_cosign else None
        )
        if cosigned_at is not None and cosigned_at > self.as_of_at:
            cosigned_at = None
        status = "SIGNED" if signed_at else rng.choice(("DRAFT", "DRAFT", "IN_REVIEW"))
        t["clinical_notes"].add(
            id=nid,
            client_id=cid,
            clinician_id=clin.user_id,
            appointment_id=aid,
            note_type=note_type,
            status=status,
            content="Synthetic note text.",
            icd10_codes=rng.choice(("F41.1", "F32.1", "F43.10", "F90.0")),
            requires_cosign=requires_cosign,
            signed_by=clin.user_id if signed_at else None,
            signed_at=signed_at,
            cosigned_by=clin.supervisor_id if cosigned_at else None,
            cosigned_at=cosigned_at,
            created_at=end + dt.timedelta(minutes=5),
            updated_at=signed_at or end + dt.timedelta(minutes=5),
        )
        if signed_at and rng.random() < 0.02:
            t["note_amendments"].add(
                id=t["note_amendments"].next_id(),
                note_id=nid,
                kind=rng.choice(("AMENDMENT", "ADDENDUM")),
                content="Synthetic addendum.",
                created_by=clin.user_id,
                created_at=signed_at + dt.timedelta(days=2),
                signed_at=signed_at + dt.timedelta(days=2),
            )
            notes = t["clinical_notes"]
            row = list(notes.get(nid))
            row[notes.columns.index("status")] = "AMENDED"
            notes.put(nid, row)
        return nid, signed_at

    def charge(
        self,
        cid: int,
        clin: _Clinician,
        aid: int | None,
        note_id: int | None,
        claim_id: int | None,
        day: dt.date,
        cpt: str,
        amount: Decimal,
        entered: dt.datetime,
        hold: bool = False,
        modifiers: str | None = None,
    ) -> int:
        t = self.t
        chid = t["charges"].next_id()
        t["charges"].add(
            id=chid,
            client_id=cid,
            clinician_id=clin.user_id,
            appointment_id=aid,
            note_id=note_id,
            claim_id=claim_id,
            service_date=day,
            cpt_code=cpt,
            modifiers=modifiers,
            units=1,
            diagnosis_codes="F41.1",
            charge_amount=amount,
            payment_amount=Decimal("0.00"),
            adjustment_amount=Decimal("0.00"),
            patient_responsibility_amount=Decimal("0.00"),
            status="UNBILLED",
            is_billing_hold=hold,
            created_by=rng_choice(self.rng, self.billing_ids),
            created_at=entered,
            updated_at=entered,
        )
        return chid

    def claim_and_pay(
        self,
        cid: int,
        clin: _Clinician,
        charge_ids: list[int],
        entered: dt.datetime,
        policies: list[tuple[int, int]],
        hold: bool,
        signed_at: dt.datetime | None,
    ) -> None:
        """Submit the visit's charges on one claim, adjudicate it, and post what was paid."""
        rng = self.rng
        t = self.t
        charges = t["charges"]
        cols = charges.columns
        total = sum((charges.get(i)[cols.index("charge_amount")] for i in charge_ids), Decimal("0"))
        if not policies:
            # Self-pay: the client pays at the visit or later, sometimes not at all.
            if rng.random() < 0.9:
                paid_on = (entered + dt.timedelta(days=rng.choice((0, 0, 3, 20, 45)))).date()
                if self.utc(paid_on, 12) <= self.as_of_at:
                    self.post_client_payment(cid, charge_ids, total, paid_on)
            return
        if hold:
            return  # billing hold: the claim waits for the note signature
        submitted = max(entered, signed_at or entered) + dt.timedelta(days=rng.uniform(0.1, 3))
        if submitted > self.as_of_at:
            return
        payer_id = policies[0][1]
        claim_id = t["claims"].next_id()
        ccn = f"MS{claim_id:08d}"
        accepted = rng.random() < 0.95
        adjudicated = submitted + dt.timedelta(days=rng.randint(12, 40)) if accepted else None
        if adjudicated and adjudicated > self.as_of_at:
            adjudicated = None
        denied = adjudicated is not None and rng.random() < 0.07
        status = "SUBMITTED"
        if not accepted:
            status = "REJECTED"
        elif adjudicated is None:
            status = "ACCEPTED"
        elif denied:
            status = "DENIED"
        t["claims"].add(
            id=claim_id,
            client_id=cid,
            payer_id=payer_id,
            claim_control_number=ccn,
            status=status,
            total_charge_amount=total,
            denial_carc_code=rng.choice(DENIAL_CARCS) if denied else None,
            rejection_reason=rng.choice(("Invalid member id", "Missing diagnosis pointer", "Invalid NPI"))
            if not accepted
            else None,
            submitted_at=submitted,
            accepted_at=submitted + dt.timedelta(hours=rng.randint(2, 30)) if accepted else None,
            rejected_at=submitted + dt.timedelta(hours=rng.randint(2, 30)) if not accepted else None,
            denied_at=adjudicated if denied else None,
            adjudicated_at=adjudicated,
        )
        for chid in charge_ids:
            row = list(charges.get(chid))
            row[cols.index("claim_id")] = claim_id
            row[cols.index("status")] = (
                "BILLED" if status in ("SUBMITTED", "ACCEPTED", "REJECTED") else row[cols.index("status")]
            )
            charges.put(chid, row)
        if adjudicated is None:
            return
        paid_on = adjudicated.date()
        payment_id = self.insurance_payment(payer_id, paid_on)
        coinsurance_share = rng.choice((Decimal("0"), Decimal("0.1"), Decimal("0.2")))
        copay = (
            rng.choice((Decimal("0"), Decimal("20"), Decimal("30")))
            if coinsurance_share == 0
            else Decimal("0")
        )
        for i, chid in enumerate(charge_ids):
            row = list(charges.get(chid))
            amount = row[cols.index("charge_amount")]
            adjustments: list[tuple[str, str, Decimal]] = []
            if denied:
                paid = Decimal("0.00")
                carc = t["claims"].get(claim_id)[t["claims"].columns.index("denial_carc_code")]
                adjustments.append(("CO", carc, amount))
                row[cols.index("status")] = "DENIED"
            else:
                allowed = (amount * Decimal(str(rng.uniform(0.62, 0.85)))).quantize(Decimal("0.01"))
                adjustments.append(("CO", "45", amount - allowed))
                patient = Decimal("0")
                if i == 0 and copay:
                    patient = min(copay, allowed)
                    adjustments.append(("PR", "3", patient))
                elif coinsurance_share:
                    patient = (allowed * coinsurance_share).quantize(Decimal("0.01"))
                    adjustments.append(("PR", "2", patient))
                paid = allowed - patient
                row[cols.index("patient_responsibility_amount")] = patient
                row[cols.index("status")] = "PAID" if patient == 0 else "PARTIALLY_PAID"
                if patient and rng.random() < 0.7:
                    client_paid_on = paid_on + dt.timedelta(days=rng.randint(0, 40))
                    if self.utc(client_paid_on, 12) <= self.as_of_at:
                        self.post_client_payment(cid, [chid], patient, client_paid_on, update=False)
                        row[cols.index("payment_amount")] = patient
                        row[cols.index("status")] = "PAID"
            row[cols.index("payment_amount")] = row[cols.index("payment_amount")] + paid
            row[cols.index("adjustment_amount")] = sum(
                (a[2] for a in adjustments if a[0] == "CO"), Decimal("0")
            )
            charges.put(chid, row)
            applied_at = self.utc(paid_on, 14)
            if paid:
                t["payment_applications"].add(
                    id=t["payment_applications"].next_id(),
                    payment_id=payment_id,
                    charge_id=chid,
                    era_claim_id=None,
                    applied_amount=paid,
                    applied_at=applied_at,
                )
            for group, carc, adj in adjustments:
                t["charge_adjustments"].add(
                    id=t["charge_adjustments"].next_id(),
                    charge_id=chid,
                    era_claim_id=None,
                    group_code=group,
                    carc_code=carc,
                    rarc_codes="N130" if group == "CO" and carc != "45" else None,
                    adjustment_amount=adj,
                    adjusted_at=applied_at,
                )
            self._payment_totals[payment_id] += paid

    def insurance_payment(self, payer_id: int, paid_on: dt.date) -> int:
        """One check/EFT per payer per week: the shape of a real remittance."""
        week = paid_on - dt.timedelta(days=paid_on.weekday())
        key = (payer_id, week)
        if key in self._weekly_payments:
            return self._weekly_payments[key]
        t = self.t
        pid = t["payments"].next_id()
        t["payments"].add(
            id=pid,
            client_id=None,
            payer_id=payer_id,
            era_file_id=None,
            payment_amount=Decimal("0"),
            payment_method="INSURANCE",
            payment_date=week + dt.timedelta(days=3),
            check_number=f"EFT{payer_id:02d}{week:%Y%m%d}",
            transaction_id=None,
            created_by=self.billing_ids[0],
            created_at=self.utc(week + dt.timedelta(days=3), 15),
        )
        self._weekly_payments[key] = pid
        self._payment_totals[pid] = Decimal("0")
        return pid

    def post_client_payment(
        self, cid: int, charge_ids: list[int], amount: Decimal, paid_on: dt.date, update: bool = True
    ) -> None:
        rng = self.rng
        t = self.t
        pid = t["payments"].next_id()
        t["payments"].add(
            id=pid,
            client_id=cid,
            payer_id=None,
            era_file_id=None,
            payment_amount=amount,
            payment_method=rng.choice(("CREDIT_CARD", "CREDIT_CARD", "DEBIT_CARD", "CASH", "CHECK")),
            payment_date=paid_on,
            check_number=None,
            transaction_id=f"TX{pid:09d}",
            created_by=rng.choice(self.front_desk_ids),
            created_at=self.utc(paid_on, 12),
        )
        charges = t["charges"]
        cols = charges.columns
        remaining = amount
        for chid in charge_ids:
            row = list(charges.get(chid))
            applied = min(remaining, row[cols.index("charge_amount")] - row[cols.index("payment_amount")])
            if applied <= 0:
                continue
            remaining -= applied
            t["payment_applications"].add(
                id=t["payment_applications"].next_id(),
                payment_id=pid,
                charge_id=chid,
                era_claim_id=None,
                applied_amount=applied,
                applied_at=self.utc(paid_on, 12),
            )
            if update:
                row[cols.index("payment_amount")] += applied
                row[cols.index("status")] = (
                    "PAID"
                    if row[cols.index("payment_amount")] >= row[cols.index("charge_amount")]
                    else "PARTIALLY_PAID"
                )
                charges.put(chid, row)

    def consents(
        self,
        cid: int,
        intake: dt.date,
        is_minor: bool,
        guardian_id: int | None,
        telehealth: bool,
        last_day: dt.date | None,
    ) -> None:
        rng = self.rng
        t = self.t
        active_until = last_day or intake

        def sign(kind: str, first_day: dt.date, renew: bool, guardian: int | None = None) -> None:
            day = first_day
            while day <= self.end:
                t["consents"].add(
                    id=t["consents"].next_id(),
                    client_id=cid,
                    consent_type=kind,
                    guardian_id=guardian,
                    signed_date=day,
                    expiry_date=day + dt.timedelta(days=365) if renew else None,
                    revoked_date=None,
                )
                next_day = day + dt.timedelta(days=365 - rng.randint(0, 30))
                # Some renewals slip: a lapse or a consent that expires before anyone notices.
                if not renew or next_day > active_until + dt.timedelta(days=30) or rng.random() < 0.12:
                    break
                day = next_day

        if rng.random() < 0.97:
            sign("INFORMED", intake - dt.timedelta(days=rng.randint(0, 3)), True)
        if is_minor and guardian_id is not None and rng.random() < 0.92:
            sign("GUARDIAN", intake - dt.timedelta(days=rng.randint(0, 3)), True, guardian_id)
        if telehealth and rng.random() < 0.9:
            sign("TELEHEALTH", intake - dt.timedelta(days=rng.randint(0, 3)), False)

    def plans(
        self, cid: int, clin: _Clinician, intake: dt.date, high_risk: bool, last_day: dt.date | None
    ) -> None:
        rng = self.rng
        t = self.t
        if last_day is None:
            return
        day = intake + dt.timedelta(days=rng.randint(0, 14))
        rows = t["treatment_plans"]
        while day <= min(self.end, last_day + dt.timedelta(days=30)):
            tp_id = rows.next_id()
            review_due = day + dt.timedelta(days=90)
            next_review = day + dt.timedelta(days=rng.choice((75, 84, 88, 90, 95, 105, 130)))
            reviewed = next_review if next_review <= self.end and rng.random() < 0.93 else None
            rows.add(
                id=tp_id,
                client_id=cid,
                clinician_id=clin.user_id,
                note_id=None,
                effective_date=day,
                review_due_date=review_due,
                reviewed_date=reviewed,
                superseded_date=reviewed,
            )
            if reviewed is None:
                break
            day = reviewed
        if high_risk and rng.random() < 0.8:
            day = intake + dt.timedelta(days=rng.randint(0, 10))
            while day <= self.end:
                sp_id = t["safety_plans"].next_id()
                review_due = day + dt.timedelta(days=90)
                renewed = day + dt.timedelta(days=rng.choice((80, 90, 100, 150)))
                superseded = renewed if renewed <= self.end and rng.random() < 0.85 else None
                t["safety_plans"].add(
                    id=sp_id,
                    client_id=cid,
                    clinician_id=clin.user_id,
                    note_id=None,
                    effective_date=day,
                    review_due_date=review_due,
                    superseded_date=superseded,
                )
                if superseded is None:
                    break
                day = superseded

    # ---- staff-side records -----------------------------------------------------------------

    def supervision(self) -> None:
        rng = self.rng
        rows = self.t["supervision_sessions"]
        for clin in self.clinicians:
            required = SUPERVISED_LICENSES.get(clin.license_type)
            if clin.supervisor_id is None or required is None:
                continue
            diligence = rng.uniform(0.7, 1.0)
            month = self.start.replace(day=1)
            while month <= self.end:
                hours = 0.0
                target = required if rng.random() < diligence else required - rng.choice((1.0, 1.5, 2.0))
                while hours < target:
                    day = month + dt.timedelta(days=rng.randint(0, 27))
                    if day > self.end:
                        break
                    duration = min(rng.choice((1.0, 1.0, 1.5, 2.0)), max(0.5, target - hours))
                    signed_at = self.utc(day, 17) + dt.timedelta(days=self.lognormal_hours(1.5, 1.1))
                    is_signed = signed_at <= self.as_of_at
                    rows.add(
                        id=rows.next_id(),
                        supervisee_id=clin.user_id,
                        supervisor_id=clin.supervisor_id,
                        session_date=day,
                        duration_hours=Decimal(str(duration)),
                        session_type=rng.choice(("INDIVIDUAL", "INDIVIDUAL", "GROUP")),
                        is_note_signed=is_signed,
                        signed_at=signed_at if is_signed else None,
                    )
                    hours += duration
                month = _add_months(month, 1)

    def trainings_and_incidents(self) -> None:
        rng = self.rng
        t = self.t
        for uid in self.staff_ids:
            day = self.start - dt.timedelta(days=rng.randint(0, 360))
            while day <= self.end:
                t["hipaa_trainings"].add(
                    id=t["hipaa_trainings"].next_id(),
                    user_id=uid,
                    completed_date=day,
                    expires_date=day + dt.timedelta(days=365),
                )
                next_day = day + dt.timedelta(days=365 + rng.choice((-20, -5, 0, 10, 40)))
                if rng.random() < 0.08:
                    break
                day = next_day
        n_incidents = max(1, round(self.spec.clinicians * self.spec.months / 25))
        for _ in range(n_incidents):
            day = self.start + dt.timedelta(days=rng.randint(0, max(0, (self.end - self.start).days - 1)))
            detected = self.utc(day, rng.randint(8, 17), rng.randint(0, 59))
            responded = detected + dt.timedelta(hours=self.lognormal_hours(0.7, 0.9))
            t["breach_incidents"].add(
                id=t["breach_incidents"].next_id(),
                reported_by=rng.choice(self.staff_ids),
                severity=rng.choice(("LOW", "LOW", "MEDIUM", "HIGH")),
                category=rng.choice(
                    ("MISDIRECTED_EMAIL", "LOST_DEVICE", "UNAUTHORIZED_ACCESS", "MISFILED_RECORD")
                ),
                detected_at=detected,
                responded_at=responded if responded <= self.as_of_at else None,
                resolved_at=responded + dt.timedelta(days=rng.randint(1, 10))
                if responded + dt.timedelta(days=10) <= self.as_of_at
                else None,
            )

    def goals(self) -> None:
        rows = self.t["performance_goals"]
        created = self.utc(self.start, 9)
        for clin in self.clinicians:
            for metric, target in (
                ("kept_visit_rate", Decimal("85")),
                ("same_day_documentation_rate", Decimal("90")),
            ):
                rows.add(
                    id=rows.next_id(),
                    user_id=clin.user_id,
                    metric_key=metric,
                    target_value=target,
                    start_date=self.start,
                    end_date=self.end,
                    status="ACTIVE",
                    created_at=created,
                    updated_at=created,
                )


def _consent_bucket(client_id: int) -> str:
    """Which reminder channels a synthetic client agreed to, stable per record number."""
    bucket = (client_id * 37) % 20
    return "email" if bucket < 9 else "sms" if bucket < 13 else "both" if bucket < 17 else "none"


def rng_choice(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


@lru_cache(maxsize=4096)
def _utc_offset(tz_name: str, day: dt.date) -> dt.timedelta:
    # Offsets at noon are right for all clinic hours (DST switches at 2 a.m.).
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(tz_name))
    return noon.utcoffset() or dt.timedelta(0)


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    return dt.date(year, month + 1, min(day.day, 28))


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def generate(spec: PracticeSpec) -> Practice:
    """Generate a practice in memory; the same spec always gives the same rows."""
    practice = Practice(spec, {name: TableRows(cols) for name, cols in TABLE_COLUMNS.items()})

    class InMemory:
        def write(self, chunk: dict[str, list[tuple[Any, ...]]]) -> None:
            for name, rows in chunk.items():
                practice.tables[name].rows.extend(rows)

        def set_payment_amounts(self, amounts: dict[int, Decimal]) -> None:
            payments = practice.tables["payments"]
            for pid, total in amounts.items():
                row = list(payments.get(pid))
                row[payments.columns.index("payment_amount")] = total
                payments.put(pid, row)

    generate_into(spec, InMemory(), chunk_rows=None)
    return practice


def generate_into(spec: PracticeSpec, sink: PracticeSink, chunk_rows: int | None = 250_000) -> None:
    """Stream a practice into `sink` in chunks of about `chunk_rows` rows (None: one chunk), so memory stays
    bounded whatever the practice's size; the rows are exactly those of `generate(spec)`."""
    _Generator(spec).run(sink, chunk_rows)


def generate_into_store(
    engine: Engine,
    spec: PracticeSpec,
    chunk_rows: int = 250_000,
    on_chunk: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Generate a practice straight into the operational store, in one transaction, holding about
    `chunk_rows` rows in memory at a time; `on_chunk` hears the number of rows written so far. Rows per table."""
    with BulkLoad(engine) as load:

        class IntoStore:
            def write(self, chunk: dict[str, list[tuple[Any, ...]]]) -> None:
                load.write({name: (TABLE_COLUMNS[name], rows) for name, rows in chunk.items()})
                if on_chunk:
                    on_chunk(sum(load.counts.values()))

            def set_payment_amounts(self, amounts: dict[int, Decimal]) -> None:
                # Leaves `updated_at` as generated (as `generate` does): the payments were inserted in this same
                # transaction, so no landing saw them before.
                load.execute_many(
                    "payments",
                    "update payments set payment_amount = ? where id = ?",
                    ("payment_amount", "id"),
                    [(amount, pid) for pid, amount in amounts.items()],
                )

        generate_into(spec, IntoStore(), chunk_rows)
    return load.counts
