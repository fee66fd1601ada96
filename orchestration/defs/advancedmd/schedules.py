"""AdvancedMD jobs and schedules (PRD Module 6: patients hourly, visits every 15 minutes), within the tier budget.

Rate limits are per office key and per tier, measured per minute; peak is 06:00-18:00 Mountain
Time, Monday to Friday. Crons therefore run in America/Denver.

Tier 1 (getupdatedpatients, getupdatedvisits): **1 call per minute at peak**, 60 off-peak.
One incremental run costs 1 call, or, when more than 1,000 records changed in the window, the
IDs-only answer plus one re-request per 500 ids: ``calls = 1 + ceil(changed / 500)``.

==================================  =======================  ==========================================
run                                  typical calls (tier 1)    worst case we budget (tier 1)
==================================  =======================  ==========================================
visits, every 15 min (:00/15/30/45)   1                         4,500 changed visits -> 1 + 9 = 10
patients, hourly at :07               1                         1,500 changed patients -> 1 + 3 = 4
one quarter hour, both                2                         14  <= 15 (15 min x 1/min)
one hour                              4 + 1 = 5 (8% of 60)      4 x 10 + 4 = 44  <= 60 (60 min x 1/min)
==================================  =======================  ==========================================

The client's limiter queues calls (never exceeds), so a worst-case run takes up to ten minutes at
peak and still ends before the next quarter hour; patients run at :07 so the two never start in
the same minute. Every process books its calls on one limiter state per office key (the store's
``advancedmd_rate_limits`` row on PostgreSQL, a locked file under var/ embedded), so overlapping runs
and the command line together never exceed a tier; the ``advancedmd_api`` pool (limit 1) only keeps
steps from competing for the budget. A burst beyond the budget is queued into the next minutes, not
sent: at worst a sync runs late, it never costs penalties.

Demographics out (``advancedmd/demographics_out``, in the hourly patients job after the pull): one tier-3
updatepatient / updateinsurance per client changed in the store (24/min at peak; ``max_pushes`` 300 caps a run at
12.5 minutes of peak budget), plus one tier-2 getdemographic per suspected conflict. Tier 3 is not tier 1: the
push never takes from the getupdated* budget above.

Claim status (``advancedmd_claims_job``: per recent visit with charges one getchargedetaildataicd10, tier 3,
and when it was billed one claimstatus request, budgeted tier 2; visits whose claims are finalized are not asked
again) runs daily at 02:00 MT, after the nightly partition re-read, and asks at most ``max_visits`` (2,400) visits a
night: 2,400 tier-2 and 2,400 tier-3 calls = 20 minutes at the off-peak 120/min, done before eligibility at 04:00
(``claims_budget()``). A practice with more open visits than that has each asked every few nights in turn
(``ingest.advancedmd.claimstatus.visits_due``), never some forgotten. Payments and write-offs
(``advancedmd_transactions_job``: one gettxhistory per patient with a visit in the last 30 days and page of 100
charges, tier 2) run daily at 02:45 MT, after claim status: 4,000 patients = 33 minutes at 120/min. 02:00-03:30
MT is off-peak every day, and outside every US practice zone's real-time warehouse window (07:00-20:45 local): the
run queue lets one AdvancedMD run per office key at a time, so the 15-minute visit runs that queue behind these
cost no dashboard freshness; the morning's first real-time refresh shows what they landed.

Charges out (``advancedmd_charges_out_job``, tier 2, one savecharges per visit) has no schedule yet:
run it off-peak (after the nightly partition re-read) when the store is billing's system of record.

The initial load never uses tier 1 (vendor rule): lookuppatient (tier 3) + getdemographic and
getdatevisits (tier 2, 12/min peak, 120/min off-peak), so run it off-peak (``mentalspace amd sync``
at night, or let the first scheduled run do it at 02:00 MT). Tier-2 schedules run off-peak:

* visits daily: yesterday's partition re-read (1 getdatevisits) at 01:30 MT;
* claim status daily at 02:00 MT and payments at 02:45 MT (above);
* eligibility daily at 04:00 MT: ``max_checks`` (400) coverages x 2-3 calls (submit + polls)
  <= 1,200 calls = 10 minutes at the off-peak 120/min, done well before 06:00.

Default status: every AdvancedMD schedule (and the freshness checks' schedule) runs from the start
where AdvancedMD is the live source (production), so visits arrive every 15 minutes without anyone
switching them on. On the simulator (the embedded demo) they start stopped: no measure reads the
simulated visits (``fct_appointments`` is the store's), every simulated run regenerates the whole
synthetic practice, and the freshness check would warn every 15 minutes about syncs nobody asked
for. They can be switched on in the UI; ``mentalspace amd sync`` runs one sync on demand.
"""

import datetime as dt
import math
from zoneinfo import ZoneInfo

import dagster as dg

from ingest.advancedmd.claimstatus import MAX_VISITS_PER_RUN
from ingest.advancedmd.client import MAX_ID_CHUNK
from ingest.advancedmd.ratelimit import DEFAULT_LIMITS, Tier
from mentalspace_platform.environment import current_environment
from orchestration.defs.advancedmd.keys import (
    CHARGE_SUBMISSIONS,
    CHARGES,
    CLAIMS,
    DEMOGRAPHICS_OUT,
    ELIGIBILITY,
    INSURANCE,
    PATIENT_LINKS,
    PATIENTS,
    PROVIDER_LINKS,
    TRANSACTIONS,
    VISIT_UPDATES,
    VISITS,
)
from orchestration.defs.advancedmd.partitions import ADVANCEDMD_DAYS
from orchestration.lib.run_queue import ADVANCEDMD_RUN_TAGS

MOUNTAIN = "America/Denver"
VISITS_CRON = "*/15 * * * *"
PATIENTS_CRON = "7 * * * *"
VISIT_DAYS_CRON = "30 1 * * *"
ELIGIBILITY_CRON = "0 4 * * *"
CLAIMS_CRON = "0 2 * * *"
TRANSACTIONS_CRON = "45 2 * * *"
# The day's signed sessions go out once a night, off-peak (tier 2 at 120 a minute: a 500-visit run in about 4
# minutes), after the payments that may settle earlier ones and before eligibility.
CHARGES_OUT_CRON = "30 3 * * *"
VISITS_CADENCE = dt.timedelta(minutes=15)
PATIENTS_CADENCE = dt.timedelta(hours=1)

IDS_ONLY_THRESHOLD = 1_000  # getupdated* answers ids only above this many rows
WORST_CASE_CHANGED_VISITS = 4_500
WORST_CASE_CHANGED_PATIENTS = 1_500
TIER1_PEAK_PER_MINUTE = DEFAULT_LIMITS[Tier.HIGH].peak


def default_schedule_status() -> dg.DefaultScheduleStatus:
    """RUNNING against live AdvancedMD, STOPPED against the simulator (module docstring says why)."""
    if current_environment().advancedmd_source == "live":
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED


SCHEDULE_STATUS = default_schedule_status()


def tier1_calls(changed: int) -> int:
    """getupdated* calls one incremental run makes for ``changed`` records in its window."""
    return 1 if changed <= IDS_ONLY_THRESHOLD else 1 + math.ceil(changed / MAX_ID_CHUNK)


def tier1_budget() -> dict[str, int]:
    """The worst-case tier-1 arithmetic of the table above, against the peak limit."""
    visits, patients = tier1_calls(WORST_CASE_CHANGED_VISITS), tier1_calls(WORST_CASE_CHANGED_PATIENTS)
    runs_per_hour = int(dt.timedelta(hours=1) / VISITS_CADENCE)
    return {
        "visits_run": visits,
        "patients_run": patients,
        "quarter_hour": visits + patients,
        "quarter_hour_limit": TIER1_PEAK_PER_MINUTE * int(VISITS_CADENCE.total_seconds() // 60),
        "hour": runs_per_hour * visits + patients,
        "hour_limit": TIER1_PEAK_PER_MINUTE * 60,
    }


def claims_budget(max_visits: int = MAX_VISITS_PER_RUN) -> dict[str, float]:
    """Minutes one nightly claim-status run takes at most, off-peak: each visit costs one tier-3 charge detail and
    at most one tier-2 claim status, each tier with its own per-minute limit; and the minutes it has before the
    next tier-2 run (eligibility)."""
    tier2 = max_visits / DEFAULT_LIMITS[Tier.MEDIUM].off_peak
    tier3 = max_visits / DEFAULT_LIMITS[Tier.LOW].off_peak
    return {
        "run_minutes": max(tier2, tier3),
        "minutes_before_eligibility": _minute_of_day(ELIGIBILITY_CRON) - _minute_of_day(CLAIMS_CRON),
    }


def _minute_of_day(daily_cron: str) -> int:
    minute, hour = daily_cron.split()[:2]
    return int(hour) * 60 + int(minute)


ADVANCEDMD_SYNC_JOB = dg.define_asset_job(
    "advancedmd_sync_job",
    selection=dg.AssetSelection.assets(
        PATIENTS, INSURANCE, PATIENT_LINKS, DEMOGRAPHICS_OUT, VISIT_UPDATES, PROVIDER_LINKS
    ),
    description="One incremental AdvancedMD sync: patients (+ links, demographics pushed), then visits "
    "(`mentalspace amd sync`).",
    tags=ADVANCEDMD_RUN_TAGS,
)
PATIENTS_JOB = dg.define_asset_job(
    "advancedmd_patients_job",
    # PRD: the hourly patient sync goes both ways: AdvancedMD's changes in, then the store's out.
    selection=dg.AssetSelection.assets(PATIENTS, INSURANCE, PATIENT_LINKS, DEMOGRAPHICS_OUT),
    tags=ADVANCEDMD_RUN_TAGS,
)
VISITS_JOB = dg.define_asset_job(
    "advancedmd_visits_job", selection=dg.AssetSelection.assets(VISIT_UPDATES), tags=ADVANCEDMD_RUN_TAGS
)
VISIT_DAYS_JOB = dg.define_asset_job(
    "advancedmd_visit_days_job",
    selection=dg.AssetSelection.assets(VISITS, CHARGES),
    description="Replace one date of service (backfills: `mentalspace amd backfill` or the UI).",
    tags=ADVANCEDMD_RUN_TAGS,
)
ELIGIBILITY_JOB = dg.define_asset_job(
    "advancedmd_eligibility_job", selection=dg.AssetSelection.assets(ELIGIBILITY), tags=ADVANCEDMD_RUN_TAGS
)
CHARGES_OUT_JOB = dg.define_asset_job(
    "advancedmd_charges_out_job",
    selection=dg.AssetSelection.assets(CHARGE_SUBMISSIONS),
    description="Submit completed, signed, not-on-hold sessions' charges through savecharges (exactly once).",
    # In the office key's run queue with the other AdvancedMD runs (it shares their tier-2 budget); its own
    # office lock still makes a second run that starts anyway skip rather than wait.
    tags=ADVANCEDMD_RUN_TAGS,
)
TRANSACTIONS_JOB = dg.define_asset_job(
    "advancedmd_transactions_job",
    selection=dg.AssetSelection.assets(TRANSACTIONS),
    tags=ADVANCEDMD_RUN_TAGS,
    description="Payments and write-offs (gettxhistory) of patients with recent visits; tier 2, run off-peak.",
)
CLAIMS_JOB = dg.define_asset_job(
    "advancedmd_claims_job",
    selection=dg.AssetSelection.assets(CLAIMS),
    tags=ADVANCEDMD_RUN_TAGS,
    description="Claim status (276/277) and date billed of recent visits' claims; tier 2-3, run off-peak.",
)


# What dg.define_asset_job returns (its class is not exported by name).
JOB_KIND = type(ADVANCEDMD_SYNC_JOB)


def _in_mountain_time(name: str, job: JOB_KIND, cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=MOUNTAIN,
        default_status=SCHEDULE_STATUS,
    )


advancedmd_visits_15min_schedule = _in_mountain_time(
    "advancedmd_visits_15min_schedule", VISITS_JOB, VISITS_CRON
)
advancedmd_patients_hourly_schedule = _in_mountain_time(
    "advancedmd_patients_hourly_schedule", PATIENTS_JOB, PATIENTS_CRON
)
advancedmd_eligibility_daily_schedule = _in_mountain_time(
    "advancedmd_eligibility_daily_schedule", ELIGIBILITY_JOB, ELIGIBILITY_CRON
)
advancedmd_claims_daily_schedule = _in_mountain_time(
    "advancedmd_claims_daily_schedule", CLAIMS_JOB, CLAIMS_CRON
)
advancedmd_transactions_daily_schedule = _in_mountain_time(
    "advancedmd_transactions_daily_schedule", TRANSACTIONS_JOB, TRANSACTIONS_CRON
)
advancedmd_charges_out_daily_schedule = _in_mountain_time(
    "advancedmd_charges_out_daily_schedule", CHARGES_OUT_JOB, CHARGES_OUT_CRON
)


@dg.schedule(
    job=VISIT_DAYS_JOB,
    cron_schedule=VISIT_DAYS_CRON,
    execution_timezone=MOUNTAIN,
    name="advancedmd_visits_daily_schedule",
    default_status=SCHEDULE_STATUS,
)
def advancedmd_visits_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Re-read yesterday (practice-local) as a whole: the nightly safety net under the incremental sync."""
    tz = ZoneInfo(ADVANCEDMD_DAYS.timezone)
    yesterday = context.scheduled_execution_time.astimezone(tz).date() - dt.timedelta(days=1)
    return dg.RunRequest(run_key=yesterday.isoformat(), partition_key=yesterday.isoformat())


SCHEDULES = [
    advancedmd_visits_15min_schedule,
    advancedmd_patients_hourly_schedule,
    advancedmd_visits_daily_schedule,
    advancedmd_eligibility_daily_schedule,
    advancedmd_claims_daily_schedule,
    advancedmd_transactions_daily_schedule,
    advancedmd_charges_out_daily_schedule,
]
JOBS = [
    ADVANCEDMD_SYNC_JOB,
    PATIENTS_JOB,
    VISITS_JOB,
    VISIT_DAYS_JOB,
    ELIGIBILITY_JOB,
    CHARGES_OUT_JOB,
    TRANSACTIONS_JOB,
    CLAIMS_JOB,
]
