"""The DuckDB materializations of dbt_project/materializations/duckdb_in_place.sql on a project of their own: views,
tables and incremental models replaced in one statement, with no temporary or backup relation left, an old relation
kept whole when its rebuild fails, a model that changes kind, an enforced contract, incremental runs merged, and a
schema change failed or (columns appended) left to dbt-duckdb."""

import os
import shutil
import subprocess
from pathlib import Path

import duckdb

from mentalspace_platform.environment import DBT_PROJECT_DIR
from tests.conftest import STEP_TIMEOUT, warm_dbt_executable

PROJECT = """
name: in_place
version: "1.0.0"
config-version: 2
profile: in_place
macro-paths: ["materializations"]
"""

PROFILE = """
in_place:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {path}
      threads: 2
"""

CONTRACT = """
version: 2
models:
  - name: typed
    config:
      contract:
        enforced: true
    columns:
      - name: n
        data_type: bigint
        constraints:
          - type: not_null
      - name: label
        data_type: varchar
"""
APPEND = "append_new_columns"


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    shutil.copytree(DBT_PROJECT_DIR / "materializations", project / "materializations")
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "profiles.yml").write_text(PROFILE.format(path=tmp_path / "warehouse.duckdb"))
    return project


def _model(project: Path, name: str, materialized: str, select: str, **config: str) -> None:
    settings = ", ".join(
        f"{key}='{value}'" for key, value in {"materialized": materialized, **config}.items()
    )
    (project / "models" / f"{name}.sql").write_text(f"{{{{ config({settings}) }}}}\n{select}\n")


def _dbt(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [warm_dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
        + ["--log-level-file", "debug"],  # every statement, which the test reads
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        env={**os.environ, "DBT_TARGET_PATH": str(project / "target"), "DBT_LOG_PATH": str(project / "logs")},
    )


def _built(project: Path, *args: str) -> None:
    result = _dbt(project, "run", *args)
    assert result.returncode == 0, result.stdout[-3000:]


def _query(project: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.parent / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _relations(project: Path) -> dict[str, str]:
    return dict(
        _query(
            project,
            "select table_name, table_type from information_schema.tables where table_schema = 'main'",
        )
    )


def _rows(project: Path, relation: str) -> list[tuple]:
    return _query(project, f"select * from {relation} order by all")


# One project through six dbt commands (each parses it anew, a few seconds): one test, not one per case.
def test_views_tables_and_incrementals_are_replaced_in_place(tmp_path):
    project = _project(tmp_path)
    (project / "models" / "contracts.yml").write_text(CONTRACT)
    _model(project, "numbers", "table", "select range as n from range(3)")
    _model(project, "doubled", "view", "select n * 2 as n from {{ ref('numbers') }}")
    _model(project, "kept", "incremental", "select n from {{ ref('numbers') }}")
    _model(project, "shifting", "view", "select 1 as n")
    _model(project, "typed", "table", "select 1::bigint as n, 'x' as label")
    _model(project, "strict", "incremental", "select n from {{ ref('numbers') }}", on_schema_change="fail")
    _model(project, "growing", "incremental", "select n from {{ ref('numbers') }}", on_schema_change=APPEND)
    _built(project)
    tables = {name: "BASE TABLE" for name in ("numbers", "kept", "typed", "strict", "growing")}
    assert _relations(project) == {**tables, "doubled": "VIEW", "shifting": "VIEW"}
    assert _rows(project, "doubled") == [(0,), (2,), (4,)]

    _model(project, "numbers", "table", "select range + 10 as n from range(2)")
    _model(project, "shifting", "table", "select 2 as n")
    _built(project, "--full-refresh")
    # No temporary or backup relation (dbt's swap names them __dbt_tmp and __dbt_backup) is made or left.
    assert _relations(project) == {**tables, "doubled": "VIEW", "shifting": "BASE TABLE"}
    assert _rows(project, "doubled") == [(20,), (22,)]
    assert _rows(project, "kept") == [(10,), (11,)]
    assert _rows(project, "shifting") == [(2,)]
    log = (project / "logs" / "dbt.log").read_text()
    assert "create or replace table" in log and "__dbt_backup" not in log
    columns = _query(
        project,
        "select column_name, data_type, is_nullable from information_schema.columns"
        " where table_name = 'typed' order by ordinal_position",
    )
    assert columns == [("n", "BIGINT", "NO"), ("label", "VARCHAR", "YES")]

    # Without --full-refresh an incremental model merges its new rows by its strategy (the default: appended).
    _model(project, "kept", "incremental", "select n + 100 as n from {{ ref('numbers') }}")
    _model(project, "shifting", "view", "select 3 as n")
    _model(
        project,
        "growing",
        "incremental",
        "select n, n * 2 as m from {{ ref('numbers') }}",
        on_schema_change=APPEND,
    )
    _built(project, "--select", "kept", "shifting", "growing")
    assert _rows(project, "kept") == [(10,), (11,), (110,), (111,)]
    # A model that adds the new columns is dbt-duckdb's: the column added, null in the old rows.
    assert _rows(project, "growing") == [(10, 20), (10, None), (11, 22), (11, None)]
    assert _relations(project)["shifting"] == "VIEW"
    assert _rows(project, "shifting") == [(3,)]

    # A changed schema fails a model that says so, and leaves its table whole.
    _model(
        project,
        "strict",
        "incremental",
        "select n, 1 as m from {{ ref('numbers') }}",
        on_schema_change="fail",
    )
    failed = _dbt(project, "run", "--select", "strict")
    assert failed.returncode == 1 and "out of sync" in failed.stdout
    assert _rows(project, "strict") == [(10,), (11,)]

    # Rebuilds that fail leave each old relation whole.
    _model(project, "numbers", "table", "select n from range(3)")  # no column n: a binder error
    _model(project, "shifting", "view", "select no_such_column")
    _model(project, "typed", "table", "select 'not a number' as n, 'x' as label")
    failed = _dbt(project, "run", "--full-refresh")
    assert failed.returncode == 1 and "enforced contract" in failed.stdout
    assert _rows(project, "numbers") == [(10,), (11,)]
    assert _rows(project, "shifting") == [(3,)]
    assert _rows(project, "typed") == [(1, "x")]
