"""Asset checks of the AdvancedMD landing: a non-empty extract, the quarantine ratio, and freshness.

* **Non-empty** (WARN): the raw table holds rows for the office key after the run. An empty day is
  normal (a Sunday); an empty table is not.
* **Quarantine ratio**: records pandera rejected in this run, over rejected plus landed. Above 5% is
  a data-quality warning; above 50% is a structural break (a changed field format, a broken field
  template) and an ERROR. Both are computed by the landing step itself (it knows its counts), like
  the ERA balance check.
* **Freshness** (WARN): the incremental syncs' watermarks (``ingest_watermarks.updated_at`` in the
  store) moved within twice their cadence plus a margin. Evaluated every 15 minutes by
  ``advancedmd_freshness_15min_schedule`` (no API calls), so a stopped schedule or a sync failing
  run after run shows up.
"""

import datetime as dt

import dagster as dg

from ingest.advancedmd.sync import PATIENTS as PATIENTS_ENTITY
from ingest.advancedmd.sync import VISITS as VISITS_ENTITY
from ingest.advancedmd.watermarks import SqlWatermarkStore
from mentalspace_platform.landing.advancedmd import LandingStats
from orchestration.defs.advancedmd.keys import PATIENTS, VISIT_UPDATES
from orchestration.defs.advancedmd.resources import AdvancedMDResource
from orchestration.defs.advancedmd.schedules import (
    MOUNTAIN,
    PATIENTS_CADENCE,
    SCHEDULE_STATUS,
    VISITS_CADENCE,
)
from orchestration.lib.resources import OperationalStoreResource

QUARANTINE_WARN_RATIO = 0.05
QUARANTINE_ERROR_RATIO = 0.50
FRESHNESS_MARGIN = dt.timedelta(minutes=15)


def landing_check_specs(asset_key: dg.AssetKey, *entities: str) -> list[dg.AssetCheckSpec]:
    """The non-empty and quarantine-ratio checks a landing step reports for ``entities``."""
    specs = []
    for entity in entities:
        specs.append(
            dg.AssetCheckSpec(
                f"{entity}_non_empty",
                asset=asset_key,
                description=f"raw_advancedmd.{entity} holds rows for the office key (WARN when empty).",
            )
        )
        specs.append(
            dg.AssetCheckSpec(
                f"{entity}_quarantine_ratio",
                asset=asset_key,
                description=f"Share of {entity} records pandera rejected in the run: WARN above "
                f"{QUARANTINE_WARN_RATIO:.0%}, ERROR above {QUARANTINE_ERROR_RATIO:.0%}.",
            )
        )
    return specs


def landing_check_results(
    asset_key: dg.AssetKey, stats: LandingStats, rows: dict[str, int]
) -> list[dg.AssetCheckResult]:
    """Results of :func:`landing_check_specs` from a run's landing counts and the tables' row counts."""
    results = []
    for entity, total in rows.items():
        results.append(
            dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=f"{entity}_non_empty",
                passed=total > 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows": total},
            )
        )
        landed, quarantined = stats.landed[entity], stats.quarantined[entity]
        ratio = quarantined / (landed + quarantined) if landed + quarantined else 0.0
        results.append(
            dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=f"{entity}_quarantine_ratio",
                passed=ratio <= QUARANTINE_WARN_RATIO,
                severity=dg.AssetCheckSeverity.ERROR
                if ratio > QUARANTINE_ERROR_RATIO
                else dg.AssetCheckSeverity.WARN,
                metadata={"landed": landed, "quarantined": quarantined, "ratio": round(ratio, 4)},
            )
        )
    return results


def _freshness_check(asset_key: dg.AssetKey, entity: str, cadence: dt.timedelta) -> dg.AssetChecksDefinition:
    window = 2 * cadence + FRESHNESS_MARGIN

    @dg.asset_check(
        asset=asset_key,
        name="watermark_fresh",
        blocking=False,
        description=f"The {entity} watermark moved within the last {int(window.total_seconds() // 60)} minutes "
        "(twice the schedule's cadence plus a margin); WARN otherwise.",
    )
    def watermark_fresh(
        advancedmd: AdvancedMDResource, store: OperationalStoreResource
    ) -> dg.AssetCheckResult:
        updated = SqlWatermarkStore(store.engine(), create=False).updated_at(advancedmd.office_key, entity)
        if updated is None:
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"synced": False}
            )
        if updated.tzinfo is None:  # SQLite hands back naive UTC
            updated = updated.replace(tzinfo=dt.UTC)
        age = dt.datetime.now(dt.UTC) - updated
        return dg.AssetCheckResult(
            passed=age <= window,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "age_minutes": round(age.total_seconds() / 60, 1),
                "limit_minutes": int(window.total_seconds() // 60),
            },
        )

    return watermark_fresh


FRESHNESS_CHECKS = [
    _freshness_check(PATIENTS, PATIENTS_ENTITY, PATIENTS_CADENCE),
    _freshness_check(VISIT_UPDATES, VISITS_ENTITY, VISITS_CADENCE),
]
FRESHNESS_JOB = dg.define_asset_job(
    "advancedmd_freshness_job",
    selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="The AdvancedMD freshness checks alone (no API calls).",
)
# A schedule next to the checks it drives; 15 minutes = the visits' cadence.
advancedmd_freshness_15min_schedule = dg.ScheduleDefinition(
    name="advancedmd_freshness_15min_schedule",
    job=FRESHNESS_JOB,
    cron_schedule="*/15 * * * *",
    execution_timezone=MOUNTAIN,
    default_status=SCHEDULE_STATUS,
)
