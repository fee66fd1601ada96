"""The Compliance alerts page lists the warehouse's open conditions with the store's lifecycle, filters
them, and acknowledges / resolves through operational_api (who and when recorded in the store)."""

from __future__ import annotations

import polars as pl

from dashboards.auth import store_engine
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.alerts import alert_statuses
from tests.dashboards.conftest import signed_in_app, table_with


def warehouse(sql: str, params: list | None = None) -> pl.DataFrame:
    return Warehouse(current_environment()).query(sql, params)


def test_alert_statuses_reads_the_lifecycle_by_key(demo_env):
    keys = warehouse("select alert_key from marts.fct_compliance_alerts order by alert_key")[
        "alert_key"
    ].to_list()
    states = alert_statuses(store_engine(), [*keys, "no-such-key"])
    assert set(states) == set(keys), "the alert sync opened every open condition; unknown keys are absent"
    assert {s.status for s in states.values()} <= {"OPEN", "ACKNOWLEDGED", "RESOLVED"}


def test_clinician_sees_only_alerts_about_themself(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    me = at.session_state["auth_user"].user_id
    at.switch_page("app_pages/compliance_alerts.py").run()
    assert not at.exception
    table = table_with(at, "alert_id", "alert_key")
    expected = warehouse(
        "select count(*) from marts.fct_compliance_alerts where target_user_id = ?", [me]
    ).item()
    assert len(table) == expected
    names = warehouse("select clinician_name from marts.dim_clinicians where clinician_id = ?", [me]).item()
    assert set(table["person"]) == {names}


def test_administrator_filters_acknowledges_and_resolves_an_alert(demo_env):
    at = signed_in_app(demo_env, "ADMIN")
    admin_id = at.session_state["auth_user"].user_id
    # Someone no other test acts for: the second supervisor (the demo supervisor is the first).
    person = warehouse(
        "select c.clinician_name from marts.dim_clinicians c join marts.fct_compliance_alerts a "
        "on a.target_user_id = c.clinician_id where c.role = 'SUPERVISOR' group by 1 order by min(c.clinician_id) desc "
        "limit 1"
    ).item()
    at.switch_page("app_pages/compliance_alerts.py").run()
    at.multiselect(key="ca_people").set_value([person]).run()
    at.multiselect(key="ca_severities").set_value(["CRITICAL"]).run()
    table = table_with(at, "alert_id", "alert_key")
    assert set(table["person"]) == {person} and set(table["severity"]) == {"CRITICAL"}
    key = at.selectbox(key="ca_selected").value
    assert key in set(table["alert_key"])

    at.button(key="ca_acknowledge").click().run()
    assert not at.exception
    assert any("Acknowledged" in s.value for s in at.success)
    state = alert_statuses(store_engine(), [key])[key]
    assert (state.status, state.acknowledged_by) == ("ACKNOWLEDGED", admin_id) and state.acknowledged_at

    at.selectbox(key="ca_selected").set_value(key).run()
    at.button(key="ca_resolve").click().run()
    state = alert_statuses(store_engine(), [key])[key]
    assert (state.status, state.resolved_by) == ("RESOLVED", admin_id) and state.resolved_at
    # Resolved alerts leave the default view and come back with the Resolved filter.
    assert key not in set(table_with(at, "alert_id", "alert_key")["alert_key"])
    at.multiselect(key="ca_statuses").set_value(["RESOLVED"]).run()
    assert key in set(table_with(at, "alert_id", "alert_key")["alert_key"])


def test_administrator_sees_advancedmd_demographics_conflicts_and_others_do_not(demo_env):
    """A client both systems changed since the last sync waits for an administrator: listed by field name only."""
    import datetime as dt

    from sqlalchemy import text

    engine = store_engine()
    now = dt.datetime(2026, 11, 20, 9, 0)
    with engine.begin() as conn:
        client_id = conn.execute(text("select min(id) from clients")).scalar_one()
        conn.execute(
            text(
                "insert into advancedmd_demographic_sync (office_key, client_id, advancedmd_patient_id,"
                " field_digests, status, conflict_fields, conflict_at, pushes, updated_at)"
                " values ('991001', :c, 4242, '{}', 'CONFLICT', 'city,zip_code', :t, 0, :t)"
            ),
            {"c": client_id, "t": now},
        )
    try:
        at = signed_in_app(demo_env, "ADMIN")
        at.switch_page("app_pages/compliance_alerts.py").run()
        assert not at.exception
        table = table_with(at, "fields changed in both", "client_id")
        assert table["client_id"].to_list() == [client_id]
        assert table["fields changed in both"].to_list() == ["city,zip_code"]
        at = signed_in_app(demo_env, "CLINICIAN")
        at.switch_page("app_pages/compliance_alerts.py").run()
        assert not at.exception and table_with(at, "fields changed in both", required=False) is None
    finally:
        with engine.begin() as conn:
            conn.execute(text("delete from advancedmd_demographic_sync where advancedmd_patient_id = 4242"))
