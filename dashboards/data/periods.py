"""The warehouse's "today" and how fresh its data is; week and month arithmetic.

Pages cut "this week" and "this month" at the warehouse's as-of date (the date its point-in-time
measures and alerts were computed for), not at the wall clock, so the figures on a page always belong
to the same day. Weeks start on Monday, as in the marts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dashboards.data.cache import cached
from dashboards.data.warehouse import query, reader
from operational_api.settings import practice_timezone


@dataclass(frozen=True)
class Freshness:
    """What the figures are as of, and when the warehouse was last built (when the backend can tell)."""

    as_of: dt.date
    built_at: dt.datetime | None

    @property
    def caption(self) -> str:
        built = f", warehouse built {self.built_at:%Y-%m-%d %H:%M} UTC" if self.built_at else ""
        return f"Figures as of {self.as_of:%a %d %b %Y}{built}; pages re-read the warehouse within seconds of a rebuild."


@cached(max_entries=4)
def freshness() -> Freshness:
    """The as-of date of the alerts and AR marts (the build's "today"), and the DuckDB file's build time."""
    frame = query(
        "select (select max(as_of_date) from marts.fct_compliance_alerts) as alerts_as_of, "
        "(select max(as_of_date) from marts.fct_ar_aging) as ar_as_of"
    )
    row = frame.row(0, named=True)
    as_of = row["alerts_as_of"] or row["ar_as_of"] or dt.datetime.now(ZoneInfo(practice_timezone())).date()
    return Freshness(as_of=as_of, built_at=reader().built_at())


def as_of() -> dt.date:
    return freshness().as_of


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month_start(day: dt.date) -> dt.date:
    return month_start(month_start(day) - dt.timedelta(days=1))


def period_start(day: dt.date, grain: str) -> dt.date:
    """The start of the week or month holding `day`."""
    return week_start(day) if grain == "week" else month_start(day) if grain == "month" else day


def previous_period_start(day: dt.date, grain: str) -> dt.date:
    start = period_start(day, grain)
    if grain == "week":
        return start - dt.timedelta(days=7)
    if grain == "month":
        return previous_month_start(start)
    return start - dt.timedelta(days=1)


def months_back(day: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months before the month of `day`."""
    start = month_start(day)
    for _ in range(count):
        start = previous_month_start(start)
    return start


def period_label(start: dt.date, as_of: dt.date, grain: str = "month", settled: bool = False) -> str:
    """How a page names the period a figure belongs to: "this week", "month to date", "Oct 2026, settled",
    "last week", "Oct 2026" (months short: card labels must fit their card). Every figure that could be read
    for another period says which one it is."""
    if grain == "week":
        this_week = week_start(as_of)
        if start == this_week:
            return "this week"
        return "last week" if start == this_week - dt.timedelta(days=7) else f"week of {start:%d %b %Y}"
    if start == month_start(as_of):
        return "month to date"
    return f"{start:%b %Y}" + (", settled" if settled else "")
