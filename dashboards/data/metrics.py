"""Loaders for metric marts: pure functions returning polars frames, testable without Streamlit."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dashboards.data.warehouse import query


@dataclass(frozen=True)
class MetricDefinition:
    """A metric-dictionary entry as the dashboards show it."""

    metric_key: str
    label: str
    definition: str
    counting_convention: str
    unit: str
    direction: str
    benchmark_value: float | None
    alert_operator: str | None
    alert_threshold: float | None


def metric_definition(metric_key: str) -> MetricDefinition:
    frame = query(
        "select metric_key, label, definition, counting_convention, unit, direction, "
        "cast(benchmark_value as double) as benchmark_value, alert_operator, "
        "cast(alert_threshold as double) as alert_threshold "
        "from reference.metric_dictionary where metric_key = ?",
        [metric_key],
    )
    if frame.is_empty():
        raise KeyError(f"metric '{metric_key}' is not in the metric dictionary")
    return MetricDefinition(**frame.row(0, named=True))


def clinicians() -> pl.DataFrame:
    """Clinician ids and names for pickers."""
    return query("select clinician_id, clinician_name from marts.dim_clinicians order by clinician_name")


def metric_series(metric_key: str, period_grain: str, clinician_id: int | None) -> pl.DataFrame:
    """One metric's periods for a clinician (or the practice when clinician_id is None), oldest first."""
    if clinician_id is None:
        where, params = "scope = 'practice'", [metric_key, period_grain]
    else:
        where, params = "scope = 'clinician' and clinician_id = ?", [metric_key, period_grain, clinician_id]
    return query(
        "select period_start, cast(numerator as double) as numerator, cast(denominator as double) as denominator, "
        "cast(metric_value as double) as metric_value, cast(change_from_previous as double) as change_from_previous "
        f"from marts.fct_practice_metrics where metric_key = ? and period_grain = ? and {where} "
        "order by period_start",
        params,
    )


def data_freshness() -> str | None:
    """When the metrics mart was last built (DuckDB and PostgreSQL both keep no such stamp, so we read the
    newest appointment change the mart knows of)."""
    frame = query("select max(status_changed_at) as newest from marts.fct_appointments")
    newest = frame.item(0, 0) if not frame.is_empty() else None
    return None if newest is None else f"{newest:%Y-%m-%d %H:%M} UTC"
