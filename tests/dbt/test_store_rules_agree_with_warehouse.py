"""The service layer's write-time checks use the warehouse's definitions (services/rules.py mirrors them): on the
demo practice, every client's missing demographic fields equal dim_clients', and every appointment's
is_minor_on_date equals the export's."""

from __future__ import annotations

import duckdb
from sqlalchemy import select

from operational_api.db import get_engine, session_scope
from operational_api.models import Appointment, Client, InsurancePolicy
from operational_api.services.rules import (
    age_on,
    is_minor_on_date,
    local_date,
    missing_demographic_fields,
    rule_value,
)


def _warehouse(var) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(var / "warehouse.duckdb"), read_only=True)


def test_missing_demographics_match_dim_clients(demo_env):
    with _warehouse(demo_env) as con:
        warehouse = {
            client_id: fields or ""
            for client_id, fields in con.sql(
                "select client_id, missing_demographic_fields from marts.dim_clients"
            ).fetchall()
        }
    engine = get_engine(f"sqlite:///{demo_env / 'operational.db'}")
    with session_scope(engine) as session:
        policies: dict[int, list[InsurancePolicy]] = {}
        for policy in session.scalars(select(InsurancePolicy)):
            policies.setdefault(policy.client_id, []).append(policy)
        store = {
            c.id: ", ".join(missing_demographic_fields(c, policies.get(c.id, [])))
            for c in session.scalars(select(Client))
        }
    engine.dispose()
    assert store == warehouse
    assert any(store.values()) and not all(store.values()), (
        "the demo should have both complete and incomplete"
    )


def test_minor_on_date_matches_the_export(demo_env):
    with _warehouse(demo_env) as con:
        exported = dict(con.sql("select id, is_minor_on_date from raw_operational.appointments").fetchall())
    engine = get_engine(f"sqlite:///{demo_env / 'operational.db'}")
    with session_scope(engine) as session:
        clients = {c.id: c for c in session.scalars(select(Client).where(Client.date_of_birth.is_not(None)))}
        rows = session.execute(select(Appointment.id, Appointment.client_id, Appointment.start_at)).all()
        adult = rule_value(session, "MINOR_CONSENT", "adult_age_years")
        minors = 0
        for n, (appointment_id, client_id, start_at) in enumerate(rows):
            client = clients.get(client_id)
            if client is None:
                assert exported[appointment_id] is None
                continue
            on = local_date(start_at)
            store = age_on(client.date_of_birth, on) < adult
            if n % 25 == 0:  # the service's own function (one rule read each) on a sample
                assert is_minor_on_date(session, client, on) == store
            assert store == exported[appointment_id], appointment_id
            minors += store
    engine.dispose()
    assert minors, "the demo should have appointments of minors"
