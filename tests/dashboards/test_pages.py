"""Every page renders for every role on the demo practice, and shows the warehouse's own figures."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards.access import PAGE_TITLES, PAGES_BY_ROLE
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from tests.dashboards.conftest import new_app, sign_in, signed_in_app, table_with

AS_OF = dt.date(2026, 11, 25)
WEEK, MONTH = dt.date(2026, 11, 23), dt.date(2026, 11, 1)
ROLE_PAGES = [
    (role, key) for role, sections in PAGES_BY_ROLE.items() for keys in sections.values() for key in keys
]
# The explorer's title is the measure it shows (KVR by default).
TITLES = PAGE_TITLES | {"metric_explorer": "Kept Visit Rate (KVR)"}


def warehouse(sql: str, params: list | None = None):
    return Warehouse(current_environment()).query(sql, params)


def metric_value(metric_key: str, grain: str, period: dt.date, clinician_id: int | None) -> float:
    scope = (
        "scope = 'practice'"
        if clinician_id is None
        else f"scope = 'clinician' and clinician_id = {int(clinician_id)}"
    )
    return float(
        warehouse(
            f"select metric_value from marts.fct_practice_metrics where metric_key = ? and period_grain = ? "
            f"and period_start = ? and {scope}",
            [metric_key, grain, period],
        ).item()
    )


def metrics_by_label(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def open_page(var, role: str, page: str):
    at = signed_in_app(var, role)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize(("role", "page"), ROLE_PAGES)
def test_every_page_renders_for_its_roles_with_the_data_date(demo_env, role, page):
    at = open_page(demo_env, role, page)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == TITLES[page]
    assert any("Figures as of Wed 25 Nov 2026" in c.value for c in at.caption), (
        "every page says how fresh it is"
    )


@pytest.mark.parametrize("role", list(PAGES_BY_ROLE))
def test_pages_outside_the_role_are_not_in_its_navigation(demo_env, role):
    at = signed_in_app(demo_env, role)
    allowed = {key for keys in PAGES_BY_ROLE[role].values() for key in keys}
    for page in set(PAGE_TITLES) - allowed - {"era_upload"}:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"app_pages/{page}.py")


def test_clinician_my_practice_shows_their_own_week(demo_env):
    at = open_page(demo_env, "CLINICIAN", "my_practice")
    me = at.session_state["auth_user"].user_id
    cards = metrics_by_label(at)
    assert cards["KVR (this week)"] == f"{metric_value('kept_visit_rate', 'week', WEEK, me):.1f}%"
    counts = warehouse(
        "select sum(case when appointment_status <> 'RESCHEDULED' then 1 else 0 end) as booked, "
        "sum(case when appointment_status = 'COMPLETED' then 1 else 0 end) as completed "
        "from marts.fct_appointments where clinician_id = ? and appointment_week_start = ?",
        [me, WEEK],
    ).row(0)
    assert cards["Sessions completed"] == f"{counts[1]} of {counts[0]}"
    unsigned = warehouse(
        "select count(*) from marts.fct_clinical_notes where clinician_id = ? and not is_signed "
        "and service_date <= ?",
        [me, AS_OF],
    ).item()
    assert cards["Unsigned notes"] == str(unsigned)
    assert cards["Rebook rate"] == f"{metric_value('rebook_rate', 'month', MONTH, me):.1f}%"


def test_clinician_lists_hold_only_their_own_clients(demo_env):
    at = open_page(demo_env, "CLINICIAN", "my_practice")
    me = at.session_state["auth_user"].user_id
    own_names = set(
        warehouse("select display_name from marts.dim_clients where clinician_id = ?", [me])["display_name"]
    )
    rebook = table_with(at, "client", "days_since_last_visit", required=False)
    if rebook is not None:
        assert set(rebook["client"]) <= own_names
    noted = set(
        warehouse(
            "select distinct c.display_name from marts.fct_clinical_notes n join marts.dim_clients c "
            "on n.client_id = c.client_id where n.clinician_id = ?",
            [me],
        )["display_name"]
    )
    unsigned = table_with(at, "note_id", "client", required=False)
    if unsigned is not None:
        assert set(unsigned["client"]) <= noted
    booked = set(
        warehouse(
            "select distinct c.display_name from marts.fct_appointments a join marts.dim_clients c "
            "on a.client_id = c.client_id where a.clinician_id = ?",
            [me],
        )["display_name"]
    )
    schedule = table_with(at, "start_time", "client", required=False)
    if schedule is not None:
        assert set(schedule["client"]) <= booked


def test_supervisor_team_table_is_their_team_with_warehouse_figures(demo_env):
    at = open_page(demo_env, "SUPERVISOR", "my_team")
    me = at.session_state["auth_user"].user_id
    # The supervisees: the supervisor is not listed as their own supervisee (team table or supervision hours).
    team = warehouse(
        "select clinician_id, clinician_name from marts.dim_clinicians where is_active "
        "and supervisor_id = ? and clinician_id <> ?",
        [me, me],
    )
    table = table_with(at, "Clinician", "KVR %")
    assert sorted(table["Clinician"]) == sorted(team["clinician_name"])
    hours = table_with(at, "clinician", "hours_logged", required=False)
    if hours is not None:
        assert set(hours["clinician"]) <= set(team["clinician_name"])
    for row in team.iter_rows(named=True):
        # Coloured cells are one-pill lists: ["75.4"].
        shown = list(table[table["Clinician"] == row["clinician_name"]]["KVR %"].iloc[0])
        assert shown == [f"{metric_value('kept_visit_rate', 'month', MONTH, row['clinician_id']):,.1f}"]
    assert {pill for cell in table["Status"] for pill in cell} <= {"On track", "Review", "Urgent", "No data"}


def test_administrator_overview_scorecard_matches_the_warehouse(demo_env):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    cards = metrics_by_label(at)
    assert (
        cards["Overall KVR (month to date)"]
        == f"{metric_value('kept_visit_rate', 'month', MONTH, None):.1f}%"
    )
    assert (
        cards["Claim acceptance rate"]
        == f"{metric_value('claim_acceptance_rate', 'month', MONTH, None):.1f}%"
    )
    revenue, target, pct = warehouse(
        "select revenue_amount, monthly_revenue_target, revenue_target_pct from marts.fct_billing_monthly_summary "
        "where scope = 'practice' and month_start = ?",
        [MONTH],
    ).row(0)
    assert cards["Revenue this month"] == f"${float(revenue):,.0f}"
    assert float(target) > 0, "the demo practice has a monthly revenue target"
    card = next(m for m in at.metric if m.label == "Revenue this month")
    assert card.delta == f"{float(pct):.1f}% of ${float(target):,.0f} target"
    # One home for the revenue: the monthly summary's practice row is what fct_revenue paid that month.
    paid = warehouse(
        "select sum(revenue_amount) from marts.fct_revenue where revenue_month_start = ?", [MONTH]
    ).item()
    assert float(revenue) == pytest.approx(float(paid))
    matrix = table_with(at, "Clinician", "Sessions/day")
    active = warehouse("select count(*) from marts.dim_clinicians where is_active").item()
    assert len(matrix) == active
    # Revenue cycle: the PRD's Collection Rate (gross) and its documented net variant beside it, both for the
    # latest settled month (see the metric dictionary).
    settled = dt.date(2026, 9, 1)
    for key, label in (
        ("collection_rate", "Collection Rate"),
        ("net_collection_rate", "Net Collection Rate"),
    ):
        assert cards[f"{label} (Sep 2026, settled)"] == f"{metric_value(key, 'month', settled, None):.1f}%", (
            key
        )
    assert metric_value("collection_rate", "month", settled, None) < metric_value(
        "net_collection_rate", "month", settled, None
    )


def test_administrator_explores_any_measure_with_its_numerator_and_denominator(demo_env):
    at = signed_in_app(demo_env, "ADMIN")
    at.switch_page("app_pages/metric_explorer.py")
    clinician = int(
        warehouse("select min(clinician_id) from marts.dim_clinicians where role = 'CLINICIAN'").item()
    )
    at.query_params.update({"metric": "no_show_rate", "clinician": str(clinician), "grain": "month"})
    at.run()
    assert at.title[0].value == "No-Show Rate"
    table = table_with(at, "period_start", "numerator")
    expected = warehouse(
        "select period_start, numerator, denominator from marts.fct_practice_metrics where metric_key = 'no_show_rate' "
        "and period_grain = 'month' and scope = 'clinician' and clinician_id = ? order by period_start desc",
        [clinician],
    )
    assert list(table["numerator"]) == pytest.approx([float(v) for v in expected["numerator"]])
    assert list(table["denominator"]) == pytest.approx([float(v) for v in expected["denominator"]])
    assert any("counting convention" in e.label.lower() for e in at.expander)


def test_reports_revenue_matches_the_revenue_mart(demo_env):
    at = open_page(demo_env, "BILLING", "reports")
    by_clinician = table_with(at, "clinician", "revenue")
    total = warehouse(
        "select sum(revenue_amount) from marts.fct_revenue where revenue_month_start between ? and ?",
        [dt.date(2026, 9, 1), MONTH],
    ).item()
    assert by_clinician["revenue"].sum() == pytest.approx(float(total))
    # One report is built at a time: the others' tables are not on the page until chosen.
    assert table_with(at, "bucket", "outstanding", required=False) is None
    at.segmented_control(key="rp_section").set_value("aging").run()
    buckets = table_with(at, "bucket", "outstanding")
    assert list(buckets["bucket"]) == ["Current (0–30)", "31–60", "61–90", "91–120", "120+"]
    assert table_with(at, "clinician", "revenue", required=False) is None
    denials = warehouse(
        "select count(*) from marts.fct_claims where is_denied and adjudicated_date between ? and ?",
        [dt.date(2026, 9, 1), dt.date(2026, 11, 30)],
    ).item()
    at.segmented_control(key="rp_section").set_value("denials").run()
    by_reason = table_with(at, "carc_code", "share_pct", required=False)
    assert (0 if by_reason is None else int(by_reason["claims_denied"].sum())) == denials
    at.segmented_control(key="rp_section").set_value("payer-mix").run()
    assert table_with(at, "payer", "billed")["billed"].sum() > 0


def test_a_link_to_a_report_opens_that_report(demo_env):
    # Billing's first page is Reports: the link's `?report=` survives both sign-in steps (password, then
    # code), as a bookmark would.
    at = new_app()
    at.query_params["report"] = "aging"
    sign_in(at.run(), demo_env, "BILLING")
    assert at.title[0].value == "Reports"
    assert at.segmented_control(key="rp_section").value == "aging"
    assert table_with(at, "bucket", "outstanding") is not None


def test_front_desk_sees_todays_schedule_and_work_lists(demo_env):
    at = open_page(demo_env, "FRONT_DESK", "schedule")
    today = warehouse(
        "select count(*) from marts.fct_appointments where appointment_date = ? "
        "and appointment_status <> 'RESCHEDULED'",
        [AS_OF],
    ).item()
    assert metrics_by_label(at)["Booked"] == str(today)
    at.switch_page("app_pages/front_desk_tasks.py").run()
    counts = dict(
        warehouse("select alert_type, count(*) from marts.fct_compliance_alerts group by 1").iter_rows()
    )
    cards = metrics_by_label(at)
    assert cards["Appointments not closed out"] == str(counts.get("APPOINTMENT_STATUS_NOT_UPDATED", 0))
    assert cards["Insurance not verified (next 7 days)"] == str(
        counts.get("APPOINTMENT_INSURANCE_NOT_VERIFIED", 0)
    )
    # Incomplete demographics: the alert's clients, with what is missing from dim_clients (one definition).
    assert cards["Clients with incomplete demographics"] == str(
        counts.get("COMPLETED_WITH_INCOMPLETE_DEMOGRAPHICS", 0)
    )
    listed = table_with(at, "client_id", "missing")
    missing = dict(
        warehouse(
            "select client_id, missing_demographic_fields from marts.dim_clients "
            "where not has_complete_demographics"
        ).iter_rows()
    )
    assert len(listed) > 0
    assert {int(c): m for c, m in zip(listed["client_id"], listed["missing"], strict=True)} == {
        int(c): missing[int(c)] for c in listed["client_id"]
    }
