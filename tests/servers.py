"""Servers and worker processes a test starts: a free loopback port, waiting until a server answers, and
processes of a worker module given a JSON spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from operational_api.notifications.loopback import free_port

__all__ = ["free_port", "start_workers", "wait_for_http"]


# A server's start is mostly imports: under a loaded machine (other tests, other workers) that takes tens of seconds.
SERVER_START_SECONDS = 120


def wait_for_http(
    url: str, process: subprocess.Popen, what: str, seconds: float = SERVER_START_SECONDS
) -> httpx.Response:
    """The first answer of `url` (any status), polling while `process` runs; fails with `what` and the server's
    error output if it stops, or if nothing answered within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if process.poll() is not None:
                error = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"{what} stopped (exit {process.returncode}): {error}") from None
            assert time.monotonic() < deadline, f"{what} did not answer within {seconds:.0f} s"
            time.sleep(0.2)


def start_workers(module: str, spec: dict, count: int) -> list[subprocess.Popen]:
    """`count` processes of `python -m module <spec as JSON>` from the repository root, started together, their
    output captured as text."""
    from tests.conftest import REPO_ROOT

    return [
        subprocess.Popen(
            [sys.executable, "-m", module, json.dumps(spec)],
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
