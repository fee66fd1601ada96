"""The AdvancedMD domain loads, its graph and schedules are what the README says, and the tier budget holds."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from ingest.advancedmd.ratelimit import DEFAULT_LIMITS, Tier, is_peak
from operational_api.errors import PlatformError

KEY = dg.AssetKey


def test_domain_definitions_load_and_every_job_resolves(var_dir):
    from orchestration.defs.advancedmd.definitions import standalone_definitions

    defs = standalone_definitions()
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {
        f"advancedmd/{n}"
        for n in (
            "patients",
            "insurance",
            "patient_links",
            "visits",
            "charges",
            "visit_updates",
            "eligibility",
            "landing_tables",
            "provider_links",
            "charge_submissions",
            "transactions",
            "claims",
            "demographics_out",
        )
    }
    assert graph.get(KEY(["advancedmd", "patient_links"])).parent_keys == {KEY(["advancedmd", "patients"])}
    # The hourly patient sync goes both ways: the push follows the pull and the links.
    assert graph.get(KEY(["advancedmd", "demographics_out"])).parent_keys == {
        KEY(["advancedmd", "patient_links"])
    }
    patients_job = defs.resolve_job_def("advancedmd_patients_job")
    assert KEY(["advancedmd", "demographics_out"]) in patients_job.asset_layer.executable_asset_keys
    assert graph.get(KEY(["advancedmd", "eligibility"])).parent_keys == {
        KEY(["advancedmd", "insurance"]),
        KEY(["advancedmd", "visits"]),
    }
    days = graph.get(KEY(["advancedmd", "visits"])).partitions_def
    assert isinstance(days, dg.DailyPartitionsDefinition) and days.timezone == "America/New_York"
    assert graph.get(KEY(["advancedmd", "visit_updates"])).partitions_def is None
    for job in defs.jobs:
        defs.resolve_job_def(job.name)
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "watermark_fresh",
        "visits_non_empty",
        "visits_quarantine_ratio",
        "charges_quarantine_ratio",
    } <= checks


def test_schedules_follow_the_prd_cadence_in_mountain_time(var_dir):
    from orchestration.defs.advancedmd.definitions import defs

    schedules = {s.name: s for s in defs.schedules}
    assert schedules["advancedmd_visits_15min_schedule"].cron_schedule == "*/15 * * * *"
    assert schedules["advancedmd_patients_hourly_schedule"].cron_schedule == "7 * * * *"
    assert {s.execution_timezone for s in schedules.values()} == {"America/Denver"}
    # Tier-2 work runs off-peak (peak = 06:00-18:00 MT on weekdays).
    for name, hour in (
        ("advancedmd_visits_daily_schedule", 1),
        ("advancedmd_claims_daily_schedule", 2),
        ("advancedmd_transactions_daily_schedule", 2),
        ("advancedmd_charges_out_daily_schedule", 3),
        ("advancedmd_eligibility_daily_schedule", 4),
    ):
        assert schedules[name].cron_schedule.split()[1] == str(hour)
        assert not is_peak(dt.datetime(2025, 3, 10, hour, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6))))


US_PRACTICE_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)


def test_claim_status_payments_and_charges_out_run_nightly_off_peak_outside_real_time_refreshes(var_dir):
    """The nightly claim-status, payment and charges-out runs run off-peak on every day of the year (DST changes included),
    after the partition re-read and before eligibility, and, in every US practice zone, outside the warehouse's
    real-time window (07:00-20:45 local, Monday to Saturday), so the 15-minute visit syncs the run queue holds
    behind them cost no dashboard freshness; a claim-status run's worst case ends before eligibility."""
    from zoneinfo import ZoneInfo

    from orchestration.defs.advancedmd.definitions import defs
    from orchestration.defs.advancedmd.schedules import claims_budget

    schedules = {s.name: s for s in defs.schedules}
    claims = schedules["advancedmd_claims_daily_schedule"]
    payments = schedules["advancedmd_transactions_daily_schedule"]
    charges_out = schedules["advancedmd_charges_out_daily_schedule"]
    assert claims.job.name == "advancedmd_claims_job" and payments.job.name == "advancedmd_transactions_job"
    assert charges_out.job.name == "advancedmd_charges_out_job"
    daily = {  # minute and hour of every once-a-day schedule
        s.name: [int(f) for f in s.cron_schedule.split()[:2]]
        for s in schedules.values()
        if all(f.isdigit() for f in s.cron_schedule.split()[:2])
    }
    order = sorted(daily, key=lambda name: daily[name][::-1])
    assert order.index("advancedmd_visits_daily_schedule") < order.index("advancedmd_claims_daily_schedule")
    assert order.index("advancedmd_claims_daily_schedule") < order.index(
        "advancedmd_transactions_daily_schedule"
    )
    assert order.index("advancedmd_transactions_daily_schedule") < order.index(
        "advancedmd_charges_out_daily_schedule"
    )
    assert order[-1] == "advancedmd_eligibility_daily_schedule"

    mountain = ZoneInfo("America/Denver")
    for offset in range(366):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=offset)
        for schedule in (claims, payments, charges_out):
            minute, hour = (int(x) for x in schedule.cron_schedule.split()[:2])
            start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=mountain)
            for running in (start, start + dt.timedelta(minutes=45)):
                assert not is_peak(running), (schedule.name, running)
                for zone in US_PRACTICE_ZONES:
                    local = running.astimezone(ZoneInfo(zone))
                    real_time = local.weekday() < 6 and dt.time(7) <= local.time() <= dt.time(20, 45)
                    assert not real_time, (schedule.name, zone, local)
    budget = claims_budget()
    assert budget["run_minutes"] == 20 and budget["run_minutes"] < budget["minutes_before_eligibility"]


def test_a_night_asks_at_most_its_budget_of_visits_and_every_open_visit_within_a_few_nights():
    from ingest.advancedmd.claimstatus import visits_due

    monday = dt.date(2025, 3, 10)
    few = list(range(1000, 1100))
    assert visits_due(few, 2_400, monday) == few
    # 7,000 open visits, 2,400 a night: every one within 3 nights; ids all multiples of 3 (skewed): 4 nights.
    for many, turns in ((list(range(5000, 12_000)), 3), (list(range(0, 21_000, 3)), 4)):
        nights = [visits_due(many, 2_400, monday + dt.timedelta(days=n)) for n in range(turns)]
        assert all(0 < len(night) <= 2_400 for night in nights)
        assert sorted(v for night in nights for v in night) == many


def test_worst_case_tier1_calls_fit_the_peak_limit():
    from orchestration.defs.advancedmd.schedules import tier1_budget, tier1_calls

    assert DEFAULT_LIMITS[Tier.HIGH].peak == 1
    assert tier1_calls(1_000) == 1 and tier1_calls(1_001) == 4 and tier1_calls(4_500) == 10
    budget = tier1_budget()
    assert budget["quarter_hour"] <= budget["quarter_hour_limit"] == 15
    assert budget["hour"] <= budget["hour_limit"] == 60


def test_nightly_schedule_rereads_yesterday(var_dir):
    from orchestration.defs.advancedmd.schedules import advancedmd_visits_daily_schedule

    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2025, 3, 11, 8, 30, tzinfo=dt.UTC)
    )
    request = advancedmd_visits_daily_schedule(context)
    assert request.partition_key == "2025-03-10"


def test_the_environment_chooses_live_or_simulator_and_secrets_stay_in_env_vars(var_dir, monkeypatch):
    from orchestration.defs.advancedmd.resources import (
        LiveAdvancedMDResource,
        SimulatedAdvancedMDResource,
        advancedmd_resource,
    )

    assert isinstance(advancedmd_resource(), SimulatedAdvancedMDResource)
    monkeypatch.setenv("MENTALSPACE_ADVANCEDMD", "live")
    monkeypatch.setenv("AMD_PASSWORD", "not-for-logs")
    live = advancedmd_resource()
    assert isinstance(live, LiveAdvancedMDResource)
    assert "not-for-logs" not in repr(live)
    monkeypatch.setenv("MENTALSPACE_ADVANCEDMD", "sandbox")
    with pytest.raises(PlatformError, match="MENTALSPACE_ADVANCEDMD"):
        advancedmd_resource()


def test_live_resource_reads_credentials_from_env_vars_and_never_logs_them(var_dir, monkeypatch, caplog):
    """The live implementation, pointed at the loopback simulator's partner login (no network)."""
    import logging

    from ingest.advancedmd.clock import FakeClock
    from ingest.advancedmd.simulator import SimulatorConfig, SimulatorDataset, start_simulator
    from orchestration.defs.advancedmd.resources import LiveAdvancedMDResource

    clock = FakeClock(dt.datetime(2025, 3, 8, 2, 0, tzinfo=dt.UTC))
    with start_simulator(
        SimulatorDataset.synthetic(seed=3, n_patients=5, n_days=2), SimulatorConfig(), clock=clock
    ) as sim:
        creds = sim.credentials()
        monkeypatch.setenv("AMD_USERNAME", creds.username)
        monkeypatch.setenv("AMD_PASSWORD", creds.password)
        monkeypatch.setenv("AMD_OFFICE_KEY", creds.office_key)
        resource = LiveAdvancedMDResource(
            username=dg.EnvVar("AMD_USERNAME"),
            password=dg.EnvVar("AMD_PASSWORD"),
            office_key=dg.EnvVar("AMD_OFFICE_KEY"),
            app_name="TEMP",
            login_url=sim.login_url,
        )
        caplog.set_level(logging.DEBUG)
        with resource.process_config_and_initialize().connect() as amd:
            page = amd.client.lookup_patients()
        # The next step (another client, as in another run's process) reuses the session the deployment keeps.
        with resource.process_config_and_initialize().connect() as again:
            again.client.lookup_patients()
        assert sim.counters.logins == 1 and again.client.stats.logins == 0
    assert page.item_count == 5 and amd.office_key == creds.office_key
    session_file = var_dir / "advancedmd" / "sessions" / f"{creds.office_key}.json"
    assert session_file.stat().st_mode & 0o077 == 0  # the token is a secret: owner only
    assert creds.password not in caplog.text and creds.password not in repr(resource)


def test_the_deployments_live_resource_targets_a_sandbox_through_amd_login_url_and_amd_app_name(
    var_dir, monkeypatch
):
    """With no --base-url, AMD_LOGIN_URL and AMD_APP_NAME alone point the deployment's live resource at a sandbox
    (here the simulator, registered for an app name only the environment gives)."""
    from ingest.advancedmd.clock import FakeClock
    from ingest.advancedmd.simulator import SimulatorConfig, SimulatorDataset, start_simulator
    from orchestration.defs.advancedmd.resources import LiveAdvancedMDResource, advancedmd_resource

    clock = FakeClock(dt.datetime(2025, 3, 8, 2, 0, tzinfo=dt.UTC))
    with start_simulator(
        SimulatorDataset.synthetic(seed=3, n_patients=5, n_days=2),
        SimulatorConfig(app_names=("SANDBOXAPP",)),
        clock=clock,
    ) as sim:
        creds = sim.credentials()
        for name, value in {
            "MENTALSPACE_ADVANCEDMD": "live",
            "AMD_USERNAME": creds.username,
            "AMD_PASSWORD": creds.password,
            "AMD_OFFICE_KEY": creds.office_key,
            "AMD_LOGIN_URL": sim.login_url,
            "AMD_APP_NAME": "SANDBOXAPP",
        }.items():
            monkeypatch.setenv(name, value)
        resource = advancedmd_resource()
        assert isinstance(resource, LiveAdvancedMDResource)
        with resource.process_config_and_initialize().connect() as amd:
            page = amd.client.lookup_patients()
        assert page.item_count == 5 and sim.counters.logins >= 1
