"""The synthetic practice seen from the billing system: a generated ``Practice`` as simulator data.

The same clients, appointments, charges and insurance policies the operational store holds,
the way AdvancedMD would hold them after our platform pushed them there:

* every client is a patient whose chart number is ``MS`` + our client id (``linking.py``), with
  ``external_client_id`` set (simulator-side ground truth for tests); demographics as stored by us
  (synthetic names only); sex ``F``/``M``, anything else ``U``;
* every clinician is a provider profile ``MSU`` + user id, with the user's NPI when the store has one; every
  payer a carrier (its payer code);
* every insurance policy is a coverage (rank = sequence, member id = subscriber id), active
  unless terminated before the as-of date; eligibility answers follow the policy's latest
  verification (FAILED = inactive);
* every appointment is a visit (``external_appointment_id``) on its practice-local date and
  wall-clock start, replaying its status history through :data:`APPT_STATUS_TO_AMD`;
* every charge with an appointment is posted to that visit (savecharges semantics: one posting
  per appointment, at the charge-entry time). Charges without an appointment (a data-quality slip
  the generator makes on purpose) have no visit to sit on in AdvancedMD and are left out.
* every claim bills its charges (``datebilled`` = the practice-local day it was submitted, ``lastbilledcarrier`` =
  its payer) and is answered by the 277 of its visit at that carrier (``_claim_category``);

Appointment status mapping (operational -> AdvancedMD ``ApptStatus``), from the reference's
codes 0 Made, 1 Arrived, 2 Other, 3 Seen, 5 Moved, 10 Cancelled, 11 Deleted, 12 NoShow:

=============  ====  =================================================================
SCHEDULED      0     Made
CONFIRMED      0     Made: AdvancedMD keeps confirmation apart (ConfirmMethod/ConfirmedAt)
CHECKED_IN     1     Arrived
COMPLETED      3     Seen
NO_SHOW        12    NoShow
CANCELLED      10    Cancelled
RESCHEDULED    5     Moved: the replacement is its own visit, as in our store
=============  ====  =================================================================

2 (Other, a practice-defined step between arrival and seen) and 11 (Deleted: entered in error)
have no operational counterpart; the warehouse maps them back as CHECKED_IN and "not an
appointment" (``dbt_project/seeds/terminology__advancedmd_appointment_statuses.csv``).

Every change is stamped no later than ``latest`` (default: one minute before
:func:`simulator_clock_start`), so a simulator started at that instant sees a settled practice
and its first incremental window is empty.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ingest.advancedmd.linking import chart_for_client
from ingest.advancedmd.simulator.dataset import (
    ChargeSpec,
    SimClaimStatus,
    SimEligibility,
    SimInsurance,
    SimPatient,
    SimProcCode,
    SimProvider,
    SimulatorDataset,
    SimVisit,
)

MOUNTAIN = ZoneInfo("America/Denver")
DEFAULT_OFFICE_KEY = "991001"
PROVIDER_ID_BASE = 2_000
PROVIDER_CODE_PREFIX = "MSU"

APPT_STATUS_TO_AMD: Mapping[str, int] = {
    "SCHEDULED": 0,
    "CONFIRMED": 0,
    "CHECKED_IN": 1,
    "COMPLETED": 3,
    "NO_SHOW": 12,
    "CANCELLED": 10,
    "RESCHEDULED": 5,
}
APPOINTMENT_TYPE_LABELS: Mapping[str, str] = {
    "INITIAL_EVALUATION": "INTAKE",
    "THERAPY_SESSION": "THERAPY",
    "FOLLOW_UP": "FOLLOW UP",
    "MEDICATION_MANAGEMENT": "MED MGMT",
    "FAMILY_THERAPY": "FAMILY",
    "GROUP_THERAPY": "GROUP",
}
SEX_CODES: Mapping[str, str] = {"F": "F", "M": "M"}
MEDICAID_PAYER_CODES = frozenset({"SYN05"})
TELEHEALTH_POS = "10"
OFFICE_POS = "11"
# The facility a telehealth session is booked at, and the AdvancedMD user our client portal books through
# (CreatedBy): AdvancedMD has no telehealth or "booked online" flag on a visit, so the warehouse reads them
# from these (dbt vars advancedmd_telehealth_facility_codes / advancedmd_online_booking_users, whose
# defaults are these values; a practice sets its own).
TELEHEALTH_FACILITY = "TELE"
OFFICE_FACILITY = "MAIN"
ONLINE_BOOKING_USER = "PORTAL"
FRONT_DESK_USER = "FRONTDESK"


class _Table(Protocol):
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class _Practice(Protocol):
    """What the adapter reads from ``operational_api.synthetic.Practice`` (duck-typed, no import)."""

    spec: Any
    tables: Mapping[str, _Table]


def simulator_clock_start(as_of: dt.date) -> dt.datetime:
    """02:00 Mountain Time the day after ``as_of``: off-peak, and after every change of the practice."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(2), tzinfo=MOUNTAIN)


def _rows(practice: _Practice, name: str) -> Iterator[dict[str, Any]]:
    table = practice.tables[name]
    for row in table.rows:
        yield dict(zip(table.columns, row, strict=True))


def _utc(naive_utc: dt.datetime | None) -> dt.datetime | None:
    return None if naive_utc is None else naive_utc.replace(tzinfo=dt.UTC)


@dataclass(order=True)
class _Event:
    at: dt.datetime
    rank: int  # patient < visit < status change < charges, for events in the same instant
    seq: int
    kind: str
    ref: int


def dataset_from_practice(
    practice: _Practice,
    *,
    office_key: str = DEFAULT_OFFICE_KEY,
    latest: dt.datetime | None = None,
    post_charges: bool = True,
) -> SimulatorDataset:
    """Build the simulator dataset of ``practice`` (deterministic: same practice, same dataset and ids).

    ``post_charges=False``: the practice's charges are not in AdvancedMD yet (billing kept in the store,
    charges sent by our savecharges asset)."""
    spec = practice.spec
    tz = ZoneInfo(spec.timezone)
    latest = (latest or simulator_clock_start(spec.as_of) - dt.timedelta(minutes=1)).astimezone(dt.UTC)

    users = {u["id"]: u for u in _rows(practice, "users")}
    providers = [
        SimProvider(
            PROVIDER_ID_BASE + uid,
            f"{PROVIDER_CODE_PREFIX}{uid:04d}",
            f"{u['first_name']} {u['last_name']}, {u['license_type']}",
            npi=u.get("npi"),  # the profile carries the clinician's NPI when the store knows it (link by NPI)
        )
        for uid, u in sorted(users.items())
        if u["role"] in ("CLINICIAN", "SUPERVISOR")
    ]
    fees: dict[str, Decimal] = {}
    for charge in _rows(practice, "charges"):
        fees.setdefault(charge["cpt_code"], charge["charge_amount"])
    proc_codes = [SimProcCode(700 + i, cpt, cpt, fee) for i, (cpt, fee) in enumerate(sorted(fees.items()))]
    ds = SimulatorDataset(office_key, providers=providers, proc_codes=proc_codes)
    provider_by_user = {p.provider_id - PROVIDER_ID_BASE: p for p in providers}

    payers = {p["id"]: p for p in _rows(practice, "payers")}
    carrier_ids = {pid: ds.new_id("carrier") for pid in sorted(payers)}
    guarded = {g["client_id"] for g in _rows(practice, "guardians")}
    policies: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for policy in _rows(practice, "insurance_policies"):
        policies[policy["client_id"]].append(policy)
    latest_check: dict[int, dict[str, Any]] = {}
    for check in _rows(practice, "insurance_verifications"):
        seen = latest_check.get(check["policy_id"])
        if seen is None or check["verified_at"] >= seen["verified_at"]:
            latest_check[check["policy_id"]] = check
    history: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for change in _rows(practice, "appointment_status_history"):
        history[change["appointment_id"]].append(change)
    charges_by_appt: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for charge in _rows(practice, "charges"):
        if charge["appointment_id"] is not None:
            charges_by_appt[charge["appointment_id"]].append(charge)

    def clamp(at: dt.datetime | None, floor: dt.datetime | None = None) -> dt.datetime:
        stamp = min(_utc(at) or latest, latest)
        return max(stamp, floor) if floor is not None else stamp

    events: list[_Event] = []
    seq = iter(range(10**9))
    clients = {c["id"]: c for c in _rows(practice, "clients")}
    appointments = {a["id"]: a for a in _rows(practice, "appointments")}
    # AdvancedMD needs the patient before any visit or charge of theirs: a client whose store record was
    # created after their first booking or charge entry existed in AdvancedMD from that moment, so the
    # visit's and charges' own times survive (flooring them at the client's creation would move them).
    first_activity: dict[int, dt.datetime] = {}
    for appt in appointments.values():
        stamps = [appt["booked_at"], *(c["created_at"] for c in charges_by_appt.get(appt["id"], ()))]
        for stamp in (s for s in stamps if s is not None):
            seen = first_activity.get(appt["client_id"])
            first_activity[appt["client_id"]] = stamp if seen is None else min(seen, stamp)
    patient_created: dict[int, dt.datetime] = {}
    for cid, client in sorted(clients.items()):
        created = client["created_at"]
        if cid in first_activity and (created is None or first_activity[cid] < created):
            created = first_activity[cid]
        patient_created[cid] = clamp(created)
        events.append(_Event(patient_created[cid], 0, next(seq), "patient", cid))
    visit_created: dict[int, dt.datetime] = {}
    for aid, appt in sorted(appointments.items()):
        created = clamp(appt["booked_at"], patient_created[appt["client_id"]])
        visit_created[aid] = created
        events.append(_Event(created, 1, next(seq), "visit", aid))
        code, last_at = 0, created
        transitions = [(h["changed_at"], APPT_STATUS_TO_AMD[h["status"]]) for h in history.get(aid, ())]
        transitions.sort(key=lambda t: t[0])
        final = APPT_STATUS_TO_AMD[appt["status"]]
        if not transitions or transitions[-1][1] != final:
            transitions.append((appt["status_changed_at"] or appt["booked_at"], final))
        for at, new_code in transitions:
            if new_code != code:
                last_at = clamp(at, last_at)
                events.append(_Event(last_at, 2, next(seq), f"status:{new_code}", aid))
                code = new_code
        if aid in charges_by_appt and post_charges:
            entered = min(c["created_at"] for c in charges_by_appt[aid])
            events.append(_Event(clamp(entered, created), 3, next(seq), "charges", aid))
    events.sort()

    patient_ids: dict[int, int] = {}
    visit_ids: dict[int, int] = {}
    amd_charge: dict[int, int] = {}  # store charge id -> AdvancedMD charge id
    for ev in events:
        if ev.kind == "patient":
            patient = _patient(
                clients[ev.ref],
                policies.get(ev.ref, []),
                payers,
                carrier_ids,
                provider_by_user,
                ev.ref in guarded,
                spec.as_of,
            )
            ds.add_patient(patient, at=ev.at)
            patient_ids[ev.ref] = patient.patient_id
            for ins, policy in zip(
                patient.insurances, sorted(policies.get(ev.ref, []), key=_rank), strict=True
            ):
                check = latest_check.get(policy["id"])
                ds.eligibility[(patient.patient_id, ins.insurance_id)] = SimEligibility(
                    patient_id=patient.patient_id,
                    insurance_id=ins.insurance_id,
                    active=ins.active and (check is None or check["status"] != "FAILED"),
                    plan_name=f"{ins.carrier_code} PLAN",
                    copay=None,
                    deductible=None,
                    deductible_remaining=None,
                )
        elif ev.kind == "visit":
            appt = appointments[ev.ref]
            visit = _visit(
                appt,
                patient_ids[appt["client_id"]],
                provider_by_user[appt["clinician_id"]],
                tz,
                _confirmed_at(appt, history.get(ev.ref, [])),
            )
            ds.add_visit(visit, at=ev.at)
            visit_ids[ev.ref] = visit.visit_id
        elif ev.kind.startswith("status:"):
            ds.update_visit(visit_ids[ev.ref], at=ev.at, appt_status=int(ev.kind.split(":")[1]))
        else:
            appt = appointments[ev.ref]
            pos = TELEHEALTH_POS if appt["is_telehealth"] else OFFICE_POS
            ordered = sorted(charges_by_appt[ev.ref], key=lambda c: c["id"])
            specs = [
                ChargeSpec(
                    cpt_code=c["cpt_code"],
                    units=c["units"],
                    fee=c["charge_amount"],
                    modifiers=tuple(m for m in (c["modifiers"] or "").split(",") if m),
                    diagnosis_codes=tuple(d for d in (c["diagnosis_codes"] or "").split(",") if d),
                    pos=pos,
                )
                for c in ordered
            ]
            posted = ds.post_charges(visit_ids[ev.ref], specs, at=ev.at)
            amd_charge.update({c["id"]: sim.charge_id for c, sim in zip(ordered, posted, strict=True)})
    _add_transactions(practice, ds, amd_charge, tz)
    _add_claims(practice, ds, amd_charge, payers, tz)
    return ds


def _add_transactions(
    practice: _Practice, ds: SimulatorDataset, amd_charge: Mapping[int, int], tz: ZoneInfo
) -> None:
    """The store's payment applications and adjustments as gettxhistory's payments and write-offs of the
    charges AdvancedMD holds: an insurance payment when the payment came from a payer, else the patient's;
    every adjustment a write-off coded group + reason (CO45, PR1 ...). Dated on the practice-local day the
    money was posted to the charge (AdvancedMD's dates are the practice's days, not UTC)."""

    def local_day(naive_utc: dt.datetime) -> dt.date:
        return naive_utc.replace(tzinfo=dt.UTC).astimezone(tz).date()

    payments = {p["id"]: p for p in _rows(practice, "payments")}
    for app in sorted(_rows(practice, "payment_applications"), key=lambda a: a["id"]):
        charge_id = amd_charge.get(app["charge_id"])
        payment = payments[app["payment_id"]]
        if charge_id is not None and app["applied_amount"]:
            ds.add_transaction(
                charge_id,
                "PAYMENT",
                app["applied_amount"],
                local_day(app["applied_at"]),
                source="INS" if payment["payer_id"] is not None else "PAT",
                code=payment["payment_method"],
            )
    for adj in sorted(_rows(practice, "charge_adjustments"), key=lambda a: a["id"]):
        charge_id = amd_charge.get(adj["charge_id"])
        if charge_id is not None and adj["adjustment_amount"]:
            ds.add_transaction(
                charge_id,
                "WRITEOFF",
                adj["adjustment_amount"],
                local_day(adj["adjusted_at"]),
                source="PAT" if adj["group_code"] == "PR" else "INS",
                code=f"{adj['group_code']}{adj['carc_code']}",
            )


def _claim_category(claim: Mapping[str, Any]) -> tuple[str, str]:
    """The 277 category and status code answering a store claim, from the fields fct_claims reads its outcome
    from: rejected A7/21, denied F2/85, adjudicated (paid) F1/65, accepted A2/20, no answer yet A1/19 (the
    receipt only; dbt_project/seeds/terminology__x12_277_claim_categories.csv reads them back)."""
    status = claim["status"]
    if status == "REJECTED" or claim["rejected_at"] is not None:
        return "A7", "21"
    if status == "DENIED" or claim["denied_at"] is not None:
        return "F2", "85"
    if claim["adjudicated_at"] is not None or status in ("PAID", "PARTIALLY_PAID"):
        return "F1", "65"
    if status != "SUBMITTED" or claim["accepted_at"] is not None:
        return "A2", "20"
    return "A1", "19"


def _add_claims(
    practice: _Practice,
    ds: SimulatorDataset,
    amd_charge: Mapping[int, int],
    payers: Mapping[int, Mapping[str, Any]],
    tz: ZoneInfo,
) -> None:
    """The store's claims as AdvancedMD's: each claim's charges billed (datebilled: the practice-local day the
    claim was submitted; lastbilledcarrier: its payer's code), and the claim status the 277 answers for its
    visit at that carrier. Claims whose charges AdvancedMD does not hold (no appointment) are left out."""
    charges_of: dict[int, list[int]] = defaultdict(list)
    for charge in _rows(practice, "charges"):
        if charge["claim_id"] is not None and charge["id"] in amd_charge:
            charges_of[charge["claim_id"]].append(amd_charge[charge["id"]])
    for claim in sorted(_rows(practice, "claims"), key=lambda c: c["id"]):
        charge_ids = sorted(charges_of.get(claim["id"], ()))
        if not charge_ids or claim["submitted_at"] is None:
            continue
        carrier = payers[claim["payer_id"]]["payer_code"]
        billed = claim["submitted_at"].replace(tzinfo=dt.UTC).astimezone(tz).date()
        for charge_id in charge_ids:
            ds.charges[charge_id].date_billed = billed
            ds.charges[charge_id].billed_carrier = carrier
        category, status_code = _claim_category(claim)
        visit_id = ds.charges[charge_ids[0]].visit_id
        ds.claim_statuses.setdefault(visit_id, []).append(
            SimClaimStatus(
                visit_id=visit_id,
                claim_id=ds.new_id("claim"),
                carrier_code=carrier,
                category_code=category,
                status_code=status_code,
                payment_amount=None,
                icn=None,
            )
        )


def _rank(policy: Mapping[str, Any]) -> tuple[int, int]:
    return policy["rank"], policy["id"]


def _patient(
    client: Mapping[str, Any],
    policies: list[dict[str, Any]],
    payers: Mapping[int, Mapping[str, Any]],
    carrier_ids: Mapping[int, int],
    provider_by_user: Mapping[int, SimProvider],
    has_guardian: bool,
    as_of: dt.date,
) -> SimPatient:
    ordered = sorted(policies, key=_rank)
    insurances = [
        SimInsurance(
            insurance_id=0,
            carrier_id=carrier_ids[p["payer_id"]],
            carrier_code=payers[p["payer_id"]]["payer_code"],
            carrier_name=payers[p["payer_id"]]["name"],
            sequence=p["rank"],
            subscriber_id=p["member_id"],
            relationship="CHILD" if has_guardian else "SELF",
            group_number=p["group_number"],
            group_name=None,
            copay=None,
            effective_start=p["effective_date"],
            effective_end=p["termination_date"],
            active=p["termination_date"] is None or p["termination_date"] >= as_of,
        )
        for p in ordered
    ]
    if client["is_self_pay"] or not ordered:
        fin_class = "SELF"
    elif payers[ordered[0]["payer_id"]]["payer_code"] in MEDICAID_PAYER_CODES:
        fin_class = "MCD"
    else:
        fin_class = "COM"
    provider = provider_by_user.get(client["primary_clinician_id"])
    return SimPatient(
        patient_id=0,
        chart=chart_for_client(client["id"]),
        last_name=client["last_name"],
        first_name=client["first_name"],
        middle_name=None,
        dob=client["date_of_birth"],
        sex=SEX_CODES.get(client["gender"] or "", "U"),
        address1=client["address"],
        address2=None,
        city=client["city"],
        state=client["state"],
        zip_code=client["zip_code"],
        home_phone=client["phone"],
        office_phone=None,
        email=client["email"],
        provider_id=None if provider is None else provider.provider_id,
        fin_class_code=fin_class,
        insurances=insurances,
        external_client_id=str(client["id"]),
    )


def _local(naive_utc: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    """A naive UTC instant of the store as AdvancedMD's naive practice-local wall clock (whole seconds)."""
    if naive_utc is None:
        return None
    return naive_utc.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None, microsecond=0)


def _visit(
    appt: Mapping[str, Any],
    patient_id: int,
    provider: SimProvider,
    tz: ZoneInfo,
    confirmed_at: dt.datetime | None,
) -> SimVisit:
    start_local = appt["start_at"].replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)
    return SimVisit(
        visit_id=0,
        patient_id=patient_id,
        provider_id=provider.provider_id,
        facility_code=TELEHEALTH_FACILITY if appt["is_telehealth"] else OFFICE_FACILITY,
        appointment_type=APPOINTMENT_TYPE_LABELS.get(appt["appointment_type"], appt["appointment_type"]),
        column_heading=provider.name,
        visit_date=start_local.date(),
        start=start_local,
        duration_minutes=int((appt["end_at"] - appt["start_at"]).total_seconds() // 60),
        appt_status=0,
        external_appointment_id=str(appt["id"]),
        # The front desk's check-in and the clinician taking the client in (Arrived / Seen).
        arrive_time=_local(appt["arrived_at"], tz),
        seen_time=_local(appt["clinician_ready_at"], tz),
        confirmed_at=_utc(confirmed_at),
        created_by=ONLINE_BOOKING_USER if appt["is_booked_online"] else FRONT_DESK_USER,
    )


def _confirmed_at(appt: Mapping[str, Any], history: list[dict[str, Any]]) -> dt.datetime | None:
    """When the session was confirmed (AdvancedMD's ConfirmedAt): the first CONFIRMED step of its history, or its
    status time while it is still CONFIRMED."""
    steps = sorted(h["changed_at"] for h in history if h["status"] == "CONFIRMED")
    if steps:
        return steps[0]
    if appt["status"] == "CONFIRMED":
        return appt["status_changed_at"] or appt["booked_at"]
    return None


STORE_TABLES = (
    "users",
    "clients",
    "guardians",
    "payers",
    "insurance_policies",
    "insurance_verifications",
    "appointments",
    "appointment_status_history",
    "charges",
    "payments",
    "payment_applications",
    "charge_adjustments",
    "claims",
)


@dataclass
class _StoreTable:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass
class _StoreSpec:
    timezone: str
    as_of: dt.date


@dataclass
class _StorePractice:
    spec: _StoreSpec
    tables: dict[str, _StoreTable]


def _naive_utc(value: Any) -> Any:
    # The store keeps naive UTC; a PostgreSQL driver may hand back aware values.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def dataset_from_store(
    engine: Any,
    *,
    timezone: str,
    as_of: dt.date,
    office_key: str = DEFAULT_OFFICE_KEY,
    latest: dt.datetime | None = None,
    post_charges: bool = True,
) -> SimulatorDataset:
    """The simulator seeded from an operational store's rows (``engine``: a SQLAlchemy engine on it), as
    :func:`dataset_from_practice` seeds it from a generated practice: the same clients, appointments, charges,
    payments and adjustments, so a build with AdvancedMD as the system of record can be compared with one
    reading the store."""
    import sqlalchemy as sa

    from operational_api.models import Base

    tables: dict[str, _StoreTable] = {}
    with engine.connect() as conn:
        for name in STORE_TABLES:
            table = Base.metadata.tables[name]
            result = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            columns = tuple(result.keys())
            rows = [tuple(_naive_utc(v) for v in row) for row in result]
            tables[name] = _StoreTable(columns, rows)
    practice = _StorePractice(_StoreSpec(timezone, as_of), tables)
    return dataset_from_practice(practice, office_key=office_key, latest=latest, post_charges=post_charges)


def synthetic_practice_dataset(
    *,
    clinicians: int,
    months: int,
    seed: int,
    as_of: dt.date,
    timezone: str = "America/New_York",
    office_key: str = DEFAULT_OFFICE_KEY,
    latest: dt.datetime | None = None,
) -> SimulatorDataset:
    """Generate the synthetic practice (``operational_api.synthetic``) and adapt it."""
    from operational_api.synthetic import PracticeSpec, generate

    spec = PracticeSpec(clinicians=clinicians, months=months, seed=seed, as_of=as_of, timezone=timezone)
    return dataset_from_practice(generate(spec), office_key=office_key, latest=latest)


__all__ = [
    "APPOINTMENT_TYPE_LABELS",
    "APPT_STATUS_TO_AMD",
    "DEFAULT_OFFICE_KEY",
    "dataset_from_practice",
    "dataset_from_store",
    "simulator_clock_start",
    "synthetic_practice_dataset",
]
