"""The keyed facts' ledger (mentalspace_platform/fact_keys.py): a landing lists the keys it changes, with their
references before and after; a build trusts the list only when nothing changed without its keys."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import select, update

from mentalspace_platform.environment import DBT_PROJECT_DIR
from mentalspace_platform.fact_keys import (
    BY_KEY_STRATEGY,
    KEYED_FACTS,
    LEDGER_TABLE,
    plan_facts_build,
    record_facts_built,
    tables_read_by_keyed_facts,
)
from mentalspace_platform.landing.operational import OPERATIONAL_TABLES, land_operational_tables
from mentalspace_platform.measure_window import STATE_SCHEMA
from operational_api.models import Base

T = Base.metadata.tables
STAMP = dt.datetime(2026, 11, 26, 9, 0)


def _ledger(warehouse) -> pl.DataFrame:
    return warehouse.query(
        f"select kind, table_name, column_name, key_value from {STATE_SCHEMA}.{LEDGER_TABLE} order by all"
    )


def _built(warehouse, env) -> None:
    """As a build of every model does after dbt succeeded: the ledger read and consumed, the facts present."""
    for name in KEYED_FACTS:
        warehouse.replace_table("marts", name, [pl.DataFrame({"id": [1]})])
    record_facts_built(warehouse, plan_facts_build(warehouse, env))


def test_a_landing_lists_changed_keys_with_their_references_before_and_after(practice):
    engine, warehouse, env = practice
    _built(warehouse, env)
    applications = T["payment_applications"]
    with engine.begin() as conn:
        moved = conn.execute(select(applications).order_by(applications.c.id).limit(1)).mappings().one()
        other = conn.scalar(select(T["charges"].c.id).where(T["charges"].c.id != moved["charge_id"]).limit(1))
        conn.execute(
            update(applications)
            .where(applications.c.id == moved["id"])
            .values(charge_id=other, updated_at=STAMP)
        )
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=False)

    ledger = _ledger(warehouse).filter(pl.col("kind") == "keys")
    listed = {(t, c, k) for t, c, k in ledger.select("table_name", "column_name", "key_value").iter_rows()}
    # The application itself, and both charges: the one it left and the one it joined.
    assert ("payment_applications", "id", moved["id"]) in listed
    assert ("payment_applications", "charge_id", moved["charge_id"]) in listed
    assert ("payment_applications", "charge_id", other) in listed
    assert {t for t, _, _ in listed} == {"payment_applications"}
    plan = plan_facts_build(warehouse, env)
    assert plan.by_key and plan.env == {"MENTALSPACE_FACTS_BY_KEY": "1"}, plan.reason


def test_a_build_trusts_the_list_only_after_a_build_of_the_same_project(practice, monkeypatch):
    engine, warehouse, env = practice
    # The fixture's practice was landed in full: its keys are not listed.
    plan = plan_facts_build(warehouse, env)
    assert not plan.by_key and "no earlier build" in plan.reason
    _built(warehouse, env)
    assert plan_facts_build(warehouse, env).by_key
    # Built under other definitions (another dbt project, target or system of record): whole.
    monkeypatch.setattr("mentalspace_platform.fact_keys.measures_context", lambda env: "another project")
    plan = plan_facts_build(warehouse, env)
    assert not plan.by_key and "changed since" in plan.reason


def test_changes_not_listed_by_key_rebuild_the_facts_whole(practice):
    engine, warehouse, env = practice
    _built(warehouse, env)
    # Another writer of the landed store (not the operational landing) lists no keys.
    warehouse.replace_table(
        "raw_operational", "charges", [warehouse.query("select * from raw_operational.charges")]
    )
    plan = plan_facts_build(warehouse, env)
    assert not plan.by_key and "charges: written without its keys" in plan.reason
    # Once a build consumed it, the list is trusted again; a full landing is whole again.
    _built(warehouse, env)
    assert plan_facts_build(warehouse, env).by_key
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=True)
    plan = plan_facts_build(warehouse, env)
    assert not plan.by_key and "full landing asked for" in plan.reason


def test_an_emptied_fact_or_another_system_of_record_rebuilds_the_facts_whole(practice, monkeypatch):
    engine, warehouse, env = practice
    _built(warehouse, env)
    # PostgreSQL empties unlogged tables after a crash; the ledger, logged, would say the rows are current.
    warehouse.replace_table("marts", KEYED_FACTS[0], [pl.DataFrame({"id": [1]}).clear()])
    plan = plan_facts_build(warehouse, env)
    assert not plan.by_key and "empty" in plan.reason
    _built(warehouse, env)
    monkeypatch.setenv("MENTALSPACE_BILLING_RECORD", "advancedmd")
    plan = plan_facts_build(warehouse, env)
    assert not plan.by_key and "AdvancedMD" in plan.reason


def test_a_batch_landed_after_the_plan_stays_for_the_next_build(practice):
    engine, warehouse, env = practice
    _built(warehouse, env)
    plan = plan_facts_build(warehouse, env)
    charges = T["charges"]
    with engine.begin() as conn:
        charge = conn.scalar(select(charges.c.id).limit(1))
        conn.execute(update(charges).where(charges.c.id == charge).values(updated_at=STAMP))
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=False)
    record_facts_built(warehouse, plan)
    assert ("keys", "charges", "id", charge) in set(_ledger(warehouse).iter_rows())


def test_the_keyed_facts_read_only_what_their_keys_cover():
    # Each store table a keyed fact reads is one whose changes its SQL turns into keys (or, for AdvancedMD's
    # links, one read only with AdvancedMD as the system of record, which rebuilds them whole).
    sql = "\n".join(
        path.read_text()
        for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")
        if f"'{BY_KEY_STRATEGY}'" in path.read_text()
    )
    advancedmd_only = {"advancedmd_patients", "advancedmd_provider_links", "payers"}
    for table in tables_read_by_keyed_facts() - advancedmd_only:
        # Named to changed_keys() or rows_referring() (as a changed table, or one every row reads).
        assert f"'{table}'" in sql, table
    assert {
        p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql") if f"'{BY_KEY_STRATEGY}'" in p.read_text()
    } == set(KEYED_FACTS)
