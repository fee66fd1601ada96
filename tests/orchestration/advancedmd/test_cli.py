"""`mentalspace amd backfill` and `mentalspace amd-sim` as a user runs them (subprocesses, no network)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import dagster as dg
import duckdb

from tests.conftest import DEPLOYMENT_VARS, REPO_ROOT, run_cli
from tests.orchestration.advancedmd.conftest import AS_OF, SPEC

PRACTICE_ARGS = [
    "--clinicians",
    str(SPEC.clinicians),
    "--months",
    str(SPEC.months),
    "--seed",
    str(SPEC.seed),
    "--as-of",
    AS_OF.isoformat(),
]
LINEAGE = ("batch_id", "landed_at")


def _rows(path, table: str, key: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [
            c[0] for c in con.execute(f"describe raw_advancedmd.{table}").fetchall() if c[0] not in LINEAGE
        ]
        return con.execute(
            f"select {', '.join(columns)} from raw_advancedmd.{table} order by {key}"
        ).fetchall()


def test_backfill_of_30_daily_partitions_from_the_cli_lands_the_same_rows_as_one_initial_load(
    var_dir, tmp_path
):
    start, end = AS_OF - dt.timedelta(days=29), AS_OF
    backfill_var = tmp_path / "backfill"
    backfill_var.mkdir()

    result = run_cli(
        "amd",
        "backfill",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        *PRACTICE_ARGS,
        env={"MENTALSPACE_VAR_DIR": str(backfill_var)},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    progress = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert (
        len(progress) == 30
        and progress[0].startswith(f"[ 1/30] {start}")
        and progress[-1].startswith(f"[30/30] {end}")
    )
    assert "done: 30 days" in result.stdout

    # One initial load of the same window through the incremental asset (its first run), in this process.
    from operational_api.db import get_engine, migrate
    from orchestration.defs.advancedmd.assets import advancedmd_visit_updates
    from orchestration.defs.advancedmd.definitions import standalone_definitions
    from orchestration.defs.advancedmd.resources import SimulatedAdvancedMDResource
    from orchestration.lib.runner import run_job

    migrate(get_engine())
    resource = SimulatedAdvancedMDResource(
        clinicians=SPEC.clinicians, months=SPEC.months, seed=SPEC.seed, as_of=AS_OF.isoformat()
    )
    config = {
        "ops": {
            advancedmd_visit_updates.op.name: {
                "config": {"initial_start": start.isoformat(), "initial_end": end.isoformat()}
            }
        }
    }
    with dg.DagsterInstance.ephemeral() as instance:
        initial = run_job(
            standalone_definitions(resource), "advancedmd_visits_job", run_config=config, instance=instance
        )
    assert initial.success

    for table, key in (("visits", "visit_id"), ("charges", "charge_id"), ("quarantine", "record_id")):
        backfilled = _rows(backfill_var / "warehouse.duckdb", table, key)
        loaded = _rows(var_dir / "warehouse.duckdb", table, key)
        assert backfilled == loaded, f"{table}: backfill and initial load differ"
        assert backfilled or table == "quarantine"
    assert len(_rows(backfill_var / "warehouse.duckdb", "visits", "visit_id")) > 100

    # The runs went to the deployment's Dagster instance: the UI shows the 30 days as materialized.
    with dg.DagsterInstance.from_config(str(backfill_var / "dagster")) as instance:
        days = instance.get_materialized_partitions(dg.AssetKey(["advancedmd", "visits"]))
    assert days == {(start + dt.timedelta(days=i)).isoformat() for i in range(30)}


def test_backfill_outside_the_partitions_is_one_line_error(var_dir):
    result = run_cli(
        "amd",
        "backfill",
        "--start",
        "2001-01-01",
        "--end",
        "2001-01-02",
        env={"MENTALSPACE_VAR_DIR": str(var_dir)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: 2001-01-01 is not an AdvancedMD partition")
    assert len(result.stderr.strip().splitlines()) == 1


def test_amd_sim_help_and_synthetic_practice_through_the_platform_cli(var_dir, practice):
    help_result = run_cli("amd-sim", "--help", env={"MENTALSPACE_VAR_DIR": str(var_dir)})
    assert help_result.returncode == 0, help_result.stderr
    assert "--clinicians" in help_result.stdout and "--as-of" in help_result.stdout

    env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    env["MENTALSPACE_VAR_DIR"] = str(var_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mentalspace_cli.main", "amd-sim", "--port", "0", *PRACTICE_ARGS],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert info["base_url"].startswith("http://127.0.0.1:")
    assert info["patients"] == len(practice.tables["clients"].rows)
    assert info["visits"] == len(practice.tables["appointments"].rows)
    assert proc.returncode == 0
