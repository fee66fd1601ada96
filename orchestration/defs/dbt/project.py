"""The dbt project, bound to the dbt target the environment helper chooses."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from operational_api.errors import PlatformError
from orchestration.lib.environment import DBT_PROJECT_DIR, current_environment

# dagster-dbt would look for `dbt` on PATH; the one in our virtual environment is the pinned one.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


class DbtCli(DbtCliResource):
    """dagster-dbt's resource without two start-up costs we never use (~9 s per `dbt build` together).

    - It runs `dbt --version` in a subprocess to learn the version; ours is the dbt-core pinned in
      this virtual environment (DBT_EXECUTABLE), so the package metadata says the same thing.
    - It loads a dbt adapter in-process only to fetch row counts and column metadata on request
      (`fetch_row_counts()`, `fetch_column_metadata()`), which our assets do not ask for.
    Both are private hooks of dagster-dbt 0.29 (pinned in requirements.lock);
    tests/orchestration/test_dbt_cli_resource.py fails if either stops applying.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_project() -> DbtProject:
    """A DbtProject whose manifest is current: re-parsed when any model, macro or seed is newer."""
    env = current_environment()
    os.environ.update(env.dbt_env())
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=env.dbt_target,
        target_path=env.dbt_target_path,
    )
    ensure_manifest(project.manifest_path, env.dbt_target)
    return project


def ensure_manifest(manifest: Path, target: str) -> None:
    sources = [
        p
        for folder in ("models", "macros", "seeds", "tests")
        for p in (DBT_PROJECT_DIR / folder).rglob("*")
        if p.is_file()
    ] + [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    if manifest.exists() and manifest.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return
    result = subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--target", target, "--target-path", str(manifest.parent)],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip().splitlines()
        raise PlatformError("dbt parse failed: " + (detail[-1] if detail else "no output"))
