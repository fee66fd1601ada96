"""Every dbt command of a build starts from the project's partial parse instead of parsing the project again."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from mentalspace_platform.catalog import private_target_path
from mentalspace_platform.environment import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    SKIP_DATA_TESTS_VAR,
    current_environment,
)
from mentalspace_platform.warehouse import staged_build
from orchestration.defs.dbt.project import (
    DBT_BUILD_FLAGS,
    INVOCATION_FOLDER_HOURS,
    DbtCli,
    _remove_old_invocation_folders,
    dbt_project,
)
from tests.conftest import postgres_env

FULL_PARSE = "Unable to do partial parsing"


def _assert_a_staged_dbt_command_parses_nothing_again() -> None:
    """One `dbt ls` in a staged build of the current environment, as dagster-dbt runs each `dbt build` (a target
    folder of its own, seeded with the partial parse): it must start from the partial parse."""
    env = current_environment()
    with staged_build(env) as building:
        folder = private_target_path(env.dbt_target_path, ".build-")
        listed = subprocess.run(
            [
                DBT_EXECUTABLE,
                "ls",
                "--select",
                "stg_era__remark_codes",
                "--target",
                building.dbt_target,
                "--target-path",
                str(folder),
            ],
            cwd=DBT_PROJECT_DIR,
            env={**os.environ, **building.dbt_env()},
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert listed.returncode == 0, listed.stdout[-2000:]
    assert "stg_era__remark_codes" in listed.stdout
    assert FULL_PARSE not in listed.stdout, next(
        line for line in listed.stdout.splitlines() if FULL_PARSE in line
    )


def test_a_build_reuses_the_parse_that_loading_the_definitions_made(var_dir):
    # A Dagster code location parses outside any build (against the live warehouse file), and each refresh then
    # builds in the staged copy: dbt re-parses the whole project whenever the profile's path differs.
    dbt_project()
    assert (current_environment().dbt_target_path / "partial_parse.msgpack").exists()
    _assert_a_staged_dbt_command_parses_nothing_again()


def test_a_folder_that_adopted_the_runs_parse_parses_nothing_again(parsed_var_dir):
    # The suite's own economy (tests/dbt_parse.py): if dbt's state check changed so that an adopted parse no
    # longer serves, every test folder would quietly parse the whole project again.
    _assert_a_staged_dbt_command_parses_nothing_again()


@pytest.mark.postgres
def test_a_postgres_folder_that_adopted_the_runs_parse_parses_nothing_again(
    var_dir, parsed_pg_database, monkeypatch
):
    # The same for PostgreSQL folders, whose adopted parse also has each node's database renamed.
    for name, value in postgres_env(var_dir, parsed_pg_database).items():
        monkeypatch.setenv(name, value)
    _assert_a_staged_dbt_command_parses_nothing_again()


def test_dagster_runs_dbt_without_artifacts_nobody_reads():
    resource = DbtCli(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
    assert resource.global_config_flags == list(DBT_BUILD_FLAGS)
    explicit = DbtCli(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE, global_config_flags=[])
    assert explicit.global_config_flags == []


def test_only_the_15_minute_refresh_and_the_test_suite_build_without_dbt_data_tests(
    parsed_var_dir, monkeypatch
):
    # Production's other builds keep them (their asset checks); the suite runs them in
    # tests/dbt/test_measures_demo.py. In a parsed var/ folder: the worker's first import of the assets module
    # would otherwise parse the whole dbt project into the checkout's own var/ (a minute of CI under load).
    from orchestration.defs.dbt.assets import excluded_resource_types

    monkeypatch.delenv(SKIP_DATA_TESTS_VAR, raising=False)
    assert excluded_resource_types(data_tests=True) == ["unit_test"]
    assert excluded_resource_types(data_tests=False) == ["unit_test", "test"]
    monkeypatch.setenv(SKIP_DATA_TESTS_VAR, "1")
    assert excluded_resource_types(data_tests=True) == ["unit_test", "test"]


def test_dbt_commands_remove_the_target_folders_dagster_left_a_day_ago(tmp_path):
    old, recent, parse = (
        tmp_path / "warehouse_models-a1b2c3d-e4f5a6b",
        tmp_path / "warehouse_models-1234567-89abcde",
        tmp_path / ".parse-x",
    )
    for folder in (old, recent, parse):
        (folder / "compiled").mkdir(parents=True)
    a_day_ago = time.time() - INVOCATION_FOLDER_HOURS * 3600 - 60
    for folder in (old, parse):
        os.utime(folder, (a_day_ago, a_day_ago))
    (tmp_path / "manifest.json").write_text("{}")
    _remove_old_invocation_folders(tmp_path)
    assert not old.exists()
    assert recent.exists() and parse.exists() and (tmp_path / "manifest.json").exists()
