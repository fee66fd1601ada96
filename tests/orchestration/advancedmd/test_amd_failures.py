"""`mentalspace amd sync` when AdvancedMD is misconfigured, unreachable or slow, as a user runs it.

Real subprocesses, real sockets: a closed port, a name that cannot resolve (`.invalid` never does), a
listener that accepts and never answers, and a running simulator targeted with --base-url.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import duckdb
import pytest

from ingest.advancedmd.simulator import SimulatorConfig, SimulatorDataset, start_simulator
from tests.conftest import DEPLOYMENT_VARS, REPO_ROOT, run_cli

SIM = SimulatorConfig()
CREDENTIALS = {
    "AMD_USERNAME": SIM.username,
    "AMD_PASSWORD": SIM.password,
    "AMD_OFFICE_KEY": "991001",
    "AMD_APP_NAME": "TEMP",
}


def _env(var_dir, **extra: str) -> dict[str, str]:
    return {"MENTALSPACE_VAR_DIR": str(var_dir), **CREDENTIALS, **extra}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


def _popen(var_dir, *args: str, **extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    env.update(_env(var_dir, **extra))
    return subprocess.Popen(
        [sys.executable, "-m", "mentalspace_cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("cause", "base_url"),
    [
        ("connection refused", f"http://127.0.0.1:{_closed_port()}"),  # nothing listens there
        ("does not resolve", "http://advancedmd-host.invalid:8765"),  # .invalid never resolves (RFC 6761)
    ],
    ids=["closed-port", "unresolvable-name"],
)
def test_an_unreachable_host_fails_within_a_minute_with_one_line_and_exit_2(var_dir, cause, base_url):
    started = time.monotonic()
    proc = _popen(var_dir, "amd", "sync", "--base-url", base_url)
    _, stderr = proc.communicate(timeout=120)
    took = time.monotonic() - started

    assert proc.returncode == 2, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines[:10]
    assert lines[0].startswith("error:") and "unreachable" in lines[0] and cause in lines[0], lines[0]
    assert took < 60, f"{cause}: took {took:.0f} s"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {**CREDENTIALS, "AMD_PASSWORD": "", "AMD_OFFICE_KEY": ""},
            "error: AdvancedMD credentials missing: set AMD_PASSWORD, AMD_OFFICE_KEY (a running amd-sim "
            "prints its own)",
        ),
        (
            {"MENTALSPACE_ADVANCEDMD": "live", "AMD_USERNAME": "", "AMD_PASSWORD": "", "AMD_OFFICE_KEY": ""},
            "error: AdvancedMD credentials missing: set AMD_USERNAME, AMD_PASSWORD, AMD_OFFICE_KEY",
        ),
    ],
    ids=["base-url", "live"],
)
def test_missing_credentials_name_the_variables_and_exit_2(var_dir, monkeypatch, capsys, env, line):
    from mentalspace_cli.main import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ["amd", "sync"] + (["--base-url", "http://127.0.0.1:9"] if "AMD_APP_NAME" in env else [])

    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [line]


def test_base_url_syncs_from_a_running_simulator(var_dir):
    # Wall clock, as a separately started `mentalspace amd-sim` runs: 5 patients and a two-day window keep
    # the initial load inside one minute's tier budget even at peak.
    today = dt.date.today()
    dataset = SimulatorDataset.synthetic(seed=3, n_patients=5, n_days=3)
    with start_simulator(dataset, SimulatorConfig(seed=3)) as sim:
        result = run_cli(
            "amd",
            "sync",
            "--base-url",
            sim.base_url,
            "--initial-start",
            (today - dt.timedelta(days=1)).isoformat(),
            "--initial-end",
            today.isoformat(),
            env=_env(var_dir),
        )
        counters = sim.counters

    assert result.returncode == 0, result.stderr[-2000:]
    assert "patients (initial): 5 landed" in result.stdout
    assert counters.logins >= 1 and counters.rate_limit_violations == 0
    with duckdb.connect(str(var_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw_advancedmd.patients").fetchone()[0] == 5
        visits = con.execute("select count(*) from raw_advancedmd.visits").fetchone()[0]
    expected = [
        v
        for v in dataset.live_visits()
        if today - dt.timedelta(days=1) <= v.visit_date <= today and v.appt_status in {0, 1, 2, 3, 10, 12}
    ]
    assert visits == len(expected)


@pytest.fixture
def black_hole() -> Iterator[socket.socket]:
    """A listener that accepts connections and never answers (a hung AdvancedMD)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    try:
        yield server
    finally:
        server.close()


def test_the_warehouse_stays_readable_while_a_sync_waits_on_a_hung_host(var_dir, black_hole):
    port = black_hole.getsockname()[1]
    warehouse = var_dir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:  # a warehouse the dashboards already read
        con.execute("create table marts_probe as select 42 as answer")
    proc = _popen(
        var_dir, "amd", "sync", "--base-url", f"http://127.0.0.1:{port}", AMD_RUN_DEADLINE_SECONDS="5"
    )
    accepted: list[socket.socket] = []
    try:
        give_up = time.monotonic() + 60
        while not accepted and time.monotonic() < give_up and proc.poll() is None:
            with contextlib.suppress(TimeoutError):
                accepted.append(black_hole.accept()[0])
        assert accepted, "the sync never connected"
        # The sync is now inside its first request to the hung host: read as a dashboard would.
        reads = 0
        for _ in range(3):
            with duckdb.connect(str(warehouse), read_only=True) as con:
                assert con.execute("select answer from marts_probe").fetchone()[0] == 42
            reads += 1
            time.sleep(0.5)
        assert proc.poll() is None, "the sync should still be waiting on the hung host"
        _, stderr = proc.communicate(timeout=90)
    finally:
        for conn in accepted:
            conn.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert reads == 3
    assert proc.returncode == 2, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "deadline" in lines[0], lines[:10]
