"""Generation and end-to-end build (store -> warehouse -> metric) for small, medium and large practices.

Each figure is a whole `mentalspace` command in a fresh subprocess, as an administrator runs it:
- end to end: `mentalspace build --fresh` in an empty var/ folder (what `make build` does on a fresh clone:
  generate and load the practice, parse the dbt project, land the store, dbt build with its tests, sync alerts);
- generate + load: that command's own timings of its generate and load steps;
- rebuild: `mentalspace build` again on the same store (what every scheduled warehouse refresh costs).
Peak MB is each measured command's own peak (the largest resident set of it or of a process it ran, such as
dbt), the highest over --runs; the load average is the machine's 1-minute figure before and after the size.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.measure import run_measured

REPO_ROOT = Path(__file__).resolve().parents[1]
TITLE = "Foundation: synthetic practice generation and end-to-end build"
COLUMNS = [
    "size",
    "clinicians x months",
    "backend",
    "end to end s",
    "generate + load s",
    "rebuild s",
    "rows",
    "end to end peak MB",
    "rebuild peak MB",
    "load before -> after",
]
# `demo` is what `make build` / `mentalspace build --fresh` makes by default.
# `tenfold` is issue 17's 10x practice (bench/tenfold.py): not in any suite's default sizes.
SIZES = {"demo": (12, 12), "small": (5, 6), "medium": (25, 12), "large": (100, 24), "tenfold": (1000, 24)}
AS_OF = "2026-11-25"


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    step = run_measured(cmd, env=env, cwd=REPO_ROOT)
    if step.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed: {step.stderr.strip()[-500:]}")
    return step.seconds, step.stdout, step.peak_mb


def pg_admin_url() -> str:
    """The PostgreSQL server the benches make their scratch databases on (a database the URL names; trust auth)."""
    return (
        os.environ.get("MENTALSPACE_BENCH_PG_URL")
        or os.environ.get("MENTALSPACE_TEST_PG_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def pg_database(admin_url: str) -> tuple[str, str]:
    """A new scratch database: its name and URL (drop it with `drop_database`)."""
    import psycopg

    name = f"ms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'create database "{name}"')
    return name, admin_url.rpartition("/")[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


@contextmanager
def practice_env(backend: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """An empty var/ folder and the environment of a `mentalspace` command whose store and warehouse are that
    folder's (SQLite + DuckDB, `backend` "duckdb") or a new scratch PostgreSQL database ("postgres"); both are
    removed afterwards. Variables inherited from the caller's shell never point a bench at another practice."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "MENTALSPACE_VAR_DIR": folder, "MENTALSPACE_AS_OF_DATE": AS_OF}
        for name in ("DATABASE_URL", "MENTALSPACE_WAREHOUSE_URL", "DBT_TARGET"):
            env.pop(name, None)
        if backend != "postgres":
            yield Path(folder), env
            return
        admin = pg_admin_url()
        db_name, url = pg_database(admin)
        try:
            yield (
                Path(folder),
                {**env, "DATABASE_URL": url, "DBT_TARGET": "prod", "MENTALSPACE_WAREHOUSE_URL": url},
            )
        finally:
            drop_database(admin, db_name)


def _step_seconds(output: str, title_start: str) -> float:
    """The 'done in N s' figure the CLI prints after the step whose title starts with `title_start`."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip("[0123456789/] ").startswith(title_start):
            return float(next(x for x in lines[i + 1 :] if "done in" in x).split("done in")[1].split()[0])
    raise RuntimeError(f"no '{title_start}' step in the build output")


def run(args) -> list[dict]:
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        for backend in args.backends.split(","):
            first, gen_load, rebuild, first_peaks, rebuild_peaks, row_count = [], [], [], [], [], ""
            load_before = os.getloadavg()[0]
            for _ in range(args.runs):
                with practice_env(backend) as (_, env):
                    base = [sys.executable, "-m", "mentalspace_cli.main"]
                    practice = ["--clinicians", str(clinicians), "--months", str(months), "--as-of", AS_OF]
                    seconds, out, peak = _timed([*base, "build", "--fresh", *practice], env)
                    first.append(seconds)
                    first_peaks.append(peak)
                    # One step since the generator streams the practice into the store as it makes it.
                    gen_load.append(_step_seconds(out, "generating"))
                    row_count = next((line.split()[0] for line in out.splitlines() if "rows in" in line), "")
                    seconds, _, peak = _timed([*base, "build"], env)
                    rebuild.append(seconds)
                    rebuild_peaks.append(peak)
            row = {
                "size": size,
                "clinicians x months": f"{clinicians} x {months}",
                "backend": "SQLite + DuckDB" if backend == "duckdb" else "PostgreSQL",
                "end to end s": f"{statistics.median(first):.1f}",
                "generate + load s": f"{statistics.median(gen_load):.1f}",
                "rebuild s": f"{statistics.median(rebuild):.1f}",
                "rows": row_count,
                "end to end peak MB": f"{max(first_peaks):.0f}",
                "rebuild peak MB": f"{max(rebuild_peaks):.0f}",
                "load before -> after": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
            }
            print(row, flush=True)
            rows.append(row)
    return rows
