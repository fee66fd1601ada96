"""`mentalspace serve` stops every server it started when it is told to stop, by Ctrl+C or by SIGTERM (a service
manager, `kill`), even when it was started with both signals ignored (as a background job inherits them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, fresh_sqlite_store
from tests.servers import free_port, wait_for_http


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task")
    return {int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_every_server_it_started(var_dir, migrated_sqlite, stop_signal):
    fresh_sqlite_store(migrated_sqlite, var_dir / "operational.db")
    api_port = free_port()
    ports = ["--dagster-port", str(free_port()), "--streamlit-port", str(free_port())]
    ports += ["--api-port", str(api_port), "--catalog-port", str(free_port())]
    # Outside mail and SMS servers, so no loopback one takes its fixed port beside other tests (those two stop on
    # their own: tests/notifications).
    env = {**os.environ, "SMTP_URL": "smtp://127.0.0.1:9", "SMS_URL": "http://127.0.0.1:9"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "mentalspace_cli.main", "serve", *ports],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # Both signals ignored in the child, as `cmd &` leaves SIGINT.
        preexec_fn=lambda: [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)],
    )
    children: set[int] = set()
    try:
        wait_for_http(f"http://127.0.0.1:{api_port}/docs", serve, "serve's API")
        children = _children(serve.pid)
        assert len(children) >= 4  # Dagster, Streamlit, the API and the catalog at least
        serve.send_signal(stop_signal)
        serve.wait(timeout=60)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "servers left running after serve stopped"
    finally:
        if serve.poll() is None:
            serve.kill()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
