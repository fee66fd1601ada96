"""The dbt project, bound to the dbt target the environment helper chooses."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster import InitResourceContext
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from mentalspace_platform import dbt_warm
from mentalspace_platform.catalog import (
    PARTIAL_PARSE_FILE,
    PROJECT_SOURCES,
    private_target_path,
    project_files,
)
from mentalspace_platform.environment import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    Environment,
    current_environment,
)
from mentalspace_platform.warehouse import is_staged, staging_path
from operational_api.errors import PlatformError

# Every `dbt build` a Dagster run starts: no JSON artifacts (manifest.json twice and run_results.json; Dagster reads
# dbt's events from stdout and the definitions' own manifest, never these) and no debug-level log file (every SQL
# statement of every node, written under a lock the node threads share; warnings and errors are still written).
# Measured: 4.6 -> 4.1 CPU s for the start-up and end of every dbt command (2026-12-05, load ~40). For per-model
# timings run dbt by hand, or read the materializations' durations in Dagster.
DBT_BUILD_FLAGS = ("--no-write-json", "--log-level-file", "warn")
# dagster-dbt gives every dbt command a target folder of its own (compiled SQL, partial parse: ~10 MB on the
# 100-clinician practice) and never removes it: a refresh every 15 minutes left over a gigabyte a day. Folders
# older than this go when the next command starts (kept a while for looking into a failed run's SQL).
INVOCATION_FOLDER_HOURS = 24


class DbtCli(DbtCliResource):
    """dagster-dbt's resource without two start-up costs we never use (~9 s per `dbt build` together),
    with DBT_BUILD_FLAGS, and with dbt imported once per run rather than once per command.

    - It runs `dbt --version` in a subprocess to learn the version; ours is the dbt-core pinned in
      this virtual environment (DBT_EXECUTABLE), so the package metadata says the same thing.
    - It loads a dbt adapter in-process only to fetch row counts and column metadata on request
      (`fetch_row_counts()`, `fetch_column_metadata()`), which our assets do not ask for.
    Both are private hooks of dagster-dbt 0.29 (pinned in requirements.lock);
    tests/orchestration/test_dagster_instance.py fails if either stops applying.
    """

    def __init__(self, **kwargs) -> None:
        # DbtCliResource's own __init__ turns a missing global_config_flags into [], so no field default reaches it.
        kwargs.setdefault("global_config_flags", list(DBT_BUILD_FLAGS))
        super().__init__(**kwargs)

    def cli(self, args, **kwargs):
        _remove_old_invocation_folders(current_environment().dbt_target_path)
        return super().cli(args, **kwargs)

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[DbtCli]:
        """For the run, this resource with a pre-warmed dbt (mentalspace_platform/dbt_warm.py) as its executable.

        Started with the run's resources, so dbt is imported while the landing steps run: ~1.4 s less for each
        `dbt build` after. A run whose executor starts a process per step starts a server in each: the import then
        overlaps only that step's own start, and costs nothing it would not have."""
        try:
            warm = dbt_warm.start()
        except OSError as error:
            if context.log:
                context.log.info(
                    f"dbt ran as a fresh process, not pre-warmed: could not start its server ({error})"
                )
            self.setup_for_execution(context)
            yield self
            return
        try:
            # dagster's own way to a copy with other field values (it validates them: the launcher must exist).
            warmed = self._with_updated_values({"dbt_executable": str(warm.client)})
            warmed.setup_for_execution(context)
            yield warmed
        finally:
            said = warm.stop().describe()
            if said and context.log:
                context.log.info(said)

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def _remove_old_invocation_folders(target_path: Path) -> None:
    if not target_path.is_dir():
        return
    cutoff = time.time() - INVOCATION_FOLDER_HOURS * 3600
    for folder in target_path.iterdir():
        # Hidden folders are the parse's and the catalog's own, which remove themselves.
        if folder.is_dir() and not folder.name.startswith(".") and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


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
    ensure_manifest(project.manifest_path, env)
    return project


def ensure_manifest(manifest: Path, env: Environment) -> None:
    if not _manifest_is_current(manifest):
        _finish_parse(_start_parse(manifest, env))


def parse_in_background() -> Callable[[], None]:
    """Start `dbt parse` now if the manifest is stale and return a function that waits for it.

    A first build parses the whole project (tens of seconds on two cores); in its own process it
    overlaps with generating and loading the practice instead of following it."""
    env = current_environment()
    os.environ.update(env.dbt_env())
    manifest = env.dbt_target_path / "manifest.json"
    parse = None if _manifest_is_current(manifest) else _start_parse(manifest, env)
    return lambda: _finish_parse(parse) if parse else None


def _manifest_is_current(manifest: Path) -> bool:
    sources = project_files((*PROJECT_SOURCES, "tests", "profiles.yml"))
    return manifest.exists() and manifest.stat().st_mtime >= max(p.stat().st_mtime for p in sources)


@dataclass
class _Parse:
    process: subprocess.Popen
    folder: Path  # private to this parse
    manifest: Path  # where the result goes


def _parse_env(env: Environment) -> dict[str, str]:
    """The profile's variables as the builds will see them, so their partial parse starts from this parse.

    dbt re-parses the whole project (about 2.5 times the CPU of loading its partial parse) whenever the profile's
    connection details differ from the parse's, and an embedded warehouse is always built in its staged copy
    (mentalspace_platform/warehouse.py): a parse against the live file, as a Dagster code location made, cost every
    later `dbt build` and catalog of its refreshes a whole parse. The parse never opens the file."""
    variables = env.dbt_env()
    if env.warehouse_kind == "duckdb" and not is_staged(env):
        variables["MENTALSPACE_DUCKDB_PATH"] = str(staging_path(env.duckdb_path))
    return variables


def _start_parse(manifest: Path, env: Environment) -> _Parse:
    """`dbt parse` into a folder of its own: dbt writes manifest.json in place, and every process loading the
    definitions reads it (ten ERA runs starting at once): a reader must only ever find a whole file there."""
    folder = private_target_path(manifest.parent, ".parse-")
    process = subprocess.Popen(
        [DBT_EXECUTABLE, "parse", "--quiet", "--target", env.dbt_target, "--target-path", str(folder)],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, **_parse_env(env)},
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
