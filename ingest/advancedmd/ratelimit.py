"""AdvancedMD rate limits: tiers, peak hours, a queueing client-side limiter and retry backoff.

Facts honoured (advancedmd-api.md section 5, PRD "Rate Limiting Strategy"):

* limits apply per office key, per tier, measured in one-minute intervals;
* peak is 06:00-18:00 America/Denver, Monday to Friday (DST handled by zoneinfo); everything
  else, weekends included, is off-peak;
* tier 1 (GETUPDATEDVISITS/GETUPDATEDPATIENTS) 1/min peak, 60/min off-peak; tier 2 12/120;
  tier 3 (all LOOKUP*, and the default for unlisted actions) 24/120.

The client limiter is deliberately stricter than the server's judgement: it uses a *sliding*
window of 60 s plus a safety margin (any fixed calendar minute then holds at most the limit),
and near a peak boundary it applies the lower of the limits in force within the margin, so
network latency or modest clock skew between us and AdvancedMD cannot turn into a $0.01
penalty per excess call.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from enum import IntEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.advancedmd.clock import Clock

MOUNTAIN = ZoneInfo("America/Denver")
PEAK_START = dtime(6, 0)
PEAK_END = dtime(18, 0)
WINDOW_SECONDS = 60.0


class Tier(IntEnum):
    """AdvancedMD API cost tiers (1 = high impact)."""

    HIGH = 1
    MEDIUM = 2
    LOW = 3


@dataclass(frozen=True)
class TierLimit:
    """Calls allowed per one-minute interval at peak and off-peak."""

    peak: int
    off_peak: int


DEFAULT_LIMITS: Mapping[Tier, TierLimit] = {
    Tier.HIGH: TierLimit(peak=1, off_peak=60),
    Tier.MEDIUM: TierLimit(peak=12, off_peak=120),
    Tier.LOW: TierLimit(peak=24, off_peak=120),
}

# Actions named in the vendor's tier table. Eligibility and claim status are not in that table
# (so the vendor default would be tier 3), but the PRD budgets them as tier 2; we take the
# stricter of the two sources so we can never under-budget them.
ACTION_TIERS: Mapping[str, Tier] = {
    "getupdatedvisits": Tier.HIGH,
    "getupdatedpatients": Tier.HIGH,
    "savecharges": Tier.MEDIUM,
    "getdemographic": Tier.MEDIUM,
    "getdatevisits": Tier.MEDIUM,
    "updvisitwithnewcharges": Tier.MEDIUM,
    "gettxhistory": Tier.MEDIUM,
    "getappts": Tier.MEDIUM,
    "getpaymentdetaildata": Tier.MEDIUM,
    "submitdemandrequest": Tier.MEDIUM,
    "checkeligibilityresponse": Tier.MEDIUM,
}
CLASS_ACTION_TIERS: Mapping[tuple[str, str], Tier] = {("claimstatus", "request"): Tier.MEDIUM}


def tier_for(action: str, cls: str | None = None) -> Tier:
    """Return the cost tier of ``action`` (``class`` disambiguates generic names like ``request``)."""
    action_l = action.lower()
    if cls is not None and (cls.lower(), action_l) in CLASS_ACTION_TIERS:
        return CLASS_ACTION_TIERS[(cls.lower(), action_l)]
    return ACTION_TIERS.get(action_l, Tier.LOW)


def is_peak(at: datetime) -> bool:
    """True when ``at`` falls in 06:00-18:00 Mountain Time on a weekday (the end is exclusive)."""
    if at.tzinfo is None:
        raise ValueError("is_peak needs a timezone-aware datetime")
    local = at.astimezone(MOUNTAIN)
    return local.weekday() < 5 and PEAK_START <= local.time() < PEAK_END


def limit_for(tier: Tier, at: datetime, limits: Mapping[Tier, TierLimit] = DEFAULT_LIMITS) -> int:
    """Calls per minute allowed for ``tier`` at instant ``at``."""
    lim = limits[tier]
    return lim.peak if is_peak(at) else lim.off_peak


@dataclass
class LimiterState:
    """One office key's booked call instants per tier (epoch seconds, ascending) and quota holds."""

    reservations: dict[int, list[float]] = field(default_factory=dict)
    blocked_until: dict[int, float] = field(default_factory=dict)

    def prune(self, before: float) -> None:
        for tier, slots in self.reservations.items():
            self.reservations[tier] = [ts for ts in slots if ts > before]
        self.blocked_until = {t: ts for t, ts in self.blocked_until.items() if ts > before}

    def to_json(self) -> str:
        return json.dumps(
            {
                "reservations": {str(t): v for t, v in self.reservations.items()},
                "blocked_until": {str(t): v for t, v in self.blocked_until.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LimiterState:
        data = json.loads(text) if text.strip() else {}
        return cls(
            {int(t): [float(x) for x in v] for t, v in data.get("reservations", {}).items()},
            {int(t): float(v) for t, v in data.get("blocked_until", {}).items()},
        )


class RateLimiter:
    """Thread-safe, queueing limiter keyed by (office key, tier).

    ``acquire`` reserves the earliest slot that keeps every sliding window within the limit
    and then sleeps on the injected clock until that slot. Reservations are handed out in
    call order, so concurrent callers queue FIFO instead of racing. One limiter instance should
    be shared by every client that uses the same office key in a process.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limits: Mapping[Tier, TierLimit] = DEFAULT_LIMITS,
        margin_seconds: float = 1.0,
        peak: Callable[[datetime], bool] = is_peak,
    ) -> None:
        self._clock = clock
        self._limits = limits
        self._margin = margin_seconds
        self._peak = peak
        self._lock = threading.Lock()
        self._states: dict[str, LimiterState] = {}
        self.total_wait_seconds = 0.0
        self.acquired = 0

    def _limit_at(self, tier: Tier, ts: float) -> int:
        lim = self._limits[tier]
        # The lowest limit in force within +-margin: a request scheduled just before 06:00 may be
        # judged by AdvancedMD as a peak-minute request.
        values = []
        for offset in (-self._margin, 0.0, self._margin):
            at = datetime.fromtimestamp(ts + offset, UTC)
            values.append(lim.peak if self._peak(at) else lim.off_peak)
        return min(values)

    @contextmanager
    def _state(self, office_key: str) -> Iterator[LimiterState]:
        """The office key's reservations and holds, exclusively for the length of the block.

        In memory here (one process); :class:`FileRateLimiter` and the store's PostgreSQL limiter
        (``orchestration.defs.advancedmd.ratelimit_pg``) load and save it under a lock every process
        takes, so all of them queue on one state."""
        with self._lock:
            yield self._states.setdefault(office_key, LimiterState())

    def reserve(self, office_key: str, tier: Tier) -> datetime:
        """Book the next permissible instant for one call and return it (does not sleep)."""
        window = WINDOW_SECONDS + self._margin
        with self._state(office_key) as state:
            now = self._clock.now().timestamp()
            state.prune(now - window)
            queue = state.reservations.setdefault(int(tier), [])
            slot = max(now, queue[-1] if queue else now, state.blocked_until.get(int(tier), now))
            while True:
                limit = self._limit_at(tier, slot)
                in_window = [ts for ts in queue if ts > slot - window]
                if len(in_window) < limit:
                    break
                # Earliest of: enough earlier reservations leave the window, or the limit rises
                # at the next peak/off-peak boundary (plus margin). Then re-check at that instant.
                expiry = in_window[max(0, len(in_window) - limit)] + window + 1e-3
                boundary = (
                    next_peak_boundary(datetime.fromtimestamp(slot, UTC)).timestamp() + self._margin + 1e-3
                )
                slot = min(expiry, boundary) if boundary > slot else expiry
            queue.append(slot)
        with self._lock:
            self.acquired += 1
        return datetime.fromtimestamp(slot, UTC)

    def acquire(self, office_key: str, tier: Tier) -> float:
        """Wait (on the injected clock) until a call of ``tier`` may be sent; return seconds waited."""
        slot = self.reserve(office_key, tier)
        wait = (slot - self._clock.now()).total_seconds()
        if wait > 0:
            self._clock.sleep(wait)
            with self._lock:
                self.total_wait_seconds += wait
            return wait
        return 0.0

    def record_wait(self, seconds: float) -> None:
        """Account a wait a caller made itself after :meth:`reserve` (the client, to honour its deadline)."""
        with self._lock:
            self.total_wait_seconds += seconds

    def block(self, office_key: str, tier: Tier, seconds: float) -> None:
        """Hold back further calls of ``tier`` for ``seconds``.

        Used when AdvancedMD reports a quota violation we did not predict (e.g. another process
        using the same office key): waiting out the minute is cheaper than paying per call.
        """
        until = self._clock.now().timestamp() + seconds
        with self._state(office_key) as state:
            state.blocked_until[int(tier)] = max(state.blocked_until.get(int(tier), 0.0), until)


class FileRateLimiter(RateLimiter):
    """A limiter whose state is shared by every process on this machine (the embedded deployment).

    Per office key, ``<directory>/<office key>.json`` holds the booked instants and holds; each
    reservation takes an exclusive ``flock`` on ``<office key>.lock`` (released by the kernel if the
    process dies), reads the state, books, and writes it back (write + rename) before letting go.
    Any number of Dagster run processes and the command line then queue on one budget. The clock
    must be one every process agrees on (the system clock; the simulator's scaled clock in tests)."""

    def __init__(self, clock: Clock, directory: str | os.PathLike[str], **kwargs: object) -> None:
        super().__init__(clock, **kwargs)  # type: ignore[arg-type]
        self.directory = Path(directory)

    @contextmanager
    def _state(self, office_key: str) -> Iterator[LimiterState]:
        if not office_key.isdigit():
            raise ValueError("office keys are digits")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{office_key}.json"
        with self._lock:  # threads of this process queue here first: flock is per open file description
            fd = os.open(self.directory / f"{office_key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    state = LimiterState.from_json(path.read_text() if path.exists() else "")
                except (ValueError, TypeError):
                    # A torn or hand-edited file: start from no bookings rather than stop syncing; the
                    # server's own quota answer (block) still holds us back if that was optimistic.
                    state = LimiterState()
                yield state
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(state.to_json())
                os.replace(tmp, path)
            finally:
                os.close(fd)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for faults, HTTP 429/5xx, timeouts and dropped connections."""

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 120.0
    # After a quota violation the vendor says "try again in about a minute".
    rate_limited_delay: float = 61.0
    # DNS failures, refused connections and connect timeouts: the request never left, so a short
    # bounded retry (a restarting proxy, a DNS blip) and then a clear failure, not minutes of backoff.
    connect_attempts: int = 3
    connect_delay: float = 1.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (1-based): half fixed, half random ("equal jitter")."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def next_peak_boundary(at: datetime) -> datetime:
    """The next instant (after ``at``) where peak/off-peak status changes; handy for schedulers."""
    local = at.astimezone(MOUNTAIN)
    current = is_peak(at)
    day = local.date()
    for _ in range(8):
        for hour in (PEAK_START, PEAK_END):
            candidate = datetime.combine(day, hour, tzinfo=MOUNTAIN)
            if candidate > local and is_peak(candidate) != current:
                return candidate.astimezone(UTC)
        day = day + timedelta(days=1)
    raise AssertionError("no peak boundary within a week")  # unreachable: every week has one
