"""Every page x role leaves the audit rows the PRD asks for: a page view naming the clients shown (pages that show
client-level data only), CSV downloads, alert actions; and administrators read the log on the Audit log page.

Generated from the page table (PAGES_BY_ROLE): a new page must be placed in CLIENT_PAGES or not, deliberately.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import select

from dashboards import audit_trail
from dashboards.access import PAGE_TITLES, PAGES_BY_ROLE
from dashboards.components import ui
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.alerts import alert_statuses
from operational_api.audit import AuditEvent
from operational_api.audit_chain import verify
from operational_api.db import get_engine, session_scope
from operational_api.settings import database_url
from tests.conftest import copy_practice
from tests.dashboards.conftest import signed_in_app, table_with

ROLE_PAGES = [
    (role, key) for role, sections in PAGES_BY_ROLE.items() for keys in sections.values() for key in keys
]
# Pages whose tables name clients (client lists, schedules, alerts about clients' records; Sent mail shows a
# message naming clients by initials and record number).
CLIENT_PAGES = {"my_practice", "my_team", "compliance_alerts", "schedule", "front_desk_tasks", "sent_mail"}
# Staff accounts, figures per clinician or practice, counts (the demographics report hides cells under 11).
NO_CLIENT_PAGES = {
    "practice_overview",
    "metric_explorer",
    "reports",
    "audit_log",
    "backfills",
    "users_admin",
    "productivity_report",
    "compliance_report",
    "demographics_report",
    "quarterly_review",
    "report_builder",
    "notification_preferences",
}


def _engine():
    return get_engine(database_url())


def _rows_since(after: int, **equal) -> list[AuditEvent]:
    engine = _engine()
    query = select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
    for column, value in equal.items():
        query = query.where(getattr(AuditEvent, column) == value)
    with session_scope(engine) as session:
        rows = list(session.scalars(query).all())
    engine.dispose()
    return rows


def _last_id() -> int:
    rows = _rows_since(-1)
    return rows[-1].id if rows else 0


def warehouse(sql: str, params: list | None = None) -> pl.DataFrame:
    return Warehouse(current_environment()).query(sql, params)


@pytest.fixture(scope="module")
def private_demo(built_demo, tmp_path_factory):
    """A copy of the demo for this module: other tests (other xdist workers) sign in as the same demo users and
    open the same pages meanwhile, and their audit rows must not be counted as this module's."""
    var = tmp_path_factory.mktemp("audit-demo") / "var"
    copy_practice(built_demo, var, ignore=("audit",))
    # The Sent mail page needs messages to show: the day's digests, rendered into the outbox (no mail server).
    from operational_api.notifications import service
    from tests.conftest import DEPLOYMENT_VARS

    with pytest.MonkeyPatch.context() as patch:
        for name in (*DEPLOYMENT_VARS, "SMTP_URL"):
            patch.delenv(name, raising=False)
        patch.setenv("MENTALSPACE_VAR_DIR", str(var))
        engine = get_engine(database_url())
        digests = service.run_daily_digest(engine, dt.date(2026, 11, 25), settings=None)
        engine.dispose()
    assert digests.enqueued, digests
    return var


@pytest.fixture
def audit_demo(private_demo, monkeypatch):
    from tests.conftest import DEPLOYMENT_VARS

    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(private_demo))
    return private_demo


def test_every_page_is_classified():
    assert set(PAGE_TITLES) - {"era_upload"} == CLIENT_PAGES | NO_CLIENT_PAGES
    assert not CLIENT_PAGES & NO_CLIENT_PAGES


@pytest.mark.parametrize(("role", "page"), ROLE_PAGES)
def test_a_page_view_records_the_clients_it_shows(audit_demo, role, page):
    before = _last_id()
    at = signed_in_app(audit_demo, role)
    user = at.session_state["auth_user"]
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    at.run()  # the same view again: not a new access
    views = _rows_since(before, actor_user_id=user.user_id, action="page.view", entity_id=page)
    if page in NO_CLIENT_PAGES:
        assert views == []
        return
    assert len(views) == 1, [(v.id, v.entity_id) for v in views]
    view = views[0]
    shown = json.loads(view.client_ids)
    assert shown, f"{page} shows clients to {role}"
    assert (view.actor_role, view.source, view.outcome) == (role, "dashboards", "ok")
    if user.visible_clinician_ids is not None and page != "my_team":
        # Never a client outside the user's scope (through their clinicians' appointments, notes or caseload).
        ids = ", ".join(str(int(i)) for i in user.visible_clinician_ids)
        reachable = set(
            warehouse(
                f"select client_id from marts.fct_appointments where clinician_id in ({ids}) union "
                f"select client_id from marts.dim_clients where clinician_id in ({ids}) union "
                f"select client_id from marts.fct_clinical_notes where clinician_id in ({ids})"
            )["client_id"].to_list()
        )
        assert set(shown) <= reachable
    if page == "schedule":
        today = warehouse(
            "select distinct client_id from marts.fct_appointments where appointment_date = ? "
            "and appointment_status <> 'RESCHEDULED'",
            [dt.date(2026, 11, 25)],
        )
        assert set(shown) == set(today["client_id"].drop_nulls().to_list())
    if page == "my_practice" and role == "CLINICIAN":
        unsigned = warehouse(
            "select distinct client_id from marts.fct_unsigned_notes where clinician_id = ?", [user.user_id]
        )
        assert set(unsigned["client_id"].to_list()) <= set(shown)


def test_a_csv_download_is_recorded_when_generated_and_when_refused(audit_demo):
    at = signed_in_app(audit_demo, "CLINICIAN")
    user = at.session_state["auth_user"]
    activity = at.session_state["auth_activity"]
    before = _last_id()
    frame = pl.DataFrame({"client_id": [7, 3, 7], "client": ["a", "b", "a"]})
    recorder = audit_trail.download_recorder(
        user, "mp_rebook", "clients_to_rebook.csv", audit_trail.client_ids_in(frame)
    )
    write = ui.csv_source(frame, activity, recorder)
    assert _rows_since(before, action="csv.download") == [], "drawing the button downloads nothing"
    assert write().startswith("client_id")
    activity.ended = True
    with pytest.raises(PermissionError):
        write()
    rows = _rows_since(before, action="csv.download", actor_user_id=user.user_id)
    assert [(r.outcome, r.entity_id, r.client_ids, r.detail["rows"]) for r in rows] == [
        ("ok", "mp_rebook", "[3, 7]", 3),
        ("refused", "mp_rebook", "[3, 7]", 0),
    ]
    assert all(r.detail["file"] == "clients_to_rebook.csv" for r in rows)


@pytest.fixture
def demo_copy(built_demo, tmp_path, monkeypatch):
    """A private copy of the demo for tests that change the store (alert actions)."""
    from tests.conftest import DEPLOYMENT_VARS

    var = tmp_path / "var"
    copy_practice(built_demo, var, ignore=("audit",))
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(var))
    return var


def test_an_alert_acknowledgement_is_recorded_with_its_client(demo_copy):
    at = signed_in_app(demo_copy, "CLINICIAN")
    user = at.session_state["auth_user"]
    at.switch_page("app_pages/compliance_alerts.py").run()
    before = _last_id()
    key = at.selectbox(key="ca_selected").value
    at.button(key="ca_acknowledge").click().run()
    assert not at.exception
    rows = _rows_since(before, action="alert.acknowledge")
    assert [(r.actor_user_id, r.entity, r.entity_id, r.outcome) for r in rows] == [
        (user.user_id, "compliance_alert", key, "ok")
    ]
    alert = warehouse(
        "select entity_type, entity_id from marts.fct_compliance_alerts where alert_key = ?", [key]
    )
    if alert["entity_type"].item() == "client":
        assert json.loads(rows[0].client_ids) == [int(alert["entity_id"].item())]
    assert verify(_engine()).rows >= 1


@pytest.mark.parametrize("broken", ["audit_events", "compliance_alerts"])
def test_an_alert_action_and_its_audit_row_commit_together(demo_copy, broken):
    """A failure of either the acknowledgement or its audit row leaves neither (one transaction)."""
    at = signed_in_app(demo_copy, "CLINICIAN")
    at.switch_page("app_pages/compliance_alerts.py").run()
    key = at.selectbox(key="ca_selected").value
    engine = _engine()
    assert alert_statuses(engine, [key])[key].status == "OPEN"
    before = _last_id()
    # The database itself refuses one half (as a full disk or a dropped connection would, mid-transaction).
    event = "INSERT" if broken == "audit_events" else "UPDATE"
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"create trigger test_refuse_{broken} before {event} on {broken} "
            "begin select raise(abort, 'refused by the test'); end"
        )
    try:
        at.button(key="ca_acknowledge").click().run()
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"drop trigger test_refuse_{broken}")
    assert at.exception, "the failure reaches the page"
    state = alert_statuses(engine, [key])[key]
    assert (state.status, state.acknowledged_by) == ("OPEN", None)
    assert _rows_since(before, action="alert.acknowledge", outcome="ok") == []
    engine.dispose()


def test_administrators_filter_the_log_by_client_and_the_search_is_recorded(demo_copy):
    viewer = signed_in_app(demo_copy, "FRONT_DESK")
    viewer.switch_page("app_pages/schedule.py").run()
    viewed = _rows_since(0, action="page.view", entity_id="schedule")[-1]
    client = json.loads(viewed.client_ids)[1]
    at = signed_in_app(demo_copy, "ADMIN")
    at.switch_page("app_pages/audit_log.py").run()
    assert not at.exception and at.title[0].value == "Audit log"
    at.number_input(key="al_client").set_value(client).run()
    table = table_with(at, "action", "client_ids")
    assert viewed.id in set(table["id"]), "the front desk's view of that client is listed"
    assert all(client in json.loads(ids) for ids in table["client_ids"])
    searches = _rows_since(viewed.id, action="audit.search")
    assert searches[-1].detail["client_id"] == client
    assert searches[-1].client_ids == "[]"
