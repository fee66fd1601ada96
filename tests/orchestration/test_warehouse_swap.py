"""A DuckDB build swaps a complete new warehouse in: dashboards reading all the while never fail, never hold
the build up and never see a half-built warehouse, and move to the new one once it is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import polars as pl
import pytest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.measure_window import STATE_SCHEMA
from mentalspace_platform.warehouse import Warehouse, staged_build
from orchestration.defs.dbt.run_config import DBT_OPS
from tests.conftest import DEPLOYMENT_VARS, REPO_ROOT, copy_practice, run_cli

# reference.warehouse_builds has a row per dbt invocation: a build runs one per dbt step of the refresh job
# (orchestration/defs/dbt/assets.py).
DBT_BUILDS_PER_BUILD = len(DBT_OPS)
BUILD = ("build", "--fresh", "--clinicians", "1", "--as-of", "2026-11-25")
# The dashboards' own reader (a shared connection, reopened when the file is swapped), querying every 50 ms
# as several busy pages would, in its own process like the Streamlit server. One sample: the number of
# recorded dbt builds, the landed appointments and the appointments in the marts, read in one query.
READER = """
import json, os, sys, time
from dashboards.data.warehouse import Reader
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse

reader = Reader(Warehouse(current_environment()))
sql = ("select (select count(*) from reference.warehouse_builds) as builds, "
       "(select count(*) from raw_operational.appointments) as landed, "
       "(select count(*) from marts.fct_appointments) as modelled")
stop = sys.argv[1]
while True:
    stopping = os.path.exists(stop)
    try:
        row = reader.query(sql).row(0)
        print(json.dumps({"at": time.time(), "state": list(row)}), flush=True)
    except Exception as exc:
        print(json.dumps({"at": time.time(), "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    if stopping:
        break
    time.sleep(0.05)
"""


def _state(var_dir) -> list[int]:
    with duckdb.connect(str(var_dir / "warehouse.duckdb"), read_only=True) as con:
        return list(
            con.execute(
                "select (select count(*) from reference.warehouse_builds), "
                "(select count(*) from raw_operational.appointments), "
                "(select count(*) from marts.fct_appointments)"
            ).fetchone()
        )


def test_readers_see_the_old_or_the_new_warehouse_never_a_half_built_one(var_dir, tmp_path, built_practice):
    env = {"MENTALSPACE_VAR_DIR": str(var_dir)}
    copy_practice(built_practice, var_dir)  # the first warehouse: the run's small practice (one month)
    before = _state(var_dir)

    stop = tmp_path / "stop"
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(stop)],
        cwd=REPO_ROOT,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # the reader is querying before the build starts
        # Two months this time: more appointments, so old and new warehouses differ in every figure.
        second = run_cli(*BUILD, "--months", "2", env=env)
        built_at = time.time()
        time.sleep(3)  # the reader must move to the new warehouse while it keeps querying
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert second.returncode == 0, second.stderr[-2000:]
    after = _state(var_dir)
    assert after[0] == before[0] + DBT_BUILDS_PER_BUILD and after[1] > before[1], (before, after)

    samples = [json.loads(line) for line in out.splitlines()]
    errors = [s["error"] for s in samples if "error" in s]
    assert not errors, errors[:3]
    states = [s["state"] for s in samples]
    assert len(states) > 20, err
    assert {tuple(s) for s in states} <= {tuple(before), tuple(after)}, {tuple(s) for s in states}
    assert states[0] == before
    # Once the new warehouse is in place, the reader's later queries read it (no stale connection kept).
    assert [s["state"] for s in samples if s["at"] > built_at + 1] and all(
        s["state"] == after for s in samples if s["at"] > built_at + 1
    )
    assert not list(var_dir.glob(".warehouse.duckdb.building*"))


# ---- the swap itself, without a whole build ------------------------------------------------------------

LANDING = """
import polars as pl
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse

Warehouse(current_environment()).replace_table("raw_era", "landed_meanwhile", [pl.DataFrame({"n": [1]})])
print("landed", flush=True)
"""


def _tables(path) -> set[str]:
    """The warehouse's tables but the refresh's own bookkeeping (a raw write's mark for the measures lands with
    it, measure_window.py)."""
    sql = "select table_name from information_schema.tables where table_schema <> ?"
    with duckdb.connect(str(path), read_only=True) as con:
        return {row[0] for row in con.execute(sql, [STATE_SCHEMA]).fetchall()}


def test_a_landing_during_a_build_waits_for_the_swap_instead_of_being_lost(var_dir):
    env = current_environment()
    Warehouse(env).replace_table("raw_era", "before", [pl.DataFrame({"n": [1]})])
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    with staged_build(env):
        Warehouse(current_environment()).replace_table("marts", "built", [pl.DataFrame({"n": [1]})])
        assert _tables(env.duckdb_path) == {"before"}  # readers see the previous warehouse meanwhile
        landing = subprocess.Popen(
            [sys.executable, "-c", LANDING],
            cwd=REPO_ROOT,
            env={**clean, "MENTALSPACE_VAR_DIR": str(var_dir)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert landing.poll() is None, landing.communicate()  # waiting for the build's lock, not writing
    out, err = landing.communicate(timeout=60)
    assert landing.returncode == 0 and "landed" in out, err
    assert _tables(env.duckdb_path) == {"before", "built", "landed_meanwhile"}


def test_a_failed_build_leaves_the_previous_warehouse_as_it_was(var_dir):
    env = current_environment()
    Warehouse(env).replace_table("raw_era", "before", [pl.DataFrame({"n": [1]})])
    with pytest.raises(RuntimeError), staged_build(env):
        Warehouse(current_environment()).replace_table("marts", "half_built", [pl.DataFrame({"n": [1]})])
        raise RuntimeError("dbt failed")
    assert _tables(env.duckdb_path) == {"before"}
    assert current_environment().duckdb_path == env.duckdb_path
    assert sorted(p.name for p in var_dir.iterdir() if "warehouse" in p.name) == [
        "warehouse.duckdb",
        "warehouse.duckdb.lock",
    ]


OUTSIDE_WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table raw_era.written_outside as select 1 as n")
print("writing", flush=True)
time.sleep(3)
con.close()
"""


def test_a_build_copies_the_warehouse_only_once_an_outside_writer_has_closed_it(var_dir):
    # dbt in a scheduled Dagster refresh writes the file in place without our lock: a copy taken meanwhile
    # could be torn, so the build waits for DuckDB's own lock instead.
    env = current_environment()
    Warehouse(env).replace_table("raw_era", "before", [pl.DataFrame({"n": [1]})])
    started = time.monotonic()
    writer = subprocess.Popen(
        [sys.executable, "-c", OUTSIDE_WRITER, str(env.duckdb_path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "writing"
    with staged_build(env):
        # Entered only once the writer closed its connection, which it holds for 3 s after saying "writing" (its
        # process may still be exiting: a loaded machine showed poll() is None here).
        assert time.monotonic() - started >= 3
        assert writer.wait(timeout=60) == 0
        assert "written_outside" in _tables(current_environment().duckdb_path)
    assert "written_outside" in _tables(env.duckdb_path)


def test_a_staged_run_inside_a_build_writes_the_builds_copy_and_leaves_the_swap_to_it(var_dir):
    # A staged Dagster job run by `mentalspace build` (in its own copy) must not copy the copy and swap it.
    env = current_environment()
    Warehouse(env).replace_table("raw_era", "before", [pl.DataFrame({"n": [1]})])
    with staged_build(env) as outer:
        with staged_build(current_environment()) as inner:
            assert inner.duckdb_path == outer.duckdb_path
            Warehouse(current_environment()).replace_table("marts", "built", [pl.DataFrame({"n": [1]})])
        assert _tables(env.duckdb_path) == {"before"}
    assert _tables(env.duckdb_path) == {"before", "built"}
    assert not list(var_dir.glob(".*building*"))
