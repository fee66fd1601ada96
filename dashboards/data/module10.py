"""Module 10 reports: productivity, compliance, client demographics, the quarterly performance review, and the
custom report builder's table.

Every figure is read from the marts (fct_practice_metrics, fct_unsigned_notes, dim_clients, dim_clinicians),
never recomputed. Each report's table is one function here, so the page, its CSV and the e-mailed CSV of a
subscription are the same rows (`REPORTS`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from dashboards.data.cache import cached
from dashboards.data.dictionary import definitions
from dashboards.data.overview import MATRIX_KEYS
from dashboards.data.periods import period_start
from dashboards.data.warehouse import id_filter, query

PRODUCTIVITY_METRICS = (
    "sessions_per_day",
    "kept_visit_rate",
    "no_show_rate",
    "average_documentation_time",
    "same_day_documentation_rate",
)
COMPLIANCE_METRICS = (
    "treatment_plan_currency",
    "informed_consent_currency",
    "supervision_hours_logged",
    "supervision_note_timeliness",
)
# Unsigned notes by age: the Georgia rule's 7-day deadline splits "due" from "past deadline".
AGE_BANDS = (("0-4 days", 0, 4), ("5-7 days", 5, 7), ("8-14 days", 8, 14), ("15-30 days", 15, 30))
AGE_BAND_OVER = "over 30 days"
# Counts below this are shown as "<11" (small-cell suppression, the CMS convention): nothing identifies a client.
SMALL_CELL = 11
SUPPRESSED = "<11"
DEMOGRAPHIC_DIMENSIONS = {
    "age_band": "Age band",
    "gender": "Gender",
    "payer_class": "Payer class",
    "zip3": "ZIP3",
}
# The quarterly review (PRD accountability rhythms: "90-day trend analysis") covers the measures of the clinician
# performance matrix, those that decide a clinician's Excellent / Needs coaching / Performance plan status.
REVIEW_METRICS = MATRIX_KEYS
REVIEW_DAYS = 90


def _names(clinician_ids: tuple[int, ...] | None) -> pl.DataFrame:
    return query(
        "select clinician_id, clinician_name from marts.dim_clinicians "
        f"where {id_filter('clinician_id', clinician_ids)}"
    )


@cached(max_entries=64)
def measure_table(
    metric_keys: tuple[str, ...],
    grain: str,
    clinician_ids: tuple[int, ...] | None,
    period_from: dt.date,
    period_to: dt.date,
    include_practice: bool = True,
) -> pl.DataFrame:
    """Long rows (period, who, measure, value, numerator, denominator, the warehouse's status) of these measures
    as the mart has them: one row per clinician in scope (and the practice, for everyone-scope callers) per period."""
    scopes = [f"(m.scope = 'clinician' and {id_filter('m.clinician_id', clinician_ids)})"]
    if include_practice and clinician_ids is None:
        scopes.append("m.scope = 'practice'")
    keys = ", ".join("?" for _ in metric_keys) or "null"
    frame = query(
        "select m.period_start, coalesce(c.clinician_name, 'Practice') as who, m.clinician_id, "
        "m.metric_key, m.metric_value, m.numerator, m.denominator, m.rag_status from marts.fct_practice_metrics as m "
        "left join marts.dim_clinicians as c on m.scope = 'clinician' and m.clinician_id = c.clinician_id "
        f"where m.metric_key in ({keys}) and m.period_grain = ? and m.period_start between ? and ? "
        f"and ({' or '.join(scopes)}) "
        "order by m.period_start, m.scope desc, who, m.metric_key",
        [*metric_keys, grain, period_from, period_to],
    )
    return frame.with_columns(pl.col("metric_value", "numerator", "denominator").cast(pl.Float64))


def wide(long: pl.DataFrame, metric_keys: tuple[str, ...]) -> pl.DataFrame:
    """One row per period and clinician, one column per measure (the value the mart holds, rounded to 0.01).

    Rows are keyed by clinician id (null for the practice), not by name: two clinicians may share a name (the
    large practice has such pairs), and a pivot on the name alone fails on their two values."""
    if long.is_empty():
        return pl.DataFrame(
            schema={
                "period_start": pl.Date,
                "who": pl.String,
                "clinician_id": pl.Int64,
                **{k: pl.Float64 for k in metric_keys},
            }
        )
    out = long.with_columns(pl.col("clinician_id").cast(pl.Int64)).pivot(
        on="metric_key", index=["period_start", "who", "clinician_id"], values="metric_value"
    )
    for key in metric_keys:
        if key not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(key))
    return out.select("period_start", "who", "clinician_id", *(pl.col(k).round(2) for k in metric_keys)).sort(
        "period_start", "who", "clinician_id", nulls_last=False
    )


def productivity(
    grain: str, clinician_ids: tuple[int, ...] | None, period_from: dt.date, period_to: dt.date
) -> pl.DataFrame:
    """Per clinician and period: sessions per day, KVR, no-show, documentation time, same-day documentation."""
    return wide(
        measure_table(PRODUCTIVITY_METRICS, grain, clinician_ids, period_from, period_to),
        PRODUCTIVITY_METRICS,
    )


def compliance_measures(
    grain: str, clinician_ids: tuple[int, ...] | None, period_from: dt.date, period_to: dt.date
) -> pl.DataFrame:
    """Per clinician and period: plans current, consents current, supervision hours and note timeliness."""
    return wide(
        measure_table(COMPLIANCE_METRICS, grain, clinician_ids, period_from, period_to), COMPLIANCE_METRICS
    )


def review_window(last_day: dt.date, grain: str) -> tuple[dt.date, dt.date]:
    """The first and last period starts of the periods covering the 90 days up to `last_day`."""
    return period_start(last_day - dt.timedelta(days=REVIEW_DAYS - 1), grain), period_start(last_day, grain)


def quarterly_review(grain: str, clinician_ids: tuple[int, ...] | None, last_day: dt.date) -> pl.DataFrame:
    """Per clinician in scope, review measure and period of the 90 days to `last_day`: the mart's value (with
    numerator and denominator), the dictionary's benchmark and the warehouse's status (rag_status)."""
    first, last = review_window(last_day, grain)
    long = measure_table(REVIEW_METRICS, grain, clinician_ids, first, last, include_practice=False)
    catalogue = definitions()
    order = {key: i for i, key in enumerate(REVIEW_METRICS)}
    return (
        long.with_columns(
            pl.col("metric_key").replace_strict(order, return_dtype=pl.Int64).alias("_order"),
            pl.col("metric_key")
            .replace_strict({k: catalogue[k].label for k in REVIEW_METRICS}, return_dtype=pl.String)
            .alias("measure"),
            pl.col("metric_key")
            .replace_strict({k: catalogue[k].target_text for k in REVIEW_METRICS}, return_dtype=pl.String)
            .alias("benchmark"),
        )
        .sort("who", "clinician_id", "_order", "period_start")
        .select(
            pl.col("who").alias("clinician"),
            pl.col("clinician_id").cast(pl.Int64),
            "metric_key",
            "measure",
            "period_start",
            pl.col("metric_value").round(2).alias("value"),
            "numerator",
            "denominator",
            "benchmark",
            pl.col("rag_status").alias("status"),
        )
    )


def review_summary(review: pl.DataFrame) -> pl.DataFrame:
    """One clinician's review rows summed up per measure: the first and latest values of the 90 days, the change,
    whether that is an improvement (by the dictionary's direction), the latest period's status and how many
    periods were off the benchmark."""
    catalogue = definitions()
    rows = []
    for key in REVIEW_METRICS:
        part = review.filter(pl.col("metric_key") == key)
        valued = part.filter(pl.col("value").is_not_null())
        first = valued["value"][0] if valued.height else None
        latest = valued["value"][-1] if valued.height else None
        change = None if first is None or latest is None else round(latest - first, 2)
        rows.append(
            {
                "measure": catalogue[key].label,
                "benchmark": catalogue[key].target_text,
                "first": first,
                "latest": latest,
                "change": change,
                "trend": _trend(catalogue[key].direction, change),
                "status": part["status"][-1] if part.height else None,
                "periods off benchmark": part.filter(pl.col("status").is_in(["REVIEW", "URGENT"])).height,
                "periods": part.height,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "measure": pl.String,
            "benchmark": pl.String,
            "first": pl.Float64,
            "latest": pl.Float64,
            "change": pl.Float64,
            "trend": pl.String,
            "status": pl.String,
            "periods off benchmark": pl.Int64,
            "periods": pl.Int64,
        },
    )


def _trend(direction: str, change: float | None) -> str:
    if change is None:
        return "no data"
    if abs(change) < 0.005:
        return "steady"
    if direction == "range":
        return "up" if change > 0 else "down"
    better = change > 0 if direction == "higher_is_better" else change < 0
    return "improving" if better else "worsening"


def _age_band_expr() -> pl.Expr:
    expr = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    for label, low, high in AGE_BANDS:
        expr = expr.when(pl.col("days_unsigned").is_between(low, high)).then(pl.lit(label))
    return expr.otherwise(pl.lit(AGE_BAND_OVER))


@cached(max_entries=32)
def unsigned_by_age(clinician_ids: tuple[int, ...] | None) -> pl.DataFrame:
    """Notes unsigned today (fct_unsigned_notes) per clinician and age band, with those past the deadline."""
    notes = query(
        "select coalesce(c.clinician_name, 'Clinician #' || cast(n.clinician_id as varchar)) as clinician, "
        "n.days_unsigned, n.is_past_deadline from marts.fct_unsigned_notes as n "
        "left join marts.dim_clinicians as c on n.clinician_id = c.clinician_id "
        f"where {id_filter('n.clinician_id', clinician_ids)}"
    )
    order = [label for label, _, _ in AGE_BANDS] + [AGE_BAND_OVER]
    if notes.is_empty():
        return pl.DataFrame(
            schema={"clinician": pl.String, **{b: pl.Int64 for b in order}, "past_deadline": pl.Int64}
        )
    notes = notes.with_columns(_age_band_expr().alias("age_band"))
    counts = notes.pivot(
        on="age_band", index="clinician", values="days_unsigned", aggregate_function="len"
    ).fill_null(0)
    for band in order:
        if band not in counts.columns:
            counts = counts.with_columns(pl.lit(0).alias(band))
    past = notes.group_by("clinician").agg(
        pl.col("is_past_deadline").cast(pl.Int64).sum().alias("past_deadline")
    )
    return (
        counts.select("clinician", *(pl.col(b).cast(pl.Int64) for b in order))
        .join(past, on="clinician")
        .sort("clinician")
    )


@cached(max_entries=16)
def demographics(dimension: str) -> pl.DataFrame:
    """Active clients (dim_clients) counted by one dimension; a count under 11 shows as "<11"."""
    if dimension not in DEMOGRAPHIC_DIMENSIONS:
        raise ValueError(f"unknown demographic dimension '{dimension}'")
    label = {
        "age_band": "coalesce(age_band, 'unknown')",
        "gender": "coalesce(gender, 'not recorded')",
        "zip3": "coalesce(zip3, 'not recorded')",
        # The client's payer class as the mart records it: self-pay, insured, or no policy on file.
        "payer_class": "case when is_self_pay then 'Self-pay' when has_insurance_policy then 'Insurance' "
        "else 'No policy on file' end",
    }[dimension]
    frame = query(
        f"select {label} as value, count(*) as clients from marts.dim_clients "
        "where client_status = 'ACTIVE' group by 1 order by 1"
    )
    return suppress(frame.with_columns(pl.col("clients").cast(pl.Int64)), DEMOGRAPHIC_DIMENSIONS[dimension])


def suppress(counts: pl.DataFrame, label: str) -> pl.DataFrame:
    """`value, clients` -> `<label>, clients` as text, with every count under SMALL_CELL replaced by "<11"."""
    return counts.select(
        pl.col("value").cast(pl.String).alias(label),
        pl.when(pl.col("clients") < SMALL_CELL)
        .then(pl.lit(SUPPRESSED))
        .otherwise(pl.col("clients").cast(pl.String))
        .alias("clients"),
    )


def all_demographics() -> pl.DataFrame:
    """Every dimension stacked (dimension, value, clients): the demographics report's CSV and e-mail table."""
    parts = [
        demographics(d).rename({label: "value"}).select(pl.lit(label).alias("dimension"), "value", "clients")
        for d, label in DEMOGRAPHIC_DIMENSIONS.items()
    ]
    return pl.concat(parts)


# --- Reports a subscription can deliver -------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSpec:
    """A report by name: its title and the one function giving its table for a period and filters."""

    name: str
    title: str
    table: Callable[[dt.date, dt.date, dict], pl.DataFrame]


def _ids(filters: dict) -> tuple[int, ...] | None:
    ids = filters.get("clinician_ids")
    return tuple(sorted(int(i) for i in ids)) if ids else None


def _grain(filters: dict) -> str:
    grain = filters.get("grain", "month")
    if grain not in ("day", "week", "month"):
        raise ValueError(f"unknown grain '{grain}': day, week or month")
    return grain


def _fixed_reports() -> dict[str, ReportSpec]:
    from dashboards.data import reports as billing

    return {
        spec.name: spec
        for spec in (
            ReportSpec(
                "productivity",
                "Productivity",
                lambda first, last, f: productivity(_grain(f), _ids(f), first, last),
            ),
            ReportSpec(
                "compliance",
                "Compliance",
                lambda first, last, f: compliance_measures(_grain(f), _ids(f), first, last),
            ),
            ReportSpec(
                "unsigned_notes", "Unsigned notes by age", lambda first, last, f: unsigned_by_age(_ids(f))
            ),
            ReportSpec("demographics", "Client demographics", lambda first, last, f: all_demographics()),
            # Whatever the cadence, the review is the 90 days to the delivered period's last day.
            ReportSpec(
                "quarterly_review",
                "Quarterly performance review",
                lambda first, last, f: quarterly_review(_grain(f), _ids(f), last),
            ),
            ReportSpec(
                "revenue",
                "Revenue by clinician",
                lambda first, last, f: billing.revenue_by(f.get("dimension", "clinician"), first, last),
            ),
            ReportSpec("ar_aging", "AR aging", lambda first, last, f: _aging(last)),
            ReportSpec(
                "denials",
                "Claim denials by reason",
                lambda first, last, f: billing.denial_report(first, last).reasons,
            ),
            ReportSpec("payer_mix", "Payer mix", lambda first, last, f: billing.payer_mix(first, last)),
        )
    }


def _aging(month: dt.date) -> pl.DataFrame:
    from dashboards.data import reports as billing

    report = billing.aging_report(month.replace(day=1))
    return report.buckets if report is not None else pl.DataFrame()


def fixed_reports() -> dict[str, ReportSpec]:
    return _fixed_reports()


def custom_table(definition: dict, first: dt.date, last: dt.date) -> pl.DataFrame:
    """A saved custom report's table: its measures at its grain, for the practice (scope "practice") or for
    its clinicians (scope "clinicians", the ids saved with it, already limited to its owner's scope)."""
    keys = tuple(definition["metric_keys"])
    if definition.get("scope") == "practice":
        long = measure_table(keys, _grain(definition), None, first, last, include_practice=True).filter(
            pl.col("clinician_id").is_null()
        )
    else:
        long = measure_table(keys, _grain(definition), _ids(definition) or (), first, last, False)
    return wide(long, keys)
