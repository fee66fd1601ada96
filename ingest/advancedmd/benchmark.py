"""A simulated business day against the simulator, on a fake clock, with the figures we quote.

``run_business_day()`` loads a synthetic practice (initial load, off-peak, just after midnight),
then lets front-desk/clinician/biller changes happen through a 24-hour day (dense during peak,
sparse off-peak) while the PRD schedule runs: patients hourly, visits every 15 minutes. It
reports:

* calls per 1,000 records synced (HTTP requests incl. logins and retries / records landed),
  separately for the initial load and the incremental day;
* data freshness = time from a change in AdvancedMD to its landing in our sink, split by whether
  the change happened at peak or off-peak (p50/p95/max, minutes);
* rate-limit violations counted by the simulator (must be zero) and a consistency check of the
  sink against the simulator's data;
* with ``read_billing``: the calls of the nightly payments (gettxhistory) and claim-status runs after the initial
  load and after the day, per record they land (:func:`read_billing`, the assets' selection).

It runs in a few seconds of real time because the client, its rate limiter and the simulator
share a :class:`FakeClock` that advances whenever the client waits.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from ingest.advancedmd.claimstatus import MAX_VISITS_PER_RUN, visit_claim_statuses, visits_due
from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.normalize import parse_amd_naive
from ingest.advancedmd.ratelimit import RateLimiter, RetryPolicy, is_peak
from ingest.advancedmd.records import AmdCharge, AmdClaimStatus
from ingest.advancedmd.simulator.dataset import CHARGE, PATIENT, PRACTICE_TZ, VISIT, SimulatorDataset
from ingest.advancedmd.simulator.server import FaultConfig, SimulatorConfig, start_simulator
from ingest.advancedmd.sync import MemorySink, SyncResult, initial_load_visits, sync_patients, sync_visits
from ingest.advancedmd.watermarks import InMemoryWatermarkStore


@dataclass(frozen=True)
class BusinessDayConfig:
    seed: int = 20250311
    day: date = date(2025, 3, 11)  # a Tuesday, after the March DST change
    n_patients: int = 300
    history_days: int = 20
    future_days: int = 14
    patient_sync_minutes: float = 60.0  # PRD: hourly
    visit_sync_minutes: float = 15.0  # PRD: every 15 minutes
    changes_per_hour_peak: float = 30.0
    changes_per_hour_off_peak: float = 4.0
    faults: FaultConfig | None = None
    timeout: float = 2.0
    start_time: dtime = dtime(0, 1)  # practice-local time of the initial load
    hours: float = 24.0  # length of the simulated incremental period
    read_billing: bool = False  # the nightly payments and claim-status runs after the load and after the day


@dataclass(frozen=True)
class FreshnessStats:
    """Minutes from a change in AdvancedMD to its landing in the sink."""

    changes: int
    mean_minutes: float
    p50_minutes: float
    p95_minutes: float
    max_minutes: float

    @classmethod
    def of(cls, minutes: Sequence[float]) -> FreshnessStats:
        if not minutes:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        ordered = sorted(minutes)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        return cls(
            len(ordered),
            round(statistics.fmean(ordered), 2),
            round(statistics.median(ordered), 2),
            round(p95, 2),
            round(ordered[-1], 2),
        )


@dataclass(frozen=True)
class BillingRead:
    """One night's payments-and-write-offs run (gettxhistory) and claim-status run: who was asked, what they
    landed (rows: transactions; claims), and the HTTP requests each took."""

    tx_patients: int
    transactions: int
    tx_requests: int
    claim_visits: int
    open_visits: int
    claims: int
    claim_requests: int


TX_DAYS_BACK = 30  # TransactionsConfig.days_back
CLAIMS_DAYS_BACK = 60  # ClaimStatusConfig.days_back


def read_billing(
    client: AdvancedMDClient,
    sink: MemorySink,
    claims: dict[int, list[AmdClaimStatus]],
    today: date,
    *,
    tx_days_back: int = TX_DAYS_BACK,
    claims_days_back: int = CLAIMS_DAYS_BACK,
) -> BillingRead:
    """What ``advancedmd/transactions`` and ``advancedmd/claims`` ask on ``today`` of the visits and charges in
    ``sink``, with their selection: the history of every patient with a visit in the last ``tx_days_back`` days;
    the claims of every visit with charges in the last ``claims_days_back`` days whose claims are not all
    finalized, a night's share of them (``visits_due``). ``claims`` (the landed claims by visit) is updated as the
    landing replaces each asked visit's claims."""
    since = today - timedelta(days=tx_days_back)
    patients = sorted(
        {
            v.patient_id
            for v in sink.visits.values()
            if v.patient_id is not None and v.visit_date is not None and v.visit_date >= since
        }
    )
    before = client.stats.http_requests
    transactions = sum(1 for pid in patients for _ in client.iter_tx_history(pid))
    tx_requests = client.stats.http_requests - before

    since = today - timedelta(days=claims_days_back)
    first_charge: dict[int, AmdCharge] = {}
    for charge in sorted(sink.charges.values(), key=lambda c: c.charge_id):
        dos = charge.begin_date_of_service
        if charge.patient_id is not None and dos is not None and dos >= since:
            first_charge.setdefault(charge.visit_id, charge)
    open_visits = [
        vid
        for vid in sorted(first_charge)
        if not any(c.category_code.startswith("F") for c in claims.get(vid, ()))
    ]
    due = visits_due(open_visits, MAX_VISITS_PER_RUN, today)
    before = client.stats.http_requests
    for vid in due:
        charge = first_charge[vid]
        claims[vid] = visit_claim_statuses(client, vid, charge.patient_id or 0, charge.charge_id)
    return BillingRead(
        tx_patients=len(patients),
        transactions=transactions,
        tx_requests=tx_requests,
        claim_visits=len(due),
        open_visits=len(open_visits),
        claims=sum(len(claims[vid]) for vid in due),
        claim_requests=client.stats.http_requests - before,
    )


@dataclass(frozen=True)
class BusinessDayReport:
    config: BusinessDayConfig
    initial_records: int
    initial_requests: int
    incremental_records: int
    incremental_requests: int
    sync_runs: int
    freshness_peak: FreshnessStats
    freshness_off_peak: FreshnessStats
    rate_limit_violations: int
    consistent: bool
    mismatches: dict[str, int] = field(default_factory=dict)
    simulator_requests: int = 0
    logins: int = 0
    # (entity, change instant, first landing after it) of every change of the day that landed: for freshness
    # further on (bench/amd.py adds the warehouse refresh to reach the marts).
    change_landings: list[tuple[str, datetime, datetime]] = field(default_factory=list, repr=False)
    initial_billing: BillingRead | None = None
    nightly_billing: BillingRead | None = None

    @property
    def initial_calls_per_1000(self) -> float:
        return round(1000 * self.initial_requests / max(1, self.initial_records), 1)

    @property
    def incremental_calls_per_1000(self) -> float:
        return round(1000 * self.incremental_requests / max(1, self.incremental_records), 1)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["config"] = {k: str(v) for k, v in asdict(self.config).items()}
        out.pop("change_landings")
        out["initial_calls_per_1000"] = self.initial_calls_per_1000
        out["incremental_calls_per_1000"] = self.incremental_calls_per_1000
        return out

    def summary(self) -> str:
        fp, fo = self.freshness_peak, self.freshness_off_peak
        return (
            f"schedule: patients every {self.config.patient_sync_minutes:g} min, visits every "
            f"{self.config.visit_sync_minutes:g} min\n"
            f"initial load: {self.initial_records} records, {self.initial_requests} calls "
            f"-> {self.initial_calls_per_1000} calls per 1,000 records\n"
            f"incremental day: {self.incremental_records} records, {self.incremental_requests} calls in "
            f"{self.sync_runs} sync runs -> {self.incremental_calls_per_1000} calls per 1,000 records\n"
            f"freshness peak: n={fp.changes} mean {fp.mean_minutes} p50 {fp.p50_minutes} p95 {fp.p95_minutes} "
            f"max {fp.max_minutes} min\n"
            f"freshness off-peak: n={fo.changes} mean {fo.mean_minutes} p50 {fo.p50_minutes} "
            f"p95 {fo.p95_minutes} max {fo.max_minutes} min\n"
            f"rate-limit violations: {self.rate_limit_violations}; consistent with simulator: {self.consistent}"
            + "".join(
                f"\n{when}: payments {b.tx_requests} calls for {b.transactions} transactions of {b.tx_patients} "
                f"patients; claim status {b.claim_requests} calls for {b.claims} claims of {b.claim_visits} visits"
                for when, b in (
                    ("after the initial load", self.initial_billing),
                    ("nightly", self.nightly_billing),
                )
                if b is not None
            )
        )


def _schedule_changes(
    clock: FakeClock, ds: SimulatorDataset, cfg: BusinessDayConfig, start: datetime, end: datetime
) -> None:
    rng = random.Random(cfg.seed + 17)
    change_rng = random.Random(cfg.seed + 23)
    t = start
    while t < end:
        rate = cfg.changes_per_hour_peak if is_peak(t) else cfg.changes_per_hour_off_peak
        t = t + timedelta(hours=rng.expovariate(rate))
        if t < end:
            clock.call_at(t, lambda: ds.apply_random_change(change_rng))


def visible_id_mismatches(
    ds: SimulatorDataset,
    sink: MemorySink,
    visits_since: datetime,
    omitted_statuses: frozenset[int] = frozenset({5, 11}),
) -> dict[str, int]:
    """Compare ids in the sink with what the API can reveal (getdatevisits omits 5/11 visits
    that never changed after the initial load). Returns counts of missing/extra ids per entity."""
    expected_p = {p.patient_id for p in ds.live_patients()}
    expected_v = {
        v.visit_id
        for v in ds.live_visits()
        if v.appt_status not in omitted_statuses
        or (ds.last_event_at(VISIT, v.visit_id) or visits_since) >= visits_since
    }
    expected_c = {c.charge_id for c in ds.live_charges() if c.visit_id in expected_v}
    out = {}
    for name, expected, got in (
        ("patients", expected_p, set(sink.patients)),
        ("visits", expected_v, set(sink.visits)),
        ("charges", expected_c, set(sink.charges)),
    ):
        out[f"{name}_missing"] = len(expected - got)
        out[f"{name}_extra"] = len(got - expected)
    return out


def run_business_day(config: BusinessDayConfig | None = None) -> BusinessDayReport:
    """Simulate one business day (see module docstring) and return the figures."""
    cfg = config or BusinessDayConfig()
    anchor = datetime.combine(cfg.day, dtime(0), tzinfo=PRACTICE_TZ)
    clock = FakeClock(datetime.combine(cfg.day, cfg.start_time, tzinfo=PRACTICE_TZ))
    ds = SimulatorDataset.synthetic(
        cfg.seed, cfg.n_patients, cfg.history_days, anchor=anchor, future_days=cfg.future_days
    )
    sim_cfg = SimulatorConfig(seed=cfg.seed, faults=cfg.faults or FaultConfig())
    with start_simulator(ds, sim_cfg, clock=clock) as sim:
        client = AdvancedMDClient(
            sim.credentials(),
            clock=clock,
            rate_limiter=RateLimiter(clock),
            timeout=cfg.timeout,
            retry=RetryPolicy(),
            rng=random.Random(cfg.seed),
        )
        store = InMemoryWatermarkStore()
        sink = MemorySink(clock)
        try:
            before = client.stats.http_requests
            r1 = sync_patients(client, store, sink)
            r2 = initial_load_visits(
                client,
                store,
                sink,
                start=cfg.day - timedelta(days=cfg.history_days),
                end=cfg.day + timedelta(days=cfg.future_days),
            )
            initial_requests = client.stats.http_requests - before
            initial_records = r1.records + r2.records
            claims: dict[int, list[AmdClaimStatus]] = {}
            initial_billing = (
                read_billing(client, sink, claims, clock.now().astimezone(PRACTICE_TZ).date())
                if cfg.read_billing
                else None
            )
            visit_wm = parse_amd_naive(r2.watermark_after)
            assert visit_wm is not None
            visits_since = visit_wm.replace(tzinfo=client.server_tz).astimezone(UTC)

            day_start = clock.now()
            day_end = day_start + timedelta(hours=cfg.hours)
            _schedule_changes(clock, ds, cfg, day_start, day_end)
            runs: list[SyncResult] = []
            before = client.stats.http_requests
            next_p = next_v = day_start
            p_step = timedelta(minutes=cfg.patient_sync_minutes)
            v_step = timedelta(minutes=cfg.visit_sync_minutes)
            while min(next_p, next_v) <= day_end:
                clock.advance_to(min(next_p, next_v))
                if next_v <= clock.now():
                    runs.append(sync_visits(client, store, sink))
                    while next_v <= clock.now():
                        next_v += v_step
                if next_p <= clock.now():
                    runs.append(sync_patients(client, store, sink))
                    while next_p <= clock.now():
                        next_p += p_step
            clock.advance_to(day_end)
            runs.append(sync_visits(client, store, sink))
            runs.append(sync_patients(client, store, sink))
            incremental_requests = client.stats.http_requests - before
            # The nightly runs (02:00 MT and after), here right after the day: off-peak either way.
            nightly_billing = (
                read_billing(client, sink, claims, clock.now().astimezone(PRACTICE_TZ).date())
                if cfg.read_billing
                else None
            )

            landed: dict[tuple[str, int], list[datetime]] = {}
            for entity, rid, at in sink.landings:
                landed.setdefault((entity, rid), []).append(at)
            peak: list[float] = []
            off: list[float] = []
            change_landings: list[tuple[str, datetime, datetime]] = []
            for ev in ds.change_log:
                if ev.at < day_start or ev.entity not in (PATIENT, VISIT, CHARGE):
                    continue
                times = [t for t in landed.get((ev.entity, ev.record_id), []) if t >= ev.at]
                if not times:
                    continue  # created and deleted within one window: never visible, by design
                minutes = (min(times) - ev.at).total_seconds() / 60
                change_landings.append((ev.entity, ev.at, min(times)))
                (peak if is_peak(ev.at) else off).append(minutes)
            mismatches = visible_id_mismatches(ds, sink, visits_since)
            counters = sim.counters
            return BusinessDayReport(
                config=cfg,
                initial_records=initial_records,
                initial_requests=initial_requests,
                incremental_records=sum(r.records for r in runs),
                incremental_requests=incremental_requests,
                sync_runs=len(runs),
                freshness_peak=FreshnessStats.of(peak),
                freshness_off_peak=FreshnessStats.of(off),
                rate_limit_violations=counters.rate_limit_violations,
                consistent=not any(mismatches.values()),
                mismatches=mismatches,
                simulator_requests=counters.requests,
                logins=client.stats.logins,
                change_landings=change_landings,
                initial_billing=initial_billing,
                nightly_billing=nightly_billing,
            )
        finally:
            client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ingest.advancedmd.benchmark [--json]``: PRD schedule and a 1-minute schedule."""
    args = list(sys.argv[1:] if argv is None else argv)
    reports = [
        run_business_day(),
        run_business_day(BusinessDayConfig(patient_sync_minutes=2, visit_sync_minutes=1)),
    ]
    if "--json" in args:
        print(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
    else:
        for r in reports:
            print(r.summary(), end="\n\n")
    return 0 if all(r.rate_limit_violations == 0 and r.consistent for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
