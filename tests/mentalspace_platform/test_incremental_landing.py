"""The incremental landing (mentalspace_platform/landing/operational.py) on a small store and a DuckDB warehouse:
what it lands equals a full landing of the same store, whatever changed and whenever it was stamped; it lands a
table whole when its export context changed; and a failed landing leaves rows and watermarks as they were."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import delete, func, select, update

from edi835.generate import RemittanceOptions
from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing import operational as landing
from mentalspace_platform.landing.operational import (
    OPERATIONAL_TABLES,
    RAW_SCHEMA,
    WATERMARKS_TABLE,
    land_operational_tables,
)
from operational_api.era.posting import mark_unmatchable, post_remittance, resolve_review, review_queue
from operational_api.era.remittances import claim_specs_from_store, write_remittance
from operational_api.export import exported_tables
from operational_api.models import Base
from tests.mentalspace_platform.conftest import SPEC, landed_operational_frames

T = Base.metadata.tables


def _land(engine, warehouse, env, *, full=False) -> dict[str, landing.Landed]:
    return {
        t.table: t for t in land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=full)
    }


def _assert_as_full(engine, warehouse, env) -> None:
    incremental = landed_operational_frames(warehouse)
    _land(engine, warehouse, env, full=True)
    full = landed_operational_frames(warehouse)
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
    # Untouched tables land by key too, nothing re-landed (issue 17: those without updated_at landed whole).
    assert (landed["payments"].mode, landed["payments"].upserted) == ("incremental", 0)
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
    before = (
        landed_operational_frames(warehouse),
        warehouse.query(f"select * from {RAW_SCHEMA}.{WATERMARKS_TABLE}"),
    )
    real = landing._watermark_rows

    def failing(table, *args, **kwargs):
        # A table's watermark row is made as the transaction writes it, after the table's rows: this fails once
        # most other tables were written (every table lands by key now, and an unchanged one reads no rows).
        if table.name == "era_match_candidates":
            raise RuntimeError("the store went away")
        yield from real(table, *args, **kwargs)

    monkeypatch.setattr(landing, "_watermark_rows", failing)
    with pytest.raises(RuntimeError, match="went away"):
        _land(engine, warehouse, env)
    after = (
        landed_operational_frames(warehouse),
        warehouse.query(f"select * from {RAW_SCHEMA}.{WATERMARKS_TABLE}"),
    )
    assert all(before[0][n].equals(after[0][n]) for n in OPERATIONAL_TABLES)
    assert before[1].equals(after[1])


def test_every_exported_table_lands_by_key(practice):
    # Issue 17: a table without a change column was read, re-landed and diffed whole by every refresh.
    engine, warehouse, env = practice
    assert [t.name for t in exported_tables() if landing.CHANGE_COLUMN not in t.c] == []
    landed = _land(engine, warehouse, env)
    assert {
        n: (t.mode, t.upserted) for n, t in landed.items() if (t.mode, t.upserted) != ("incremental", 0)
    } == {}


def test_an_era_posting_and_its_review_land_as_a_full_landing_would(practice, tmp_path):
    # Every store write of ERA posting (bulk inserts, raw and COPY updates, Core updates, the manual review) must
    # move `updated_at`: a row changed with its old stamp is never landed again and this differs from a full landing.
    engine, warehouse, env = practice
    # A few claims (most rows of a table changed would land it whole, and hide an unstamped update), posted with
    # a bar no match reaches so that some wait for a person.
    specs = claim_specs_from_store(engine, limit=10, seed=3, include_paid=True)
    first = write_remittance(specs[:8], tmp_path, RemittanceOptions(seed=3), stem="first")
    posted = post_remittance(engine, first.path)
    assert posted.auto_posted > 0
    _land(engine, warehouse, env)
    second = write_remittance(specs[8:], tmp_path, RemittanceOptions(seed=4), stem="second")
    post_remittance(engine, second.path, min_confidence=1.0)
    waiting = review_queue(engine)
    assert waiting and waiting[0].candidates
    resolve_review(engine, waiting[0].era_claim_id, claim_id=waiting[0].candidates[0].claim_id)
    for item in waiting[1:]:
        mark_unmatchable(engine, item.era_claim_id)
    landed = _land(engine, warehouse, env)
    changed = ("charges", "claims", "payments", "era_claims", "payment_applications", "charge_adjustments")
    assert [n for n in changed if landed[n].mode != "incremental" or not landed[n].upserted] == []
    _assert_as_full(engine, warehouse, env)
