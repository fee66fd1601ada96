"""Pure rules, no warehouse: who opens which page, how a requested clinician is checked against the
user's scope, and green / amber / red against each kind of dictionary threshold."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import yaml

from dashboards.access import PAGES_BY_ROLE, Scope, pages_for, requested_clinician
from dashboards.data.dictionary import MetricDefinition
from dashboards.data.overview import revenue_against_target
from dashboards.data.practice import appointments_to_benchmark, pooled
from dashboards.data.reports import aging_buckets, aging_by_payer
from dashboards.data.status import (
    REVENUE_TARGET_ALERT_PCT,
    Status,
    format_value,
    metric_status,
    revenue_target_status,
    worst,
)
from operational_api.auth import SignedInUser
from tests.conftest import REPO_ROOT


def _definition(**overrides) -> MetricDefinition:
    base = dict(
        metric_key="m",
        label="M",
        definition="",
        counting_convention="",
        unit="percent",
        direction="higher_is_better",
        benchmark_value=85.0,
        alert_operator="<",
        alert_threshold=80.0,
    )
    return MetricDefinition(**(base | overrides))


def test_each_role_opens_only_its_pages():
    # Every staff role sets its own notification preferences.
    mine = {"notification_preferences"}
    assert (
        pages_for("CLINICIAN")
        == {
            "my_practice",
            "metric_explorer",
            "compliance_alerts",
            "quarterly_review",
            "report_builder",
        }
        | mine
    )
    assert (
        pages_for("SUPERVISOR")
        == {
            "my_team",
            "my_practice",
            "metric_explorer",
            "compliance_alerts",
            "productivity_report",
            "compliance_report",
            "quarterly_review",
            "report_builder",
        }
        | mine
    )
    assert pages_for("BILLING") == {"reports", "era_upload", "demographics_report", "report_builder"} | mine
    assert pages_for("FRONT_DESK") == {"schedule", "front_desk_tasks"} | mine
    assert pages_for("ADMIN") >= pages_for("SUPERVISOR") | pages_for("BILLING") | pages_for("FRONT_DESK") | {
        "practice_overview"
    }
    assert pages_for("CLIENT") == set()
    assert list(PAGES_BY_ROLE["BILLING"]) == ["Billing", "Settings"], "the ERA upload page joins Billing"


def test_a_clinician_scope_refuses_everyone_else_and_the_practice():
    scope = Scope.of(SignedInUser(5, "CLINICIAN", "C", frozenset({5})))
    assert scope.narrowed_to(5) == (5,)
    with pytest.raises(PermissionError):
        scope.narrowed_to(6)
    assert requested_clinician(scope, "6", 5) == (5, True)
    assert requested_clinician(scope, "practice", 5) == (5, True)
    assert requested_clinician(scope, "5; drop table", 5) == (5, True)
    assert requested_clinician(scope, None, 5) == (5, False)
    assert not scope.allows(None)


def test_a_supervisor_scope_is_the_team_and_an_administrator_sees_everyone():
    supervisor = Scope.of(SignedInUser(4, "SUPERVISOR", "S", frozenset({4, 5, 6})))
    assert supervisor.clinician_ids == (4, 5, 6)
    assert requested_clinician(supervisor, 6, 4) == (6, False)
    assert requested_clinician(supervisor, 9, 4) == (4, True)
    admin = Scope.of(SignedInUser(1, "ADMIN", "A", None))
    assert admin.sees_everyone and admin.narrowed_to(None) is None
    assert requested_clinician(admin, "practice", None) == (None, False)
    assert requested_clinician(admin, "9", None) == (9, False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, Status.GOOD),
        (85, Status.GOOD),
        (82, Status.REVIEW),
        (80, Status.REVIEW),
        (79.9, Status.URGENT),
        (None, Status.UNKNOWN),
    ],
)
def test_higher_is_better_status(value, expected):
    assert metric_status(_definition(), value) is expected


@pytest.mark.parametrize(
    ("value", "expected"), [(8, Status.GOOD), (10, Status.GOOD), (12, Status.REVIEW), (15.5, Status.URGENT)]
)
def test_lower_is_better_status(value, expected):
    definition = _definition(
        direction="lower_is_better", benchmark_value=10.0, alert_operator=">", alert_threshold=15.0
    )
    assert metric_status(definition, value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (6, Status.GOOD),
        (4.5, Status.REVIEW),
        (7.5, Status.REVIEW),
        (3.9, Status.URGENT),
        (8.2, Status.URGENT),
    ],
)
def test_range_status(value, expected):
    definition = _definition(
        unit="sessions",
        direction="range",
        benchmark_value=None,
        alert_operator="outside",
        alert_threshold=None,
        benchmark_low=5.0,
        benchmark_high=7.0,
        alert_low=4.0,
        alert_high=8.0,
    )
    assert metric_status(definition, value) is expected


def test_deviation_and_below_required_statuses():
    reimbursement = _definition(
        unit="dollars", benchmark_value=None, alert_operator="deviation_pct", alert_threshold=10.0
    )
    # Held to its own six-month benchmark, both ways; an unsettled month is amber at most.
    assert metric_status(reimbursement, 100, benchmark=105) is Status.GOOD
    assert metric_status(reimbursement, 80, benchmark=105) is Status.URGENT
    assert metric_status(reimbursement, 80, benchmark=105, period_settled=False) is Status.REVIEW
    assert metric_status(reimbursement, 130, benchmark=105) is Status.URGENT
    assert metric_status(reimbursement, 100, previous=105) is Status.UNKNOWN
    hours = _definition(
        unit="hours", benchmark_value=None, alert_operator="below_required", alert_threshold=None
    )
    assert metric_status(hours, 2, numerator=2, denominator=2) is Status.GOOD
    assert metric_status(hours, 1.5, numerator=1.5, denominator=2, period_running=True) is Status.REVIEW
    assert metric_status(hours, 1.5, numerator=1.5, denominator=2) is Status.URGENT


def test_worst_ignores_unknown_and_values_read_in_their_unit():
    assert worst([Status.GOOD, Status.UNKNOWN, Status.REVIEW]) is Status.REVIEW
    assert worst([Status.UNKNOWN]) is Status.UNKNOWN
    assert format_value(_definition(), 84.56) == "84.6%"
    assert format_value(_definition(unit="dollars"), 112.5) == "$112.50"
    assert format_value(_definition(unit="dollars"), 15580.96) == "$15,581"
    assert format_value(_definition(unit="hours"), 18) == "18.0 h"
    assert format_value(_definition(unit="count"), 3.0) == "3"


def test_team_values_pool_numerators_and_denominators():
    assert pooled(_definition(), 30, 40) == 75.0
    assert pooled(_definition(unit="hours"), 36, 2) == 18.0
    assert pooled(_definition(unit="count", direction="lower_is_better"), 7, 12) == 7.0
    assert pooled(_definition(), 0, 0) is None


def test_visits_needed_to_reach_the_kvr_benchmark():
    assert appointments_to_benchmark(18, 25, 85.0) == 22  # (18 + 22) / (25 + 22) = 85.1%
    assert appointments_to_benchmark(17, 20, 85.0) == 0
    assert appointments_to_benchmark(0, 0, 85.0) is None


def test_ar_aging_keeps_bucket_order_and_shares():
    aging = pl.DataFrame(
        {
            "payer": ["A", "A", "B"],
            "aging_bucket": ["120_PLUS", "CURRENT", "31_60"],
            "outstanding": [50.0, 30.0, 20.0],
            "charges": [1, 2, 3],
        }
    )
    buckets = aging_buckets(aging)
    assert buckets["bucket"].to_list() == ["Current (0–30)", "31–60", "61–90", "91–120", "120+"]
    assert buckets["outstanding"].to_list() == [30.0, 20.0, 0.0, 0.0, 50.0]
    assert buckets["share_pct"].to_list() == [30.0, 20.0, 0.0, 0.0, 50.0]
    wide = aging_by_payer(aging)
    assert wide.row(0, named=True)["payer"] == "A" and wide.row(0, named=True)["total"] == 80.0


def test_period_helpers_cut_weeks_on_monday():
    from dashboards.data.periods import months_back, period_start, previous_period_start

    wednesday = dt.date(2026, 11, 25)
    assert period_start(wednesday, "week") == dt.date(2026, 11, 23)
    assert previous_period_start(wednesday, "month") == dt.date(2026, 10, 1)
    assert months_back(wednesday, 13) == dt.date(2025, 10, 1)


@pytest.mark.parametrize(
    ("revenue", "target", "share", "expected"),
    [
        (10_000, 10_000, 1.0, Status.GOOD),
        (9_000, 10_000, 1.0, Status.REVIEW),
        (8_999, 10_000, 1.0, Status.URGENT),
        (5_000, 10_000, 0.5, Status.GOOD),
        (4_600, 10_000, 0.5, Status.REVIEW),
        (4_400, 10_000, 0.5, Status.URGENT),
        (5_000, None, 1.0, Status.UNKNOWN),
        (5_000, 0, 1.0, Status.UNKNOWN),
    ],
)
def test_revenue_status_against_the_target_pro_rata_in_the_running_month(revenue, target, share, expected):
    assert revenue_target_status(revenue, target, share) is expected


def test_revenue_alert_bound_is_the_escalations():
    project = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["revenue_target_alert_pct"] == REVENUE_TARGET_ALERT_PCT


def test_revenue_against_target_reads_the_practice_rows():
    months = pl.DataFrame(
        {
            "month_start": [dt.date(2026, 10, 1), dt.date(2026, 11, 1)],
            "revenue_amount": [9_500.0, 6_000.0],
            "monthly_revenue_target": [10_000.0, 10_000.0],
            "revenue_target_pct": [95.0, 60.0],
            "outstanding_amount": [1_000.0, 2_000.0],
        }
    )
    figure = revenue_against_target(months, dt.date(2026, 11, 1), dt.date(2026, 11, 15))
    assert (figure.this_month, figure.last_month, figure.target, figure.target_pct) == (
        6_000.0,
        9_500.0,
        10_000.0,
        60.0,
    )
    assert figure.share_of_month_gone == 0.5 and figure.status is Status.GOOD  # 6,000 by mid-month: on pace
    empty = revenue_against_target(months.head(1), dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert (empty.this_month, empty.target_pct, empty.status) == (0.0, 0.0, Status.URGENT)
