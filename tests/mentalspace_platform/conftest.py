"""A small store (SQLite or PostgreSQL) landed in full in a DuckDB warehouse, for the landing's tests."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from pathlib import Path

import polars as pl
import pytest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing.operational import OPERATIONAL_TABLES, RAW_SCHEMA, land_operational_tables
from mentalspace_platform.warehouse import Warehouse
from operational_api.bulk import load_tables
from operational_api.db import get_engine
from operational_api.synthetic import PracticeSpec, generate
from tests.conftest import fresh_sqlite_store, new_pg_database

SPEC = PracticeSpec(clinicians=1, months=1, seed=5, as_of=dt.date(2026, 11, 25))


def landed_operational_frames(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """Every table of raw_operational, its rows sorted on every column so that two landings compare equal.
    Through one DuckDB connection: opening the file for each of the thirty tables cost over a second a call."""
    with warehouse.held_open(read_only=True):
        frames = {
            name: warehouse.query(f'select * from {RAW_SCHEMA}."{name}"') for name in OPERATIONAL_TABLES
        }
    return {name: frame.sort(frame.columns, nulls_last=True) for name, frame in frames.items()}


@pytest.fixture(params=["sqlite", "postgresql"])
def practice(request, var_dir, migrated_sqlite, monkeypatch):
    """The store on SQLite (diffed key by key) or PostgreSQL (by buckets of ids first); the warehouse DuckDB."""
    monkeypatch.setenv("MENTALSPACE_AS_OF_DATE", SPEC.as_of.isoformat())
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = Path(current_environment().database_url.removeprefix("sqlite:///"))
            url = fresh_sqlite_store(migrated_sqlite, path)
        else:
            url = stack.enter_context(new_pg_database(template=request.getfixturevalue("migrated_pg")))
            monkeypatch.setenv("DATABASE_URL", url)
        env = current_environment()
        engine = get_engine(url)
        stack.callback(engine.dispose)
        load_tables(engine, {n: (t.columns, t.rows) for n, t in generate(SPEC).tables.items()})
        warehouse = Warehouse(env)
        land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES)
        yield engine, warehouse, env
