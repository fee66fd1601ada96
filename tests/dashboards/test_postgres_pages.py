"""The dashboards on the production path: one small practice built through the CLI with the store and the
warehouse on PostgreSQL (DBT_TARGET=prod), every page rendered for an administrator and a clinician, and real
figures checked against the PostgreSQL warehouse.

The module reads its own copy of the run's MEDIUM_PRACTICE on PostgreSQL (built once per run: a PostgreSQL build
costs far more than a page render); its tests sign in and record a build, so it is a copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.access import PAGE_TITLES, PAGES_BY_ROLE
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from tests.conftest import DEPLOYMENT_VARS, copy_pg_practice
from tests.dashboards.conftest import signed_in_app, table_with

pytestmark = pytest.mark.postgres

WEEK, MONTH = dt.date(2026, 11, 23), dt.date(2026, 11, 1)
ROLES = ("ADMIN", "CLINICIAN")
ROLE_PAGES = [(role, key) for role in ROLES for keys in PAGES_BY_ROLE[role].values() for key in keys]
TITLES = PAGE_TITLES | {"metric_explorer": "Kept Visit Rate (KVR)"}


@pytest.fixture(scope="module")
def pg_practice(built_medium_pg, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The deployment variables of the module's copy of the PostgreSQL practice (store and warehouse in one
    database)."""
    with copy_pg_practice(built_medium_pg, tmp_path_factory.mktemp("dashboards-postgres") / "var") as env:
        yield env


@pytest.fixture
def pg_env(pg_practice, monkeypatch) -> Path:
    """This process pointed at the PostgreSQL practice (and nothing the developer's shell set)."""
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in pg_practice.items():
        monkeypatch.setenv(name, value)
    return Path(pg_practice["MENTALSPACE_VAR_DIR"])


def warehouse_value(sql: str):
    """One value from the PostgreSQL warehouse, read independently of the dashboards' loaders."""
    environment = current_environment()
    assert environment.warehouse_kind == "postgres"
    return Warehouse(environment).query(sql).item()


def open_page(var: Path, role: str, page: str):
    at = signed_in_app(var, role)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def card(at, label: str):
    return next(m for m in at.metric if m.label == label)


@pytest.mark.parametrize(("role", "page"), ROLE_PAGES)
def test_every_page_renders_on_postgres(pg_env, role, page):
    at = open_page(pg_env, role, page)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == TITLES[page]
    assert any("Figures as of Wed 25 Nov 2026" in c.value for c in at.caption), (
        "every page says how fresh it is"
    )


def test_clinician_sees_their_own_kvr_from_the_postgres_warehouse(pg_env):
    at = open_page(pg_env, "CLINICIAN", "my_practice")
    me = int(at.session_state["auth_user"].user_id)
    kvr = warehouse_value(
        "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
        f"and period_grain = 'week' and period_start = date '{WEEK}' and scope = 'clinician' and clinician_id = {me}"
    )
    assert card(at, "KVR (this week)").value == f"{float(kvr):.1f}%"
    unsigned = warehouse_value(
        "select count(*) from marts.fct_clinical_notes where not is_signed "
        f"and service_date <= date '2026-11-25' and clinician_id = {me}"
    )
    assert card(at, "Unsigned notes").value == str(unsigned)
    # Another clinician's page by URL is refused, not shown.
    other = int(
        warehouse_value(f"select min(clinician_id) from marts.dim_clinicians where clinician_id <> {me}")
    )
    at.query_params["clinician"] = str(other)
    at.run()
    assert any("only view figures of clinicians you are responsible for" in w.value for w in at.warning)
    assert card(at, "KVR (this week)").value == f"{float(kvr):.1f}%"


def test_administrator_scorecard_and_reports_match_the_postgres_warehouse(pg_env):
    at = open_page(pg_env, "ADMIN", "practice_overview")
    kvr = warehouse_value(
        "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
        f"and period_grain = 'month' and period_start = date '{MONTH}' and scope = 'practice'"
    )
    assert card(at, "Overall KVR (month to date)").value == f"{float(kvr):.1f}%"
    revenue = warehouse_value(
        "select revenue_amount from marts.fct_billing_monthly_summary "
        f"where scope = 'practice' and month_start = date '{MONTH}'"
    )
    target = warehouse_value("select max(monthly_revenue_target) from marts.fct_billing_monthly_summary")
    pct = warehouse_value(
        "select revenue_target_pct from marts.fct_billing_monthly_summary "
        f"where scope = 'practice' and month_start = date '{MONTH}'"
    )
    revenue_card = card(at, "Revenue this month")
    assert revenue_card.value == f"${float(revenue):,.0f}"
    assert revenue_card.delta == f"{float(pct):.1f}% of ${float(target):,.0f} target"
    active = warehouse_value("select count(*) from marts.dim_clinicians where is_active")
    assert len(table_with(at, "Clinician", "Sessions/day")) == active

    at.switch_page("app_pages/reports.py").run()
    assert not at.exception, at.exception
    paid = warehouse_value(
        "select sum(revenue_amount) from marts.fct_revenue "
        f"where revenue_month_start between date '2026-09-01' and date '{MONTH}'"
    )
    assert table_with(at, "clinician", "revenue")["revenue"].sum() == pytest.approx(float(paid))


def test_dbt_records_every_build_and_a_new_build_clears_the_cache(pg_env, monkeypatch):
    from dashboards.data import cache

    assert warehouse_value("select count(*) from reference.warehouse_builds where command = 'build'") >= 1
    monkeypatch.setattr(cache, "VERSION_CHECK_SECONDS", 0)
    cache.clear_if_warehouse_changed()  # this process's first look
    assert not cache.clear_if_warehouse_changed()
    with Warehouse(current_environment()).postgres() as con:
        con.execute(
            "insert into reference.warehouse_builds values (now() + interval '1 minute', 'test', 'build')"
        )
        con.commit()
    assert cache.clear_if_warehouse_changed()
