"""pandera schemas and batch quarantine for normalised AdvancedMD records."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest
from pandera.errors import SchemaErrors

from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.records import AmdClaimStatus, AmdTransaction
from ingest.advancedmd.schemas import _SPECS, records_to_frame, rows_passing, validate_batch
from ingest.advancedmd.simulator import SimulatorHandle
from tests.ingest.conftest import make_client


@pytest.fixture
def fetched(sim: SimulatorHandle, clock: FakeClock) -> dict[str, list]:  # type: ignore[type-arg]
    client = make_client(sim, clock)
    ds = sim.dataset
    patients = [client.get_demographic(p.patient_id) for p in ds.live_patients()]
    visits, charges = [], []
    for day in sorted({v.visit_date for v in ds.live_visits()}):
        dv = client.get_date_visits(day)
        visits += dv.visits
        charges += dv.charges
    pid, cov = next(iter(ds.eligibility))
    elig = [client.check_eligibility(pid, cov)]
    return {
        "patients": patients,
        "insurance": [i for p in patients for i in p.insurances],
        "visits": visits,
        "charges": charges,
        "eligibility": elig,
    }


def test_clean_batches_pass_entirely(fetched: dict[str, list]) -> None:  # type: ignore[type-arg]
    for entity, records in fetched.items():
        assert records, entity
        valid, quarantine = validate_batch(records)
        assert valid.height == len(records) and quarantine.height == 0, (entity, quarantine)
    valid, _ = validate_batch(fetched["charges"])
    assert valid.schema["fee"] == pl.Decimal(12, 2)
    assert valid.schema["created_at"] == pl.Datetime("us", "UTC")


def test_bad_rows_are_quarantined_with_reasons_but_no_values(fetched: dict[str, list]) -> None:  # type: ignore[type-arg]
    patients = list(fetched["patients"])
    patients[0] = replace(patients[0], zip_code="3030", state="GEORGIA", email="not-an-email")
    patients.append(patients[1])  # duplicate id in one batch
    valid, quarantine = validate_batch(patients)
    assert valid.height == len(patients) - 2 and quarantine.height == 2
    reasons = quarantine["quarantine_reason"].to_list()
    assert reasons[0] == "state: str_matches; zip_code: str_matches; email: str_matches" or {
        "state: str_matches",
        "zip_code: str_matches",
        "email: str_matches",
    } == set(reasons[0].split("; "))
    assert reasons[1] == "duplicate patient_id in batch"
    assert "GEORGIA" not in " ".join(reasons) and "3030" not in " ".join(reasons)

    charges = list(fetched["charges"])
    charges[0] = replace(
        charges[0], cpt_code="9083", units=0, fee=Decimal("-1.00"), end_date_of_service=date(2000, 1, 1)
    )
    valid, quarantine = validate_batch(charges)
    assert quarantine.height == 1
    reason = quarantine["quarantine_reason"][0]
    for expected in ("cpt_code", "units", "fee", "service_dates_are_ordered"):
        assert expected in reason, reason

    visits = list(fetched["visits"])
    visits[0] = replace(visits[0], appt_status=7)
    assert validate_batch(visits)[1]["quarantine_reason"][0] == "appt_status: isin"


def test_empty_and_mixed_batches() -> None:
    valid, quarantine = validate_batch([], entity="charges")
    assert valid.height == 0 and "quarantine_reason" in quarantine.columns
    with pytest.raises(ValueError):
        validate_batch([])
    with pytest.raises(ValueError):
        validate_batch([1, "x"])


# Values at and around every rule's edges, by field type: each row of a probe batch is a valid record with one
# field set to one of these.
_PROBES: dict[str, list[object]] = {
    "int": [None, -1, 0, 1, 2, 5, 7, 9, 10, 12, 99, 100, 1440, 1441],
    "str": [
        *(None, "", "A", "Z", "M", "x", "GA", "ga", "GEORGIA", "3030", "30303", "30303-1234", "30303-12"),
        *("4045550100", "404555010", "a@b.co", "a@b", "a b@c.d", "90837", "9083", "0001F", "G0444", "NOSHOW"),
        *("nos", "25", "25,59", "2", "F32.1", "F32.1,Z63.0", "U07.1", "11", "1", "1A", "A1", "F2", "ACTIVE"),
        *("active", "PAYMENT", "WRITEOFF", "INS", "PAT", "X" * 100, "X" * 101, "C" * 20, "C" * 21),
    ],
    "tuple": [
        (),
        ("25",),
        ("2",),
        ("25", "59", "XE", "GT"),
        ("25", "59", "XE", "GT", "95"),
        ("F32.1",),
        ("U07.1",),
    ],
    "Decimal": [None, Decimal("-0.01"), Decimal("0.00"), Decimal("12.50")],
    "datetime": [None, datetime(2025, 3, 1, 12, tzinfo=UTC)],
    "date": [
        None,
        date(1899, 12, 31),
        date(1900, 1, 1),
        date(2025, 3, 1),
        date(2025, 3, 31),
        date(2030, 1, 1),
    ],
    "bool": [None, True, False],
}


def _probes(field_name: str, field_type: str) -> list[object]:
    for kind in ("tuple", "Decimal", "datetime", "date", "bool", "int", "str"):
        if kind in field_type:
            if kind == "datetime" and field_name in ("start", "arrive_time", "seen_time"):  # local, naive
                return [None, datetime(2025, 3, 1, 9, 0)]
            return _PROBES[kind]
    raise AssertionError(f"no probes for {field_name}: {field_type}")


def test_the_quick_verdict_agrees_with_pandera_row_by_row(fetched: dict[str, list]) -> None:  # type: ignore[type-arg]
    """Pandera judges a batch only when ``rows_passing`` finds a failing row, so a row that it passes and pandera
    would not would land unchecked. Every rule's edges, probed one field at a time, must get the same verdict."""
    bases = {entity: records[0] for entity, records in fetched.items()}
    bases["transactions"] = AmdTransaction(
        transaction_id=1, charge_id=2, visit_id=3, patient_id=4, kind="PAYMENT", amount=Decimal("-5.00"),
        transaction_date=date(2025, 3, 3), source="INS", code="CO45",
    )  # fmt: skip
    bases["claims"] = AmdClaimStatus(
        claim_id=1, visit_id=2, patient_id=3, carrier_code="BCBS", billed_date=date(2025, 3, 3),
        category_code="F1", status_code="1", payment_amount=Decimal("80.00"),
        verified_at=datetime(2025, 3, 4, 12, tzinfo=UTC),
    )  # fmt: skip
    for entity, base in bases.items():
        probes = [
            replace(base, **{field.name: value})
            for field in fields(base)
            if field.name != "insurances"
            for value in _probes(field.name, str(field.type))
        ]
        schema = _SPECS[type(base)][0]
        df = records_to_frame(probes, type(base))
        passing = rows_passing(df, schema)
        assert passing is not None, entity
        try:
            schema.validate(df, lazy=True)
            failing_in_pandera = set()
        except SchemaErrors as exc:
            indexes = exc.failure_cases["index"].to_list()
            assert None not in indexes, (entity, exc.failure_cases)
            failing_in_pandera = set(indexes)
        failing_here = {i for i, passes in enumerate(passing) if not passes}
        assert failing_here == failing_in_pandera, entity
        assert failing_here, f"{entity}: the probes break no rule, so they test nothing"
