"""The dbt unit tests (`dbt test --select test_type:unit`) on a small seeded warehouse, for `make test-fast`.

dbt reads the column types of a unit-tested model's inputs from the warehouse, so they must exist: the smallest
synthetic practice (SMALL_PRACTICE: 1 clinician, 1 month) is built through the real CLI into a temporary var/ folder first.
The full suite runs the same unit tests against its demo warehouses (tests/dbt/test_measures_demo.py).

    python -m tests.dbt.unit_tests          exit code 0 when every unit test passed
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import DEPLOYMENT_VARS, SMALL_PRACTICE, STEP_TIMEOUT, run_cli


def main() -> int:
    """Build the small practice, run the unit tests, print one summary line; dbt's output only on failure."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mentalspace-dbt-unit-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir()
        built = run_cli("build", "--fresh", *SMALL_PRACTICE, env={"MENTALSPACE_VAR_DIR": str(var)})
        if built.returncode != 0:
            print(built.stdout[-3000:] + built.stderr[-3000:], file=sys.stderr)
            print("dbt unit tests: the small practice did not build (output above)", file=sys.stderr)
            return 1
        # The environment helper reads the process environment: point it at this practice and nothing else.
        for name in DEPLOYMENT_VARS:
            os.environ.pop(name, None)
        os.environ["MENTALSPACE_VAR_DIR"] = str(var)
        from mentalspace_platform.environment import DBT_PROJECT_DIR, current_environment
        from orchestration.defs.dbt.project import DBT_EXECUTABLE

        result = subprocess.run(
            [DBT_EXECUTABLE, "test", "--select", "test_type:unit"],
            cwd=DBT_PROJECT_DIR,
            env={**os.environ, **current_environment().dbt_env()},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
    summary = next((line for line in reversed(result.stdout.splitlines()) if "PASS=" in line), "")
    summary = summary[summary.find("PASS=") :]  # without dbt's timestamp and colour codes
    if result.returncode != 0:
        print(result.stdout[-6000:] + result.stderr[-2000:], file=sys.stderr)
    print(f"dbt unit tests: {summary.strip() or 'no summary'} in {time.monotonic() - started:.0f} s")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
