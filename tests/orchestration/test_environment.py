"""The environment helper is the one place that picks the dbt target and the databases."""

from __future__ import annotations

import pytest

from mentalspace_platform.environment import current_environment
from operational_api.errors import PlatformError


def test_defaults_to_local_duckdb_under_var(var_dir):
    env = current_environment()
    assert (env.name, env.dbt_target, env.warehouse_kind) == ("local", "dev", "duckdb")
    assert env.duckdb_path == var_dir / "warehouse.duckdb"
    assert env.database_url == f"sqlite:///{var_dir / 'operational.db'}"
    assert env.dbt_env()["MENTALSPACE_DUCKDB_PATH"] == str(var_dir / "warehouse.duckdb")


def test_prod_target_reads_postgres_credentials_from_the_url(var_dir, monkeypatch):
    monkeypatch.setenv("DBT_TARGET", "prod")
    monkeypatch.setenv(
        "MENTALSPACE_WAREHOUSE_URL", "postgresql://analyst:s%40cret@db.internal:6543/warehouse"
    )
    dbt_env = current_environment().dbt_env()
    assert dbt_env["MENTALSPACE_PG_HOST"] == "db.internal"
    assert dbt_env["MENTALSPACE_PG_PORT"] == "6543"
    assert dbt_env["MENTALSPACE_PG_PASSWORD"] == "s@cret"
    assert dbt_env["MENTALSPACE_PG_DATABASE"] == "warehouse"


def test_unknown_dbt_target_is_a_clear_error(var_dir, monkeypatch):
    monkeypatch.setenv("DBT_TARGET", "staging")
    with pytest.raises(PlatformError, match="unknown dbt target 'staging'"):
        current_environment()


def test_prod_without_a_postgres_warehouse_is_a_clear_error(var_dir, monkeypatch):
    monkeypatch.setenv("DBT_TARGET", "prod")
    with pytest.raises(PlatformError, match="needs MENTALSPACE_WAREHOUSE_URL"):
        current_environment()


def test_postgres_warehouse_sessions_run_without_jit_and_keep_the_operators_options(
    var_dir, monkeypatch, pg_database
):
    """dbt's sessions (libpq reads PGOPTIONS from dbt_env) and the platform's own warehouse connections run with
    JIT off (environment.WAREHOUSE_PG_OPTIONS), and settings an operator put in PGOPTIONS still apply."""
    import psycopg

    from mentalspace_platform.warehouse import Warehouse

    monkeypatch.setenv("DBT_TARGET", "prod")
    monkeypatch.setenv("MENTALSPACE_WAREHOUSE_URL", pg_database)
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=123456")
    env = current_environment()
    with Warehouse(env).postgres() as con:
        assert con.execute("show jit").fetchone() == ("off",)
        assert con.execute("show statement_timeout").fetchone() == ("123456ms",)
    monkeypatch.setenv("PGOPTIONS", env.dbt_env()["PGOPTIONS"])
    with psycopg.connect(pg_database) as con:
        assert con.execute("show jit").fetchone() == ("off",)
        assert con.execute("show statement_timeout").fetchone() == ("123456ms",)
