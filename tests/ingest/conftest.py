"""Fixtures and an independent oracle for the AdvancedMD ingest tests."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.ratelimit import RateLimiter
from ingest.advancedmd.records import AmdCharge, AmdInsurance, AmdPatient, AmdVisit
from ingest.advancedmd.simulator import (
    SimCharge,
    SimInsurance,
    SimPatient,
    SimulatorConfig,
    SimulatorDataset,
    SimulatorHandle,
    SimVisit,
    start_simulator,
)

MT = ZoneInfo("America/Denver")


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2025-03-10 02:00 MT: off-peak, the day after the spring DST change."""
    return FakeClock(datetime(2025, 3, 10, 2, 0, tzinfo=MT))


@pytest.fixture
def small_dataset() -> SimulatorDataset:
    return SimulatorDataset.synthetic(seed=5, n_patients=40, n_days=6, future_days=5)


@pytest.fixture
def sim(small_dataset: SimulatorDataset, clock: FakeClock) -> Iterator[SimulatorHandle]:
    with start_simulator(small_dataset, SimulatorConfig(seed=5, page_size=15), clock=clock) as handle:
        yield handle


def make_client(sim: SimulatorHandle, clock: FakeClock, **kwargs: object) -> AdvancedMDClient:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("rng", random.Random(0))
    kwargs.setdefault("rate_limiter", RateLimiter(clock))
    office_key = kwargs.pop("office_key", None)
    return AdvancedMDClient(sim.credentials(office_key), clock=clock, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- oracle
# Written from the API facts, not from the client's parsing code: upper case as stored, phone
# digits, lower-case e-mail, and instants as representable in naive Mountain server time.


def _up(v: str | None) -> str | None:
    return None if v is None else " ".join(v.split()).upper() or None


def _digits(v: str | None) -> str | None:
    return None if v is None else re.sub(r"\D", "", v) or None


def _instant(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    naive = at.astimezone(MT).replace(tzinfo=None)
    return naive.replace(tzinfo=MT, fold=0).astimezone(UTC)


def expected_insurance(i: SimInsurance, patient_id: int) -> AmdInsurance:
    return AmdInsurance(
        insurance_id=i.insurance_id,
        patient_id=patient_id,
        sequence=i.sequence,
        carrier_code=_up(i.carrier_code),
        carrier_name=_up(i.carrier_name),
        subscriber_id=_up(i.subscriber_id),
        relationship=_up(i.relationship),
        group_number=_up(i.group_number),
        group_name=_up(i.group_name),
        copay=i.copay,
        effective_start=i.effective_start,
        effective_end=i.effective_end,
        active=i.active,
    )


def expected_patient(p: SimPatient, ds: SimulatorDataset) -> AmdPatient:
    prov = ds.providers.get(p.provider_id or -1)
    return AmdPatient(
        patient_id=p.patient_id,
        chart=_up(p.chart),
        last_name=_up(p.last_name),
        first_name=_up(p.first_name),
        middle_name=_up(p.middle_name),
        dob=p.dob,
        sex=_up(p.sex),
        address1=_up(p.address1),
        address2=_up(p.address2),
        city=_up(p.city),
        state=_up(p.state),
        zip_code=p.zip_code,
        home_phone=_digits(p.home_phone),
        office_phone=_digits(p.office_phone),
        email=None if p.email is None else p.email.lower(),
        provider_id=p.provider_id,
        provider_code=None if prov is None else prov.code.upper(),
        fin_class_code=_up(p.fin_class_code),
        created_at=_instant(p.created_at),
        changed_at=_instant(p.changed_at),
        insurances=tuple(
            expected_insurance(i, p.patient_id) for i in sorted(p.insurances, key=lambda i: i.sequence)
        ),
    )


def expected_visit(v: SimVisit, ds: SimulatorDataset) -> AmdVisit:
    return AmdVisit(
        visit_id=v.visit_id,
        patient_id=v.patient_id,
        visit_date=v.visit_date,
        start=v.start,
        duration_minutes=v.duration_minutes,
        appt_status=v.appt_status,
        appointment_type=_up(v.appointment_type),
        column_heading=_up(v.column_heading),
        provider_code=ds.providers[v.provider_id].code.upper(),
        facility_code=_up(v.facility_code),
        charges_posted=v.charges_posted,
        created_at=_instant(v.created_at),
        modified_at=_instant(v.modified_at),
        arrive_time=v.arrive_time,
        seen_time=v.seen_time,
        confirmed_at=_instant(v.confirmed_at),
        created_by=_up(v.created_by),
        patient_dob=ds.patients[v.patient_id].dob if v.patient_id in ds.patients else None,
    )


def expected_charge(c: SimCharge) -> AmdCharge:
    return AmdCharge(
        charge_id=c.charge_id,
        visit_id=c.visit_id,
        patient_id=c.patient_id,
        cpt_code=c.cpt_code,
        modifiers=c.modifiers,
        units=c.units,
        fee=c.fee,
        diagnosis_codes=c.diagnosis_codes,
        begin_date_of_service=c.begin_dos,
        end_date_of_service=c.end_dos,
        posting_date=c.posting_date,
        place_of_service=c.pos,
        created_at=_instant(c.created_at),
        changed_at=_instant(c.changed_at),
    )


def _normalise_instants(record: object) -> object:
    """Compare aware datetimes as instants (the client attaches MT, the oracle uses UTC)."""
    from dataclasses import fields, is_dataclass, replace

    if not is_dataclass(record):
        return record
    changes = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime) and value.tzinfo is not None:
            changes[f.name] = value.astimezone(UTC)
        elif isinstance(value, tuple) and value and is_dataclass(value[0]):
            changes[f.name] = tuple(_normalise_instants(v) for v in value)
    return replace(record, **changes)  # type: ignore[type-var]


def assert_records_equal(got: dict[int, object], expected: dict[int, object], what: str) -> None:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, f"{what}: missing ids {missing[:10]}, unexpected ids {extra[:10]}"
    for rid, exp in expected.items():
        g, e = _normalise_instants(got[rid]), _normalise_instants(exp)
        if g != e:
            from dataclasses import asdict

            gd, ed = asdict(g), asdict(e)  # type: ignore[arg-type]
            diff = {k: (gd[k], ed[k]) for k in ed if gd[k] != ed[k]}
            raise AssertionError(f"{what} {rid} differs in fields {sorted(diff)}")
