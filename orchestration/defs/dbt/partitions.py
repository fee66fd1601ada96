"""The measures (models/marts/metrics) are partitioned by practice-local month, so a backfill of a date range
recomputes only the months covering it.

A partition is a window of periods, by period start: the month's days, the weeks starting in it and the month
itself (a week that starts on the 29th belongs to that month). A range of partitions is one `dbt build` with the
vars period_start and period_end (dbt_project/macros/metric_window.sql); a run without partitions (the refresh
job, `mentalspace build`) recomputes the periods its changes touch (mentalspace_platform/measure_window.py), every
period, with `--full-refresh`, after a full landing.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from mentalspace_platform.environment import current_environment

# Periods before it are only rebuilt whole (a refresh); move it earlier for a practice with older history.
START_DATE = "2023-01-01"

METRIC_MONTHS = dg.MonthlyPartitionsDefinition(
    start_date=START_DATE,
    timezone=current_environment().practice_timezone,
    # The running month is a partition too: its figures change every day.
    end_offset=1,
)


def measures_window_args(window: tuple[dt.date, dt.date] | None) -> list[str]:
    """The `dbt build` arguments recomputing the periods starting in [first, last] (dates), or every period."""
    if window is None:
        return ["--full-refresh"]
    first, last = window
    return ["--vars", json.dumps({"period_start": first.isoformat(), "period_end": last.isoformat()})]


def metric_window_args(window: dg.TimeWindow | None) -> list[str]:
    """The `dbt build` arguments of one run of the measures: a window of periods, or a full rebuild."""
    if window is None:
        return measures_window_args(None)
    # The window ends at the next month's midnight in the practice's zone: its last period starts the day before.
    return measures_window_args((window.start.date(), (window.end - dt.timedelta(days=1)).date()))
