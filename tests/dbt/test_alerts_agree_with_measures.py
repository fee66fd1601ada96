"""Every compliance alert that has a measure names exactly the clients or staff the measure counts as not compliant
on the same date (issue: one definition per concept). Checked on the shared demo warehouse, in two ways: the alert's
entities equal the non-compliant rows of the concept model the measure aggregates, and per clinician the number of
alerts equals the measure's published denominator - numerator (or numerator, for the backlog count)."""

from __future__ import annotations

from collections import Counter

import pytest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse

# measure key -> (alert types that mean "not compliant", concept model, its non-compliant condition, entity column,
#                 whether the measure is counted per clinician)
RATE_MEASURES = {
    "informed_consent_currency": (
        ("INFORMED_CONSENT_EXPIRED",),
        "int_client_consents_by_period",
        "consent_type = 'INFORMED' and not has_current_consent",
        "client_id",
    ),
    "minor_consent_compliance": (
        ("MINOR_WITHOUT_GUARDIAN_CONSENT",),
        "int_client_consents_by_period",
        "consent_type = 'GUARDIAN' and not has_current_consent",
        "client_id",
    ),
    "telehealth_consent_compliance": (
        ("TELEHEALTH_WITHOUT_CONSENT",),
        "int_client_consents_by_period",
        "consent_type = 'TELEHEALTH' and not has_current_consent",
        "client_id",
    ),
    "treatment_plan_currency": (
        ("TREATMENT_PLAN_MISSING", "TREATMENT_PLAN_OUT_OF_COMPLIANCE"),
        "int_client_treatment_plans_by_period",
        "not has_current_plan",
        "client_id",
    ),
    "safety_plan_compliance": (
        ("SAFETY_PLAN_MISSING",),
        "int_client_safety_plans_by_period",
        "not has_current_plan",
        "client_id",
    ),
    "hipaa_training_current": (
        ("HIPAA_TRAINING_EXPIRED",),
        "int_staff_hipaa_training_by_period",
        "not has_current_training",
        "user_id",
    ),
}


@pytest.fixture(scope="module")
def warehouse(built_demo) -> Warehouse:
    mp = pytest.MonkeyPatch()
    from tests.conftest import DEPLOYMENT_VARS

    for name in DEPLOYMENT_VARS:
        mp.delenv(name, raising=False)
    mp.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    yield Warehouse(current_environment())
    mp.undo()


def _rows(warehouse: Warehouse, sql: str) -> list[dict]:
    return warehouse.query(sql).to_dicts()


def _today(warehouse: Warehouse):
    return _rows(warehouse, "select max(as_of_date) as d from marts.fct_compliance_alerts")[0]["d"]


def _alerts(warehouse: Warehouse, types: tuple[str, ...]) -> list[dict]:
    listed = ", ".join(f"'{t}'" for t in types)
    return _rows(
        warehouse,
        f"select entity_id, target_user_id from marts.fct_compliance_alerts where alert_type in ({listed})",
    )


def _measure_rows(warehouse: Warehouse, key: str, month_start) -> list[dict]:
    return _rows(
        warehouse,
        f"select scope, clinician_id, numerator, denominator from marts.fct_practice_metrics "
        f"where metric_key = '{key}' and period_grain = 'month' and period_start = '{month_start}'",
    )


@pytest.mark.parametrize("key", sorted(RATE_MEASURES))
def test_rate_alert_names_exactly_the_measures_non_compliant(warehouse, key):
    alert_types, concept, condition, entity = RATE_MEASURES[key]
    today = _today(warehouse)
    month_start = today.replace(day=1)
    alerts = _alerts(warehouse, alert_types)
    concept_rows = _rows(
        warehouse,
        f"select {entity} as entity_id from intermediate.{concept} "
        f"where period_grain = 'month' and period_start = '{month_start}' and {condition}",
    )
    assert sorted(a["entity_id"] for a in alerts) == sorted(r["entity_id"] for r in concept_rows)

    measure = _measure_rows(warehouse, key, month_start)
    practice = next(r for r in measure if r["scope"] == "practice")
    assert len(alerts) == int(practice["denominator"] - practice["numerator"])
    # Per clinician: the alert goes to the clinician the measure attributes the client to.
    per_clinician = {
        r["clinician_id"]: int(r["denominator"] - r["numerator"])
        for r in measure
        if r["scope"] == "clinician"
    }
    if per_clinician:
        alerted = Counter(a["target_user_id"] for a in alerts)
        assert {c: n for c, n in per_clinician.items() if n} == dict(alerted)


def test_overdue_note_alerts_equal_the_unsigned_note_backlog(warehouse):
    today = _today(warehouse)
    alerts = _alerts(warehouse, ("UNSIGNED_NOTE_OVERDUE", "UNSIGNED_NOTE_BILLING_HOLD"))
    measure = _measure_rows(warehouse, "unsigned_note_backlog", today.replace(day=1))
    per_clinician = {r["clinician_id"]: int(r["numerator"]) for r in measure if r["scope"] == "clinician"}
    assert {c: n for c, n in per_clinician.items() if n} == dict(Counter(a["target_user_id"] for a in alerts))
    assert sum(per_clinician.values()) > 0, "the demo should have overdue notes to compare"


def test_supervision_alerts_name_the_supervisees_short_last_month(warehouse):
    today = _today(warehouse)
    last_month = (today.replace(day=1) - __import__("datetime").timedelta(days=1)).replace(day=1)
    short = {
        r["clinician_id"]
        for r in _measure_rows(warehouse, "supervision_hours_logged", last_month)
        if r["scope"] == "clinician" and r["numerator"] < r["denominator"]
    }
    alerted = {a["entity_id"] for a in _alerts(warehouse, ("SUPERVISION_HOURS_BELOW_REQUIREMENT",))}
    assert alerted == short


def test_alerts_and_measures_share_one_active_client_population(warehouse):
    today = _today(warehouse)
    month_start = today.replace(day=1)
    active = _rows(
        warehouse,
        f"select count(distinct client_id) as n from intermediate.int_active_clients_by_period "
        f"where period_grain = 'month' and period_start = '{month_start}'",
    )[0]["n"]
    measure = _measure_rows(warehouse, "informed_consent_currency", month_start)
    assert int(next(r for r in measure if r["scope"] == "practice")["denominator"]) == active
    # Every client-level Georgia alert about consents and plans names an active client.
    outside = _rows(
        warehouse,
        "select count(*) as n from marts.fct_compliance_alerts as a "
        "where a.entity_type = 'client' and a.rule_source = 'GEORGIA_RULE' and a.entity_id not in ("
        f"select client_id from intermediate.int_active_clients_by_period "
        f"where period_grain = 'month' and period_start = '{month_start}')",
    )[0]["n"]
    assert outside == 0
