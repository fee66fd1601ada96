"""The audit chain under concurrent writers on PostgreSQL: where the chain lock is taken decides the throughput.

Each writer thread loops over one request-shaped transaction: record an audit event, do the request's remaining
work (WORK_MS of database time, `pg_sleep`, standing for building the answer), insert a business row, commit.
Two placements of the append, back to back in the same minute (the machine is shared, so only a side-by-side
comparison means anything):

- "at record": the event is chained as soon as it is recorded (`audit.append_pending` right after `record`), so
  the chain lock is held through the rest of the request, as before the append moved to commit time;
- "at commit, in process": `record` only queues; the commit hook appends from Python (lock, read the last row,
  insert: three round trips under the lock), as SQLite does;
- "at commit": the same, with PostgreSQL's one `audit_append` call (migration 0014; the current code).

Figures: committed transactions per second and the p99 of one transaction, at 1, 10, 25 and 50 writers; the chain
is verified after each cell (every event present, linear).

    python -m bench audit_chain            (MENTALSPACE_BENCH_PG_URL or MENTALSPACE_TEST_PG_URL)
"""

from __future__ import annotations

import os
import threading
import time

TITLE = (
    "Audit chain: committed transactions/s by where the chain lock is taken (PostgreSQL, concurrent writers)"
)
COLUMNS = [
    "append",
    "writers",
    "transactions",
    "tx/s",
    "p50 ms",
    "p99 ms",
    "chain verified",
    "load before -> after",
]
DEFAULT_SIZES = "none"
LEVELS = (1, 10, 25, 50)
SECONDS = 10
WORK_MS = 20
MODES = ("at record", "at commit, in process", "at commit")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _cell(engine, mode: str, writers: int) -> dict:
    from sqlalchemy import text

    from operational_api import audit
    from operational_api.audit_chain import verify
    from operational_api.db import session_scope
    from operational_api.models import PracticeSetting

    before_rows = verify(engine).rows
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + SECONDS

    def writer(n: int) -> None:
        i = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                with session_scope(engine) as session:
                    audit.record(session, action="api.read", source=audit.API, entity="bench", entity_id=n)
                    if mode == "at record":
                        audit.append_pending(session)
                    session.execute(text("select pg_sleep(:s)"), {"s": WORK_MS / 1000})
                    session.add(PracticeSetting(key=f"bench-{mode}-{writers}-{n}-{i}", value="1"))
            except Exception as exc:  # noqa: BLE001 - counted and shown, the cell goes on
                with lock:
                    failures.append(type(exc).__name__)
                continue
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
            i += 1

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    in_database = audit._append_in_database
    if mode == "at commit, in process":
        audit._append_in_database = audit._append_in_process
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        audit._append_in_database = in_database
    elapsed = time.perf_counter() - started
    report = verify(engine)
    return {
        "append": mode,
        "writers": writers,
        "transactions": len(latencies),
        "tx/s": f"{len(latencies) / elapsed:.0f}",
        "p50 ms": f"{_percentile(latencies, 0.50):.0f}",
        "p99 ms": f"{_percentile(latencies, 0.99):.0f}",
        "chain verified": "yes" if report.rows == before_rows + len(latencies) and not failures else "NO",
        "load before -> after": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
    }


def run(args) -> list[dict]:
    from sqlalchemy import create_engine

    from bench.foundation import drop_database, pg_admin_url, pg_database
    from operational_api.db import _normalise_url, get_engine, migrate

    pg_admin = pg_admin_url()
    db_name, url = pg_database(pg_admin)
    rows = []
    try:
        migrate(get_engine(url))
        # One connection per writer: the pool must not be what the writers queue on.
        engine = create_engine(_normalise_url(url), pool_size=max(LEVELS) + 2, max_overflow=0)
        for writers in LEVELS:
            for mode in MODES:
                row = _cell(engine, mode, writers)
                print(f"  {row}", flush=True)
                rows.append(row)
        engine.dispose()
    finally:
        drop_database(pg_admin, db_name)
    return rows


def notes(rows: list[dict]) -> str:
    return (
        f"Each cell runs {SECONDS} s; a transaction is one audit event, {WORK_MS} ms of database work "
        "(`pg_sleep`) and one row, committed. Cells alternate between the placements at each level, so they "
        "see the same machine load. p99 is of one whole transaction.\n"
    )
