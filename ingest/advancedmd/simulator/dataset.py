"""The simulator's data: plain dataclasses plus a change log that drives getupdated* N/C/D.

Design notes

* Records keep their last state even after deletion (soft delete) because AdvancedMD answers
  ``D`` for deleted rows and may still have to render a row that was deleted a moment after the
  window it belongs to.
* Every mutation appends a :class:`ChangeEvent` stamped with the clock, floored to milliseconds
  (the precision of ``servertime``). Windows are half-open ``[datechanged, servertime)``: a
  change stamped in the same millisecond as a query's servertime is reported by the *next* query,
  so every change falls in exactly one window and none is lost or reported twice.
* The audit fields rendered to clients (CreatedAt, ChangedAt, ModifiedAt) are whole seconds,
  because one of the date formats AdvancedMD mixes in (VB long) has no fractions.
* ``external_client_id`` / ``external_appointment_id`` let the platform's synthetic practice
  generator map its own ids onto simulator records (a ``from_practice`` adapter is a plain mapping).
"""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ingest.advancedmd.clock import Clock
from ingest.advancedmd.normalize import floor_millis

PRACTICE_TZ = ZoneInfo("America/New_York")  # a Georgia practice; visit times are local wall clock

PATIENT = "patient"
VISIT = "visit"
CHARGE = "charge"


@dataclass
class SimProvider:
    provider_id: int
    code: str
    name: str
    npi: str | None = None


@dataclass
class SimProcCode:
    proccode_id: int
    cpt: str
    description: str
    fee: Decimal


@dataclass
class SimInsurance:
    insurance_id: int
    carrier_id: int
    carrier_code: str
    carrier_name: str
    sequence: int
    subscriber_id: str
    relationship: str
    group_number: str | None
    group_name: str | None
    copay: Decimal | None
    effective_start: date
    effective_end: date | None
    active: bool


@dataclass
class SimPatient:
    patient_id: int
    chart: str
    last_name: str
    first_name: str
    middle_name: str | None
    dob: date
    sex: str
    address1: str
    address2: str | None
    city: str
    state: str
    zip_code: str
    home_phone: str | None
    office_phone: str | None
    email: str | None
    provider_id: int | None
    fin_class_code: str | None
    insurances: list[SimInsurance] = field(default_factory=list)
    created_at: datetime | None = None
    changed_at: datetime | None = None
    external_client_id: str | None = None


@dataclass
class SimVisit:
    visit_id: int
    patient_id: int
    provider_id: int
    facility_code: str
    appointment_type: str
    column_heading: str
    visit_date: date
    start: datetime  # naive, practice-local wall clock
    duration_minutes: int
    appt_status: int
    created_at: datetime | None = None
    modified_at: datetime | None = None
    charges_posted: bool = False
    external_appointment_id: str | None = None
    arrive_time: datetime | None = None  # naive, practice-local wall clock, whole seconds
    seen_time: datetime | None = None  # naive, practice-local wall clock, whole seconds
    confirmed_at: datetime | None = None  # aware
    created_by: str | None = None  # the AdvancedMD user who entered the visit


@dataclass
class SimCharge:
    charge_id: int
    visit_id: int
    patient_id: int
    cpt_code: str
    modifiers: tuple[str, ...]
    units: int
    fee: Decimal
    diagnosis_codes: tuple[str, ...]
    begin_dos: date
    end_dos: date
    pos: str
    posting_date: date
    created_at: datetime | None = None
    changed_at: datetime | None = None
    # Billing to insurance (getchargedetaildataicd10 datebilled / lastbilledcarrier): the date the charge went
    # to the carrier on a claim, and that carrier's code; None while it was never billed.
    date_billed: date | None = None
    billed_carrier: str | None = None


@dataclass
class SimTransaction:
    """A payment or write-off on one charge, as gettxhistory lists it under the charge."""

    tx_id: int
    charge_id: int
    kind: str  # PAYMENT | WRITEOFF
    amount: Decimal
    tx_date: date
    source: str  # INS (insurance) | PAT (patient)
    code: str  # payment method, or the adjustment's group + reason code (e.g. CO45)
    voided: bool = False


@dataclass(frozen=True)
class ChargeSpec:
    """What savecharges (or a test) asks to put on a visit."""

    cpt_code: str
    units: int = 1
    fee: Decimal | None = None
    modifiers: tuple[str, ...] = ()
    diagnosis_codes: tuple[str, ...] = ("F41.1",)
    pos: str = "11"


@dataclass
class SimEligibility:
    """Canned 271 content for one coverage."""

    patient_id: int
    insurance_id: int
    active: bool
    plan_name: str
    copay: Decimal | None
    deductible: Decimal | None
    deductible_remaining: Decimal | None
    reject_code: str | None = None  # AAA03, e.g. "72" invalid member id


@dataclass(frozen=True)
class SimClaimStatus:
    visit_id: int
    claim_id: int
    carrier_code: str
    category_code: str
    status_code: str
    payment_amount: Decimal | None
    icn: str | None


@dataclass(frozen=True)
class ChangeEvent:
    """``kind``: N created, C changed, D deleted, P charges posted (visits only)."""

    at: datetime
    entity: str
    record_id: int
    kind: str


# ------------------------------------------------------------------------- synthetic vocabulary
# Synthetic names only: common given names and surnames combined at random.
FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Benjamin",
    "Mia", "Lucas", "Charlotte", "Mason", "Amelia", "Ethan", "Harper", "Logan", "Evelyn", "Jackson",
    "Abigail", "Aiden", "Emily", "Sebastian", "Ella", "Mateo", "Zoë", "José", "Renée", "Chloé",
    "Darius", "Imani", "Keisha", "Malik", "Priya", "Arjun", "Mei", "Hiro", "Fatima", "Omar",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "O'Brien", "Smith-Jones", "Muñoz", "Nguyen", "Patel", "Okafor", "Washington",
    "McDonald", "De La Cruz", "Kowalski",
]  # fmt: skip
STREETS = [
    "Peachtree St",
    "Ponce de Leon Ave",
    "Main St",
    "Oak Ave",
    "Magnolia Dr",
    "Pine St",
    "Maple Ave",
    "Cedar Ln",
    "Dogwood Way",
    "River Rd",
]
CITIES = [
    ("Atlanta", "30303"),
    ("Decatur", "30030"),
    ("Marietta", "30060"),
    ("Savannah", "31401"),
    ("Augusta", "30901"),
    ("Macon", "31201"),
    ("Athens", "30601"),
    ("Columbus", "31901"),
    ("Roswell", "30075"),
    ("Alpharetta", "30009"),
]
CARRIERS = [
    ("BCBSGA", "Blue Cross Blue Shield of Georgia"),
    ("AETNA", "Aetna"),
    ("CIGNA", "Cigna Behavioral Health"),
    ("UHC", "UnitedHealthcare"),
    ("GAMCD", "Georgia Medicaid"),
    ("MCARE", "Medicare Part B"),
    ("AMBTR", "Ambetter from Peach State"),
    ("TRICR", "Tricare East"),
]
PROVIDERS = [
    ("ARIVERA", "Alex Rivera, LCSW"),
    ("BCHEN", "Blair Chen, PhD"),
    ("CMORGAN", "Casey Morgan, LPC"),
    ("DPATEL", "Devon Patel, MD"),
    ("EBROOKS", "Emerson Brooks, LMFT"),
    ("FNGUYEN", "Finley Nguyen, PsyD"),
    ("GHAYES", "Gray Hayes, LPC"),
    ("HKIM", "Harper Kim, LCSW"),
]
PROC_CODES = [
    ("90791", "Psychiatric diagnostic evaluation", "180.00"),
    ("90792", "Psychiatric diagnostic evaluation with medical services", "200.00"),
    ("90832", "Psychotherapy, 30 minutes", "80.00"),
    ("90834", "Psychotherapy, 45 minutes", "120.00"),
    ("90837", "Psychotherapy, 60 minutes", "160.00"),
    ("90846", "Family psychotherapy without patient", "110.00"),
    ("90847", "Family psychotherapy with patient", "120.00"),
    ("90853", "Group psychotherapy", "45.00"),
    ("90839", "Psychotherapy for crisis, first 60 minutes", "170.00"),
    ("90840", "Psychotherapy for crisis, each additional 30 minutes", "80.00"),
    ("99213", "Office visit, established, low complexity", "110.00"),
    ("99214", "Office visit, established, moderate complexity", "160.00"),
    ("96127", "Brief emotional/behavioral assessment", "10.00"),
    ("90785", "Interactive complexity add-on", "20.00"),
]
DIAGNOSES = [
    "F41.1",
    "F32.1",
    "F33.1",
    "F43.10",
    "F43.23",
    "F90.0",
    "F41.0",
    "F42.2",
    "F31.81",
    "F40.10",
    "Z63.0",
]
APPT_TYPES = [
    ("THERAPY 45", "90834", 45),
    ("THERAPY 60", "90837", 60),
    ("THERAPY 30", "90832", 30),
    ("INTAKE", "90791", 60),
    ("FAMILY", "90847", 50),
    ("MED MGMT", "99214", 30),
]
PAST_STATUSES = [(3, 70), (12, 8), (10, 10), (5, 3), (11, 2), (1, 2), (2, 2), (0, 3)]
FUTURE_STATUSES = [(0, 88), (10, 7), (5, 3), (11, 2)]
CLAIM_OUTCOMES = [
    ("F1", "1", True),
    ("F1", "1", True),
    ("F1", "1", True),
    ("F2", "65", False),
    ("P1", "20", False),
    ("A2", "20", False),
    ("A7", "21", False),
    ("F4", "3", False),
]


def _weighted(rng: random.Random, choices: Sequence[tuple[int, int]]) -> int:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def _ascii(text: str) -> str:
    return (
        unicodedata.normalize("NFKD", text)
        .encode("ascii", "ignore")
        .decode()
        .replace("'", "")
        .replace(" ", "")
    )


def whole_seconds(at: datetime) -> datetime:
    return at.replace(microsecond=0)


class SimulatorDataset:
    """All data of one office key, with a mutation API that maintains the change log."""

    def __init__(
        self,
        office_key: str,
        *,
        providers: Iterable[SimProvider] = (),
        proc_codes: Iterable[SimProcCode] = (),
    ) -> None:
        if not office_key.isdigit():
            raise ValueError("office key must be digits")
        self.office_key = office_key
        self.providers: dict[int, SimProvider] = {p.provider_id: p for p in providers}
        self.proc_codes: dict[int, SimProcCode] = {p.proccode_id: p for p in proc_codes}
        self.patients: dict[int, SimPatient] = {}
        self.visits: dict[int, SimVisit] = {}
        self.charges: dict[int, SimCharge] = {}
        self.eligibility: dict[tuple[int, int], SimEligibility] = {}
        self.claim_statuses: dict[int, list[SimClaimStatus]] = {}
        self.transactions: dict[int, SimTransaction] = {}
        self.change_log: list[ChangeEvent] = []
        self._event_times: list[datetime] = []
        self._created: dict[str, dict[int, datetime]] = {PATIENT: {}, VISIT: {}, CHARGE: {}}
        self._deleted: dict[str, dict[int, datetime]] = {PATIENT: {}, VISIT: {}, CHARGE: {}}
        self._visit_charges: dict[int, list[int]] = {}
        base = {
            "patient": 10_000,
            "visit": 500_000,
            "charge": 2_000_000,
            "insurance": 30_000,
            "carrier": 100,
            "eligibility": 70_000,
            "claim": 900_000,
            "tx": 5_000_000,
        }
        self._ids = {kind: itertools.count(start) for kind, start in base.items()}
        self.lock = threading.RLock()
        self.clock: Clock | None = None

    # ------------------------------------------------------------------ ids, time, log

    def new_id(self, kind: str) -> int:
        """Allocate an id (kinds: patient, visit, charge, insurance, carrier, eligibility, claim)."""
        with self.lock:
            return next(self._ids[kind])

    def _reserve_ids(self, kind: str, used: int) -> None:
        # Keep the allocator ahead of ids supplied by callers (adapters bring their own).
        counter = self._ids[kind]
        nxt = next(counter)
        self._ids[kind] = itertools.count(max(nxt, used + 1))

    def now(self) -> datetime:
        if self.clock is None:
            raise RuntimeError("dataset has no clock: pass at= or serve it with start_simulator")
        return self.clock.now()

    def _stamp(self, at: datetime | None) -> datetime:
        stamp = floor_millis((at or self.now()).astimezone(UTC))
        return stamp

    def _log(self, entity: str, record_id: int, kind: str, at: datetime) -> None:
        event = ChangeEvent(at, entity, record_id, kind)
        if not self._event_times or at >= self._event_times[-1]:
            self._event_times.append(at)
            self.change_log.append(event)
        else:  # generated history arrives out of order
            idx = bisect.bisect_right(self._event_times, at)
            self._event_times.insert(idx, at)
            self.change_log.insert(idx, event)
        if kind == "N":
            self._created[entity][record_id] = at
        elif kind == "D":
            self._deleted[entity][record_id] = at

    # ------------------------------------------------------------------ mutations

    def add_patient(self, patient: SimPatient, *, at: datetime | None = None) -> SimPatient:
        """Add a patient (``patient_id=0`` allocates one); logs N."""
        with self.lock:
            stamp = self._stamp(at)
            if patient.patient_id == 0:
                patient.patient_id = self.new_id("patient")
            elif patient.patient_id in self.patients:
                raise ValueError(f"patient {patient.patient_id} exists")
            self._reserve_ids("patient", patient.patient_id)
            for ins in patient.insurances:
                if ins.insurance_id == 0:
                    ins.insurance_id = self.new_id("insurance")
            patient.created_at = patient.created_at or whole_seconds(stamp)
            patient.changed_at = patient.changed_at or patient.created_at
            self.patients[patient.patient_id] = patient
            self._log(PATIENT, patient.patient_id, "N", stamp)
            return patient

    def update_patient(self, patient_id: int, *, at: datetime | None = None, **changes: object) -> SimPatient:
        """Change fields of a live patient; logs C."""
        with self.lock:
            self._require_live(PATIENT, patient_id)
            stamp = self._stamp(at)
            patient = replace(self.patients[patient_id], **changes)  # type: ignore[arg-type]
            patient.changed_at = whole_seconds(stamp)
            self.patients[patient_id] = patient
            self._log(PATIENT, patient_id, "C", stamp)
            return patient

    def delete_patient(self, patient_id: int, *, at: datetime | None = None) -> None:
        """Delete a patient without live visits (AdvancedMD refuses otherwise); logs D."""
        with self.lock:
            self._require_live(PATIENT, patient_id)
            if any(
                v.patient_id == patient_id and self.is_live(VISIT, v.visit_id) for v in self.visits.values()
            ):
                raise ValueError(f"patient {patient_id} has visits")
            self._log(PATIENT, patient_id, "D", self._stamp(at))

    def add_visit(self, visit: SimVisit, *, at: datetime | None = None) -> SimVisit:
        """Add a visit (``visit_id=0`` allocates one); logs N."""
        with self.lock:
            self._require_live(PATIENT, visit.patient_id)
            stamp = self._stamp(at)
            if visit.visit_id == 0:
                visit.visit_id = self.new_id("visit")
            elif visit.visit_id in self.visits:
                raise ValueError(f"visit {visit.visit_id} exists")
            self._reserve_ids("visit", visit.visit_id)
            visit.created_at = visit.created_at or whole_seconds(stamp)
            visit.modified_at = visit.modified_at or visit.created_at
            self.visits[visit.visit_id] = visit
            self._visit_charges.setdefault(visit.visit_id, [])
            self._log(VISIT, visit.visit_id, "N", stamp)
            return visit

    def update_visit(self, visit_id: int, *, at: datetime | None = None, **changes: object) -> SimVisit:
        """Change fields of a live visit (e.g. ``appt_status=3``); logs C."""
        with self.lock:
            self._require_live(VISIT, visit_id)
            stamp = self._stamp(at)
            visit = replace(self.visits[visit_id], **changes)  # type: ignore[arg-type]
            visit.modified_at = whole_seconds(stamp)
            self.visits[visit_id] = visit
            self._log(VISIT, visit_id, "C", stamp)
            return visit

    def delete_visit(self, visit_id: int, *, at: datetime | None = None) -> None:
        """Delete a visit and its charges; logs D for each."""
        with self.lock:
            self._require_live(VISIT, visit_id)
            stamp = self._stamp(at)
            for cid in self._visit_charges.get(visit_id, []):
                if self.is_live(CHARGE, cid):
                    self._log(CHARGE, cid, "D", stamp)
            self._log(VISIT, visit_id, "D", stamp)

    def post_charges(
        self, visit_id: int, specs: Sequence[ChargeSpec], *, at: datetime | None = None
    ) -> list[SimCharge]:
        """savecharges semantics: void the visit's live charges, add the new ones, mark the visit
        as charges-posted (which getupdatedvisits reports as visit ``D``)."""
        with self.lock:
            self._require_live(VISIT, visit_id)
            stamp = self._stamp(at)
            visit = self.visits[visit_id]
            for cid in self._visit_charges.get(visit_id, []):
                if self.is_live(CHARGE, cid):
                    self._log(CHARGE, cid, "D", stamp)
            created: list[SimCharge] = []
            fees = {p.cpt: p.fee for p in self.proc_codes.values()}
            posting = stamp.astimezone(PRACTICE_TZ).date()
            for spec in specs:
                fee = spec.fee if spec.fee is not None else fees.get(spec.cpt_code, Decimal("0")) * spec.units
                charge = SimCharge(
                    charge_id=self.new_id("charge"),
                    visit_id=visit_id,
                    patient_id=visit.patient_id,
                    cpt_code=spec.cpt_code,
                    modifiers=tuple(spec.modifiers),
                    units=spec.units,
                    fee=Decimal(fee).quantize(Decimal("0.01")),
                    diagnosis_codes=tuple(spec.diagnosis_codes),
                    begin_dos=visit.visit_date,
                    end_dos=visit.visit_date,
                    pos=spec.pos,
                    posting_date=posting,
                    created_at=whole_seconds(stamp),
                    changed_at=whole_seconds(stamp),
                )
                self.charges[charge.charge_id] = charge
                self._visit_charges.setdefault(visit_id, []).append(charge.charge_id)
                self._log(CHARGE, charge.charge_id, "N", stamp)
                created.append(charge)
            visit.charges_posted = True
            visit.modified_at = whole_seconds(stamp)
            self._log(VISIT, visit_id, "P", stamp)
            return created

    def add_transaction(
        self,
        charge_id: int,
        kind: str,
        amount: Decimal,
        tx_date: date,
        *,
        source: str = "INS",
        code: str = "",
    ) -> SimTransaction:
        """Post a payment or write-off to a live charge (gettxhistory lists it)."""
        if kind not in ("PAYMENT", "WRITEOFF") or source not in ("INS", "PAT"):
            raise ValueError("kind is PAYMENT or WRITEOFF, source INS or PAT")
        with self.lock:
            self._require_live(CHARGE, charge_id)
            tx = SimTransaction(
                self.new_id("tx"),
                charge_id,
                kind,
                Decimal(amount).quantize(Decimal("0.01")),
                tx_date,
                source,
                code,
            )
            self.transactions[tx.tx_id] = tx
            return tx

    def transactions_of_charge(self, charge_id: int) -> list[SimTransaction]:
        with self.lock:
            return [t for t in self.transactions.values() if t.charge_id == charge_id and not t.voided]

    def _require_live(self, entity: str, record_id: int) -> None:
        if not self.is_live(entity, record_id):
            raise KeyError(f"no live {entity} {record_id}")

    # ------------------------------------------------------------------ queries

    def is_live(self, entity: str, record_id: int) -> bool:
        with self.lock:
            return record_id in self._created[entity] and record_id not in self._deleted[entity]

    def live_patients(self) -> list[SimPatient]:
        with self.lock:
            return [p for pid, p in sorted(self.patients.items()) if self.is_live(PATIENT, pid)]

    def live_visits(self) -> list[SimVisit]:
        with self.lock:
            return [v for vid, v in sorted(self.visits.items()) if self.is_live(VISIT, vid)]

    def live_charges(self) -> list[SimCharge]:
        with self.lock:
            return [
                c
                for cid, c in sorted(self.charges.items())
                if self.is_live(CHARGE, cid) and self.is_live(VISIT, c.visit_id)
            ]

    def charge_ids_of_visit(self, visit_id: int) -> list[int]:
        with self.lock:
            return list(self._visit_charges.get(visit_id, []))

    def created_at(self, entity: str, record_id: int) -> datetime | None:
        return self._created[entity].get(record_id)

    def last_event_at(self, entity: str, record_id: int) -> datetime | None:
        with self.lock:
            for ev in reversed(self.change_log):
                if ev.entity == entity and ev.record_id == record_id:
                    return ev.at
            return None

    def window_changes(
        self, entity: str, start: datetime, end: datetime, ids: Iterable[int] | None = None
    ) -> list[tuple[int, str]]:
        """(id, status) for records changed in ``[start, end)``.

        Status is N (created in the window), C (existed before), D (existed before and deleted
        in the window), or ``DP`` for visits that existed before and had charges posted (the
        wire shows ``D`` with the visit's fields). Created-and-deleted-within is omitted.
        """
        wanted = None if ids is None else set(ids)
        with self.lock:
            lo = bisect.bisect_left(self._event_times, start)
            hi = bisect.bisect_left(self._event_times, end)
            touched: dict[int, set[str]] = {}
            for ev in self.change_log[lo:hi]:
                if ev.entity == entity and (wanted is None or ev.record_id in wanted):
                    touched.setdefault(ev.record_id, set()).add(ev.kind)
            out: list[tuple[int, str]] = []
            for rid in sorted(touched):
                created = self._created[entity].get(rid)
                deleted = self._deleted[entity].get(rid)
                if created is None:
                    continue
                existed_before = created < start and (deleted is None or deleted >= start)
                if deleted is not None and start <= deleted < end:
                    if existed_before:
                        out.append((rid, "D"))
                elif existed_before:
                    out.append((rid, "DP" if "P" in touched[rid] else "C"))
                elif start <= created < end:
                    out.append((rid, "N"))
            return out

    # ------------------------------------------------------------------ synthetic data

    @classmethod
    def synthetic(
        cls,
        seed: int = 0,
        n_patients: int = 200,
        n_days: int = 30,
        *,
        office_key: str = "991001",
        anchor: datetime | None = None,
        future_days: int = 14,
        n_providers: int = 6,
        visits_per_provider_per_day: int = 6,
    ) -> SimulatorDataset:
        """Deterministic synthetic practice: every record is created before ``anchor``.

        Visits cover ``n_days`` weekdays-worth of history before the anchor date and
        ``future_days`` after it; past visits carry the full range of appointment statuses
        (0/1/2/3/5/10/11/12) and Seen visits have charges.
        """
        rng = random.Random(seed)
        anchor = anchor or datetime(2025, 3, 10, 0, 0, tzinfo=PRACTICE_TZ)
        anchor_utc = anchor.astimezone(UTC)
        today = anchor.astimezone(PRACTICE_TZ).date()
        providers = [
            SimProvider(200 + i, code, name) for i, (code, name) in enumerate(PROVIDERS[:n_providers])
        ]
        procs = [
            SimProcCode(700 + i, cpt, desc, Decimal(fee)) for i, (cpt, desc, fee) in enumerate(PROC_CODES)
        ]
        ds = cls(office_key, providers=providers, proc_codes=procs)
        carrier_ids = {code: ds.new_id("carrier") for code, _ in CARRIERS}

        def past(days_lo: int, days_hi: int) -> datetime:
            return whole_seconds(
                anchor_utc - timedelta(days=rng.randint(days_lo, days_hi), seconds=rng.randint(60, 86_000))
            )

        patients: list[SimPatient] = []
        for i in range(n_patients):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, zip_code = rng.choice(CITIES)
            created = past(n_days + 2, 900)
            dob = date(1950, 1, 1) + timedelta(days=rng.randint(0, 65 * 365))
            insurances = []
            for seq in range(1, rng.choices([0, 1, 2], weights=[10, 70, 20])[0] + 1):
                code, name = rng.choice(CARRIERS)
                start = created.date() - timedelta(days=rng.randint(0, 400))
                ended = rng.random() < 0.08
                insurances.append(
                    SimInsurance(
                        insurance_id=ds.new_id("insurance"),
                        carrier_id=carrier_ids[code],
                        carrier_code=code,
                        carrier_name=name,
                        sequence=seq,
                        subscriber_id=f"{code[:3]}{rng.randint(10**8, 10**9 - 1)}",
                        relationship=rng.choices(["SELF", "SPOUSE", "CHILD"], weights=[80, 10, 10])[0],
                        group_number=None if code in ("GAMCD", "MCARE") else f"G{rng.randint(1000, 99999)}",
                        group_name=None
                        if code in ("GAMCD", "MCARE")
                        else rng.choice(
                            ["Acme Logistics", "Peach State Schools", "Northside Health", "City of Macon"]
                        ),
                        copay=Decimal(rng.choice(["0.00", "20.00", "25.00", "30.00", "40.00"])),
                        effective_start=start,
                        effective_end=(today - timedelta(days=rng.randint(1, 60))) if ended else None,
                        active=not ended,
                    )
                )
            patient = SimPatient(
                patient_id=ds.new_id("patient"),
                chart=f"C{100000 + i}",
                last_name=last,
                first_name=first,
                middle_name=rng.choice([None, None, "A", "J", "Marie", "Lee"]),
                dob=dob,
                sex=rng.choice(["F", "M", "F", "M", "U"]),
                address1=f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                address2=rng.choice([None, None, None, f"Apt {rng.randint(1, 40)}"]),
                city=city,
                state="GA",
                zip_code=zip_code if rng.random() < 0.8 else f"{zip_code}-{rng.randint(1000, 9999)}",
                home_phone=f"(404) 555-01{rng.randint(0, 99):02d}",
                office_phone=None if rng.random() < 0.7 else f"(678) 555-01{rng.randint(0, 99):02d}",
                email=f"{_ascii(first).lower()}.{_ascii(last).lower()}{i}@example.com"
                if rng.random() < 0.85
                else None,
                provider_id=rng.choice(providers).provider_id,
                fin_class_code=rng.choice(["COM", "COM", "MCD", "MCR", "SELF"]),
                insurances=insurances,
                created_at=created,
            )
            ds.add_patient(patient, at=created)
            if rng.random() < 0.4:
                changed = past(1, max(2, n_days))
                if changed > created:
                    ds.update_patient(
                        patient.patient_id, at=changed, home_phone=f"(470) 555-01{rng.randint(0, 99):02d}"
                    )
            patients.append(patient)
            for ins in insurances:
                reject = "72" if rng.random() < 0.03 else None
                ds.eligibility[(patient.patient_id, ins.insurance_id)] = SimEligibility(
                    patient_id=patient.patient_id,
                    insurance_id=ins.insurance_id,
                    active=ins.active and rng.random() > 0.05,
                    plan_name=f"{ins.carrier_code} {rng.choice(['PPO', 'HMO', 'EPO', 'STANDARD'])}",
                    copay=ins.copay,
                    deductible=Decimal(rng.choice(["500.00", "1000.00", "2500.00"])),
                    deductible_remaining=Decimal(rng.choice(["0.00", "250.00", "800.00"])),
                    reject_code=reject,
                )

        by_provider: dict[int, list[SimPatient]] = {}
        for p in patients:
            by_provider.setdefault(p.provider_id or 0, []).append(p)
        day = today - timedelta(days=n_days)
        while day < today + timedelta(days=future_days):
            if day.weekday() < 5:
                for prov in providers:
                    pool = by_provider.get(prov.provider_id) or patients
                    for slot in range(max(1, visits_per_provider_per_day + rng.randint(-2, 1))):
                        ds._synthetic_visit(rng, prov, rng.choice(pool), day, slot, today, anchor_utc)
            day += timedelta(days=1)

        for visit in ds.visits.values():
            if not visit.charges_posted:
                continue
            patient = ds.patients[visit.patient_id]
            if not patient.insurances:
                continue
            ins = patient.insurances[0]
            category, status, paid = rng.choice(CLAIM_OUTCOMES)
            total = sum((c.fee for c in ds.charges.values() if c.visit_id == visit.visit_id), Decimal("0"))
            ds.claim_statuses.setdefault(visit.visit_id, []).append(
                SimClaimStatus(
                    visit_id=visit.visit_id,
                    claim_id=ds.new_id("claim"),
                    carrier_code=ins.carrier_code,
                    category_code=category,
                    status_code=status,
                    payment_amount=(total * Decimal("0.7")).quantize(Decimal("0.01"))
                    if paid
                    else Decimal("0.00"),
                    icn=f"ICN{rng.randint(10**9, 10**10 - 1)}" if category.startswith("F") else None,
                )
            )
            ds._bill_visit(visit.visit_id, ins.carrier_code, paid, today)
        return ds

    def _bill_visit(self, visit_id: int, carrier_code: str, paid: bool, today: date) -> None:
        """A claimed visit's billing, as charge detail and gettxhistory show it: its charges billed to the carrier
        the day after charge entry, and, when the claim paid, each charge paid 70% by the insurer (the 277's payment
        amount) two weeks later and the rest written off CO45. No randomness: the practice's other data stays
        what the seed made it."""
        for charge_id in self.charge_ids_of_visit(visit_id):
            if not self.is_live(CHARGE, charge_id):
                continue
            charge = self.charges[charge_id]
            charge.date_billed = min(charge.posting_date + timedelta(days=1), today)
            charge.billed_carrier = carrier_code
            if paid:
                payment = (charge.fee * Decimal("0.7")).quantize(Decimal("0.01"))
                paid_on = min(charge.date_billed + timedelta(days=14), today)
                self.add_transaction(charge_id, "PAYMENT", payment, paid_on, source="INS", code="EFT")
                self.add_transaction(charge_id, "WRITEOFF", charge.fee - payment, paid_on, code="CO45")

    def _synthetic_visit(
        self,
        rng: random.Random,
        prov: SimProvider,
        patient: SimPatient,
        day: date,
        slot: int,
        today: date,
        anchor_utc: datetime,
    ) -> None:
        appt_type, cpt, minutes = rng.choice(APPT_TYPES)
        start = datetime.combine(day, dtime(8 + slot, rng.choice([0, 0, 30])))
        day_start_utc = datetime.combine(day, dtime(6), tzinfo=PRACTICE_TZ).astimezone(UTC)
        booked = whole_seconds(
            min(day_start_utc, anchor_utc)
            - timedelta(days=rng.randint(1, 30), seconds=rng.randint(0, 80_000))
        )
        status = _weighted(rng, PAST_STATUSES if day < today else FUTURE_STATUSES)
        visit = SimVisit(
            visit_id=0,
            patient_id=patient.patient_id,
            provider_id=prov.provider_id,
            facility_code=rng.choice(["MAIN", "MAIN", "TELE"]),
            appointment_type=appt_type,
            column_heading=prov.name,
            visit_date=day,
            start=start,
            duration_minutes=minutes,
            appt_status=0,
        )
        if booked < self.created_at(PATIENT, patient.patient_id):  # type: ignore[operator]
            booked = whole_seconds(self.created_at(PATIENT, patient.patient_id) + timedelta(minutes=5))  # type: ignore[operator]
        self.add_visit(visit, at=booked)
        if status != 0:
            when = min(
                anchor_utc - timedelta(minutes=1),
                max(booked + timedelta(minutes=1), day_start_utc + timedelta(hours=slot + 3)),
            )
            self.update_visit(visit.visit_id, at=whole_seconds(when), appt_status=status)
        if status == 3 and day < today - timedelta(days=1):
            posted = whole_seconds(
                min(
                    anchor_utc - timedelta(minutes=1),
                    day_start_utc + timedelta(days=1, hours=rng.randint(1, 30)),
                )
            )
            tele = visit.facility_code == "TELE"
            specs = [
                ChargeSpec(
                    cpt,
                    1,
                    None,
                    ("95",) if tele else (),
                    tuple(rng.sample(DIAGNOSES, rng.randint(1, 2))),
                    "10" if tele else "11",
                )
            ]
            if rng.random() < 0.15:
                specs.append(
                    ChargeSpec(
                        "96127", rng.randint(1, 2), None, (), specs[0].diagnosis_codes[:1], specs[0].pos
                    )
                )
            self.post_charges(visit.visit_id, specs, at=posted)

    # ------------------------------------------------------------------ random activity

    def apply_random_change(
        self, rng: random.Random, *, at: datetime | None = None
    ) -> tuple[str, str, int] | None:
        """Make one plausible change (front-desk, clinician or biller activity) at ``at``.

        Returns (what, entity, id), or None if the chosen change had no candidate.
        """
        with self.lock:
            stamp = at or self.now()
            today = stamp.astimezone(PRACTICE_TZ).date()
            kind = rng.choices(
                [
                    "patient_update",
                    "patient_new",
                    "patient_delete",
                    "visit_progress",
                    "visit_new",
                    "visit_delete",
                    "post_charges",
                    "repost_charges",
                ],
                weights=[25, 5, 1, 35, 15, 2, 15, 2],
            )[0]
            live_visits = [v for v in self.live_visits()]
            if kind == "patient_update":
                p = rng.choice(self.live_patients())
                field_name, value = rng.choice(
                    [
                        ("home_phone", f"(404) 555-01{rng.randint(0, 99):02d}"),
                        ("address1", f"{rng.randint(10, 9999)} {rng.choice(STREETS)}"),
                        ("email", f"updated{rng.randint(1, 9999)}@example.com"),
                        ("fin_class_code", rng.choice(["COM", "MCD", "SELF"])),
                    ]
                )
                self.update_patient(p.patient_id, at=stamp, **{field_name: value})
                return kind, PATIENT, p.patient_id
            if kind == "patient_new":
                city, zip_code = rng.choice(CITIES)
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                p = SimPatient(
                    0,
                    f"N{rng.randint(100000, 999999)}",
                    last,
                    first,
                    None,
                    date(1960, 1, 1) + timedelta(days=rng.randint(0, 20000)),
                    rng.choice(["F", "M"]),
                    f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                    None,
                    city,
                    "GA",
                    zip_code,
                    f"(404) 555-01{rng.randint(0, 99):02d}",
                    None,
                    None,
                    rng.choice(list(self.providers)),
                    "SELF",
                    [],
                )
                self.add_patient(p, at=stamp)
                return kind, PATIENT, p.patient_id
            if kind == "patient_delete":
                with_visits = {v.patient_id for v in live_visits}
                candidates = [p for p in self.live_patients() if p.patient_id not in with_visits]
                if not candidates:
                    return None
                p = rng.choice(candidates)
                self.delete_patient(p.patient_id, at=stamp)
                return kind, PATIENT, p.patient_id
            if kind == "visit_progress":
                todays = [v for v in live_visits if v.visit_date == today and v.appt_status in (0, 1)]
                if not todays:
                    todays = [v for v in live_visits if v.visit_date > today and v.appt_status == 0]
                if not todays:
                    return None
                v = rng.choice(todays)
                if v.visit_date > today:
                    new_status = rng.choice([10, 5, 0])
                elif v.appt_status == 0:
                    new_status = rng.choices([1, 12, 10], weights=[80, 12, 8])[0]
                else:
                    new_status = 3
                self.update_visit(v.visit_id, at=stamp, appt_status=new_status)
                return kind, VISIT, v.visit_id
            if kind == "visit_new":
                patient = rng.choice(self.live_patients())
                prov = self.providers.get(patient.provider_id or 0) or next(iter(self.providers.values()))
                appt_type, _cpt, minutes = rng.choice(APPT_TYPES)
                day = today + timedelta(days=rng.randint(1, 21))
                v = SimVisit(
                    0,
                    patient.patient_id,
                    prov.provider_id,
                    "MAIN",
                    appt_type,
                    prov.name,
                    day,
                    datetime.combine(day, dtime(rng.randint(8, 17), 0)),
                    minutes,
                    0,
                )
                self.add_visit(v, at=stamp)
                return kind, VISIT, v.visit_id
            if kind == "visit_delete":
                candidates = [v for v in live_visits if v.visit_date >= today and v.appt_status == 0]
                if not candidates:
                    return None
                v = rng.choice(candidates)
                self.delete_visit(v.visit_id, at=stamp)
                return kind, VISIT, v.visit_id
            if kind in ("post_charges", "repost_charges"):
                want_posted = kind == "repost_charges"
                candidates = [
                    v for v in live_visits if v.appt_status == 3 and v.charges_posted == want_posted
                ]
                if not candidates:
                    return None
                v = rng.choice(candidates)
                appt = next((a for a in APPT_TYPES if a[0] == v.appointment_type), APPT_TYPES[0])
                self.post_charges(
                    v.visit_id, [ChargeSpec(appt[1], 1, None, (), (rng.choice(DIAGNOSES),))], at=stamp
                )
                return kind, VISIT, v.visit_id
            return None
