"""Module 10 report pages on the demo practice: productivity, compliance, client demographics (small cells
suppressed), the quarterly review (per role, subscribable) and the custom report builder saving and subscribing a
report; each page refused to a role without it."""

from __future__ import annotations

import datetime as dt
import sqlite3

import polars as pl
import pytest
import streamlit as st
from sqlalchemy import select

from dashboards.data.warehouse import reader
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.db import get_engine, session_scope
from operational_api.reports.models import ReportSubscription, SavedReport
from tests.dashboards.conftest import chart_specs, demo_logins, signed_in_app, table_with

REFUSED = "This page is not part of your role's dashboards."


def warehouse(sql: str, params: list | None = None) -> pl.DataFrame:
    return Warehouse(current_environment()).query(sql, params)


def open_page(var, role: str, page: str):
    at = signed_in_app(var, role)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def refused(var, role: str, page: str) -> bool:
    """A role without the page gets the refusal, whatever way it reaches the page's script."""
    at = signed_in_app(var, role)
    try:
        at.switch_page(f"app_pages/{page}.py").run()
    except ValueError:
        return True  # not even in the role's navigation
    return any(REFUSED in e.value for e in at.error)


def test_productivity_report_is_the_marts_figures_for_the_users_scope(demo_env):
    at = open_page(demo_env, "ADMIN", "productivity_report")
    at.date_input(key="prod_range").set_value((dt.date(2026, 10, 1), dt.date(2026, 10, 31))).run()
    table = table_with(at, "who", "kept_visit_rate", "sessions_per_day")
    expected = warehouse(
        "select coalesce(c.clinician_name, 'Practice') as who, round(m.metric_value, 2) as kvr "
        "from marts.fct_practice_metrics m left join marts.dim_clinicians c "
        "on m.scope = 'clinician' and m.clinician_id = c.clinician_id "
        "where m.metric_key = 'kept_visit_rate' and m.period_grain = 'month' and m.period_start = '2026-10-01'"
    )
    got = dict(zip(table["who"], table["kept_visit_rate"], strict=True))
    want = {w: (None if v is None else float(v)) for w, v in expected.iter_rows()}
    assert set(got) == set(want) and "Practice" in got
    for who, value in want.items():
        assert (got[who] is None and value is None) or abs(got[who] - value) < 0.006, who

    sup = open_page(demo_env, "SUPERVISOR", "productivity_report")
    sup.date_input(key="prod_range").set_value((dt.date(2026, 10, 1), dt.date(2026, 10, 31))).run()
    email = demo_logins(demo_env)["SUPERVISOR"][0]
    with sqlite3.connect(demo_env / "operational.db") as con:
        (sup_id,) = con.execute("select id from users where email = ?", (email,)).fetchone()
    team = warehouse(
        "select clinician_name from marts.dim_clinicians where clinician_id = ? or supervisor_id = ?",
        [sup_id, sup_id],
    )
    shown = set(table_with(sup, "who", "kept_visit_rate")["who"])
    assert shown and "Practice" not in shown and shown <= set(team["clinician_name"])
    assert refused(demo_env, "CLINICIAN", "productivity_report")


def test_compliance_report_counts_every_unsigned_note_once(demo_env):
    at = open_page(demo_env, "ADMIN", "compliance_report")
    by_age = table_with(at, "clinician", "past_deadline")
    bands = [c for c in by_age.columns if c.endswith("days")]
    unsigned = warehouse(
        "select count(*) as n, sum(case when is_past_deadline then 1 else 0 end) as past "
        "from marts.fct_unsigned_notes"
    )
    assert int(by_age[bands].to_numpy().sum()) == int(unsigned["n"][0])
    assert int(by_age["past_deadline"].sum()) == int(unsigned["past"][0])
    assert table_with(at, "who", "treatment_plan_currency", "supervision_hours_logged") is not None
    assert refused(demo_env, "BILLING", "compliance_report")


def test_demographics_counts_with_cells_under_11_suppressed(demo_env):
    at = open_page(demo_env, "BILLING", "demographics_report")
    ages = table_with(at, "Age band", "clients")
    counts = warehouse(
        "select coalesce(age_band, 'unknown') as band, count(*) as n from marts.dim_clients "
        "where client_status = 'ACTIVE' group by 1"
    )
    want = {b: ("<11" if n < 11 else str(n)) for b, n in counts.iter_rows()}
    assert dict(zip(ages["Age band"], ages["clients"], strict=True)) == want
    assert table_with(at, "Gender", "clients") is not None and table_with(at, "ZIP3", "clients") is not None
    assert refused(demo_env, "SUPERVISOR", "demographics_report")


def test_demographics_small_cell_is_suppressed():
    from dashboards.data.module10 import suppress

    out = suppress(pl.DataFrame({"value": ["13-17", "26-64", "65+"], "clients": [10, 11, 0]}), "Age band")
    assert out["clients"].to_list() == ["<11", "11", "<11"]


def test_report_tables_keep_two_clinicians_who_share_a_name_apart():
    """The large practice has namesakes: a table keyed by name failed on their two values (Productivity and
    Compliance report pages raised instead of showing)."""
    from dashboards.data.module10 import wide

    day = dt.date(2026, 10, 1)
    long = pl.DataFrame(
        {
            "period_start": [day] * 3,
            "who": ["Sam Lee", "Sam Lee", "Practice"],
            "clinician_id": [7, 9, None],
            "metric_key": ["kept_visit_rate"] * 3,
            "metric_value": [80.0, 90.0, 85.0],
        }
    )
    out = wide(long, ("kept_visit_rate",))
    assert out.select("who", "clinician_id", "kept_visit_rate").rows() == [
        ("Practice", None, 85.0),
        ("Sam Lee", 7, 80.0),
        ("Sam Lee", 9, 90.0),
    ]


def test_builder_saves_and_subscribes_a_report(demo_env):
    at = open_page(demo_env, "ADMIN", "report_builder")
    at.multiselect(key="rb_measures").set_value(["kept_visit_rate", "no_show_rate"]).run()
    at.radio(key="rb_scope").set_value("Whole practice").run()
    at.date_input(key="rb_range").set_value((dt.date(2026, 9, 1), dt.date(2026, 11, 25))).run()
    table = table_with(at, "period_start", "who", "kept_visit_rate", "no_show_rate")
    assert set(table["who"]) == {"Practice"} and len(table) == 3
    assert chart_specs(at), "the builder draws a chart"
    at.text_input(key="rb_name").input("Practice KVR and no-shows")
    next(b for b in at.button if b.label == "Save report").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    engine = get_engine(f"sqlite:///{demo_env / 'operational.db'}")
    try:
        with session_scope(engine) as s:
            saved = s.scalar(select(SavedReport).where(SavedReport.name == "Practice KVR and no-shows"))
            assert saved.definition["metric_keys"] == ["kept_visit_rate", "no_show_rate"]
            saved_id = saved.id
        ids = {}
        with sqlite3.connect(demo_env / "operational.db") as con:
            for role in ("CLINICIAN", "BILLING"):
                email = demo_logins(demo_env)[role][0]
                (ids[role],) = con.execute("select id from users where email = ?", (email,)).fetchone()
        at.selectbox(key="rb_sub_report").set_value(f"custom:{saved_id}")
        at.selectbox(key="rb_sub_cadence").set_value("weekly")
        # A clinician may not receive the whole practice's figures.
        at.selectbox(key="rb_sub_recipient").set_value(ids["CLINICIAN"])
        next(b for b in at.button if b.label == "Subscribe").click().run()
        assert [e.value for e in at.error] == ["scope: the whole practice is outside what this user may see"]
        at.selectbox(key="rb_sub_recipient").set_value(ids["BILLING"])
        next(b for b in at.button if b.label == "Subscribe").click().run()
        assert not at.error, [e.value for e in at.error]
        with session_scope(engine) as s:
            sub = s.scalar(
                select(ReportSubscription).where(ReportSubscription.report_name == f"custom:{saved_id}")
            )
            assert sub.cadence == "weekly" and sub.recipient_user_id == ids["BILLING"]
            s.delete(sub)  # the shared demo stays as it was for other tests
            s.delete(s.get(SavedReport, saved_id))
    finally:
        engine.dispose()
    # A clinician builds for themself only and has no subscription form.
    clin = open_page(demo_env, "CLINICIAN", "report_builder")
    assert [r.options for r in clin.radio if r.key == "rb_scope"] == [["Clinicians"]]
    assert not [b for b in clin.button if b.label == "Subscribe"]
    assert refused(demo_env, "FRONT_DESK", "report_builder")


def _login_id(var, role: str) -> int:
    email = demo_logins(var)[role][0]
    with sqlite3.connect(var / "operational.db") as con:
        (found,) = con.execute("select id from users where email = ?", (email,)).fetchone()
    return found


def test_quarterly_review_is_the_marts_weeks_with_the_warehouses_status(demo_env):
    from dashboards.data import module10, periods

    as_of = periods.as_of()
    first, last = module10.review_window(as_of, "week")
    assert (as_of - first).days >= module10.REVIEW_DAYS - 1 and last <= as_of < last + dt.timedelta(days=7)
    keys = ", ".join(f"'{k}'" for k in module10.REVIEW_METRICS)
    mart = warehouse(
        "select clinician_id, metric_key, period_start, round(metric_value, 2) as value, rag_status "
        f"from marts.fct_practice_metrics where scope = 'clinician' and period_grain = 'week' "
        f"and metric_key in ({keys}) and period_start between ? and ?",
        [first, last],
    )
    review = module10.quarterly_review("week", None, as_of)
    assert review.height == mart.height > 0
    got = {(r["clinician_id"], r["metric_key"], r["period_start"]): r for r in review.iter_rows(named=True)}
    for cid, key, start, value, rag in mart.iter_rows():
        row = got[(cid, key, start)]
        assert row["status"] == rag, (cid, key, start)
        assert (value is None and row["value"] is None) or abs(float(value) - row["value"]) < 0.006

    at = open_page(demo_env, "ADMIN", "quarterly_review")
    shown = table_with(at, "clinician", "measure", "period_start", "benchmark")
    assert len(shown) == review.height and set(shown["clinician"]) == set(review["clinician"])
    summary = table_with(at, "measure", "benchmark", "latest", "trend", "status now")
    assert len(summary) == len(module10.REVIEW_METRICS)
    assert set(summary["status now"]) <= {"On track", "Review", "Urgent", "No data"}
    assert chart_specs(at), "each measure's 90 days are drawn"
    at.segmented_control(key="qr_grain").set_value("Month").run()
    months = table_with(at, "clinician", "measure", "period_start")
    assert set(months["period_start"]) == set(module10.quarterly_review("month", None, as_of)["period_start"])
    assert all(d.day == 1 for d in months["period_start"])


def test_quarterly_review_is_scoped_to_the_role(demo_env):
    sup_id, clin_id = _login_id(demo_env, "SUPERVISOR"), _login_id(demo_env, "CLINICIAN")
    team = warehouse(
        "select clinician_name from marts.dim_clinicians where clinician_id = ? or supervisor_id = ?",
        [sup_id, sup_id],
    )["clinician_name"].to_list()
    everyone = warehouse("select clinician_name from marts.dim_clinicians")["clinician_name"].to_list()
    assert set(team) < set(everyone), "the demo has clinicians outside the supervisor's team"

    sup = open_page(demo_env, "SUPERVISOR", "quarterly_review")
    assert set(table_with(sup, "clinician", "measure")["clinician"]) <= set(team)
    assert len(sup.selectbox(key="qr_clinician").options) == len(team)

    clin = open_page(demo_env, "CLINICIAN", "quarterly_review")
    (name,) = warehouse("select clinician_name from marts.dim_clinicians where clinician_id = ?", [clin_id])[
        "clinician_name"
    ]
    assert set(table_with(clin, "clinician", "measure")["clinician"]) == {name}
    assert clin.selectbox(key="qr_clinician").options == [name]
    assert refused(demo_env, "BILLING", "quarterly_review")
    assert refused(demo_env, "FRONT_DESK", "quarterly_review")


def test_quarterly_review_subscription_goes_to_allowed_roles_cut_to_their_scope(demo_env):
    from operational_api.reports import service

    ids = {role: _login_id(demo_env, role) for role in ("ADMIN", "SUPERVISOR", "BILLING")}
    engine = get_engine(f"sqlite:///{demo_env / 'operational.db'}")
    try:
        with pytest.raises(service.ReportError, match="may not see the quarterly_review report"):
            service.subscribe(
                engine,
                actor_user_id=ids["ADMIN"],
                report_name="quarterly_review",
                recipient_user_id=ids["BILLING"],
                cadence="monthly",
            )
        sub_id = service.subscribe(
            engine,
            actor_user_id=ids["ADMIN"],
            report_name="quarterly_review",
            recipient_user_id=ids["SUPERVISOR"],
            cadence="monthly",
            filters={"grain": "week"},
        )
        with session_scope(engine) as s:
            s.delete(s.get(ReportSubscription, sub_id))  # the shared demo stays as it was for other tests
    finally:
        engine.dispose()
    team = set(
        warehouse(
            "select clinician_id from marts.dim_clinicians where clinician_id = ? or supervisor_id = ?",
            [ids["SUPERVISOR"], ids["SUPERVISOR"]],
        )["clinician_id"].to_list()
    )
    title, table = service.report_table(
        "quarterly_review", dt.date(2026, 10, 1), dt.date(2026, 10, 31), {"grain": "week"}, frozenset(team)
    )
    assert title == "Quarterly performance review" and table.height > 0
    assert set(table["clinician_id"]) <= team
    assert table["period_start"].min() >= dt.date(2026, 10, 31) - dt.timedelta(days=89 + 6)
    assert table["period_start"].max() <= dt.date(2026, 10, 31)


@pytest.fixture(autouse=True)
def _close_the_pages_warehouse_connection():
    # The page's reader closes its DuckDB connection from a timer thread after 2 idle seconds; a process ending
    # meanwhile (this module can be the run's last) would close it during interpreter shutdown and abort.
    yield
    reader().close()
    st.cache_resource.clear()
