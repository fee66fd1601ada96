"""What the analysts' catalog adds to a build: `generate_catalog` after a build, unchanged and rewritten.

Per size: `mentalspace build --fresh` in an empty var/ folder, then `mentalspace build` again (a refresh, catalog
included, for scale), then in a process of its own inside a staged build (as the refresh's `warehouse/catalog`
step runs, so dbt's partial parse applies): `generate_catalog` three times with nothing changed (the refresh's
usual case: a fingerprint, no dbt) and once forced (`dbt docs generate --no-compile`, as after a model change).
Wall seconds are load-sensitive; CPU seconds (this process and its children) much less so.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

from bench.foundation import AS_OF, SIZES, practice_env
from bench.measure import run_measured

REPO_ROOT = Path(__file__).resolve().parents[1]
TITLE = "Analysts' catalog: its cost in a build (generate_catalog, DuckDB)"
COLUMNS = [
    "size",
    "clinicians x months",
    "rebuild s (catalog included)",
    "catalog unchanged s",
    "catalog unchanged CPU s",
    "catalog rewritten s",
    "catalog rewritten CPU s",
    "load before -> after",
]
DEFAULT_SIZES = "small"

MEASURE = """
import json, os, resource, time
from mentalspace_platform.catalog import generate_catalog
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import staged_build

def cpu():
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))

figures = {"unchanged": [], "rewritten": []}
with staged_build(current_environment()):
    for force in (False, False, False, True):
        started_cpu = cpu()
        result = generate_catalog(current_environment(), force=force)
        assert result.generated == force, "the catalog was not current after a build"
        figures["rewritten" if force else "unchanged"].append((result.seconds, cpu() - started_cpu))
print(json.dumps(figures))
"""


def run(args) -> list[dict]:
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        load_before = os.getloadavg()[0]
        with practice_env("duckdb") as (_, env):
            base = [sys.executable, "-m", "mentalspace_cli.main"]
            practice = ["--clinicians", str(clinicians), "--months", str(months), "--as-of", AS_OF]
            for step in ([*base, "build", "--fresh", *practice], [*base, "build"]):
                done = run_measured(step, env=env, cwd=REPO_ROOT)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(step[2:4])} failed: {done.stderr.strip()[-500:]}")
            rebuild_seconds = done.seconds
            measured = run_measured([sys.executable, "-c", MEASURE], env=env, cwd=REPO_ROOT)
            if measured.returncode != 0:
                raise RuntimeError(f"generate_catalog failed: {measured.stderr.strip()[-500:]}")
            figures = json.loads(measured.stdout.strip().splitlines()[-1])
        unchanged, rewritten = figures["unchanged"], figures["rewritten"][0]
        row = {
            "size": size,
            "clinicians x months": f"{clinicians} x {months}",
            "rebuild s (catalog included)": f"{rebuild_seconds:.1f}",
            "catalog unchanged s": f"{statistics.median(s for s, _ in unchanged):.2f}",
            "catalog unchanged CPU s": f"{statistics.median(c for _, c in unchanged):.2f}",
            "catalog rewritten s": f"{rewritten[0]:.1f}",
            "catalog rewritten CPU s": f"{rewritten[1]:.1f}",
            "load before -> after": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def notes(rows: list[dict]) -> str:
    return (
        "A refresh rewrites the catalog only when the dbt project or a warehouse column changed; otherwise the "
        f"step is the fingerprint (project files and information_schema). Machine: {os.cpu_count()} CPUs; the "
        "1-minute load average is in the table (other work on the machine stretches the wall-clock figures)."
    )
