"""The incremental landing (mentalspace_platform/landing/operational.py) on a small store and a DuckDB warehouse:
what it lands equals a full landing of the same store, whatever changed and whenever it was stamped; it lands a
table whole when its export context changed; and a failed landing leaves rows and watermarks as they were."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from sqlalchemy import delete, func, select, update

from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing import operational as landing
from mentalspace_platform.landing.operational import (
    OPERATIONAL_TABLES,
    RAW_SCHEMA,
    WATERMARKS_TABLE,
    land_operational_tables,
)
from mentalspace_platform.warehouse import Warehouse
from operational_api.models import Base
from tests.mentalspace_platform.conftest import SPEC

T = Base.metadata.tables


def _raw(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    frames = {}
    for name in OPERATIONAL_TABLES:
        frame = warehouse.query(f'select * from {RAW_SCHEMA}."{name}"')
        frames[name] = frame.sort(frame.columns, nulls_last=True)
    return frames


def _land(engine, warehouse, env, *, full=False) -> dict[str, landing.Landed]:
    return {
        t.table: t for t in land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=full)
    }


def _assert_as_full(engine, warehouse, env) -> None:
    incremental = _raw(warehouse)
    _land(engine, warehouse, env, full=True)
    full = _raw(warehouse)
    assert [n for n in OPERATIONAL_TABLES if not incremental[n].equals(full[n])] == []


def test_changes_deletes_and_inserts_land_as_a_full_landing_would(practice):
    engine, warehouse, env = practice
    appointments, notes = T["appointments"], T["clinical_notes"]
    with engine.begin() as conn:
        first, second = conn.scalars(select(appointments.c.id).order_by(appointments.c.id).limit(2)).all()
        conn.execute(
            update(appointments)
            .where(appointments.c.id == first)
            .values(status="NO_SHOW", updated_at=dt.datetime(2026, 11, 25, 17))
        )
        # Stamped long before the last landing (an injected clock, a transaction committed late): still a change.
        conn.execute(
            update(appointments)
            .where(appointments.c.id == second)
            .values(is_telehealth=True, updated_at=dt.datetime(2020, 1, 1))
        )
        # A note nothing else refers to, deleted; a copy of it under a new id, inserted.
        referenced = [
            fk.parent for t in Base.metadata.sorted_tables for fk in t.foreign_keys if fk.column is notes.c.id
        ]
        unreferenced = notes.c.id.isnot(None)
        for column in referenced:
            unreferenced &= notes.c.id.not_in(select(column).where(column.isnot(None)))
        note = conn.execute(select(notes).where(unreferenced).order_by(notes.c.id).limit(1)).mappings().one()
        conn.execute(delete(notes).where(notes.c.id == note["id"]))
        conn.execute(
            notes.insert().values({**note, "id": note["id"] + 1000, "updated_at": dt.datetime(2026, 11, 25)})
        )
    landed = _land(engine, warehouse, env)
    assert dataclasses.astuple(landed["appointments"])[1:] == (
        "incremental",
        landed["appointments"].rows,
        2,
        0,
        "",
    )
    assert (landed["clinical_notes"].upserted, landed["clinical_notes"].deleted) == (1, 1)
    assert landed["payments"].mode == "full" and landed["payments"].reason == "no updated_at column"
    marks = warehouse.query(
        f"select * from {RAW_SCHEMA}.{WATERMARKS_TABLE} where table_name = 'appointments'"
    )
    with engine.connect() as conn:
        newest = conn.scalar(select(func.max(appointments.c.updated_at)))
    # The generator stamps future bookings ahead of these changes: "changed since the watermark" would miss both.
    assert marks["watermark"][0] == newest > dt.datetime(2026, 11, 25, 17)
    _assert_as_full(engine, warehouse, env)


def test_a_clients_date_of_birth_relands_their_appointments(practice):
    engine, warehouse, env = practice
    clients, appointments = T["clients"], T["appointments"]
    with engine.begin() as conn:
        client = conn.scalar(select(appointments.c.client_id).order_by(appointments.c.id).limit(1))
        theirs = len(conn.scalars(select(appointments.c.id).where(appointments.c.client_id == client)).all())
        conn.execute(
            update(clients)
            .where(clients.c.id == client)
            .values(date_of_birth=dt.date(2015, 3, 1), updated_at=dt.datetime(2026, 11, 25, 17))
        )
    landed = _land(engine, warehouse, env)
    assert landed["clients"].upserted == 1
    assert landed["appointments"].mode == "incremental" and landed["appointments"].upserted == theirs > 0
    _assert_as_full(engine, warehouse, env)


def test_a_new_day_relands_the_tables_whose_export_depends_on_it(practice, monkeypatch):
    engine, warehouse, env = practice
    monkeypatch.setenv("MENTALSPACE_AS_OF_DATE", (SPEC.as_of + dt.timedelta(days=1)).isoformat())
    next_day = current_environment()
    landed = _land(engine, warehouse, next_day)
    assert (landed["clients"].mode, landed["clients"].reason) == ("full", "export context changed")
    assert landed["appointments"].mode == "incremental" and landed["appointments"].upserted == 0
    again = _land(engine, warehouse, next_day)
    assert again["clients"].mode == "incremental" and again["clients"].upserted == 0


def test_a_failed_landing_leaves_rows_and_watermarks_as_they_were(practice, monkeypatch):
    engine, warehouse, env = practice
    with engine.begin() as conn:
        conn.execute(update(T["appointments"]).values(updated_at=dt.datetime(2026, 11, 25, 18)))
    before = _raw(warehouse), warehouse.query(f"select * from {RAW_SCHEMA}.{WATERMARKS_TABLE}")
    real = landing.read_table

    def failing(source, table, *args, **kwargs):
        # Read as the transaction writes (a table dbt does not read streams into it; the others are read first,
        # to date their changes): it fails once most others were written.
        if table.name == "era_match_candidates":
            raise RuntimeError("the store went away")
        yield from real(source, table, *args, **kwargs)

    monkeypatch.setattr(landing, "read_table", failing)
    with pytest.raises(RuntimeError, match="went away"):
        _land(engine, warehouse, env)
    after = _raw(warehouse), warehouse.query(f"select * from {RAW_SCHEMA}.{WATERMARKS_TABLE}")
    assert all(before[0][n].equals(after[0][n]) for n in OPERATIONAL_TABLES)
    assert before[1].equals(after[1])
