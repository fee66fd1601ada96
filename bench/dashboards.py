"""Dashboard render times: first render (loader caches empty) and cached re-render of every page, for
the demo user of every role that opens it, on a practice built with the real CLI.

Each figure is the wall-clock time of one Streamlit `AppTest.run()` of the page, in this process,
signed in through the real form: the frame (sign-in check, navigation) plus the page script, its
loaders and the serialised elements. "First" clears `st.cache_data` before the run (the warehouse
connection may still be open, as on a serving dashboard); "cached" is the next run of the same page.
p50 / p95 are over --runs repetitions (at least 5). The practice is built once per size into a
temporary folder; set MENTALSPACE_BENCH_DASHBOARDS_VAR to a var/ folder already built with the same
size to skip the build.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.foundation import AS_OF, SIZES

REPO_ROOT = Path(__file__).resolve().parents[1]
TITLE = "Dashboards: first render and cached re-render per page (AppTest, DuckDB)"
COLUMNS = ["size", "role", "page", "first p50 ms", "first p95 ms", "cached p50 ms", "cached p95 ms", "runs"]
MIN_RUNS = 5


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _build(var: Path, clinicians: int, months: int) -> None:
    env = {**os.environ, "MENTALSPACE_VAR_DIR": str(var)}
    for name in ("DATABASE_URL", "MENTALSPACE_WAREHOUSE_URL", "DBT_TARGET", "MENTALSPACE_AS_OF_DATE"):
        env.pop(name, None)
    cmd = [
        sys.executable,
        "-m",
        "mentalspace_cli.main",
        "build",
        "--fresh",
        "--clinicians",
        str(clinicians),
        "--months",
        str(months),
        "--as-of",
        AS_OF,
    ]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"build failed: {result.stderr.strip()[-500:]}")
    print(
        f"  built {clinicians} clinicians x {months} months in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def _measure(
    var: Path, size: str, runs: int, only: set[tuple[str, str]] | None = None, keep_env: bool = False
) -> list[dict]:
    """Every page of every role, or the (role, page) pairs in `only`. The store and warehouse are `var`'s own
    unless `keep_env` (a caller that set DATABASE_URL / MENTALSPACE_WAREHOUSE_URL for PostgreSQL)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboards.access import PAGES_BY_ROLE
    from tests.dashboards.conftest import fresh_recovery_code

    os.environ["MENTALSPACE_VAR_DIR"] = str(var)
    if not keep_env:
        for name in ("DATABASE_URL", "MENTALSPACE_WAREHOUSE_URL", "DBT_TARGET"):
            os.environ.pop(name, None)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    logins = {
        role: (email, password)
        for role, email, password in (
            line.split("\t") for line in (var / "demo_logins.txt").read_text().splitlines()
        )
    }
    app = str(REPO_ROOT / "dashboards" / "streamlit_app.py")
    rows = []
    for role, sections in PAGES_BY_ROLE.items():
        pages = [key for keys in sections.values() for key in keys if only is None or (role, key) in only]
        if not pages:
            continue
        at = AppTest.from_file(app, default_timeout=300).run()
        at.text_input(key="auth_email").input(logins[role][0])
        at.text_input(key="auth_password").input(logins[role][1])
        at.button[0].click().run()
        at.text_input(key="auth_code").input(fresh_recovery_code(var, logins[role][0]))
        at.button[0].click().run()
        for page in pages:
            at.switch_page(f"app_pages/{page}.py").run()  # warm-up: imports, the connection
            first, cached = [], []
            for _ in range(max(runs, MIN_RUNS)):
                st.cache_data.clear()
                started = time.perf_counter()
                at.run()
                first.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                at.run()
                cached.append((time.perf_counter() - started) * 1000)
                if at.exception:
                    raise RuntimeError(f"{role} {page}: {at.exception[0].value}")
            row = {
                "size": size,
                "role": role,
                "page": page,
                "first p50 ms": f"{statistics.median(first):.0f}",
                "first p95 ms": f"{_percentile(first, 95):.0f}",
                "cached p50 ms": f"{statistics.median(cached):.0f}",
                "cached p95 ms": f"{_percentile(cached, 95):.0f}",
                "runs": len(first),
            }
            print(row, flush=True)
            rows.append(row)
    return rows


def run(args) -> list[dict]:
    if "duckdb" not in args.backends.split(","):
        print("  dashboards suite measures the embedded (DuckDB) warehouse only; skipped", flush=True)
        return []
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        prebuilt = os.environ.get("MENTALSPACE_BENCH_DASHBOARDS_VAR")
        if prebuilt:
            rows += _measure(Path(prebuilt), size, args.runs)
            continue
        with tempfile.TemporaryDirectory() as folder:
            var = Path(folder) / "var"
            var.mkdir()
            _build(var, clinicians, months)
            rows += _measure(var, size, args.runs)
    return rows
