"""The client against the real loopback simulator: login, sessions, brokers, actions, logging."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ingest.advancedmd.charges import ChargeLine, ChargeSubmission, ChargeValidationError
from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.errors import AmdFaultError, AuthenticationError, SessionExpiredError
from ingest.advancedmd.protocol import FaultCode
from ingest.advancedmd.ratelimit import RateLimiter
from ingest.advancedmd.simulator import (
    FaultConfig,
    SimulatorConfig,
    SimulatorDataset,
    SimulatorHandle,
    start_simulator,
)
from ingest.advancedmd.simulator.dataset import CHARGE
from ingest.advancedmd.sync import MemorySink, sync_patients, sync_visits
from ingest.advancedmd.watermarks import InMemoryWatermarkStore
from tests.ingest.conftest import assert_records_equal, expected_patient, make_client

PT = ZoneInfo("America/Los_Angeles")


def test_login_redirects_each_office_key_to_its_own_host(clock: FakeClock) -> None:
    a = SimulatorDataset.synthetic(seed=1, n_patients=5, n_days=2, office_key="991001")
    b = SimulatorDataset.synthetic(seed=2, n_patients=5, n_days=2, office_key="991777")
    with start_simulator([a, b], SimulatorConfig(seed=3), clock=clock) as sim:
        hosts = {}
        for key in ("991001", "991777"):
            client = make_client(sim, clock, office_key=key)
            session = client.login()
            assert session.token.startswith(key)
            assert f"/{sim.api_host(key)}/" in session.webserver + "/"
            assert "token=" not in repr(session) and session.token not in repr(session)
            hosts[key] = sim.api_host(key)
            assert client.lookup_patients().item_count == 5
        assert hosts["991001"] != hosts["991777"]
        assert sim.counters.login_redirects == 2 and sim.counters.logins == 2


def test_token_is_cached_and_refreshed_before_midnight(sim: SimulatorHandle, clock: FakeClock) -> None:
    client = make_client(sim, clock)
    for _ in range(5):
        client.lookup_patients()
    assert client.stats.logins == 1
    clock.advance_to(datetime(2025, 3, 10, 23, 58, tzinfo=PT))
    client.lookup_patients()
    assert client.stats.logins == 1  # still the morning's token, 22 h later
    clock.advance_to(datetime(2025, 3, 10, 23, 59, 30, tzinfo=PT))
    client.lookup_patients()
    assert client.stats.logins == 2  # refreshed just before the token's end of day
    clock.advance_to(datetime(2025, 3, 11, 0, 0, 30, tzinfo=PT))
    client.lookup_patients()
    assert sim.counters.session_timeouts == 0


def test_token_older_than_23_hours_is_refreshed(small_dataset: SimulatorDataset, clock: FakeClock) -> None:
    config = SimulatorConfig(seed=1, token_midnight_tz=None)
    with start_simulator(small_dataset, config, clock=clock) as sim:
        client = AdvancedMDClient(sim.credentials(), clock=clock, rate_limiter=RateLimiter(clock))
        client.lookup_patients()
        clock.sleep(23 * 3600 + 1)
        client.lookup_patients()
        assert client.stats.logins == 2 and sim.counters.session_timeouts == 0


def test_session_timeout_triggers_one_relogin_and_retry(sim: SimulatorHandle, clock: FakeClock) -> None:
    client = make_client(sim, clock)
    client.lookup_patients()
    sim.expire_sessions()
    page = client.lookup_patients()
    assert page.item_count == 40
    assert client.stats.session_relogins == 1 and client.stats.logins == 2
    assert sim.counters.session_timeouts == 1


def test_session_timing_out_again_after_its_relogins_raises(
    small_dataset: SimulatorDataset, clock: FakeClock
) -> None:
    from ingest.advancedmd.client import MAX_RELOGINS

    # Every session ends at call 2 and at each of the calls after it: the second lookup logs in again
    # MAX_RELOGINS times, then gives up.
    expiring = tuple(range(2, 3 + MAX_RELOGINS))
    config = SimulatorConfig(seed=1, faults=FaultConfig(session_expiry_at_calls=expiring))
    with start_simulator(small_dataset, config, clock=clock) as sim:
        client = make_client(sim, clock)
        client.lookup_patients()
        with pytest.raises(SessionExpiredError):
            client.lookup_patients()
        assert client.stats.logins == 1 + MAX_RELOGINS


def test_a_session_ending_twice_in_a_row_is_survived(
    small_dataset: SimulatorDataset, clock: FakeClock
) -> None:
    """Another process's trouble can end the session we just logged in with: the call still succeeds."""
    config = SimulatorConfig(seed=1, faults=FaultConfig(session_expiry_at_calls=(2, 3)))
    with start_simulator(small_dataset, config, clock=clock) as sim:
        client = make_client(sim, clock)
        client.lookup_patients()
        client.lookup_patients()
        assert client.stats.session_relogins == 2 and client.stats.logins == 3


def test_bad_credentials_and_unregistered_app(sim: SimulatorHandle, clock: FakeClock) -> None:
    from dataclasses import replace

    bad = replace(sim.credentials(), password="wrong-password-xyz")
    with pytest.raises(AuthenticationError) as exc:
        AdvancedMDClient(bad, clock=clock, rate_limiter=RateLimiter(clock)).login()
    assert exc.value.fault.code == FaultCode.INVALID_CREDENTIALS
    assert "wrong-password-xyz" not in str(exc.value)
    with pytest.raises(AuthenticationError):
        AdvancedMDClient(sim.credentials(app_name="UNREGISTERED"), clock=clock).login()


def test_paged_lookup_returns_every_patient(sim: SimulatorHandle, clock: FakeClock) -> None:
    client = make_client(sim, clock)
    pages = list(client.iter_lookup_patients())
    assert [p.page for p in pages] == [1, 2, 3] and pages[0].page_count == 3
    ids = [s.patient_id for p in pages for s in p.items]
    assert sorted(ids) == [p.patient_id for p in sim.dataset.live_patients()]


def test_getdemographic_normalises_prefixes_case_and_dates(sim: SimulatorHandle, clock: FakeClock) -> None:
    client = make_client(sim, clock)
    ds = sim.dataset
    got = {p.patient_id: client.get_demographic(p.patient_id) for p in ds.live_patients()}
    assert_records_equal(got, {p.patient_id: expected_patient(p, ds) for p in ds.live_patients()}, "patient")
    sample = next(iter(got.values()))
    assert "last_name" not in repr(sample) and str(sample.patient_id) in repr(sample)  # PHI kept out of repr


def test_json_broker_gives_the_same_records(sim: SimulatorHandle, clock: FakeClock) -> None:
    xml_client = make_client(sim, clock)
    json_client = make_client(sim, clock, transport="json")
    ids = [p.patient_id for p in sim.dataset.live_patients()[:6]]
    assert [json_client.get_demographic(i) for i in ids] == [xml_client.get_demographic(i) for i in ids]
    start = json_client.lookup_patients().lst
    assert start is not None
    clock.sleep(5)
    sim.dataset.update_patient(ids[0], city="Valdosta")  # one change: the broker answers with an object
    clock.sleep(5)
    one = json_client.get_updated_patients(start)
    assert [p.patient_id for p in one.upserts] == [ids[0]] and one.upserts[0].city == "VALDOSTA"
    sim.dataset.update_patient(ids[1], city="Tifton")  # two changes: an array
    clock.sleep(5)
    two = json_client.get_updated_patients(start)
    assert sorted(p.patient_id for p in two.upserts) == sorted(ids[:2])
    assert two == xml_client.get_updated_patients(start)


def _seen_visit_without_charges(ds: SimulatorDataset) -> int:
    for v in ds.live_visits():
        if not v.charges_posted and v.appt_status in (0, 1, 3):
            return v.visit_id
    raise AssertionError("no candidate visit")


def test_save_charges_validates_before_any_request(sim: SimulatorHandle, clock: FakeClock) -> None:
    client = make_client(sim, clock)
    bad = ChargeSubmission(1, 2, 3, date(2025, 3, 7), ("F41.1",), (ChargeLine("9083", 0),))
    with pytest.raises(ChargeValidationError) as exc:
        client.save_charges(bad)
    assert {"lines[0].cpt_code", "lines[0].units"} <= set(exc.value.fields)
    assert client.stats.http_requests == 0
    unknown = ChargeSubmission(1, 2, 3, date(2025, 3, 7), ("F41.1",), (ChargeLine("90899"),))
    with pytest.raises(ChargeValidationError) as exc:
        client.save_charges(unknown)
    assert exc.value.fields == ("lines[0].cpt_code",)


def test_save_charges_replaces_a_visits_charges(sim: SimulatorHandle, clock: FakeClock) -> None:
    ds = sim.dataset
    client = make_client(sim, clock)
    visit = ds.visits[_seen_visit_without_charges(ds)]
    since = client.lookup_patients().lst
    assert since is not None
    clock.sleep(2)
    provider_id = client.lookup_provider(ds.providers[visit.provider_id].code)
    assert provider_id == visit.provider_id
    sub = ChargeSubmission(
        visit.patient_id,
        visit.visit_id,
        provider_id,
        visit.visit_date,
        ("F41.1", "Z63.0"),
        (
            ChargeLine("90837", 1, Decimal("160.00"), ("95",), (1,), "10"),
            ChargeLine("96127", 2, None, (), (1, 2)),
        ),
    )
    first = client.save_charges(sub)
    live = [c.charge_id for c in ds.live_charges() if c.visit_id == visit.visit_id]
    assert sorted(first.charge_ids) == sorted(live) and len(live) == 2
    assert ds.charges[first.charge_ids[1]].fee == Decimal("20.00")  # fee schedule x units
    with pytest.raises(AmdFaultError) as exc:
        client.save_charges(sub)  # without replace: the visit already has charges
    assert exc.value.fault.code == FaultCode.DUPLICATE_CHARGES
    clock.sleep(2)
    second = client.save_charges(sub, replace=True)
    assert not any(ds.is_live(CHARGE, c) for c in first.charge_ids)
    assert all(ds.is_live(CHARGE, c) for c in second.charge_ids)
    clock.sleep(2)
    updates = client.get_updated_visits(since)
    assert visit.visit_id in updates.charges_posted_ids  # AMD reports it as visit "D" with its fields
    assert visit.visit_id not in updates.deleted_ids
    assert {c.charge_id for c in updates.charges} == set(second.charge_ids)
    # first batch was created and voided inside the window: never visible
    assert not set(updates.deleted_charge_ids) & set(first.charge_ids)


def test_eligibility_two_calls_and_24_hour_cache(sim: SimulatorHandle, clock: FakeClock) -> None:
    ds = sim.dataset
    client = make_client(sim, clock)
    (pid, cov), expected = next((k, e) for k, e in ds.eligibility.items() if e.reject_code is None)
    result = client.check_eligibility(pid, cov)
    assert result.status == ("ACTIVE" if expected.active else "INACTIVE")
    assert result.eligible is expected.active
    if expected.active:
        assert result.copay == expected.copay and result.deductible_remaining == expected.deductible_remaining
    calls = client.stats.requests_by_action
    assert calls["submitdemandrequest"] == 1 and calls["checkeligibilityresponse"] >= 2  # pending first
    before = client.stats.http_requests
    cached = client.check_eligibility(pid, cov)
    assert cached.from_cache and client.stats.http_requests == before
    clock.sleep(24 * 3600 + 1)
    fresh = client.check_eligibility(pid, cov)
    assert not fresh.from_cache and client.stats.http_requests > before


def test_claim_status_with_277_codes(sim: SimulatorHandle, clock: FakeClock) -> None:
    ds = sim.dataset
    client = make_client(sim, clock)
    vid, statuses = next(iter(ds.claim_statuses.items()))
    result = client.get_claim_status(vid, statuses[0].carrier_code)
    detail = result.claims[0].details[0]
    assert detail.category_code == statuses[0].category_code
    assert detail.category_description != "UNKNOWN"
    assert detail.family in {"FINALIZED", "PENDING", "ACKNOWLEDGED"}
    assert result.claims[0].claim_id == statuses[0].claim_id
    none = client.get_claim_status(_seen_visit_without_charges(ds), "AETNA")
    assert none.claims[0].details[0].category_code == "A4"  # not found


def test_more_than_1000_changes_come_back_ids_only_and_are_rerequested(clock: FakeClock) -> None:
    ds = SimulatorDataset.synthetic(seed=9, n_patients=1100, n_days=1, future_days=1)
    with start_simulator(ds, SimulatorConfig(seed=9), clock=clock) as sim:
        client = make_client(sim, clock)
        since = client.lookup_patients().lst
        assert since is not None
        clock.sleep(1)
        for p in ds.live_patients():
            ds.update_patient(p.patient_id, city="Columbus")
        clock.sleep(1)
        parts = list(client.iter_updated_patients(since))
        assert [len(p.upserts) for p in parts] == [500, 500, 100]
        assert len({p.servertime for p in parts}) == 1
        assert client.stats.requests_by_action["getupdatedpatients"] == 4
        assert all(p.city == "COLUMBUS" for part in parts for p in part.upserts)
        assert sim.counters.rate_limit_violations == 0


def test_transient_failures_are_retried(small_dataset: SimulatorDataset, clock: FakeClock) -> None:
    config = SimulatorConfig(
        seed=4, faults=FaultConfig(http_503_rate=0.3, drop_rate=0.2, fault_rate=0.2, seed=4)
    )
    with start_simulator(small_dataset, config, clock=clock) as sim:
        client = make_client(sim, clock)
        for p in small_dataset.live_patients()[:15]:
            assert client.get_demographic(p.patient_id).patient_id == p.patient_id
        assert client.stats.retries > 0 and sim.counters.dropped_connections > 0
        assert sim.counters.rate_limit_violations == 0


def test_unshared_limiters_get_rate_limited_and_back_off(small_dataset: SimulatorDataset) -> None:
    clock = FakeClock(datetime(2025, 3, 12, 10, 0, tzinfo=ZoneInfo("America/Denver")))  # peak
    with start_simulator(small_dataset, SimulatorConfig(seed=1), clock=clock) as sim:
        # Two clients with their own limiters on one office key: the server sees 2 tier-1 calls a minute.
        a = make_client(sim, clock)
        b = make_client(sim, clock)
        since = a.lookup_patients().lst
        assert since is not None
        a.get_updated_patients(since)
        b.get_updated_patients(since)
        assert sim.counters.rate_limit_violations == 1  # ...which the simulator counts
        assert b.stats.rate_limited == 1  # and the client waited and retried instead of failing


def test_logs_contain_ids_and_counts_but_no_phi(
    sim: SimulatorHandle, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ds = sim.dataset
    client = make_client(sim, clock)
    store, sink = InMemoryWatermarkStore(), MemorySink(clock)
    sync_patients(client, store, sink)
    sync_visits(client, store, sink, initial_start=date(2025, 3, 1), initial_end=date(2025, 3, 14))
    for p in ds.live_patients()[:5]:
        ds.update_patient(p.patient_id, address1="1 Secret Lane")
    clock.sleep(60)
    sync_patients(client, store, sink)
    text = caplog.text
    assert "getupdatedpatients" in text
    forbidden = {"SECRET LANE", "Secret Lane", sim.config.password}
    for p in ds.live_patients():
        forbidden |= {p.last_name.upper(), p.email or "\0", p.dob.strftime("%m/%d/%Y")}
    leaked = [word for word in forbidden if len(word) > 3 and word in text]
    assert not leaked, leaked
    assert client.session is not None and client.session.token not in text


def test_visit_window_semantics(sim: SimulatorHandle, clock: FakeClock) -> None:
    ds = sim.dataset
    client = make_client(sim, clock)
    since = client.lookup_patients().lst
    assert since is not None
    clock.sleep(1)
    old = ds.live_visits()[0]
    ds.update_visit(old.visit_id, appt_status=12)
    from ingest.advancedmd.simulator import SimVisit

    v = ds.add_visit(
        SimVisit(
            0,
            old.patient_id,
            old.provider_id,
            "MAIN",
            "THERAPY 45",
            "X",
            date(2025, 3, 20),
            datetime(2025, 3, 20, 9, 0),
            45,
            0,
        )
    )
    gone = ds.add_visit(
        SimVisit(
            0,
            old.patient_id,
            old.provider_id,
            "MAIN",
            "THERAPY 45",
            "X",
            date(2025, 3, 21),
            datetime(2025, 3, 21, 9, 0),
            45,
            0,
        )
    )
    ds.delete_visit(gone.visit_id)  # created and deleted inside the window: not reported
    victim = ds.live_visits()[1]
    ds.delete_visit(victim.visit_id)
    clock.sleep(1)
    u = client.get_updated_visits(since)
    assert u.statuses == {old.visit_id: "C", v.visit_id: "N", victim.visit_id: "D"}
    assert u.deleted_ids == (victim.visit_id,)
    # charges of the deleted visit are reported with it only through the cascade in the sink
    assert timedelta(0) <= clock.now() - datetime(2025, 3, 10, 8, 0, tzinfo=ZoneInfo("UTC"))
