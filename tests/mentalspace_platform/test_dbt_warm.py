"""The pre-warmed dbt (mentalspace_platform/dbt_warm.py) behaves as the real dbt: the same events on stdout, exit codes
and artifacts, a cancel that ends it, and the real dbt whenever no server answers.

On a tiny DuckDB project of the test's own, run the way dagster-dbt runs dbt (JSON log lines on a pipe)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mentalspace_platform import dbt_warm
from mentalspace_platform.environment import DBT_EXECUTABLE
from tests.conftest import STEP_TIMEOUT

PROFILE = """
tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('TINY_DB') }}"
      threads: 1
"""
PROJECT = """
name: tiny
version: "1.0"
profile: tiny
models:
  tiny:
    +materialized: table
"""
# dbt-duckdb runs a Python model in dbt's own process: a real way to a dbt command that lasts, or crashes. dbt cancels
# a command on SIGINT once its running models return (a query is interrupted; a Python model's sleep is not): short.
SLOW_SECONDS = 8
SLOW_MODEL = f"""
def model(dbt, session):
    import time
    time.sleep({SLOW_SECONDS})
    return session.sql("select 1 as id")
"""
CRASHING_MODEL = """
def model(dbt, session):
    import os
    os.abort()
    return session.sql("select 1 as id")  # dbt's parser wants one
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "models").mkdir(parents=True)
    (folder / "profiles.yml").write_text(PROFILE)
    (folder / "dbt_project.yml").write_text(PROJECT)
    (folder / "models" / "first.sql").write_text("select 1 as id")
    (folder / "models" / "second.sql").write_text("select id + 1 as id from {{ ref('first') }}")
    return folder


@pytest.fixture
def warm():
    server = dbt_warm.start()
    try:
        yield server
    finally:
        server.stop()


def _start(executable: str, project: Path, name: str, *args: str, **env: str) -> subprocess.Popen:
    """dbt as dagster-dbt starts it, with a warehouse, target and log folder named `name`."""
    out = project.parent / name
    out.mkdir(exist_ok=True)
    return subprocess.Popen(
        [executable, *args, "--target-path", str(out / "target")],
        cwd=project,
        env={
            **os.environ,
            "DBT_PROFILES_DIR": str(project),
            "DBT_LOG_FORMAT": "json",
            "DBT_LOG_PATH": str(out / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",
            "TINY_DB": str(out / "tiny.duckdb"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _run(executable: str, project: Path, name: str, *args: str, **env: str) -> tuple[int, list[tuple], dict]:
    """Exit code, the events (name, node, status) and run_results.json's node statuses of one dbt command."""
    process = _start(executable, project, name, *args, **env)
    output, _ = process.communicate(timeout=STEP_TIMEOUT)
    events = []
    for line in output.decode().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            events.append(("not JSON", line, None))
            continue
        node = event["data"].get("node_info", {})
        events.append((event["info"]["name"], node.get("unique_id"), node.get("node_status")))
    results = project.parent / name / "target" / "run_results.json"
    statuses = (
        {r["unique_id"]: r["status"] for r in json.loads(results.read_text())["results"]}
        if results.exists()
        else {}
    )
    return process.returncode, events, statuses


def _server_children(warm: dbt_warm.WarmDbt) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == warm.process.pid:
                children.append(int(entry.name))
    return children


def _wait_for(predicate, what: str, seconds: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize(
    "second_model, code",
    [
        ("select id + 1 as id from {{ ref('first') }}", 0),
        ("select id from a_table_nobody_made", 1),  # fails when it runs
        ("select id from {{ ref('no_such_model') }}", 2),  # fails to compile (dbt's exit code for an error)
    ],
)
def test_warm_dbt_writes_the_same_events_exit_code_and_artifacts_as_the_real_one(
    project, warm, second_model, code
):
    (project / "models" / "second.sql").write_text(second_model)
    real = _run(DBT_EXECUTABLE, project, "real", "build")
    warmed = _run(str(warm.client), project, "warm", "build")
    assert real[0] == code, real[1]
    assert warmed == real
    assert warm.stop().served == 1


def test_dbt_ls_and_parse_run_warm(project, warm):
    assert _run(str(warm.client), project, "warm", "parse") == _run(DBT_EXECUTABLE, project, "real", "parse")
    assert (project.parent / "warm" / "target" / "manifest.json").exists()
    assert _run(str(warm.client), project, "warm", "ls") == _run(DBT_EXECUTABLE, project, "real", "ls")
    assert warm.stop().describe() == "2 dbt command(s) ran in a pre-warmed dbt process"


def test_without_a_server_the_client_runs_the_real_dbt(project, warm):
    warm.process.kill()
    warm.process.wait()
    code, events, statuses = _run(str(warm.client), project, "orphaned", "build")
    assert (code, set(statuses.values())) == (0, {"success"})
    # And with no socket at all.
    (warm.folder / dbt_warm.SOCKET_NAME).unlink()
    assert _run(str(warm.client), project, "no-socket", "build")[1] == events


def test_a_variable_dbt_reads_at_import_differing_runs_the_real_dbt(project, warm):
    code, _, statuses = _run(str(warm.client), project, "warm", "build", DBT_MACRO_DEBUGGING="1")
    assert (code, set(statuses.values())) == (0, {"success"})
    summary = warm.stop()
    assert summary.served == 0
    assert summary.describe() == (
        "0 dbt command(s) ran in a pre-warmed dbt process, 1 as a fresh process: "
        "set differently from when dbt was imported: DBT_MACRO_DEBUGGING (1)"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signal_to_the_client_ends_its_dbt_and_leaves_no_process(project, warm, signum):
    (project / "models" / "slow.py").write_text(SLOW_MODEL)
    client = _start(str(warm.client), project, "warm", "build", "--select", "slow")
    _wait_for(lambda: _server_children(warm), "the server never started dbt")
    (child,) = _server_children(warm)
    # Under way: the model's sleep is running, in the child.
    _wait_for(
        lambda: (project.parent / "warm" / "target" / "run" / "tiny" / "models" / "slow.py").exists(),
        "no run",
    )
    client.send_signal(signum)
    started = time.monotonic()
    client.communicate(timeout=60)
    # SIGINT and SIGTERM reach dbt (which cancels, as for a Ctrl-C, or ends); a client killed outright leaves its dbt
    # to the server, which kills it.
    assert (
        client.returncode
        == {signal.SIGINT: 2, signal.SIGTERM: 128 + signal.SIGTERM, signal.SIGKILL: -signum}[signum]
    )
    _wait_for(lambda: not Path(f"/proc/{child}").exists() or _is_zombie(child), "dbt outlived its client", 30)
    _wait_for(lambda: not _server_children(warm), "the server did not reap its child", 30)
    assert time.monotonic() - started < SLOW_SECONDS + 30


def test_sigint_ends_a_warm_dbt_as_it_ends_the_real_one(project, warm):
    (project / "models" / "slow.py").write_text(SLOW_MODEL)
    codes = []
    for name, executable in (("real", DBT_EXECUTABLE), ("warm", str(warm.client))):
        process = _start(executable, project, name, "build", "--select", "slow")
        marker = project.parent / name / "target" / "run" / "tiny" / "models" / "slow.py"
        _wait_for(marker.exists, f"the {name} dbt never ran the slow model")
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        codes.append(process.returncode)
    assert codes == [2, 2]  # dbt's exit code for an interrupted command


def test_a_crashed_dbt_exits_128_plus_its_signal(project, warm):
    (project / "models" / "crash.py").write_text(CRASHING_MODEL)
    code, _, _ = _run(str(warm.client), project, "warm", "build", "--select", "crash")
    assert code == 128 + signal.SIGABRT
    assert _run(DBT_EXECUTABLE, project, "real", "build", "--select", "crash")[0] == -signal.SIGABRT


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
