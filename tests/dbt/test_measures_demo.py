"""A small synthetic practice goes through the real CLI (store -> Dagster -> warehouse -> dbt build; the run's
MEDIUM_PRACTICE, built once per backend) and every metric-dictionary measure comes out with plausible,
non-trivial values, on DuckDB and on PostgreSQL. The exact
formulas are pinned by the dbt unit tests, which run here against the same warehouse (the Dagster refresh leaves
them out: they test fixtures, not data).

dbt's data tests (keys, relationships, accepted values, the singular tests) run here too, in the same `dbt test`:
the suite's builds leave them out (SKIP_DATA_TESTS_VAR, tests/conftest.py), so these two tests are where they
run on each kind of warehouse."""

from __future__ import annotations

import os
import subprocess

import pytest

from mentalspace_platform.environment import DBT_PROJECT_DIR, current_environment
from mentalspace_platform.warehouse import Warehouse
from tests.conftest import STEP_TIMEOUT, copy_pg_practice, copy_practice, warm_dbt_executable

# Whole months of the generated history (the first and the running month are partial).
FULL_MONTHS = ("2026-08-01", "2026-09-01", "2026-10-01")


def _frames(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict]]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    environment = current_environment()
    # Every dbt test: the unit tests and the data tests.
    dbt_tests = subprocess.run(
        [warm_dbt_executable(), "test", "--quiet"],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, **environment.dbt_env()},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert dbt_tests.returncode == 0, dbt_tests.stdout[-4000:] + dbt_tests.stderr[-2000:]
    warehouse = Warehouse(environment)

    def rows(sql: str) -> list[dict]:
        return list(warehouse.query(sql).iter_rows(named=True))

    return {
        "dictionary": rows("select metric_key, unit, direction from reference.metric_dictionary"),
        "metrics": rows(
            "select metric_key, scope, clinician_id, period_grain, cast(period_start as varchar) as period_start, "
            "cast(numerator as float) as numerator, cast(denominator as float) as denominator, "
            "cast(metric_value as float) as metric_value from marts.fct_practice_metrics"
        ),
        "aging": rows(
            "select cast(month_start as varchar) as month_start, aging_bucket, "
            "cast(outstanding_amount as float) as outstanding_amount from marts.fct_ar_aging"
        ),
        "revenue": rows("select cast(sum(revenue_amount) as float) as total from marts.fct_revenue"),
        "summary": rows(
            "select cast(sum(revenue_amount) as float) as total from marts.fct_billing_monthly_summary "
            "where scope = 'practice'"
        ),
        "capacity": rows(
            "select cast(sum(available_slots) as float) as available, cast(sum(booked_slots) as float) as booked "
            "from marts.fct_clinician_capacity_weekly"
        ),
    }


def _practice_month(metrics: list[dict], key: str, month: str) -> dict:
    matches = [
        r
        for r in metrics
        if r["metric_key"] == key
        and r["scope"] == "practice"
        and r["period_grain"] == "month"
        and r["period_start"] == month
    ]
    assert len(matches) == 1, (key, month, matches)
    return matches[0]


def _check_measures(frames: dict[str, list[dict]]) -> None:
    dictionary = {r["metric_key"]: r for r in frames["dictionary"]}
    metrics = frames["metrics"]
    assert len(dictionary) == 38  # the PRD's 35 and 3 documented variants
    assert {r["metric_key"] for r in metrics} == set(dictionary)

    for key, entry in dictionary.items():
        values = [
            r["metric_value"] for r in metrics if r["metric_key"] == key and r["metric_value"] is not None
        ]
        assert values, f"{key} has no value at all"
        if entry["unit"] == "percent":
            assert all(0 <= v <= 100 for v in values), (key, min(values), max(values))
        else:
            assert all(v >= 0 for v in values), (key, min(values))
        practice_months = [
            r
            for r in metrics
            if r["metric_key"] == key and r["scope"] == "practice" and r["period_grain"] == "month"
        ]
        assert practice_months, f"{key} has no practice month"

    # Non-trivial: the core measures differ between clinicians and months, and the measures differ from each other.
    for key in (
        "kept_visit_rate",
        "no_show_rate",
        "same_day_documentation_rate",
        "rebook_rate",
        "charge_entry_lag",
        "average_documentation_time",
        "sessions_per_day",
        "schedule_fill_rate",
    ):
        distinct = {
            r["metric_value"] for r in metrics if r["metric_key"] == key and r["period_grain"] == "month"
        }
        assert len(distinct) > 2, (key, distinct)
    october = {
        key: _practice_month(metrics, key, "2026-10-01")["metric_value"]
        for key in dictionary
        if key != "breach_incident_response_time"
    }
    assert len(set(october.values())) > 20, october

    for month in FULL_MONTHS:
        kvr = _practice_month(metrics, "kept_visit_rate", month)
        no_show = _practice_month(metrics, "no_show_rate", month)
        cancelled = _practice_month(metrics, "cancellation_rate", month)
        assert 5 <= no_show["metric_value"] <= 25, no_show
        assert 60 <= kvr["metric_value"] <= 95, kvr
        # One denominator for the three outcome rates, so they add up.
        assert kvr["denominator"] == no_show["denominator"] == cancelled["denominator"]
        assert kvr["numerator"] + no_show["numerator"] + cancelled["numerator"] == kvr["denominator"]
        assert 1 <= _practice_month(metrics, "sessions_per_day", month)["metric_value"] <= 8
        assert 0 < _practice_month(metrics, "days_in_ar", month)["metric_value"] < 120
        assert 0 < _practice_month(metrics, "average_reimbursement_per_session", month)["metric_value"] < 300
        hours = _practice_month(metrics, "supervision_hours_logged", month)
        assert hours["metric_value"] == hours["numerator"] and hours["denominator"] > 0

    # Each PRD measure against its variant: the PRD's denominators are the wider ones.
    for month in FULL_MONTHS:
        gross, net = (_practice_month(metrics, k, month) for k in ("collection_rate", "net_collection_rate"))
        assert gross["numerator"] == net["numerator"] and gross["denominator"] > net["denominator"]
        assert gross["metric_value"] < net["metric_value"]
        verification = _practice_month(metrics, "insurance_verification_rate", month)
        assert (
            verification["denominator"] == _practice_month(metrics, "kept_visit_rate", month)["denominator"]
        )
        assert (
            verification["denominator"]
            > _practice_month(metrics, "insured_session_verification_rate", month)["denominator"]
        )
        assert (
            _practice_month(metrics, "complete_demographics_rate", month)["denominator"]
            > _practice_month(metrics, "active_client_demographics_rate", month)["denominator"]
        )

    # The aging mart and Days in AR read the same receivables.
    for month in FULL_MONTHS:
        aged = sum(r["outstanding_amount"] for r in frames["aging"] if r["month_start"] == month)
        receivable = _practice_month(metrics, "days_in_ar", month)["numerator"]
        assert aged == pytest.approx(receivable, abs=0.05)
    assert {r["aging_bucket"] for r in frames["aging"]} >= {"CURRENT", "31_60"}
    assert frames["revenue"][0]["total"] > 0
    assert frames["summary"][0]["total"] == pytest.approx(frames["revenue"][0]["total"], abs=0.05)
    capacity = frames["capacity"][0]
    assert 0 < capacity["booked"] < capacity["available"]


# Copies: the dbt unit tests write dbt's artifacts (and dbt-duckdb opens the warehouse for writing).
def test_every_measure_on_duckdb(built_medium, var_dir, monkeypatch):
    copy_practice(built_medium, var_dir)
    _check_measures(_frames({"MENTALSPACE_VAR_DIR": str(var_dir)}, monkeypatch))


@pytest.mark.postgres
def test_every_measure_on_postgres(built_medium_pg, var_dir, monkeypatch):
    with copy_pg_practice(built_medium_pg, var_dir) as env:
        _check_measures(_frames(env, monkeypatch))
        # The models' tables are unlogged (derived data: no write-ahead log for what a build rewrites); the raw
        # copies they are built from are not.
        persistence = dict(
            Warehouse(current_environment())
            .query(
                "select n.nspname || '.' || c.relname as name, c.relpersistence as p from pg_class as c "
                "join pg_namespace as n on n.oid = c.relnamespace "
                "where (n.nspname, c.relname) in (('marts', 'fct_practice_metrics'), ('marts', 'fct_charges'), "
                "('raw_operational', 'charges'))"
            )
            .iter_rows()
        )
        assert persistence == {
            "marts.fct_practice_metrics": "u",
            "marts.fct_charges": "u",
            "raw_operational.charges": "p",
        }
