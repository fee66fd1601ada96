"""One measured step: a command in a process of its own, timed, with that process's own peak memory.

The peak is `ru_maxrss` of the step's process as its parent's `wait4` reports it: the largest resident set of the
process and of any process it waited for (dbt, a parse). Two traps this avoids:
- `getrusage(RUSAGE_CHILDREN)` is the largest over every child waited for so far, so a small step measured after
  a large one reported the large one's peak;
- Linux starts a new program's `ru_maxrss` at the high-water mark of the process that started it (the address
  space it replaces at exec), so a step started straight from a large process (a bench run that has built
  frames, pytest) reports at least that process's size. The step is started from a small Python process instead
  (`python -m bench.measure`, ~10 MB), which waits for it and writes its peak to a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    """Run `cmd` (from a small process of its own) and return its time, output and own peak memory."""
    with tempfile.TemporaryDirectory(prefix="bench-step-") as scratch:
        peak_file = Path(scratch) / "peak_kb"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bench.measure", str(peak_file), *cmd],
            cwd=cwd,
            env={
                **env,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")])),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        # ru_maxrss is in kilobytes on Linux. No file: the step could not even be started.
        peak_mb = int(peak_file.read_text()) / 1024 if peak_file.exists() else 0.0
    return Measured(seconds, done.returncode, done.stdout, done.stderr, peak_mb)


def run_step(cmd: list[str], env: dict[str, str], what: str) -> Measured:
    """`run_measured` from the repository root for a step the bench cannot go on without: its failure raises,
    naming the step, with the end of its error output."""
    done = run_measured(cmd, env=env, cwd=_REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip()[-800:]}")
    return done


_REPO_ROOT = Path(__file__).resolve().parents[1]


def _run_and_report(peak_file: str, cmd: list[str]) -> int:
    # The child inherits this process's stdout and stderr; only its peak comes back through the file.
    process = subprocess.Popen(cmd)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    Path(peak_file).write_text(str(usage.ru_maxrss))
    return process.returncode if process.returncode >= 0 else 128 - process.returncode


if __name__ == "__main__":
    sys.exit(_run_and_report(sys.argv[1], sys.argv[2:]))
