"""Dagster's runs never write the live embedded warehouse: the refresh job builds one staged copy swapped in
by its last step, every other run (an ERA file, a selection materialized from the UI) one copy per step. So
dashboards reading all the while never fail nor see a half-built warehouse, an ERA file arriving during a
refresh lands after it instead of failing or being lost, a failed run leaves the previous warehouse as it was,
and a swap that fails fails the run.

One small practice for the module (a build is the slow part); each test states the warehouse it starts from.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from mentalspace_platform.environment import SKIP_DATA_TESTS_VAR, current_environment
from mentalspace_platform.warehouse import writer_lock
from operational_api.errors import PlatformError
from orchestration.defs.dbt.run_config import DBT_OPS
from tests.conftest import DEPLOYMENT_VARS, REPO_ROOT, STEP_TIMEOUT
from tests.orchestration.conftest import AS_OF, fresh_definitions, run_refresh

# The dashboards' own reader in its own process (as the Streamlit server), every 50 ms. One sample reads, in
# one query, a figure from each layer a run writes: the dbt builds recorded, no-shows landed from the store,
# no-shows in the marts and ERA claim payments landed.
READER = """
import json, os, sys, time
from dashboards.data.warehouse import Reader
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse

reader = Reader(Warehouse(current_environment()))
stop, sql = sys.argv[1], sys.argv[2]
while True:
    stopping = os.path.exists(stop)
    try:
        print(json.dumps({"at": time.time(), "state": list(reader.query(sql).row(0))}), flush=True)
    except Exception as exc:
        print(json.dumps({"at": time.time(), "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    if stopping:
        break
    time.sleep(0.05)
"""
# reference.warehouse_builds has a row per dbt invocation: a refresh runs one per dbt step (the models the measures
# read, then the measures with the alerts reading them; orchestration/defs/dbt/assets.py).
DBT_BUILDS_PER_REFRESH = len(DBT_OPS)
STATE_SQL = (
    "select (select count(*) from reference.warehouse_builds), "
    "(select count(*) from raw_operational.appointments where status = 'NO_SHOW'), "
    "(select count(*) from marts.fct_appointments where is_no_show), "
    "(select count(*) from raw_era.claim_payments)"
)


def _state(var: Path) -> list[int]:
    with duckdb.connect(str(var / "warehouse.duckdb"), read_only=True) as con:
        return list(con.execute(STATE_SQL).fetchone())


def _store(var: Path, sql: str) -> None:
    with sqlite3.connect(var / "operational.db") as con:
        con.execute(sql)


def _start_reader(var: Path, stop: Path, sql: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    return subprocess.Popen(
        [sys.executable, "-c", READER, str(stop), sql],
        cwd=REPO_ROOT,
        env={**clean, "MENTALSPACE_VAR_DIR": str(var)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _remittance_request(defs, instance, tmp_path):
    """A generated 835 for claims of the store, dropped in the inbox and picked up by the sensor."""
    from operational_api.db import get_engine
    from operational_api.era.remittances import claim_specs_from_store, write_remittance
    from operational_api.era_inbox import submit

    written = write_remittance(claim_specs_from_store(get_engine(), limit=10), tmp_path)
    submit(written.path.read_bytes(), written.path.name)
    return _sensor_request(defs, instance)


def _sensor_request(defs, instance):
    # Called directly: the daemon adds the requested partitions before it validates the run.
    result = defs.resolve_sensor_def("era_inbox_sensor")(dg.build_sensor_context(instance=instance))
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    (request,) = result.run_requests
    return request


def test_every_job_runs_in_one_process_and_the_refresh_swaps_in_its_last_step(practice_copy):
    from orchestration.lib.resources import PUBLISH_STEP

    _, defs = practice_copy
    # A run-wide copy lives in one process; a UI selection runs as the implicit asset job.
    assert {job.name: job.executor_def.name for job in defs.resolve_all_job_defs()} == dict.fromkeys(
        (job.name for job in defs.resolve_all_job_defs()), "in_process"
    )
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def("warehouse_refresh_job")
    step = {key: graph.get(key).assets_def.op.name for key in job.asset_layer.selected_asset_keys}
    upstream, todo = set(), [dg.AssetKey(["warehouse", "published"])]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in upstream:
                upstream.add(parent)
                todo.append(parent)
    # Every other step of the refresh runs (and must succeed) before the one that swaps.
    assert set(step.values()) - {step[key] for key in upstream if key in step} == {PUBLISH_STEP}


def test_an_era_file_during_a_refresh_lands_after_it_while_dashboards_read_old_or_new(
    practice_copy, tmp_path
):
    var, defs = practice_copy
    _store(
        var,
        "update appointments set status = 'NO_SHOW' where id in "
        "(select id from appointments where status = 'COMPLETED' order by id limit 7)",
    )
    before = _state(var)
    instance = dg.DagsterInstance.ephemeral()
    request = _remittance_request(defs, instance, tmp_path)

    stop = tmp_path / "stop"
    reader = _start_reader(var, stop, STATE_SQL)
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    try:
        time.sleep(3)  # the reader holds the warehouse open before the refresh starts
        # The refresh as the daemon runs it: its own process, the job's own executor.
        refresh = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster")),
                "job",
                "execute",
                "-m",
                "orchestration.definitions",
                "-j",
                "warehouse_refresh_job",
            ],
            cwd=REPO_ROOT,
            env={
                **clean,
                "MENTALSPACE_VAR_DIR": str(var),
                "MENTALSPACE_AS_OF_DATE": AS_OF,
                "DAGSTER_HOME": str(var / "dagster"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # The ERA sensor's run starts while the refresh is writing.
        deadline = time.monotonic() + STEP_TIMEOUT
        while not (var / ".warehouse.duckdb.building").exists() and refresh.poll() is None:
            assert time.monotonic() < deadline, "the refresh never started building"
            time.sleep(0.05)
        era = defs.resolve_job_def("era_file_job").execute_in_process(
            instance=instance, partition_key=request.partition_key, raise_on_error=False
        )
        refresh_out, _ = refresh.communicate(timeout=STEP_TIMEOUT)
        done_at = time.time()
        time.sleep(3)  # the reader moves to the final warehouse while it keeps querying
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        for process in (reader, locals().get("refresh")):
            if process is not None and process.poll() is None:
                process.kill()
    assert refresh.returncode == 0, refresh_out[-3000:]
    assert era.success, [e.message for e in era.all_events if e.is_step_failure]
    posted = era.asset_materializations_for_node("era__posted_remittance")[0].metadata
    assert posted["claim_payments"].value > 0

    after = _state(var)
    refreshed = [before[0] + DBT_BUILDS_PER_REFRESH, after[1], after[2], before[3]]
    assert (
        after[0] == before[0] + DBT_BUILDS_PER_REFRESH
        and after[1] == before[1] + 7
        and after[2] == before[2] + 7
    ), (
        before,
        after,
    )
    assert (
        after[3] == before[3] + posted["claim_payments"].value
    )  # the ERA landing was not lost under the swap

    samples = [json.loads(line) for line in out.splitlines()]
    assert not [s["error"] for s in samples if "error" in s], [s["error"] for s in samples if "error" in s][
        :3
    ]
    states = [tuple(s["state"]) for s in samples]
    assert len(states) > 20, err
    assert set(states) <= {tuple(before), tuple(refreshed), tuple(after)}, set(states)
    assert states[0] == tuple(before) and tuple(after) in states
    assert all(tuple(s["state"]) == tuple(after) for s in samples if s["at"] > done_at + 1)
    assert not list(var.glob(".warehouse.duckdb.building*"))


def test_a_failed_refresh_leaves_the_previous_warehouse_and_no_copy(practice_copy, monkeypatch):
    var, defs = practice_copy
    # The failure asked for is a data test's: the suite's builds otherwise leave them out (tests/conftest.py).
    monkeypatch.delenv(SKIP_DATA_TESTS_VAR, raising=False)
    before = _state(var)
    with sqlite3.connect(var / "operational.db") as con:
        appointment, clinician = con.execute(
            "select id, clinician_id from appointments order by id"
        ).fetchone()
    # An appointment of a clinician the store does not have: it lands, and dbt's relationships test fails.
    _store(var, f"update appointments set clinician_id = 999999 where id = {appointment}")
    instance = dg.DagsterInstance.ephemeral()
    try:
        result = defs.resolve_job_def("warehouse_refresh_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
    finally:
        _store(var, f"update appointments set clinician_id = {clinician} where id = {appointment}")
    assert not result.success
    assert [e.step_key for e in result.all_events if e.is_step_failure] == ["warehouse_models"]
    # The failing dbt ran pre-warmed, and failed the step as the real dbt does.
    assert _dbt_ran_warm(instance, result.run_id) == "1 dbt command(s) ran in a pre-warmed dbt process"
    assert _state(var) == before
    with duckdb.connect(str(var / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "select count(*) from raw_operational.appointments where clinician_id = 999999"
        ).fetchone() == (0,)
    assert not list(var.glob(".warehouse.duckdb.building*"))
    with writer_lock(var / "warehouse.duckdb", wait_seconds=0):  # released: the next run is not held up
        pass


def test_an_unbalanced_file_still_lands_flagged_but_is_not_posted(practice_copy):
    # Its blocking balance check fails the landing step after every row has landed: the run swaps them in,
    # as landing in place did, and only the posting is stopped.
    from operational_api.era_inbox import submit
    from tests.edi835.conftest import fixture_path

    var, defs = practice_copy
    before = _state(var)
    instance = dg.DagsterInstance.ephemeral()
    submit(fixture_path("unbalanced_payment.835").read_bytes(), "unbalanced_payment.835")
    request = _sensor_request(defs, instance)
    run = defs.resolve_job_def("era_file_job").execute_in_process(
        instance=instance, partition_key=request.partition_key, raise_on_error=False
    )
    assert not run.success and not run.asset_materializations_for_node("era__posted_remittance")
    with duckdb.connect(str(var / "warehouse.duckdb"), read_only=True) as con:
        landed = con.execute(
            "select count(*), bool_and(not is_balanced) from raw_era.remittances where source_file_id = ?",
            [request.partition_key],
        ).fetchone()
    assert landed == (1, True) and _state(var)[3] > before[3]
    assert not list(var.glob(".warehouse.duckdb.building*"))


def _dbt_ran_warm(instance: dg.DagsterInstance, run_id: str) -> str:
    (said,) = [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.user_message.startswith(("dbt ran", "0 dbt", "1 dbt", "2 dbt"))
    ]
    return said


@contextmanager
def _immutable(path: Path):
    """The file cannot be replaced, even by root (a rename onto it fails): the swap's last move fails."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i unsupported here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_failed_swap_fails_the_refresh_run_and_leaves_the_previous_warehouse(practice_copy):
    var, defs = practice_copy
    _store(
        var,
        "update appointments set status = 'NO_SHOW' where id in "
        "(select id from appointments where status = 'COMPLETED' order by id limit 3)",
    )
    before = _state(var)
    with _immutable(var / "warehouse.duckdb"):
        result = defs.resolve_job_def("warehouse_refresh_job").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
        assert _state(var) == before  # readers see the previous warehouse
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert failure.step_key == "warehouse__published", message
    assert "could not replace" in message and "warehouse.duckdb" in message, message
    assert "the previous warehouse is still the one in use" in message
    assert not list(var.glob(".warehouse.duckdb.building*"))
    # And the same refresh, once the file can be replaced, swaps the rebuilt warehouse in.
    result, instance = run_refresh(defs)
    # Both dbt builds ran in the dbt the run imported while it landed (mentalspace_platform/dbt_warm.py).
    assert _dbt_ran_warm(instance, result.run_id) == (
        f"{DBT_BUILDS_PER_REFRESH} dbt command(s) ran in a pre-warmed dbt process"
    )
    assert _state(var)[:3] == [before[0] + DBT_BUILDS_PER_REFRESH, before[1] + 3, before[2] + 3]


AD_HOC_SQL = (
    "select (select count(*) from raw_operational.appointments where status = 'NO_SHOW') as no_shows, "
    "(select count(*) from raw_operational.clients where is_high_risk) as high_risk"
)


def test_an_ad_hoc_selection_from_the_ui_lands_in_a_copy_swapped_in_whole(practice_copy, tmp_path):
    # Two tables landed in one step of the UI's asset job (neither the refresh nor the ERA job), while the
    # dashboards' reader queries both in one statement: it never fails and sees both old or both new.
    var, defs = practice_copy
    _store(
        var,
        "update appointments set status = 'NO_SHOW' where id in "
        "(select id from appointments where status = 'COMPLETED' order by id limit 4)",
    )
    _store(
        var,
        "update clients set is_high_risk = 1 where id in "
        "(select id from clients where not is_high_risk order by id limit 2)",
    )
    with duckdb.connect(str(var / "warehouse.duckdb"), read_only=True) as con:
        before = list(con.execute(AD_HOC_SQL).fetchone())
    stop = tmp_path / "stop"
    reader = _start_reader(var, stop, AD_HOC_SQL)
    try:
        time.sleep(3)
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            asset_selection=[
                dg.AssetKey(["operational", "appointments"]),
                dg.AssetKey(["operational", "clients"]),
            ],
            raise_on_error=False,
        )
        done_at = time.time()
        time.sleep(2)
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    after = [before[0] + 4, before[1] + 2]
    samples = [json.loads(line) for line in out.splitlines()]
    assert not [s["error"] for s in samples if "error" in s], err
    states = {tuple(s["state"]) for s in samples}
    assert len(samples) > 20 and states == {tuple(before), tuple(after)}, states
    assert all(s["state"] == after for s in samples if s["at"] > done_at + 1)
    assert not list(var.glob(".warehouse.duckdb.building*"))


def test_a_dagster_step_cannot_write_the_live_file(practice_copy):
    from orchestration.lib.resources import WarehouseResource

    var, _ = practice_copy
    before = _state(var)
    with pytest.raises(PlatformError, match="outside a staged build"):
        WarehouseResource().warehouse().replace_table("raw_era", "in_place", [pl.DataFrame({"n": [1]})])
    assert _state(var) == before


def test_on_postgresql_the_era_run_lands_in_place_with_no_file_made(var_dir, parsed_pg_database, monkeypatch):
    from mentalspace_platform.warehouse import Warehouse
    from operational_api.era_inbox import submit
    from tests.edi835.conftest import fixture_path

    monkeypatch.setenv("DBT_TARGET", "prod")
    monkeypatch.setenv("MENTALSPACE_WAREHOUSE_URL", parsed_pg_database)
    instance = dg.DagsterInstance.ephemeral()
    submit(fixture_path("unbalanced_payment.835").read_bytes(), "unbalanced_payment.835")
    with fresh_definitions() as defs:
        request = _sensor_request(defs, instance)
        defs.resolve_job_def("era_file_job").execute_in_process(
            instance=instance, partition_key=request.partition_key, raise_on_error=False
        )
    landed = Warehouse(current_environment()).query("select count(*) as n from raw_era.remittances").item()
    assert landed == 1
    assert not [p.name for p in var_dir.iterdir() if "warehouse" in p.name]
