"""The Alembic migrations build the same schema as the models, on SQLite and PostgreSQL, and roll back."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from operational_api.db import downgrade, get_engine, migrate
from operational_api.models import Base, ComplianceRule


def _check_round_trip(url: str) -> None:
    engine = get_engine(url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        rules = conn.execute(
            select(ComplianceRule.rule_type, ComplianceRule.parameter, ComplianceRule.value)
        ).all()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert ("NOTE_SIGNATURE", "billing_hold_day", 14) in [(r, p, int(v)) for r, p, v in rules]
    downgrade(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_match_models_and_round_trip_on_sqlite(tmp_path):
    _check_round_trip(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.mark.postgres
def test_migrations_match_models_and_round_trip_on_postgres(pg_database):
    _check_round_trip(pg_database)


def _check_round_trip_holding_a_practice(url: str) -> None:
    # Every step, both ways, on a store with rows in it: on SQLite a migration that rebuilds a table others
    # reference (batch mode) failed its foreign keys only once a practice was there.
    from operational_api.bulk import load_tables
    from operational_api.synthetic import PracticeSpec, generate

    engine = get_engine(url)
    migrate(engine)
    practice = generate(PracticeSpec(clinicians=1, months=1, seed=3))
    load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    downgrade(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from compliance_rules").scalar() > 0
    engine.dispose()


def test_migrations_run_both_ways_on_a_store_holding_a_practice_on_sqlite(tmp_path):
    _check_round_trip_holding_a_practice(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.mark.postgres
def test_migrations_run_both_ways_on_a_store_holding_a_practice_on_postgres(pg_database):
    _check_round_trip_holding_a_practice(pg_database)


def test_two_threads_of_one_process_migrate_at_once(tmp_path):
    # The suite's background thread builds shared practices while a test migrates its own store; alembic's module
    # globals made one of two simultaneous migrations fail (KeyError: 'script') until migrate took a lock.
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    start = Barrier(2)

    def migrate_a_store(n: int) -> set[str]:
        engine = get_engine(f"sqlite:///{tmp_path / f'store{n}.db'}")
        start.wait()
        migrate(engine)
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        return tables

    with ThreadPoolExecutor(2) as pool:
        migrated = list(pool.map(migrate_a_store, range(2)))
    assert all(set(Base.metadata.tables) <= tables for tables in migrated)
