"""Monday reports for a whole practice: render (figures from the marts, the KVR trend chart as a PNG through
vl-convert) and send every clinician's, supervisor's and administrator's report through the loopback SMTP server.

The figure is the wall-clock time of one `run_monday_report` for the last complete week before the as-of date,
on a fresh outbox (a copy of the built store), in this process; target under 60 s for the large practice
(100 clinicians, 10 supervisors). Set MENTALSPACE_BENCH_NOTIFY_VAR to a var/ folder already built with the
same size to skip the build (bench.dashboards builds the same way).

The figure is wall-clock on whatever else the machine runs, so each row also records the practice's supervisors
(the generator makes one per six clinicians: 17 of the large practice's 100, not the brief's 10) and the
one-minute load average and CPU count when the run started, and the CPU seconds the run used (this process and
every process it started): on a crowded machine that, not the wall clock, says what the
run costs.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

from bench.dashboards import AS_OF, _build
from bench.foundation import SIZES

TITLE = "Notifications: Monday reports rendered and sent through the loopback SMTP server"
COLUMNS = [
    "size",
    "supervisors",
    "messages",
    "with chart",
    "seconds",
    "target s",
    "runs",
    "cpu s",
    "load 1 min",
    "cpus",
]
DEFAULT_SIZES = "large"
TARGET_SECONDS = 60


def _cpu_seconds() -> float:
    """CPU seconds of this process, its finished children, and every live descendant with its own finished ones."""
    total = sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(v) for v in fields[11:15]) / tick  # utime, stime, cutime, cstime
    me = os.getpid()
    for pid, spent in times.items():
        ancestor = parents.get(pid)
        while ancestor and ancestor != me:
            ancestor = parents.get(ancestor)
        if ancestor == me:
            total += spent
    return total


def _measure(var: Path, size: str, runs: int) -> dict:
    from email import message_from_bytes, policy

    from operational_api.db import get_engine
    from operational_api.notifications import service
    from operational_api.notifications.loopback import LoopbackSmtp
    from operational_api.notifications.smtp import parse_smtp_url

    as_of = dt.date.fromisoformat(AS_OF)
    week = as_of - dt.timedelta(days=as_of.weekday() + 7)
    times, cpu, sent, charts = [], [], 0, 0
    load = os.getloadavg()[0]
    with closing(sqlite3.connect(var / "operational.db")) as con:
        (supervisors,) = con.execute(
            "select count(*) from users where role = 'SUPERVISOR' and is_active = 1"
        ).fetchone()
    for _ in range(max(runs, 1)):
        with tempfile.TemporaryDirectory() as folder:
            store = Path(folder) / "operational.db"
            shutil.copyfile(var / "operational.db", store)
            os.environ.update(
                MENTALSPACE_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{store}", MENTALSPACE_AS_OF_DATE=AS_OF
            )
            engine = get_engine(f"sqlite:///{store}")
            with LoopbackSmtp(Path(folder) / "mail") as server:
                started, cpu_started = time.perf_counter(), _cpu_seconds()
                summary = service.run_monday_report(engine, week, settings=parse_smtp_url(server.url))
                times.append(time.perf_counter() - started)
                cpu.append(_cpu_seconds() - cpu_started)
                sent = summary.delivery.sent
                charts = sum(
                    1
                    for p in sorted(server.folder.glob("*.eml"))
                    if any(
                        part.get_content_type() == "image/png"
                        for part in message_from_bytes(p.read_bytes(), policy=policy.default).walk()
                    )
                )
            engine.dispose()
    times.sort()
    median = times[len(times) // 2]
    cpu_median = sorted(cpu)[len(cpu) // 2]
    print(
        f"  {size}: {sent} reports in {median:.1f} s, {cpu_median:.1f} CPU s ({charts} with a chart, "
        f"load {load:.1f} on {os.cpu_count()} CPUs)",
        flush=True,
    )
    return {
        "size": size,
        "supervisors": supervisors,
        "messages": sent,
        "with chart": charts,
        "seconds": f"{median:.1f}",
        "target s": TARGET_SECONDS,
        "runs": len(times),
        "cpu s": f"{cpu_median:.1f}",
        "load 1 min": f"{load:.1f}",
        "cpus": os.cpu_count(),
    }


def run(args) -> list[dict]:
    if "duckdb" not in args.backends.split(","):
        print("  notifications suite measures the embedded (DuckDB) warehouse only; skipped", flush=True)
        return []
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        prebuilt = os.environ.get("MENTALSPACE_BENCH_NOTIFY_VAR")
        if prebuilt:
            rows.append(_measure(Path(prebuilt), size, args.runs))
            continue
        with tempfile.TemporaryDirectory() as folder:
            var = Path(folder) / "var"
            var.mkdir()
            _build(var, clinicians, months)
            rows.append(_measure(var, size, args.runs))
    return rows
