"""AdvancedMD visits and charges are partitioned by date of service (the practice-local visit date).

One partition = one ``getdatevisits`` call (tier 2). The range starts where a practice's history
may need a backfill (AdvancedMD exports go back at least 24 months; move ``START_DATE`` earlier
for an older practice) and reaches ``FUTURE_DAYS`` ahead, because the schedule is booked weeks in
advance and re-reading next week is a backfill like any other.
"""

import dagster as dg

from mentalspace_platform.environment import current_environment

START_DATE = "2023-01-01"
FUTURE_DAYS = 30

ADVANCEDMD_DAYS = dg.DailyPartitionsDefinition(
    start_date=START_DATE,
    timezone=current_environment().practice_timezone,
    end_offset=FUTURE_DAYS,
)
