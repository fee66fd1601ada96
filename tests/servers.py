"""Servers a test starts on loopback: a free port, and waiting until one answers."""

from __future__ import annotations

import subprocess
import time

import httpx

from operational_api.notifications.loopback import free_port

__all__ = ["free_port", "wait_for_http"]


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
