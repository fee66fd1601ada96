"""One AdvancedMD step of a kind at a time per office key, across every process and run.

Why: a sync fetches a window from the watermark, lands it in the warehouse, then moves the watermark in the store:
two separate writes. Two overlapping syncs of one entity can interleave as "B lands, A lands (an older read), A
moves the watermark, B moves it": the warehouse keeps A's older rows under B's later watermark, and the changes in
between are never read again (found by the peak-day test, tests/orchestration/advancedmd/test_peak_day.py). The
same holds for a day partition landed over a newer incremental read, and charges out (``charges_out.py``) must
not find the same visit pending twice. Holding this lock from reading the watermark (or the pending rows) to the
last write makes the steps of one kind take turns; the rate limiter already makes their API calls take turns.

A session advisory lock on PostgreSQL; on the embedded store an flock on a file under ``var/advancedmd/``. Both
are released when the holder dies, so a killed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from operational_api.settings import var_dir

POLL_SECONDS = 0.2
SYNC_WAIT_SECONDS = 15 * 60  # a worst-case visits run at peak takes ~10 minutes (schedules.py)


@contextmanager
def office_lock(
    engine: Engine, office_key: str, purpose: str, *, wait_seconds: float = 0.0
) -> Iterator[bool]:
    """Yields whether this process holds the lock for ``purpose`` on ``office_key``, waiting at most
    ``wait_seconds`` for it (0: one try). The caller decides what not holding it means (skip, or fail)."""
    deadline = time.monotonic() + wait_seconds
    if engine.dialect.name == "postgresql":
        key = {"k": f"mentalspace advancedmd {purpose} {office_key}"}
        with engine.connect() as conn:
            while True:
                held = bool(conn.execute(text("select pg_try_advisory_lock(hashtext(:k))"), key).scalar())
                conn.commit()
                if held or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("select pg_advisory_unlock(hashtext(:k))"), key)
                    conn.commit()
        return
    path = var_dir() / "advancedmd" / f"{purpose}-{office_key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    held = False
                    break
                time.sleep(POLL_SECONDS)
        yield held
    finally:
        os.close(fd)  # closing the descriptor releases the flock
