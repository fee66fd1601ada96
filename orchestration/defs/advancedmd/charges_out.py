"""Charges out: the store's billable sessions submitted to AdvancedMD through savecharges, exactly once.

What is sent: every charge of a COMPLETED appointment whose note is signed (SIGNED or AMENDED, with a
signature time), grouped per appointment (savecharges takes one visit's complete set of lines). An
appointment is held back as a whole while any of its charges is on billing hold: savecharges replaces a
visit's charges, so sending part of a visit now and the rest later would either be refused as a duplicate
or wipe the first part. Charges on hold are never sent (tested).

Which AdvancedMD visit: the client's linked patient (the store's ``advancedmd_patients``, LINKED) and the
visit of that patient starting at the appointment's practice-local start (``raw_advancedmd.visits``); the
visit's provider profile by its code. No unique visit = a refusal naming ``visit_id``.

Exactly once (``advancedmd_charge_submissions``, one row per store charge):

* a charge with a SUBMITTED row is never sent again; the row holds the charge ids AdvancedMD returned;
* the first attempt goes without ``force``: AdvancedMD refuses a visit that already has charges, so a
  retry can never add a second set. A retry after an answer that may have been applied (timeout, 5xx,
  truncated body) goes with ``force="1"`` (the client decides), replacing the set with the identical set;
* a run that died between AdvancedMD's answer and our row finds the visit's charges there (the duplicate
  fault) and resubmits the identical complete set with ``force="1"``, which returns the ids to record;
* refusals (our validation, or an AdvancedMD fault) are recorded REFUSED with the field named (our field
  path, e.g. ``lines[0].cpt_code``, or the attribute the fault names) and are sent again only after the
  charge changed in the store (``charges.updated_at`` later than the refusal).

Only while the store is billing's system of record (practice setting ``system_of_record.billing`` = ``store``,
the default): with ``advancedmd`` charges are entered in AdvancedMD, and pushing the store's would double them.

One run at a time per office key (``locks.office_lock(..., "charges_out")``, across processes): two concurrent runs
would both find the same visit pending, the second would take the first's charges for its own lost answer and
replace them (new ids, the first run's row naming voided ones). The second run skips instead; the next one finds
nothing left.

Budget: one tier-2 call per visit (12/min at peak, 120 off-peak) plus a cached tier-3 procedure-code lookup
per CPT code; the shared limiter queues them, ``max_visits`` caps one run. Nothing here touches the
warehouse while talking to AdvancedMD: the visits are read first, the store rows are written per visit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, text

from ingest.advancedmd.charges import ChargeLine, ChargeSubmission, ChargeValidationError, FieldError
from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.errors import AmdFaultError
from ingest.advancedmd.protocol import FaultCode
from operational_api.errors import PlatformError
from operational_api.models_advancedmd import AdvancedMDChargeSubmission

TELEHEALTH_POS, OFFICE_POS = "02", "11"
# AdvancedMD's savecharges faults name attributes in prose; the field each one is about.
FAULT_FIELDS = (
    ("proccode", "lines.cpt_code"),
    ("diagnos", "diagnoses"),
    ("units", "lines.units"),
    ("fee", "lines.fee"),
    ("profile", "provider_id"),
    ("visit", "visit_id"),
    ("patient", "patient_id"),
)


@dataclass
class PendingVisit:
    """One appointment's charges, ready to be matched to an AdvancedMD visit."""

    appointment_id: int
    client_id: int
    start_local: dt.datetime
    service_date: dt.date
    is_telehealth: bool
    charge_ids: list[int] = field(default_factory=list)
    lines: list[ChargeLine] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)


@dataclass
class SubmissionCounts:
    visits_submitted: int = 0
    charges_submitted: int = 0
    visits_refused: int = 0
    charges_refused: int = 0
    duplicates_recovered: int = 0
    held_back: int = 0

    def metadata(self) -> dict[str, int]:
        return dict(self.__dict__)


SYSTEMS_OF_RECORD = ("store", "advancedmd")
RECORD_AREAS = ("scheduling", "billing")


def system_of_record(engine: Engine, area: str) -> str:
    """Which system holds the practice's record for ``area`` (``practice_settings`` key
    ``system_of_record.<area>``: ``store`` or ``advancedmd``; ``store`` when unset). Another value is a
    one-line error naming the setting, not a guess."""
    if area not in RECORD_AREAS:
        raise ValueError(f"unknown record area {area!r}")
    key = f"system_of_record.{area}"
    with engine.connect() as conn:
        value = conn.execute(text("select value from practice_settings where key = :k"), {"k": key}).scalar()
    chosen = (value or "store").strip().lower()
    if chosen not in SYSTEMS_OF_RECORD:
        raise PlatformError(f"practice setting {key} is '{value}': choose store or advancedmd")
    return chosen


def pending_visits(engine: Engine, timezone: str, *, max_visits: int) -> tuple[list[PendingVisit], int]:
    """Completed, signed, not-on-hold appointments with charges not yet submitted (nor refused since their
    last change); and how many appointments were held back by a billing hold."""
    sql = text(
        """
        select c.id, c.appointment_id, a.client_id, a.start_at, a.is_telehealth, c.cpt_code, c.units,
               c.charge_amount, c.modifiers, c.diagnosis_codes, c.is_billing_hold, s.status as sub_status
        from charges c
        join appointments a on a.id = c.appointment_id
        left join advancedmd_charge_submissions s on s.charge_id = c.id
        where a.status = 'COMPLETED'
          and exists (
              select 1 from clinical_notes n
              where n.appointment_id = a.id and n.status in ('SIGNED', 'AMENDED') and n.signed_at is not null
          )
          and (s.id is null or (s.status = 'REFUSED' and c.updated_at > s.updated_at))
        order by a.start_at, c.id
        """
    )
    tz = ZoneInfo(timezone)
    visits: dict[int, PendingVisit] = {}
    held: set[int] = set()
    with engine.connect() as conn:
        rows = conn.execute(sql).all()
    for row in rows:
        if row.is_billing_hold:
            held.add(row.appointment_id)
            continue
        start = (
            row.start_at if isinstance(row.start_at, dt.datetime) else dt.datetime.fromisoformat(row.start_at)
        )
        local = start.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)
        visit = visits.setdefault(
            row.appointment_id,
            PendingVisit(row.appointment_id, row.client_id, local, local.date(), bool(row.is_telehealth)),
        )
        codes = [d.strip().upper() for d in (row.diagnosis_codes or "").split(",") if d.strip()]
        pointers = []
        for code in codes:
            if code not in visit.diagnoses:
                visit.diagnoses.append(code)
            pointers.append(visit.diagnoses.index(code) + 1)
        visit.charge_ids.append(row.id)
        visit.lines.append(
            ChargeLine(
                cpt_code=row.cpt_code,
                units=int(row.units),
                fee=Decimal(str(row.charge_amount)).quantize(Decimal("0.01")),
                modifiers=tuple(m.strip() for m in (row.modifiers or "").split(",") if m.strip()),
                diagnosis_pointers=tuple(pointers[:4]) or (1,),
                place_of_service=TELEHEALTH_POS if visit.is_telehealth else OFFICE_POS,
            )
        )
    ready = [v for aid, v in visits.items() if aid not in held]
    return ready[:max_visits], len(held)


def _refusedFieldError(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ChargeValidationError):
        first = exc.errors[0]
        return first.field, "; ".join(str(e) for e in exc.errors)[:200]
    if isinstance(exc, AmdFaultError):
        reason = exc.fault.faultstring or str(exc.fault.code)
        lowered = reason.lower()
        name = next((f for key, f in FAULT_FIELDS if key in lowered), f"fault {exc.fault.code}")
        return name, reason[:200]
    return "submission", type(exc).__name__


def _record(
    engine: Engine,
    office_key: str,
    visit: PendingVisit,
    *,
    status: str,
    amd_visit_id: int | None,
    ids: Iterable[int] = (),
    refused: tuple[str, str] | None = None,
) -> None:
    table = AdvancedMDChargeSubmission.__table__
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    joined = ",".join(str(i) for i in ids) or None
    with engine.begin() as conn:
        existing = {
            r.charge_id: r for r in conn.execute(select(table).where(table.c.charge_id.in_(visit.charge_ids)))
        }
        for charge_id in visit.charge_ids:
            values = {
                "office_key": office_key,
                "advancedmd_visit_id": amd_visit_id,
                "status": status,
                "advancedmd_charge_ids": joined,
                "refused_field": refused[0] if refused else None,
                "refused_reason": refused[1] if refused else None,
                "updated_at": now,
            }
            before = existing.get(charge_id)
            if before is None:
                conn.execute(
                    table.insert().values(charge_id=charge_id, attempts=1, submitted_at=now, **values)
                )
            else:
                conn.execute(
                    table.update()
                    .where(table.c.charge_id == charge_id)
                    .values(attempts=before.attempts + 1, **values)
                )


def submit_charges(
    client: AdvancedMDClient,
    engine: Engine,
    visits: list[PendingVisit],
    amd_visits: dict[tuple[int, dt.datetime], list[tuple[int, str]]],
    patient_links: dict[int, int],
    today: dt.date,
) -> SubmissionCounts:
    """Submit each pending visit (see the module docstring); returns counts for the asset's metadata."""
    counts = SubmissionCounts()
    office_key = client.office_key
    for visit in visits:
        amd_visit_id = None
        try:
            patient_id = patient_links.get(visit.client_id)
            if patient_id is None:
                raise ChargeValidationError(
                    [FieldError("patient_id", "the client is not linked to an AdvancedMD patient")]
                )
            matches = amd_visits.get((patient_id, visit.start_local), [])
            if len(matches) != 1:
                raise ChargeValidationError(
                    [
                        FieldError(
                            "visit_id", f"{len(matches)} AdvancedMD visits start at the appointment's time"
                        )
                    ]
                )
            amd_visit_id, provider_code = matches[0]
            provider_id = client.lookup_provider(provider_code) if provider_code else None
            if provider_id is None:
                raise ChargeValidationError(
                    [FieldError("provider_id", "the visit's provider code is unknown")]
                )
            submission = ChargeSubmission(
                patient_id=patient_id,
                visit_id=amd_visit_id,
                provider_id=provider_id,
                service_date=visit.service_date,
                diagnoses=tuple(visit.diagnoses),
                lines=tuple(visit.lines),
            )
            try:
                result = client.save_charges(submission, today=today)
            except AmdFaultError as exc:
                if exc.fault.code != FaultCode.DUPLICATE_CHARGES:
                    raise
                # Our earlier submission landed but its row did not: put the identical set back, get the ids.
                counts.duplicates_recovered += 1
                result = client.save_charges(submission, replace=True, today=today)
        except (ChargeValidationError, AmdFaultError) as exc:
            _record(
                engine,
                office_key,
                visit,
                status="REFUSED",
                amd_visit_id=amd_visit_id,
                refused=_refusedFieldError(exc),
            )
            counts.visits_refused += 1
            counts.charges_refused += len(visit.charge_ids)
            continue
        _record(
            engine, office_key, visit, status="SUBMITTED", amd_visit_id=amd_visit_id, ids=result.charge_ids
        )
        counts.visits_submitted += 1
        counts.charges_submitted += len(visit.charge_ids)
    return counts


def group_amd_visits(rows: Iterable[tuple[int, int, dt.datetime, str | None]]) -> dict:
    """raw_advancedmd.visits rows (visit id, patient id, local start, provider code) by (patient, start)."""
    out: dict[tuple[int, dt.datetime], list[tuple[int, str]]] = defaultdict(list)
    for visit_id, patient_id, start, provider_code in rows:
        if start is not None:
            out[(int(patient_id), start.replace(tzinfo=None))].append((int(visit_id), provider_code or ""))
    return out
