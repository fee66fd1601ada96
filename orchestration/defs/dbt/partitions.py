"""The measures (models/marts/metrics) are partitioned by practice-local month, so a backfill of a date range
recomputes only the months covering it.

A partition is a window of periods, by period start: the month's days, the weeks starting in it and the month
itself (a week that starts on the 29th belongs to that month). A range of partitions is one `dbt build` with the
window in MENTALSPACE_PERIOD_START and MENTALSPACE_PERIOD_END (dbt_project/macros/metric_window.sql); a run without
partitions (the refresh job, `mentalspace build`) recomputes the periods its changes touch
(mentalspace_platform/measure_window.py), every period, with `--full-refresh`, after a full landing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

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


# The window of periods a `dbt build` of the measures recomputes (dbt_project/macros/metric_window.sql).
PERIOD_START_VAR = "MENTALSPACE_PERIOD_START"
PERIOD_END_VAR = "MENTALSPACE_PERIOD_END"


@dataclasses.dataclass(frozen=True)
class MeasuresBuild:
    """How a `dbt build` of the measures is told its window: command-line arguments and environment variables."""

    args: list[str]
    env: dict[str, str]


def measures_window_build(window: tuple[dt.date, dt.date] | None) -> MeasuresBuild:
    """The build recomputing the periods starting in [first, last] (dates), or every period."""
    if window is None:
        return MeasuresBuild(["--full-refresh"], {})
    first, last = window
    return MeasuresBuild([], {PERIOD_START_VAR: first.isoformat(), PERIOD_END_VAR: last.isoformat()})


def metric_window_build(window: dg.TimeWindow | None) -> MeasuresBuild:
    """The build of one run of the measures: a window of periods, or a full rebuild."""
    if window is None:
        return measures_window_build(None)
    # The window ends at the next month's midnight in the practice's zone: its last period starts the day before.
    return measures_window_build((window.start.date(), (window.end - dt.timedelta(days=1)).date()))
