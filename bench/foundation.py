"""Generation and end-to-end build (store -> warehouse -> metric) for small, medium and large practices.

Each figure is a whole `mentalspace` command in a fresh subprocess, as an administrator runs it:
`generate` (synthetic practice into the store) and `build` (land the store, dbt build with its tests,
sync the alerts). End to end is their sum, what `mentalspace build --fresh` does in one process.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TITLE = "Foundation: synthetic practice generation and end-to-end build"
COLUMNS = ["size", "clinicians x months", "backend", "generate + load s", "warehouse build s", "end to end s",
           "rows", "peak MB"]
# `demo` is what `make build` / `mentalspace build --fresh` makes by default.
SIZES = {"demo": (12, 12), "small": (5, 6), "medium": (25, 12), "large": (100, 24)}
AS_OF = "2026-11-25"


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed: {result.stderr.strip()[-500:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, result.stdout, peak_mb


def _pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"ms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'create database "{name}"')
    return name, admin_url.rpartition("/")[0] + "/" + name


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


def run(args) -> list[dict]:
    pg_admin = os.environ.get("MENTALSPACE_BENCH_PG_URL") or os.environ.get("MENTALSPACE_TEST_PG_URL") \
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        for backend in args.backends.split(","):
            gen_times, build_times, peaks, row_count = [], [], [], ""
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as var:
                    env = {**os.environ, "MENTALSPACE_VAR_DIR": var}
                    db_name = None
                    if backend == "postgres":
                        db_name, url = _pg_database(pg_admin)
                        env.update(DATABASE_URL=url, DBT_TARGET="prod", MENTALSPACE_WAREHOUSE_URL=url)
                    try:
                        base = [sys.executable, "-m", "mentalspace_cli.main"]
                        practice = ["--clinicians", str(clinicians), "--months", str(months), "--as-of", AS_OF]
                        seconds, out, _ = _timed([*base, "generate", *practice], env)
                        gen_times.append(seconds)
                        row_count = next((line.split()[0] for line in out.splitlines() if "rows in" in line), "")
                        seconds, _, peak = _timed([*base, "build"], env)
                        build_times.append(seconds)
                        peaks.append(peak)
                    finally:
                        if db_name:
                            _drop(pg_admin, db_name)
            row = {
                "size": size,
                "clinicians x months": f"{clinicians} x {months}",
                "backend": "SQLite + DuckDB" if backend == "duckdb" else "PostgreSQL",
                "generate + load s": f"{statistics.median(gen_times):.1f}",
                "warehouse build s": f"{statistics.median(build_times):.1f}",
                "end to end s": f"{statistics.median([g + b for g, b in zip(gen_times, build_times, strict=True)]):.1f}",
                "rows": row_count,
                "peak MB": f"{max(peaks):.0f}",
            }
            print(row, flush=True)
            rows.append(row)
    return rows
