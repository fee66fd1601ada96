"""Injectable clocks shared by the AdvancedMD client, its rate limiter and the simulator.

Everything time-dependent in this package (rate-limit windows, peak hours, token expiry,
eligibility polling, backoff) goes through a :class:`Clock`, so tests can run a whole
business day in milliseconds with :class:`FakeClock` while the simulator judges rate-limit
windows against the very same fake time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Source of the current time plus a way to wait; both must be consistent with each other."""

    def now(self) -> datetime:
        """Return the current time as a timezone-aware datetime."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block (or pretend to) for ``seconds``."""
        ...


class SystemClock:
    """Wall-clock time in UTC and real sleeping."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Wall time, moved to ``start`` at the instant ``epoch`` (Unix seconds) and running ``speed`` times faster.

    Every process that builds it with the same ``start``, ``speed`` and ``epoch`` reads the same time, so
    a simulator (``amd-sim --clock-start ... --clock-speed ...`` prints its epoch) and any number of
    client processes can share peak hours and one-minute windows while a simulated hour passes in
    minutes. Sleeping takes ``seconds / speed`` of real time."""

    def __init__(self, start: datetime, speed: float = 1.0, epoch: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start time")
        if speed <= 0:
            raise ValueError("ScaledClock speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = float(speed)
        self.epoch = time.time() if epoch is None else float(epoch)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.epoch) * self.speed)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


class FakeClock:
    """A deterministic clock that only moves when somebody sleeps on it (or advances it).

    Timers registered with :meth:`call_at` fire, in time order, while the clock passes their
    instant; that is how tests and the benchmark inject dataset changes "during" a sync
    without threads: the client's own waits drive the simulated day forward.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.RLock()
        self._timers: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.total_slept = 0.0
        self.sleep_calls = 0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        with self._lock:
            self.sleep_calls += 1
            self.total_slept += seconds
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers on the way."""
        self.advance_to(self.now() + timedelta(seconds=max(0.0, float(seconds))))

    def advance_to(self, target: datetime) -> None:
        """Move time forward to ``target`` (never backwards), firing due timers in order."""
        target = target.astimezone(UTC)
        while True:
            with self._lock:
                if self._timers and self._timers[0][0] <= target:
                    at, _, callback = heapq.heappop(self._timers)
                    if at > self._now:
                        self._now = at
                else:
                    if target > self._now:
                        self._now = target
                    return
            # Run outside the lock: callbacks mutate datasets that the server thread reads
            # under its own lock, and may schedule further timers.
            callback()

    def call_at(self, at: datetime, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the clock reaches ``at`` (immediately on the next advance if past)."""
        if at.tzinfo is None:
            raise ValueError("call_at needs a timezone-aware datetime")
        with self._lock:
            heapq.heappush(self._timers, (at.astimezone(UTC), next(self._seq), callback))

    @property
    def pending_timers(self) -> int:
        with self._lock:
            return len(self._timers)
