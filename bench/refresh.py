"""The warehouse refresh after one working day of changes: incremental (the 15-minute schedule) against full (the
nightly run, `mentalspace build`).

Per size and backend: `mentalspace build --fresh` into an empty var/ folder (or PostgreSQL database), then twice
a working day of changes applied to the store through SQL, stamped as the services stamp them (per clinician six
appointments change status with their history rows, six notes and six charges of the latest sessions change, three
appointments are booked), each followed by one `warehouse_refresh_job` in a process of its own: first as the 15-minute schedule runs it
(REALTIME_REFRESH), then in full. The figures are the job's own seconds and CPU seconds (Dagster definitions already loaded) and the whole
process's wall seconds and peak memory; the landing's rows upserted and deleted come from its metadata.

Set MENTALSPACE_BENCH_REFRESH_VAR to a var/ folder (SQLite + DuckDB only) to build the practice there once and
reuse it on later runs: each run then applies the next working days (a counter file in that folder), since a day
applied again stamps rows with the change times they already carry, and the landing finds nothing changed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.foundation import AS_OF, SIZES, practice_env
from bench.measure import run_step

TITLE = "Warehouse refresh after one working day of changes: incremental vs full landing"
COLUMNS = [
    "size",
    "clinicians x months",
    "backend",
    "incremental job s",
    "full job s",
    "incremental job CPU s",
    "full job CPU s",
    "incremental process s",
    "full process s",
    "rows upserted (incremental)",
    "rows deleted (incremental)",
    "incremental peak MB",
    "full peak MB",
    "load before -> after",
]
DEFAULT_SIZES = "medium"

WORKING_DAY = """
import datetime as dt, sys
from sqlalchemy import create_engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from mentalspace_platform.environment import current_environment
from operational_api.models import Base

day = int(sys.argv[1])
t = Base.metadata.tables
appointments, history, notes, charges = (
    t[n] for n in ("appointments", "appointment_status_history", "clinical_notes", "charges")
)
stamp = dt.datetime.fromisoformat(sys.argv[2]) + dt.timedelta(days=day, hours=18)
engine = create_engine(current_environment().database_url, poolclass=NullPool)
with engine.begin() as conn:
    clinicians = conn.scalar(select(func.count(appointments.c.clinician_id.distinct())))
    per_day = 6 * clinicians
    next_history = conn.scalar(select(func.max(history.c.id))) or 0
    booked = conn.execute(
        select(appointments.c.id, appointments.c.status).where(appointments.c.status == "SCHEDULED")
        .order_by(appointments.c.start_at).limit(per_day)
    ).all()
    for number, (appointment_id, _) in enumerate(booked):
        status = "NO_SHOW" if number % 10 == 0 else "COMPLETED"
        conn.execute(update(appointments).where(appointments.c.id == appointment_id)
                     .values(status=status, status_changed_at=stamp, updated_at=stamp))
        next_history += 1
        conn.execute(insert(history).values(id=next_history, appointment_id=appointment_id, status=status,
                                            changed_at=stamp))
    # The day's notes and charges are those of the latest sessions before it: a day's work is, and ids do not follow
    # dates (the generator writes a clinician's whole history at a time).
    recent = {
        notes: select(notes.c.id).join(appointments, appointments.c.id == notes.c.appointment_id)
        .where(appointments.c.start_at < stamp).order_by(appointments.c.start_at.desc(), notes.c.id),
        charges: select(charges.c.id).where(charges.c.service_date <= stamp.date())
        .order_by(charges.c.service_date.desc(), charges.c.id),
    }
    for table, latest in recent.items():
        ids = conn.scalars(latest.limit(per_day))
        conn.execute(update(table).where(table.c.id.in_(list(ids))).values(updated_at=stamp))
    next_id = conn.scalar(select(func.max(appointments.c.id)))
    models = conn.execute(select(appointments).where(appointments.c.status == "COMPLETED")
                          .order_by(appointments.c.start_at.desc()).limit(per_day // 2)).mappings().all()
    for model in models:
        next_id += 1
        row = {**model, "id": next_id, "status": "SCHEDULED", "start_at": model["start_at"] + dt.timedelta(days=28),
               "end_at": model["end_at"] + dt.timedelta(days=28), "booked_at": stamp, "created_at": stamp,
               "updated_at": stamp, "shared_slot_id": None, "series_id": None, "rescheduled_from_id": None}
        try:
            with conn.begin_nested():
                conn.execute(insert(appointments).values(row))
        except DBAPIError:
            pass  # would double-book: left out
engine.dispose()
"""

REFRESH = """
import json, resource, sys, time
import dagster as dg
from orchestration.defs.dbt.run_config import REALTIME_REFRESH
from orchestration.lib.runner import load_definitions, run_job

defs = load_definitions()
def cpu():
    # This process and its finished children (dbt): the database server's own CPU is not counted.
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
started, cpu_started = time.perf_counter(), cpu()
result = run_job(defs, "warehouse_refresh_job", run_config=REALTIME_REFRESH if sys.argv[1] == "incremental" else {},
                 instance=dg.DagsterInstance.ephemeral())
seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
landed = [e.materialization.metadata for e in result.get_asset_materialization_events()
          if e.asset_key.path[0] == "operational"]
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                  "upserted": sum(m["rows_upserted"].value for m in landed),
                  "deleted": sum(m["rows_deleted"].value for m in landed)}))
"""


def _step(code: str, args: list[str], env: dict[str, str], what: str):
    return run_step([sys.executable, "-c", code, *args], env, what)


PREBUILT_VAR = "MENTALSPACE_BENCH_REFRESH_VAR"
DAYS_FILE = "bench_refresh_days"


@contextmanager
def _practice(backend: str, size: str) -> Iterator[tuple[dict[str, str], int]]:
    """The environment of a built practice of `size` and the first working day to apply to it: a new one, or the
    one kept in MENTALSPACE_BENCH_REFRESH_VAR (built there by the first run)."""
    clinicians, months = SIZES[size]
    practice = ["--clinicians", str(clinicians), "--months", str(months), "--as-of", AS_OF]
    build = [sys.executable, "-m", "mentalspace_cli.main", "build", "--fresh", *practice]
    prebuilt = os.environ.get(PREBUILT_VAR)
    if prebuilt and backend == "duckdb":
        folder = Path(prebuilt) / size
        days = folder / DAYS_FILE
        env = {**os.environ, "MENTALSPACE_VAR_DIR": str(folder), "MENTALSPACE_AS_OF_DATE": AS_OF}
        for name in ("DATABASE_URL", "MENTALSPACE_WAREHOUSE_URL", "DBT_TARGET"):
            env.pop(name, None)
        if not days.exists():
            folder.mkdir(parents=True, exist_ok=True)
            run_step(build, env, f"build of {size} on {backend}")
            days.write_text("0")
        first_day = int(days.read_text())
        days.write_text(str(first_day + 2))
        yield env, first_day
        return
    with practice_env(backend) as (_, env):
        run_step(build, env, f"build of {size} on {backend}")
        yield env, 0


def run(args) -> list[dict]:
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        for backend in args.backends.split(","):
            load_before = os.getloadavg()[0]
            with _practice(backend, size) as (env, first_day):
                figures = {}
                for day, mode in enumerate(("incremental", "full"), start=first_day):
                    _step(WORKING_DAY, [str(day), AS_OF], env, "a working day of changes")
                    done = _step(REFRESH, [mode], env, f"the {mode} refresh")
                    figures[mode] = (json.loads(done.stdout.strip().splitlines()[-1]), done)
            (inc, inc_run), (full, full_run) = figures["incremental"], figures["full"]
            row = {
                "size": size,
                "clinicians x months": f"{clinicians} x {months}",
                "backend": "SQLite + DuckDB" if backend == "duckdb" else "PostgreSQL",
                "incremental job s": f"{inc['seconds']:.1f}",
                "full job s": f"{full['seconds']:.1f}",
                "incremental job CPU s": f"{inc['cpu_seconds']:.1f}",
                "full job CPU s": f"{full['cpu_seconds']:.1f}",
                "incremental process s": f"{inc_run.seconds:.1f}",
                "full process s": f"{full_run.seconds:.1f}",
                "rows upserted (incremental)": inc["upserted"],
                "rows deleted (incremental)": inc["deleted"],
                "incremental peak MB": f"{inc_run.peak_mb:.0f}",
                "full peak MB": f"{full_run.peak_mb:.0f}",
                "load before -> after": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
            }
            print(row, flush=True)
            rows.append(row)
    return rows


def notes(rows: list[dict]) -> str:
    return (
        "The incremental refresh (the 15-minute schedule's run config) upserts the changed rows of the tables "
        "with a change column and re-lands the others whole, recomputes only the measures' periods its changes "
        "touch (mentalspace_platform/measure_window.py) and skips dbt's data tests; the full one lands everything, "
        "recomputes every period and runs the data tests. CPU s: the job's process and its dbt processes (not the "
        f"database server's). Machine: {os.cpu_count()} CPUs; the 1-minute load average is in the table."
    )
