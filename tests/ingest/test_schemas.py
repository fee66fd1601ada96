"""pandera schemas and batch quarantine for normalised AdvancedMD records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.schemas import validate_batch
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
