"""Peak/off-peak, tiers and the queueing limiter, on a fake clock (no real waiting)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.ratelimit import (
    RateLimiter,
    RetryPolicy,
    Tier,
    is_peak,
    limit_for,
    next_peak_boundary,
    tier_for,
)

MT = ZoneInfo("America/Denver")
KEY = "991001"


def mt(*args: int) -> datetime:
    return datetime(*args, tzinfo=MT)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def per_minute_ok(times: list[datetime], tier: Tier) -> bool:
    """Judge like AdvancedMD: fixed one-minute intervals, limit of the minute."""
    counts = Counter(int(t.timestamp() // 60) for t in times)
    return all(n <= limit_for(tier, datetime.fromtimestamp(minute * 60, UTC)) for minute, n in counts.items())


def drive(limiter: RateLimiter, clock: FakeClock, tier: Tier, n: int) -> list[datetime]:
    sent = []
    for _ in range(n):
        limiter.acquire(KEY, tier)
        sent.append(clock.now())
    return sent


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (mt(2025, 3, 12, 5, 59, 59), False),  # Wednesday just before 06:00
        (mt(2025, 3, 12, 6, 0, 0), True),
        (mt(2025, 3, 12, 17, 59, 59), True),
        (mt(2025, 3, 12, 18, 0, 0), False),  # the end is exclusive
        (mt(2025, 3, 14, 17, 59, 0), True),  # Friday
        (mt(2025, 3, 14, 18, 0, 0), False),
        (mt(2025, 3, 15, 12, 0, 0), False),  # Saturday noon
        (mt(2025, 3, 16, 12, 0, 0), False),  # Sunday noon
        (mt(2025, 3, 17, 6, 0, 0), True),  # Monday
    ],
)
def test_peak_hours_in_mountain_time(at: datetime, expected: bool) -> None:
    assert is_peak(at) is expected


def test_peak_boundaries_follow_dst() -> None:
    # Spring forward (Sunday 2025-03-09): Friday before, 06:00 MST = 13:00 UTC; Monday after, 06:00 MDT = 12:00 UTC.
    assert not is_peak(utc(2025, 3, 7, 12, 59)) and is_peak(utc(2025, 3, 7, 13, 0))
    assert not is_peak(utc(2025, 3, 10, 11, 59)) and is_peak(utc(2025, 3, 10, 12, 0))
    assert is_peak(utc(2025, 3, 10, 23, 59)) and not is_peak(utc(2025, 3, 11, 0, 0))  # 18:00 MDT = 00:00 UTC
    # The change day itself is a Sunday: off-peak all day, including the skipped hour.
    assert not any(is_peak(utc(2025, 3, 9, 0) + timedelta(minutes=m)) for m in range(0, 24 * 60, 7))
    # Fall back (Sunday 2025-11-02): Friday before at 12:00 UTC = 06:00 MDT, Monday after at 13:00 UTC = 06:00 MST.
    assert is_peak(utc(2025, 10, 31, 12, 0)) and not is_peak(utc(2025, 10, 31, 11, 59))
    assert not is_peak(utc(2025, 11, 3, 12, 30)) and is_peak(utc(2025, 11, 3, 13, 0))
    assert not any(is_peak(utc(2025, 11, 2, 0) + timedelta(minutes=m)) for m in range(0, 25 * 60, 7))


def test_next_peak_boundary_skips_weekends() -> None:
    assert next_peak_boundary(mt(2025, 3, 14, 12, 0)) == mt(2025, 3, 14, 18, 0)
    assert next_peak_boundary(mt(2025, 3, 14, 18, 0)) == mt(2025, 3, 17, 6, 0)
    assert next_peak_boundary(mt(2025, 3, 15, 3, 0)) == mt(2025, 3, 17, 6, 0)


def test_tiers_follow_the_reference() -> None:
    assert tier_for("GETUPDATEDVISITS") == Tier.HIGH
    assert tier_for("getupdatedpatients", "api") == Tier.HIGH
    for action in (
        "savecharges",
        "getdemographic",
        "getdatevisits",
        "updvisitwithnewcharges",
        "gettxhistory",
        "getappts",
        "getpaymentdetaildata",
    ):
        assert tier_for(action) == Tier.MEDIUM
    assert tier_for("lookuppatient", "lookup") == Tier.LOW
    assert tier_for("lookupproccode") == Tier.LOW
    assert tier_for("somethingunlisted") == Tier.LOW  # vendor default
    assert tier_for("request", "claimstatus") == Tier.MEDIUM  # PRD budgets claim status as tier 2
    assert tier_for("submitdemandrequest", "atseligibility") == Tier.MEDIUM
    peak, off = mt(2025, 3, 12, 10), mt(2025, 3, 12, 22)
    assert [limit_for(t, peak) for t in Tier] == [1, 12, 24]
    assert [limit_for(t, off) for t in Tier] == [60, 120, 120]


def test_tier1_peak_is_one_call_per_minute() -> None:
    clock = FakeClock(mt(2025, 3, 12, 10, 0))
    limiter = RateLimiter(clock)
    sent = drive(limiter, clock, Tier.HIGH, 5)
    gaps = [(b - a).total_seconds() for a, b in zip(sent, sent[1:], strict=False)]
    assert all(60 < g < 62 for g in gaps), gaps
    assert per_minute_ok(sent, Tier.HIGH)


def test_off_peak_allows_sixty_then_queues() -> None:
    clock = FakeClock(mt(2025, 3, 12, 22, 0))
    limiter = RateLimiter(clock)
    sent = drive(limiter, clock, Tier.HIGH, 61)
    assert sent[59] == sent[0]  # sixty at once
    assert (sent[60] - sent[0]).total_seconds() > 60
    assert per_minute_ok(sent, Tier.HIGH)


def test_weekend_daytime_is_off_peak() -> None:
    clock = FakeClock(mt(2025, 3, 15, 11, 0))  # Saturday
    limiter = RateLimiter(clock)
    sent = drive(limiter, clock, Tier.MEDIUM, 120)
    assert sent[-1] == sent[0]


def test_tiers_and_office_keys_are_independent() -> None:
    clock = FakeClock(mt(2025, 3, 12, 10, 0))
    limiter = RateLimiter(clock)
    limiter.acquire(KEY, Tier.HIGH)
    assert limiter.acquire(KEY, Tier.MEDIUM) == 0.0
    assert limiter.acquire("991002", Tier.HIGH) == 0.0
    assert limiter.acquire(KEY, Tier.HIGH) > 60


def test_evening_boundary_opens_off_peak_without_waiting_a_full_minute() -> None:
    clock = FakeClock(mt(2025, 3, 12, 17, 59, 30))
    limiter = RateLimiter(clock)
    sent = drive(limiter, clock, Tier.HIGH, 10)
    # Second call waits for 18:00 (+1 s safety margin), not for 18:00:31; then off-peak pace.
    assert mt(2025, 3, 12, 18, 0, 1) <= sent[1] < mt(2025, 3, 12, 18, 0, 2)
    assert sent[9] == sent[1]
    assert per_minute_ok(sent, Tier.HIGH)


def test_morning_boundary_throttles_to_peak() -> None:
    clock = FakeClock(mt(2025, 3, 12, 5, 58, 30))
    limiter = RateLimiter(clock)
    sent = drive(limiter, clock, Tier.HIGH, 123)
    assert per_minute_ok(sent, Tier.HIGH)
    peak_sent = [t for t in sent if is_peak(t)]
    assert len(peak_sent) == 3
    # Once peak starts, calls are a minute apart even though 60 went out just before 06:00.
    assert all((b - a).total_seconds() > 60 for a, b in zip(peak_sent, peak_sent[1:], strict=False))
    assert not [t for t in sent if mt(2025, 3, 12, 5, 59, 59) <= t < mt(2025, 3, 12, 6, 0, 0)]


@pytest.mark.parametrize(
    "start",
    [
        mt(2025, 3, 10, 5, 59, 0),  # Monday after spring forward
        mt(2025, 3, 7, 17, 59, 0),  # Friday before spring forward, into the weekend
        mt(2025, 11, 3, 5, 59, 0),  # Monday after fall back
        mt(2025, 10, 31, 17, 59, 0),  # Friday before fall back
    ],
)
def test_dst_weeks_never_exceed_minute_limits(start: datetime) -> None:
    clock = FakeClock(start)
    limiter = RateLimiter(clock)
    for tier in Tier:
        sent = drive(limiter, clock, tier, 30)
        assert per_minute_ok(sent, tier), tier


@settings(max_examples=60, deadline=None)
@given(
    offset_minutes=st.integers(min_value=0, max_value=7 * 24 * 60),
    gaps=st.lists(st.floats(min_value=0, max_value=90), min_size=1, max_size=80),
    tier=st.sampled_from(list(Tier)),
)
def test_property_no_fixed_minute_ever_exceeds_its_limit(
    offset_minutes: int, gaps: list[float], tier: Tier
) -> None:
    clock = FakeClock(mt(2025, 3, 3, 0, 0) + timedelta(minutes=offset_minutes))
    limiter = RateLimiter(clock)
    sent = []
    for gap in gaps:
        clock.sleep(gap)
        limiter.acquire(KEY, tier)
        sent.append(clock.now())
    assert per_minute_ok(sent, tier)


def test_block_holds_back_the_tier() -> None:
    clock = FakeClock(mt(2025, 3, 12, 22, 0))
    limiter = RateLimiter(clock)
    limiter.block(KEY, Tier.LOW, 30)
    assert 29.9 < limiter.acquire(KEY, Tier.LOW) <= 30.1
    assert limiter.acquire(KEY, Tier.MEDIUM) == 0.0


def test_backoff_grows_with_jitter_and_cap() -> None:
    policy = RetryPolicy(base_delay=2, max_delay=60)
    rng = random.Random(1)
    delays = [policy.delay(a, rng) for a in range(1, 10)]
    for attempt, d in enumerate(delays, start=1):
        ceiling = min(60, 2 * 2 ** (attempt - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered


def test_fake_clock_fires_timers_in_order_while_sleeping() -> None:
    clock = FakeClock(mt(2025, 3, 12, 9, 0))
    seen: list[tuple[str, datetime]] = []
    clock.call_at(mt(2025, 3, 12, 9, 5), lambda: seen.append(("b", clock.now())))
    clock.call_at(mt(2025, 3, 12, 9, 1), lambda: seen.append(("a", clock.now())))
    clock.sleep(600)
    assert [s[0] for s in seen] == ["a", "b"]
    assert seen[0][1] == mt(2025, 3, 12, 9, 1)
    assert clock.now() == mt(2025, 3, 12, 9, 10)
