"""Monday reports for a whole practice: render (figures from the marts, the KVR trend chart as a PNG through
kaleido) and send every clinician's, supervisor's and administrator's report through the loopback SMTP server.

The figure is the wall-clock time of one `run_monday_report` for the last complete week before the as-of date,
on a fresh outbox (a copy of the built store), in this process; target under 60 s for the large practice
(100 clinicians, 10 supervisors). Set MENTALSPACE_BENCH_NOTIFY_VAR to a var/ folder already built with the
same size to skip the build (bench.dashboards builds the same way).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.dashboards import AS_OF, _build
from bench.foundation import SIZES

TITLE = "Notifications: Monday reports rendered and sent through the loopback SMTP server"
COLUMNS = ["size", "messages", "with chart", "seconds", "target s", "runs"]
DEFAULT_SIZES = "large"
TARGET_SECONDS = 60


def _measure(var: Path, size: str, runs: int) -> dict:
    from email import message_from_bytes, policy

    from operational_api.db import get_engine
    from operational_api.notifications import service
    from operational_api.notifications.loopback import LoopbackSmtp
    from operational_api.notifications.smtp import parse_smtp_url

    as_of = dt.date.fromisoformat(AS_OF)
    week = as_of - dt.timedelta(days=as_of.weekday() + 7)
    times, sent, charts = [], 0, 0
    for _ in range(max(runs, 1)):
        with tempfile.TemporaryDirectory() as folder:
            store = Path(folder) / "operational.db"
            shutil.copyfile(var / "operational.db", store)
            os.environ.update(
                MENTALSPACE_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{store}", MENTALSPACE_AS_OF_DATE=AS_OF
            )
            engine = get_engine(f"sqlite:///{store}")
            with LoopbackSmtp(Path(folder) / "mail") as server:
                started = time.perf_counter()
                summary = service.run_monday_report(engine, week, settings=parse_smtp_url(server.url))
                times.append(time.perf_counter() - started)
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
    print(f"  {size}: {sent} reports in {median:.1f} s ({charts} with a chart)", flush=True)
    return {
        "size": size,
        "messages": sent,
        "with chart": charts,
        "seconds": f"{median:.1f}",
        "target s": TARGET_SECONDS,
        "runs": len(times),
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
