"""gettxhistory (payments and write-offs) and updatepatient against the simulator serving the synthetic
practice: what the client reads equals what the store applied, page by page."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

import pytest

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.errors import AmdFaultError
from ingest.advancedmd.protocol import FaultCode
from ingest.advancedmd.ratelimit import RateLimiter
from ingest.advancedmd.simulator import (
    SimulatorConfig,
    dataset_from_practice,
    simulator_clock_start,
    start_simulator,
)
from operational_api.synthetic import Practice
from tests.orchestration.advancedmd.conftest import AS_OF


def _rows(practice: Practice, name: str) -> list[dict]:
    table = practice.tables[name]
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


@pytest.fixture
def served(practice: Practice):
    clock = FakeClock(simulator_clock_start(AS_OF))
    dataset = dataset_from_practice(practice)
    with start_simulator(dataset, SimulatorConfig(seed=7, page_size=3), clock=clock) as sim:
        client = AdvancedMDClient(
            sim.credentials(), clock=clock, rate_limiter=RateLimiter(clock), rng=random.Random(0), timeout=5
        )
        with client:
            yield sim, client


def test_payments_and_write_offs_per_client_equal_the_stores(served, practice: Practice):
    sim, client = served
    charges = {c["id"]: c for c in _rows(practice, "charges") if c["appointment_id"] is not None}
    payments = {p["id"]: p for p in _rows(practice, "payments")}
    expected: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for app in _rows(practice, "payment_applications"):
        if app["charge_id"] in charges:
            source = "INS" if payments[app["payment_id"]]["payer_id"] is not None else "PAT"
            expected[charges[app["charge_id"]]["client_id"]][f"PAYMENT/{source}"] += app["applied_amount"]
    for adj in _rows(practice, "charge_adjustments"):
        if adj["charge_id"] in charges:
            expected[charges[adj["charge_id"]]["client_id"]]["WRITEOFF"] += adj["adjustment_amount"]
    expected = {k: {kk: vv for kk, vv in v.items() if vv} for k, v in expected.items()}
    assert expected, "the practice should have payments"

    got: dict[int, dict[str, Decimal]] = {}
    for patient in sim.dataset.live_patients():
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for tx in client.iter_tx_history(patient.patient_id):
            assert tx.patient_id == patient.patient_id and tx.transaction_date is not None
            totals[tx.kind if tx.kind == "WRITEOFF" else f"PAYMENT/{tx.source}"] += tx.amount
        if any(totals.values()):
            got[int(patient.external_client_id)] = {k: v for k, v in totals.items() if v}

    assert got == expected
    # Paged (3 charges a page): the calls followed pagecount.
    assert sim.counters.by_action["gettxhistory"] > len(sim.dataset.live_patients())


def test_updatepatient_applies_and_refuses_a_stale_change(served):
    sim, client = served
    patient = sim.dataset.live_patients()[0]
    seen = client.get_demographic(patient.patient_id).changed_at

    def update(city: str, changed_at) -> None:
        from ingest.advancedmd.normalize import format_iso, to_server_naive

        stamp = format_iso(to_server_naive(changed_at, client.server_tz))
        client.call("updatepatient", "api", children=[_patient(patient.patient_id, stamp, city)])

    sim.clock.advance(60)
    update("MACON", seen)
    assert sim.dataset.patients[patient.patient_id].city == "MACON"

    with pytest.raises(AmdFaultError) as err:  # someone changed it in AdvancedMD since we looked
        update("ATHENS", seen)
    assert err.value.fault.code == FaultCode.RECORD_CHANGED
    assert sim.dataset.patients[patient.patient_id].city == "MACON"


def _patient(patient_id: int, changed_at: str, city: str):
    from ingest.advancedmd.protocol import element

    return element("patient", {"id": patient_id, "changedat": changed_at, "city": city})


@pytest.mark.parametrize("amd", ["duckdb"], indirect=True)
def test_transactions_land_per_patient_and_a_reread_replaces_them(amd):
    import datetime as dt

    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.warehouse import Warehouse

    ds = amd.ds
    amd.sync()
    amd.run("advancedmd_transactions_job")

    from zoneinfo import ZoneInfo

    today = amd.clock.now().astimezone(ZoneInfo(current_environment().practice_timezone)).date()
    visits = amd.table("visits", "visit_id").values()
    # The asset's default: patients with a visit in the last 30 days.
    recent = {v["patient_id"] for v in visits if v["visit_date"] >= today - dt.timedelta(days=30)}

    def landed() -> set[tuple]:
        rows = Warehouse(current_environment()).query(
            "select transaction_id, charge_id, kind, amount, transaction_date, source from raw_advancedmd.transactions"
        )
        return {
            (r[0], r[1], r[2], Decimal(r[3]).quantize(Decimal("0.01")), r[4], r[5]) for r in rows.iter_rows()
        }

    def expected() -> set[tuple]:
        return {
            (t.tx_id, t.charge_id, t.kind, t.amount, t.tx_date, t.source)
            for c in ds.live_charges()
            if c.patient_id in recent
            for t in ds.transactions_of_charge(c.charge_id)
        }

    first = landed()
    assert first and first == expected()

    voided = next(iter(ds.transactions.values()))
    voided.voided = True  # reversed in AdvancedMD
    amd.run("advancedmd_transactions_job")
    assert landed() == expected() and len(landed()) == len(first) - (
        1 if any(t[0] == voided.tx_id for t in first) else 0
    )
