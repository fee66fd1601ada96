"""Loaders for `marts.fct_practice_metrics` and the clinician dimension.

Scope is an argument: `clinician_ids` is the set the signed-in user may see (None = everyone, an
administrator). Practice-wide rows are returned only for everyone-scope callers, so a supervisor's
page cannot show the practice aggregate by passing a flag.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dashboards.data.cache import cached
from dashboards.data.warehouse import id_filter, query

METRIC_COLUMNS = ("numerator", "denominator", "metric_value", "previous_value", "change_from_previous")


def _as_floats(frame: pl.DataFrame, columns) -> pl.DataFrame:
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(pl.col(c).cast(pl.Float64) for c in present)


@cached(max_entries=8)
def clinicians(clinician_ids: tuple[int, ...] | None) -> pl.DataFrame:
    """The clinicians in scope: id, name, supervisor, role, license, weekly session target, active flag."""
    return query(
        "select clinician_id, clinician_name, supervisor_id, role, license_type, weekly_session_target, is_active "
        f"from marts.dim_clinicians where {id_filter('clinician_id', clinician_ids)} order by clinician_name"
    )


@cached(max_entries=256)
def metric_rows(
    metric_keys: tuple[str, ...],
    period_grain: str,
    clinician_ids: tuple[int, ...] | None,
    period_from: dt.date,
    period_to: dt.date,
    include_practice: bool = False,
) -> pl.DataFrame:
    """Rows of these measures for the clinicians in scope (and the practice, for everyone-scope callers)
    whose period starts between `period_from` and `period_to`, oldest first."""
    scopes = [f"(scope = 'clinician' and {id_filter('clinician_id', clinician_ids)})"]
    if include_practice and clinician_ids is None:
        scopes.append("scope = 'practice'")
    return _metric_rows(metric_keys, period_grain, scopes, period_from, period_to)


@cached(max_entries=64)
def practice_metric_rows(
    metric_keys: tuple[str, ...],
    period_grain: str,
    clinician_ids: tuple[int, ...] | None,
    period_from: dt.date,
    period_to: dt.date,
) -> pl.DataFrame:
    """The practice's rows of these measures alone: for everyone-scope callers, else none."""
    scope = "scope = 'practice'" if clinician_ids is None else "false"
    return _metric_rows(metric_keys, period_grain, [scope], period_from, period_to)


def _metric_rows(
    metric_keys: tuple[str, ...],
    period_grain: str,
    scopes: list[str],
    period_from: dt.date,
    period_to: dt.date,
) -> pl.DataFrame:
    keys = ", ".join("?" for _ in metric_keys) or "null"
    frame = query(
        "select metric_key, scope, clinician_id, period_start, numerator, denominator, metric_value, "
        "previous_value, change_from_previous, rag_status from marts.fct_practice_metrics "
        f"where metric_key in ({keys}) and period_grain = ? and period_start between ? and ? "
        f"and ({' or '.join(scopes)}) order by metric_key, scope, clinician_id, period_start",
        [*metric_keys, period_grain, period_from, period_to],
    )
    return _as_floats(frame, METRIC_COLUMNS)


@cached(max_entries=256)
def metric_series(
    metric_key: str, period_grain: str, clinician_id: int | None, clinician_ids: tuple[int, ...] | None
) -> pl.DataFrame:
    """One measure's periods for one clinician (or the practice when clinician_id is None), oldest first.

    `clinician_ids` is the caller's scope: a clinician outside it, or the practice for a caller who
    cannot see everyone, gives an empty frame.
    """
    if clinician_id is None:
        where = "scope = 'practice'" if clinician_ids is None else "false"
        params = [metric_key, period_grain]
    else:
        allowed = clinician_ids is None or clinician_id in clinician_ids
        where = "scope = 'clinician' and clinician_id = ?" if allowed else "false"
        params = [metric_key, period_grain, clinician_id] if allowed else [metric_key, period_grain]
    frame = query(
        "select period_start, numerator, denominator, metric_value, previous_value, change_from_previous, rag_status "
        f"from marts.fct_practice_metrics where metric_key = ? and period_grain = ? and {where} "
        "order by period_start",
        params,
    )
    return _as_floats(frame, METRIC_COLUMNS)
