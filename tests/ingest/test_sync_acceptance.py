"""Acceptance: initial load + incremental syncs reproduce the simulator exactly, also under faults,
and a simulated business day stays within the rate limits."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import create_engine

from ingest.advancedmd.benchmark import BusinessDayConfig, run_business_day
from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.normalize import parse_amd_naive
from ingest.advancedmd.simulator import (
    FaultConfig,
    SimPatient,
    SimulatorConfig,
    SimulatorDataset,
    SimulatorHandle,
    start_simulator,
)
from ingest.advancedmd.simulator.dataset import VISIT
from ingest.advancedmd.sync import (
    VISITS,
    MemorySink,
    NoWatermarkError,
    SyncBatch,
    sync_patients,
    sync_visits,
)
from ingest.advancedmd.watermarks import InMemoryWatermarkStore, SqlWatermarkStore, WatermarkStore
from tests.ingest.conftest import (
    MT,
    assert_records_equal,
    expected_charge,
    expected_patient,
    expected_visit,
    make_client,
)


def visits_since(store: WatermarkStore, office_key: str) -> datetime:
    wm = parse_amd_naive(store.get(office_key, VISITS))
    assert wm is not None
    return wm.replace(tzinfo=MT).astimezone(UTC)


def assert_synced(ds: SimulatorDataset, sink: MemorySink, since: datetime) -> None:
    """Field-level equality with what the API can reveal: every live patient; every live visit
    except moved/deleted-status ones that getdatevisits never lists and that did not change
    after the initial load; every live charge of those visits."""
    assert_records_equal(
        sink.patients, {p.patient_id: expected_patient(p, ds) for p in ds.live_patients()}, "patient"
    )
    visible = {
        v.visit_id: expected_visit(v, ds)
        for v in ds.live_visits()
        if v.appt_status not in (5, 11) or (ds.last_event_at(VISIT, v.visit_id) or since) >= since
    }
    assert_records_equal(sink.visits, visible, "visit")
    assert_records_equal(
        sink.charges,
        {c.charge_id: expected_charge(c) for c in ds.live_charges() if c.visit_id in visible},
        "charge",
    )


def assert_no_duplicates_within_windows(batches: list[SyncBatch]) -> None:
    per_window: dict[tuple[str, str | None], Counter[tuple[str, int]]] = {}
    for b in batches:
        if b.mode != "incremental":
            continue
        c = per_window.setdefault((b.entity, b.window_start), Counter())
        c.update(("patient", p.patient_id) for p in b.patients)
        c.update(("patient", i) for i in b.deleted_patient_ids)
        c.update(("visit", v.visit_id) for v in b.visits)
        c.update(("visit", i) for i in b.deleted_visit_ids)
        c.update(("charge", ch.charge_id) for ch in b.charges)
        c.update(("charge", i) for i in b.deleted_charge_ids)
    dupes = {k: [rid for rid, n in c.items() if n > 1] for k, c in per_window.items()}
    assert not any(dupes.values()), dupes


def initial_load(
    client: AdvancedMDClient, store: WatermarkStore, sink: MemorySink, ds: SimulatorDataset
) -> None:
    days = [v.visit_date for v in ds.visits.values()]
    sync_patients(client, store, sink)
    sync_visits(client, store, sink, initial_start=min(days), initial_end=max(days))


def run_rounds(
    ds: SimulatorDataset,
    clock: FakeClock,
    client: AdvancedMDClient,
    store: WatermarkStore,
    sink: MemorySink,
    rounds: int,
    changes: int,
    seed: int,
    chunk_size: int,
) -> Counter[str]:
    rng = random.Random(seed)
    statuses: Counter[str] = Counter()
    since = visits_since(store, ds.office_key)
    for r in range(rounds):
        for _ in range(changes):
            ds.apply_random_change(rng)
            clock.sleep(rng.uniform(1, 40))
        if r == 0:  # make sure every kind of change happens at least once
            ds.add_patient(
                SimPatient(
                    0,
                    "T1",
                    "Testcase",
                    "Nadia",
                    None,
                    datetime(1990, 1, 2).date(),
                    "F",
                    "1 Elm St",
                    None,
                    "Athens",
                    "GA",
                    "30601",
                    None,
                    None,
                    None,
                    None,
                    "SELF",
                )
            )
        if r == 1:
            newest = max(p.patient_id for p in ds.live_patients())
            ds.update_patient(newest, city="Rome")
            ds.delete_patient(newest)
            ds.delete_visit(next(v.visit_id for v in ds.live_visits() if v.appt_status == 0))
        # A change stamped in the very millisecond of a query belongs to the next window; let time pass.
        clock.sleep(1)
        pr = sync_patients(client, store, sink, chunk_size=chunk_size)
        vr = sync_visits(client, store, sink, chunk_size=chunk_size)
        assert store.get(ds.office_key, "patients") == pr.watermark_after
        assert store.get(ds.office_key, VISITS) == vr.watermark_after
        statuses.update(
            ["patient_del"] * pr.deleted + ["visit_del"] * vr.deleted + ["charge_del"] * vr.charges_deleted
        )
        assert_synced(ds, sink, since)
    return statuses


def test_initial_load_then_incremental_syncs_reproduce_the_data_exactly(clock: FakeClock) -> None:
    ds = SimulatorDataset.synthetic(seed=11, n_patients=120, n_days=12, future_days=7)
    # Small pages and a low IDs-only threshold exercise paging and the chunked re-requests.
    config = SimulatorConfig(seed=11, page_size=25, ids_only_threshold=8)
    with start_simulator(ds, config, clock=clock) as sim:
        client = make_client(sim, clock)
        store, sink = InMemoryWatermarkStore(), MemorySink(clock)
        initial_load(client, store, sink, ds)
        assert_synced(ds, sink, visits_since(store, ds.office_key))
        statuses = run_rounds(ds, clock, client, store, sink, rounds=5, changes=30, seed=11, chunk_size=5)
        assert statuses["patient_del"] >= 1 and statuses["visit_del"] >= 1 and statuses["charge_del"] >= 1
        assert_no_duplicates_within_windows(sink.batches)
        calls = client.stats.requests_by_action
        assert (
            calls["getupdatedvisits"] > 5 and calls["getupdatedpatients"] > 5
        )  # chunked re-requests happened
        assert sim.counters.rate_limit_violations == 0


def test_faults_timeouts_and_session_expiry_lose_and_duplicate_nothing(clock: FakeClock) -> None:
    ds = SimulatorDataset.synthetic(seed=21, n_patients=70, n_days=8, future_days=5)
    faults = FaultConfig.mixed(0.20, slow_seconds=0.4, session_expiry_at_calls=(25,))
    config = SimulatorConfig(seed=21, page_size=20, ids_only_threshold=6, faults=faults)
    with start_simulator(ds, config, clock=clock) as sim:
        client = make_client(sim, clock, timeout=0.2)
        store = InMemoryWatermarkStore()

        class ExpiringSink(MemorySink):
            """Drops every session between the chunks of an incremental sync, now and then."""

            def land(self, batch: SyncBatch) -> None:
                super().land(batch)
                if batch.mode == "incremental" and len(self.batches) % 3 == 0:
                    sim.expire_sessions()

        sink = ExpiringSink(clock)
        initial_load(client, store, sink, ds)
        assert_synced(ds, sink, visits_since(store, ds.office_key))
        run_rounds(ds, clock, client, store, sink, rounds=4, changes=20, seed=21, chunk_size=4)
        assert_no_duplicates_within_windows(sink.batches)
        c = sim.counters
        assert c.rate_limit_violations == 0
        assert (
            min(c.injected_faults, c.injected_503, c.dropped_connections, c.slow_responses, c.injected_429)
            > 0
        )
        injected = (
            c.injected_faults + c.injected_503 + c.dropped_connections + c.slow_responses + c.injected_429
        )
        assert injected / c.requests > 0.12, (injected, c.requests)
        assert client.stats.session_relogins >= 2 and c.sessions_expired_by_injection == 1
        assert client.stats.transient_errors > 0


def test_watermark_advances_only_after_the_sink_has_landed(sim: SimulatorHandle, clock: FakeClock) -> None:
    ds = sim.dataset
    client = make_client(sim, clock)
    store, sink = InMemoryWatermarkStore(), MemorySink(clock)
    initial_load(client, store, sink, ds)
    before = store.get(ds.office_key, "patients")
    target = ds.live_patients()[3].patient_id
    ds.update_patient(target, city="Dalton")
    clock.sleep(30)

    class FailingSink(MemorySink):
        def land(self, batch: SyncBatch) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError):
        sync_patients(client, store, FailingSink(clock))
    assert store.get(ds.office_key, "patients") == before  # not advanced: the window will be re-read
    result = sync_patients(client, store, sink)
    assert result.upserted == 1 and sink.patients[target].city == "DALTON"
    assert store.get(ds.office_key, "patients") != before


def test_sqlite_watermark_store_persists(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'wm.db'}")
    store = SqlWatermarkStore(engine, clock=clock)
    assert isinstance(store, WatermarkStore)
    assert store.get("991001", "patients") is None
    store.set("991001", "patients", "2025-03-10T02:00:00.000")
    store.set("991001", "patients", "2025-03-10T03:00:00.125")
    store.set("991002", "patients", "x")
    again = SqlWatermarkStore(create_engine(f"sqlite:///{tmp_path / 'wm.db'}"), clock=clock)
    assert again.get("991001", "patients") == "2025-03-10T03:00:00.125"
    assert again.get("991001", "visits") is None
    assert again.updated_at("991001", "patients") is not None


def test_sync_with_sqlite_store(sim: SimulatorHandle, clock: FakeClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SqlWatermarkStore(create_engine(f"sqlite:///{tmp_path / 'wm.db'}"), clock=clock)
    client = make_client(sim, clock)
    sink = MemorySink(clock)
    with pytest.raises(NoWatermarkError):
        sync_visits(client, store, sink)
    initial_load(client, store, sink, sim.dataset)
    clock.sleep(120)
    assert sync_visits(client, store, sink).mode == "incremental"
    assert store.get(sim.dataset.office_key, VISITS) is not None


def test_business_day_at_peak_has_zero_violations_and_reports_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    prd = run_business_day(BusinessDayConfig(n_patients=150, history_days=10))
    # 04:00-08:00 MT: two off-peak hours, then two peak hours, polling as fast as tier 1 allows.
    fast = run_business_day(
        BusinessDayConfig(
            n_patients=150,
            history_days=10,
            patient_sync_minutes=2,
            visit_sync_minutes=1,
            start_time=time(6, 0),
            hours=4,
        )
    )
    for report in (prd, fast):
        assert report.rate_limit_violations == 0
        assert report.consistent, report.mismatches
        assert report.freshness_peak.changes > 0 and report.freshness_off_peak.changes > 0
        assert report.incremental_records > 0 and report.initial_records > 0
    # PRD schedule: visits every 15 min bounds typical freshness; the 1-minute schedule is limited
    # by tier 1 (1 call/min at peak, shared by patients and visits).
    assert prd.freshness_peak.p50_minutes <= 30
    assert fast.freshness_peak.max_minutes <= 5 and fast.freshness_off_peak.max_minutes <= 3
    with capsys.disabled():
        print("\n" + prd.summary() + "\n\n" + fast.summary())
