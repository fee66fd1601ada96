"""The dbt project, bound to the dbt target the environment helper chooses."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from mentalspace_platform.catalog import PARTIAL_PARSE_FILE, private_target_path
from mentalspace_platform.environment import DBT_EXECUTABLE, DBT_PROJECT_DIR, current_environment
from operational_api.errors import PlatformError


class DbtCli(DbtCliResource):
    """dagster-dbt's resource without two start-up costs we never use (~9 s per `dbt build` together).

    - It runs `dbt --version` in a subprocess to learn the version; ours is the dbt-core pinned in
      this virtual environment (DBT_EXECUTABLE), so the package metadata says the same thing.
    - It loads a dbt adapter in-process only to fetch row counts and column metadata on request
      (`fetch_row_counts()`, `fetch_column_metadata()`), which our assets do not ask for.
    Both are private hooks of dagster-dbt 0.29 (pinned in requirements.lock);
    tests/orchestration/test_dagster_instance.py fails if either stops applying.
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
    if not _manifest_is_current(manifest):
        _finish_parse(_start_parse(manifest, target))


def parse_in_background() -> Callable[[], None]:
    """Start `dbt parse` now if the manifest is stale and return a function that waits for it.

    A first build parses the whole project (tens of seconds on two cores); in its own process it
    overlaps with generating and loading the practice instead of following it."""
    env = current_environment()
    os.environ.update(env.dbt_env())
    manifest = env.dbt_target_path / "manifest.json"
    parse = None if _manifest_is_current(manifest) else _start_parse(manifest, env.dbt_target)
    return lambda: _finish_parse(parse) if parse else None


def _manifest_is_current(manifest: Path) -> bool:
    sources = [
        p
        for folder in ("models", "macros", "seeds", "tests")
        for p in (DBT_PROJECT_DIR / folder).rglob("*")
        if p.is_file()
    ] + [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    return manifest.exists() and manifest.stat().st_mtime >= max(p.stat().st_mtime for p in sources)


@dataclass
class _Parse:
    process: subprocess.Popen
    folder: Path  # private to this parse
    manifest: Path  # where the result goes


def _start_parse(manifest: Path, target: str) -> _Parse:
    """`dbt parse` into a folder of its own: dbt writes manifest.json in place, and every process loading the
    definitions reads it (ten ERA runs starting at once): a reader must only ever find a whole file there."""
    folder = private_target_path(manifest.parent, ".parse-")
    process = subprocess.Popen(
        [DBT_EXECUTABLE, "parse", "--quiet", "--target", target, "--target-path", str(folder)],
        cwd=DBT_PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return _Parse(process, folder, manifest)


def _finish_parse(parse: _Parse) -> None:
    try:
        output, _ = parse.process.communicate()
        if parse.process.returncode != 0:
            detail = output.strip().splitlines()
            raise PlatformError("dbt parse failed: " + (detail[-1] if detail else "no output"))
        if (parse.folder / PARTIAL_PARSE_FILE).exists():
            os.replace(parse.folder / PARTIAL_PARSE_FILE, parse.manifest.parent / PARTIAL_PARSE_FILE)
        os.replace(parse.folder / "manifest.json", parse.manifest)
    finally:
        shutil.rmtree(parse.folder, ignore_errors=True)
