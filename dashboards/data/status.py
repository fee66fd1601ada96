"""Green / amber / red against the metric dictionary, and how values are written. Pure functions.

The warehouse computes every measure row's status once (`fct_practice_metrics.rag_status`,
dbt_project/macros/metric_status.sql) and the pages read it through `warehouse_status`. `metric_status` is the
same rule in Python for the one figure the warehouse has no row for: a supervisor's team pooled; a test over
the demo warehouse keeps it equal to the warehouse's column on every row. The PRD's three colours: green at or past the benchmark, amber between the benchmark and the alert
threshold, red past the alert threshold. Each dictionary operator reads its own columns:
- `<` / `>`: benchmark_value and alert_threshold, by direction;
- `outside` (ranges): benchmark_low..benchmark_high is green, outside alert_low..alert_high is red;
- `deviation_pct` (average reimbursement): more than alert_threshold % above or below the scope's own six-month
  benchmark (`deviation_benchmark`) is red once the period has settled, amber before; anything else green;
- `below_required` (supervision hours): logged (numerator) of required (denominator); short in a
  finished period is red, short in the running period is amber (there is still time).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

from dashboards.data.dictionary import MetricDefinition

GREEN, AMBER, RED, GREY = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e"
_EPSILON = 1e-9
_SHORT_UNITS = {"hours": " h", "minutes": " min", "days": " days", "sessions": ""}


class Status(enum.IntEnum):
    """Ordered so that max() is the worst."""

    UNKNOWN = 0
    GOOD = 1
    REVIEW = 2
    URGENT = 3

    @property
    def colour(self) -> str:
        return {Status.GOOD: GREEN, Status.REVIEW: AMBER, Status.URGENT: RED}.get(self, GREY)

    @property
    def team_label(self) -> str:
        """The My Team wording."""
        return {Status.GOOD: "On track", Status.REVIEW: "Review", Status.URGENT: "Urgent"}.get(
            self, "No data"
        )

    @property
    def matrix_label(self) -> str:
        """The Practice Overview wording."""
        return {
            Status.GOOD: "Excellent",
            Status.REVIEW: "Needs coaching",
            Status.URGENT: "Performance plan",
        }.get(self, "No data")


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def metric_status(
    definition: MetricDefinition,
    value,
    numerator=None,
    denominator=None,
    previous=None,
    period_running: bool = False,
    benchmark=None,
    period_settled: bool | None = None,
) -> Status:
    """The status of one value of a measure against its dictionary benchmark and alert bounds."""
    value, previous, benchmark = _num(value), _num(previous), _num(benchmark)
    if period_settled is None:
        period_settled = not period_running
    op = definition.alert_operator
    if op == "below_required":
        logged, required = _num(numerator), _num(denominator)
        if logged is None or required is None or required <= 0:
            return Status.UNKNOWN
        if logged + _EPSILON >= required:
            return Status.GOOD
        return Status.REVIEW if period_running else Status.URGENT
    if value is None:
        return Status.UNKNOWN
    if op == "deviation_pct":
        if benchmark is None or benchmark == 0 or definition.alert_threshold is None:
            return Status.UNKNOWN
        if abs(value - benchmark) * 100 <= definition.alert_threshold * abs(benchmark) + _EPSILON:
            return Status.GOOD
        # An unsettled period is still filling in (claims pay over weeks): worth a look, not an alarm.
        return Status.URGENT if period_settled else Status.REVIEW
    if definition.direction == "range" or op == "outside":
        low, high = definition.benchmark_low, definition.benchmark_high
        if low is None or high is None:
            return Status.UNKNOWN
        if low - _EPSILON <= value <= high + _EPSILON:
            return Status.GOOD
        alert_low, alert_high = definition.alert_low, definition.alert_high
        if (alert_low is not None and value < alert_low - _EPSILON) or (
            alert_high is not None and value > alert_high + _EPSILON
        ):
            return Status.URGENT
        return Status.REVIEW
    benchmark, alert = definition.benchmark_value, definition.alert_threshold
    if benchmark is None:
        return Status.UNKNOWN
    if definition.direction == "lower_is_better":
        if value <= benchmark + _EPSILON:
            return Status.GOOD
        return Status.URGENT if alert is not None and value > alert + _EPSILON else Status.REVIEW
    if value + _EPSILON >= benchmark:
        return Status.GOOD
    return Status.URGENT if alert is not None and value < alert - _EPSILON else Status.REVIEW


def warehouse_status(row: dict | None) -> Status:
    """The status the warehouse computed for one row of fct_practice_metrics (its `rag_status`), UNKNOWN
    without a row. Every single clinician's or the practice's figure reads this; `metric_status` above is the
    same rule for a team's pooled figure, which has no warehouse row (tests keep the two equal)."""
    if not row or not row.get("rag_status"):
        return Status.UNKNOWN
    return Status[row["rag_status"]]


# Revenue against the practice's monthly target is not a dictionary measure: the PRD gives it as an
# administrator escalation ("revenue < 90% of target two months running"). The bound is dbt's var
# revenue_target_alert_pct, which the escalation uses; a test keeps the two equal.
REVENUE_TARGET_ALERT_PCT = 90.0


def revenue_target_status(revenue, target, share_of_month_gone: float = 1.0) -> Status:
    """Green at or past the target, amber from the alert bound up to it, red below the alert bound.

    A running month's revenue is month to date, so it is held to the target pro rata to the share of the
    month gone: otherwise every month would start red and turn green only on its last days.
    """
    revenue, target = _num(revenue), _num(target)
    if revenue is None or target is None or target <= 0 or share_of_month_gone <= 0:
        return Status.UNKNOWN
    pace_pct = revenue / (target * min(share_of_month_gone, 1.0)) * 100
    if pace_pct + _EPSILON >= 100:
        return Status.GOOD
    return Status.REVIEW if pace_pct + _EPSILON >= REVENUE_TARGET_ALERT_PCT else Status.URGENT


def worst(statuses: Iterable[Status]) -> Status:
    """The overall status of several measures: the worst one that is known."""
    known = [s for s in statuses if s is not Status.UNKNOWN]
    return max(known) if known else Status.UNKNOWN


def format_value(definition: MetricDefinition | None, value, unit: str | None = None) -> str:
    """A value in the measure's unit: 84.6%, 3 notes, 18.5 hours, $112, 4.2 sessions."""
    value = _num(value)
    if value is None:
        return "—"
    unit = unit or (definition.unit if definition else "")
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "dollars":
        return f"${value:,.0f}" if abs(value) >= 1000 else f"${value:,.2f}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.1f}{_SHORT_UNITS.get(unit, ' ' + unit)}".rstrip()


def format_change(definition: MetricDefinition | None, change) -> str | None:
    """A period-on-period change for st.metric's delta: percentage points for rates."""
    change = _num(change)
    if change is None:
        return None
    unit = definition.unit if definition else ""
    if unit == "percent":
        return f"{change:+.1f} pts"
    if unit == "dollars":
        return f"{'+' if change >= 0 else '-'}${abs(change):,.2f}"
    if unit == "count":
        return f"{change:+,.0f}"
    return f"{change:+,.1f}{_SHORT_UNITS.get(unit, ' ' + unit)}".rstrip()


def delta_colour(definition: MetricDefinition | None) -> str:
    """st.metric's delta_color: a rise is good for higher-is-better measures, bad for lower-is-better."""
    if definition is None or definition.direction == "range":
        return "off"
    return "inverse" if definition.direction == "lower_is_better" else "normal"
