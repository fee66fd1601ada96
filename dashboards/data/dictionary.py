"""The metric dictionary (`reference.metric_dictionary`): labels, conventions, benchmarks and alert bounds.

Every target the dashboards colour against comes from here, so dbt and the dashboards always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.data.cache import cached
from dashboards.data.warehouse import query


@dataclass(frozen=True)
class MetricDefinition:
    """A metric-dictionary entry as the dashboards show it."""

    metric_key: str
    label: str
    definition: str
    counting_convention: str
    unit: str
    direction: str  # higher_is_better | lower_is_better | range
    benchmark_value: float | None
    alert_operator: str | None  # < | > | outside | deviation_pct | below_required
    alert_threshold: float | None
    category: str = ""
    benchmark_low: float | None = None
    benchmark_high: float | None = None
    alert_low: float | None = None
    alert_high: float | None = None
    alert_action: str | None = None
    georgia_rule: str | None = None
    period_grains: tuple[str, ...] = ("week", "month")

    @property
    def target_text(self) -> str:
        """The benchmark in words, e.g. '≥ 85%', '≤ 10%', '5–7 sessions', 'the required hours'."""
        suffix = "%" if self.unit == "percent" else f" {self.unit}"
        if self.direction == "range" and self.benchmark_low is not None and self.benchmark_high is not None:
            return f"{self.benchmark_low:g}–{self.benchmark_high:g}{suffix}"
        if self.alert_operator == "below_required":
            return "the required hours"
        if self.alert_operator == "deviation_pct":
            return f"within {self.alert_threshold:g}% of its own six-month average"
        if self.benchmark_value is None:
            return "—"
        sign = "≥" if self.direction == "higher_is_better" else "≤"
        return f"{sign} {self.benchmark_value:g}{suffix}"


_COLUMNS = (
    "metric_key, label, definition, counting_convention, unit, direction, "
    "cast(benchmark_value as double precision) as benchmark_value, alert_operator, "
    "cast(alert_threshold as double precision) as alert_threshold, category, "
    "cast(benchmark_low as double precision) as benchmark_low, cast(benchmark_high as double precision) as benchmark_high, "
    "cast(alert_low as double precision) as alert_low, cast(alert_high as double precision) as alert_high, "
    "alert_action, georgia_rule, period_grains"
)


@cached(max_entries=4)
def definitions() -> dict[str, MetricDefinition]:
    """Every measure of the dictionary, in the seed's order (category by category)."""
    frame = query(f"select {_COLUMNS} from reference.metric_dictionary")
    result = {}
    for row in frame.iter_rows(named=True):
        grains = tuple(g.strip() for g in (row.pop("period_grains") or "week,month").split(",") if g.strip())
        result[row["metric_key"]] = MetricDefinition(**row, period_grains=grains)
    return result


def definition(metric_key: str) -> MetricDefinition:
    """One measure's entry; a key the dictionary does not hold is a KeyError."""
    found = definitions().get(metric_key)
    if found is None:
        raise KeyError(f"metric '{metric_key}' is not in the metric dictionary")
    return found
