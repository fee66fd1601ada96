"""One measured step: a command in a process of its own, timed, with that process's own peak memory."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """One step run as a command: its wall-clock seconds, exit code, output and peak resident memory."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float


def run_measured(cmd: list[str], *, env: dict[str, str], cwd: Path) -> Measured:
    """Run `cmd` and measure it alone: the peak is the largest resident set of that process or of any process
    it waited for (dbt, a parse), read from `wait4` on it.

    `getrusage(RUSAGE_CHILDREN)` gives the largest of every child the bench has waited for so far, so a small
    step measured after a large one reported the large one's peak."""
    # Output to files, not pipes: wait4 must be the one wait, and a full pipe would block the child.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in kilobytes on Linux.
        return Measured(seconds, process.returncode, out.read(), err.read(), usage.ru_maxrss / 1024)
