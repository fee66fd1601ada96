"""The bench's peak memory is each measured step's own, not the largest of every step run before it."""

from __future__ import annotations

import os
import sys

from bench.measure import run_measured
from tests.conftest import REPO_ROOT

# Touches every page of a buffer of the given size, so the pages are resident.
ALLOCATE = (
    "import sys; b = bytearray(int(sys.argv[1]) * 2**20); b[::4096] = b'x' * len(b[::4096]); print(len(b))"
)


def test_a_small_step_after_a_large_one_reports_its_own_peak():
    large = run_measured([sys.executable, "-c", ALLOCATE, "300"], env=dict(os.environ), cwd=REPO_ROOT)
    small = run_measured([sys.executable, "-c", ALLOCATE, "1"], env=dict(os.environ), cwd=REPO_ROOT)
    assert large.returncode == 0 and small.returncode == 0, large.stderr + small.stderr
    assert large.stdout.strip() == str(300 * 2**20)
    assert large.peak_mb >= 300
    # A bare Python is ~10-30 MB; the large step's 300 MB must not show up in the small one's figure.
    assert small.peak_mb < 100, small.peak_mb


def test_a_step_started_by_a_large_process_does_not_inherit_its_size():
    # Linux starts an exec'd program's ru_maxrss at the high-water mark of the process that started it.
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_measured([sys.executable, "-c", ALLOCATE, "1"], env=dict(os.environ), cwd=REPO_ROOT)
    assert small.returncode == 0, small.stderr
    assert small.peak_mb < 100, small.peak_mb
    del ballast


def test_a_failed_step_reports_its_exit_code_and_error_output():
    failed = run_measured(
        [sys.executable, "-c", "import sys; sys.exit('no such practice')"],
        env=dict(os.environ),
        cwd=REPO_ROOT,
    )
    assert failed.returncode == 1
    assert "no such practice" in failed.stderr
