"""`mentalspace warehouse grant-analyst ROLE`: read-only, marts and reference only, on a PostgreSQL warehouse.

The warehouse here is its schemas with one table each, made by the owner as dbt makes them; a table dbt creates
after the grant (every build replaces its tables) must be readable too.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from operational_api.db import _normalise_url
from tests.conftest import run_cli

SCHEMAS = ("raw_operational", "staging", "intermediate", "marts", "reference")


@pytest.mark.postgres
def test_the_analyst_reads_marts_and_reference_only_and_writes_nothing(pg_database, tmp_path):
    owner = create_engine(_normalise_url(pg_database))
    with owner.begin() as conn:
        for schema in SCHEMAS:
            conn.exec_driver_sql(f"create schema {schema}")
            conn.exec_driver_sql(f"create table {schema}.t as select 1 as n")
    role = f"ms_analyst_{uuid.uuid4().hex[:8]}"
    env = {
        "DBT_TARGET": "prod",
        "MENTALSPACE_WAREHOUSE_URL": pg_database,
        "MENTALSPACE_VAR_DIR": str(tmp_path),
    }
    try:
        result = run_cli("warehouse", "grant-analyst", role, env=env)
        assert result.returncode == 0, result.stderr
        assert f"created analyst role {role}" in result.stdout
        assert run_cli("warehouse", "grant-analyst", role, env=env).returncode == 0  # idempotent
        with owner.begin() as conn:  # the next dbt build replaces a mart
            conn.exec_driver_sql("drop table marts.t")
            conn.exec_driver_sql("create table marts.t as select 2 as n")
        base, _, database = pg_database.rpartition("/")
        analyst = create_engine(_normalise_url(f"postgresql://{role}@{base.rpartition('@')[2]}/{database}"))
        try:
            with analyst.connect() as conn:
                assert conn.exec_driver_sql("select n from marts.t").scalar() == 2
                assert conn.exec_driver_sql("select n from reference.t").scalar() == 1
            for statement in (
                *(f"select n from {s}.t" for s in ("raw_operational", "staging", "intermediate")),
                "insert into marts.t values (3)",
                "create table marts.mine (n int)",
            ):
                with (
                    pytest.raises(DBAPIError, match="permission denied|read-only transaction"),
                    analyst.connect() as c,
                ):
                    c.exec_driver_sql(statement)
        finally:
            analyst.dispose()
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        owner.dispose()


def test_grant_analyst_on_the_embedded_warehouse_is_one_line(tmp_path):
    result = run_cli("warehouse", "grant-analyst", "analyst", env={"MENTALSPACE_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: grant-analyst is for a PostgreSQL warehouse")
        and result.stderr.count("\n") == 1
    )
