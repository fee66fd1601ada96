"""The 10x practice (1,000 clinicians x 24 months, about 23 M rows): generation, full build, the 15-minute refresh
after one working day of changes, and the first render of Practice Overview and My Team.

Per size and backend (default: the `tenfold` size on PostgreSQL, the production footing), each step a process of
its own (`bench/measure.py`: wall seconds and that process's own peak memory):
- generation: `mentalspace init` then `mentalspace generate` (the generator streams the practice into the store in
  chunks, so its memory should not grow with the practice);
- full build: `mentalspace build` on that store (land every table, dbt build with its tests, alerts);
- incremental refresh: a working day of changes (bench/refresh.py's `WORKING_DAY`) then one `warehouse_refresh_job`
  with the 15-minute schedule's incremental landing, the job's own seconds;
- first render: Practice Overview and My Team as an administrator (AppTest, bench/dashboards.py's `_measure`, loader
  caches emptied before each run), in a process pointed at the same store and warehouse.
Targets (issue 17): generation < 15 min with peak < 3 GB, full PostgreSQL build < 30 min, incremental refresh
< 3 min, Practice Overview first render < 2 s. This needs an idle machine for about an hour at the tenfold size;
`--sizes small` runs the same steps in a few minutes.
"""

from __future__ import annotations

import json
import os
import sys

from bench.foundation import AS_OF, SIZES, practice_env
from bench.measure import run_step
from bench.refresh import REFRESH, WORKING_DAY

TITLE = "The 10x practice: generation, full build, incremental refresh and first render"
COLUMNS = [
    "size",
    "clinicians x months",
    "backend",
    "rows",
    "generation s",
    "generation peak MB",
    "full build s",
    "full build peak MB",
    "incremental refresh job s",
    "refresh peak MB",
    "Practice Overview first render ms",
    "My Team first render ms",
    "load before -> after",
]
DEFAULT_SIZES = "tenfold"
FIRST_RENDER_PAGES = (("ADMIN", "practice_overview"), ("ADMIN", "my_team"))

RENDER = """
import json, sys
from pathlib import Path
from bench.dashboards import _measure
rows = _measure(Path(sys.argv[1]), sys.argv[2], 5, only=set(map(tuple, json.loads(sys.argv[3]))), keep_env=True)
print(json.dumps({r["page"]: r["first p50 ms"] for r in rows}))
"""


def _step(cmd: list[str], env: dict[str, str], what: str):
    done = run_step(cmd, env, what)
    print(f"  {what}: {done.seconds:.1f} s, peak {done.peak_mb:.0f} MB", flush=True)
    return done


def run(args) -> list[dict]:
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        practice = ["--clinicians", str(clinicians), "--months", str(months), "--as-of", AS_OF]
        cli = [sys.executable, "-m", "mentalspace_cli.main"]
        for backend in args.backends.split(","):
            load_before = os.getloadavg()[0]
            with practice_env(backend) as (var, env):
                _step([*cli, "init"], env, "schema")
                generated = _step([*cli, "generate", *practice], env, f"generation of {size}")
                built = _step([*cli, "build"], env, "full build")
                _step([sys.executable, "-c", WORKING_DAY, "0", AS_OF], env, "a working day of changes")
                refreshed = _step([sys.executable, "-c", REFRESH, "incremental"], env, "incremental refresh")
                refresh = json.loads(refreshed.stdout.strip().splitlines()[-1])
                rendered = _step(
                    [sys.executable, "-c", RENDER, str(var), size, json.dumps(FIRST_RENDER_PAGES)],
                    env,
                    "first render",
                )
                first = json.loads(rendered.stdout.strip().splitlines()[-1])
            row = {
                "size": size,
                "clinicians x months": f"{clinicians} x {months}",
                "backend": "SQLite + DuckDB" if backend == "duckdb" else "PostgreSQL",
                "rows": next(
                    (line.split()[0] for line in generated.stdout.splitlines() if "rows in" in line), ""
                ),
                "generation s": f"{generated.seconds:.1f}",
                "generation peak MB": f"{generated.peak_mb:.0f}",
                "full build s": f"{built.seconds:.1f}",
                "full build peak MB": f"{built.peak_mb:.0f}",
                "incremental refresh job s": f"{refresh['seconds']:.1f}",
                "refresh peak MB": f"{refreshed.peak_mb:.0f}",
                "Practice Overview first render ms": first.get("practice_overview", ""),
                "My Team first render ms": first.get("my_team", ""),
                "load before -> after": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
            }
            print(row, flush=True)
            rows.append(row)
    return rows


def notes(rows: list[dict]) -> str:
    return (
        "Targets (issue 17, 1,000 x 24 on PostgreSQL): generation < 900 s with peak < 3,072 MB, full build < 1,800 s, "
        "incremental refresh < 180 s, Practice Overview first render < 2,000 ms. First render is the median of 5 "
        f"AppTest runs with the loader caches emptied. Machine: {os.cpu_count()} CPUs; the load is in the table."
    )
