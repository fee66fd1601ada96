"""`python -m operational_api.api.server` (what `mentalspace serve` starts): serves /docs on the given port with
two worker processes by default, and refuses an unmigrated store with one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from operational_api.db import get_engine, migrate
from operational_api.settings import DEFAULT_API_WORKERS
from tests.conftest import REPO_ROOT, run_cli
from tests.servers import free_port, wait_for_http


def test_serves_the_api_on_the_configured_port(tmp_path, var_dir):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    migrate(engine)
    engine.dispose()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "operational_api.api.server"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "MENTALSPACE_API_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        response = wait_for_http(f"http://127.0.0.1:{port}/docs", process, "the API")
        assert response.status_code == 200
        unauthenticated = httpx.get(f"http://127.0.0.1:{port}/clients")
        assert unauthenticated.status_code == 401
        assert len(_workers_of(process.pid)) == DEFAULT_API_WORKERS == 2  # one per core of the 2-core machine
    finally:
        process.terminate()
        process.wait(timeout=10)


def _workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes under the server (multiprocessing's spawned children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_refuses_an_unmigrated_store(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "operational_api.api.server", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: the operational store has no schema yet: run `mentalspace init` first"
    ]


def test_serve_rejects_a_bad_api_port(var_dir):
    result = run_cli("serve", env={"MENTALSPACE_VAR_DIR": str(var_dir), "MENTALSPACE_API_PORT": "http"})
    assert result.returncode == 2
    assert "MENTALSPACE_API_PORT" in result.stderr and "Traceback" not in result.stderr


def test_worker_processes_share_the_servers_requests_in_flight(tmp_path, monkeypatch):
    """Each of N workers lets IN_FLIGHT // N requests in, so a server holds at most IN_FLIGHT database
    connections however many processes it runs (PostgreSQL's default max_connections is 100)."""
    from operational_api.api.app import IN_FLIGHT, InFlightLimit
    from operational_api.api.server import app_from_environment

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = get_engine(url)
    migrate(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    for workers in (1, 2):
        monkeypatch.setenv("MENTALSPACE_API_WORKERS", str(workers))
        app = app_from_environment()
        (limit,) = [m.kwargs["limit"] for m in app.user_middleware if m.cls is InFlightLimit]
        assert limit == IN_FLIGHT // workers
