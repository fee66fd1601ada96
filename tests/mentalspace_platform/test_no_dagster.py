"""The platform core and the dashboards' data layer never load Dagster (a dashboard process stays light, and
the landing runs without an instance)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT, STEP_TIMEOUT

# Every module of both packages, found on disk, so a module added later is checked too.
IMPORT_ALL = """
import importlib, pkgutil, sys
import dashboards.data, mentalspace_platform
for package in (mentalspace_platform, dashboards.data):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
loaded = sorted(name for name in sys.modules if name == "dagster" or name.startswith(("dagster.", "dagster_")))
assert not loaded, "imported Dagster: " + ", ".join(loaded[:5])
print("modules imported without Dagster")
"""


def test_platform_core_and_dashboard_loaders_import_without_dagster():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "without Dagster" in done.stdout
