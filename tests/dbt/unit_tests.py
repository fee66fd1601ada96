"""The dbt unit tests (`dbt test --select test_type:unit`) on a small seeded warehouse, for `make test-fast`.

dbt reads the column types of a unit-tested model's inputs from the warehouse, so they must exist: the smallest
synthetic practice (SMALL_PRACTICE: 1 clinician, 1 month) is built through the real CLI into a temporary var/ folder
first, without dbt's data tests, as every build of the suite (tests/conftest.py). The full suite runs the same unit
tests, and the data tests, against its medium practice's warehouses (tests/dbt/test_measures_demo.py).

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

AS_OF = SMALL_PRACTICE[SMALL_PRACTICE.index("--as-of") + 1]


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
        # The environment helper reads the process environment: point it at this practice and nothing else, with
        # the build's "today" (`--as-of`).
        for name in DEPLOYMENT_VARS:
            os.environ.pop(name, None)
        os.environ["MENTALSPACE_VAR_DIR"] = str(var)
        os.environ["MENTALSPACE_AS_OF_DATE"] = AS_OF
        from mentalspace_platform.environment import DBT_EXECUTABLE, DBT_PROJECT_DIR, current_environment
        from mentalspace_platform.warehouse import staged_build

        # In a staged copy, as the build saw its warehouse, with the build's target and vars: dbt's profile is
        # then the build's, so dbt starts from the build's partial parse instead of parsing the project again.
        with staged_build(current_environment(), swap_on_exit=False) as env:
            result = subprocess.run(
                [DBT_EXECUTABLE, "test", "--select", "test_type:unit", "--target", env.dbt_target],
                cwd=DBT_PROJECT_DIR,
                env={**os.environ, **env.dbt_env()},
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
