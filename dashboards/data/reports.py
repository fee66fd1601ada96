"""Module 10 reports (billing and administrators): revenue by clinician, CPT code, payer and payment
method; AR aging; claim denials by CARC with their trend; payer mix."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from dashboards.data.cache import cached
from dashboards.data.warehouse import query

REVENUE_DIMENSIONS = {
    "clinician": "coalesce(c.clinician_name, 'Clinician #' || cast(r.clinician_id as varchar))",
    "cpt_code": "r.cpt_code",
    "payer": "coalesce(p.payer_name, 'Client (self-pay, copays)')",
    "payment_method": "r.payment_method",
}
AGING_BUCKETS = ("CURRENT", "31_60", "61_90", "91_120", "120_PLUS")
AGING_LABELS = {
    "CURRENT": "Current (0–30)",
    "31_60": "31–60",
    "61_90": "61–90",
    "91_120": "91–120",
    "120_PLUS": "120+",
}


@cached(max_entries=64)
def revenue_by(dimension: str, month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """Payments applied to charges (cash basis, by payment month) grouped by one dimension, largest first."""
    label = REVENUE_DIMENSIONS[dimension]
    frame = query(
        f"select {label} as {dimension}, sum(r.revenue_amount) as revenue, sum(r.charge_count) as charges_paid "
        "from marts.fct_revenue as r "
        "left join marts.dim_clinicians as c on r.clinician_id = c.clinician_id "
        "left join marts.dim_payers as p on r.payer_id = p.payer_id "
        "where r.revenue_month_start between ? and ? group by 1 order by revenue desc",
        [month_from, month_to],
    )
    frame = frame.with_columns(pl.col("revenue").cast(pl.Float64), pl.col("charges_paid").cast(pl.Int64))
    total = frame["revenue"].sum() if not frame.is_empty() else 0
    return frame.with_columns(
        (pl.col("revenue") / total * 100 if total else pl.lit(None, pl.Float64)).round(1).alias("share_pct")
    )


@cached(max_entries=64)
def revenue_by_month(month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """Revenue per month split into insurance and client money."""
    frame = query(
        "select revenue_month_start as month, payment_source, sum(revenue_amount) as revenue "
        "from marts.fct_revenue where revenue_month_start between ? and ? group by 1, 2 order by 1, 2",
        [month_from, month_to],
    )
    return frame.with_columns(pl.col("revenue").cast(pl.Float64))


@cached(max_entries=32)
def ar_aging(month: dt.date) -> pl.DataFrame:
    """Receivables on the month's last day (today for the running month) by payer and aging bucket."""
    frame = query(
        "select coalesce(p.payer_name, 'Client balance') as payer, a.aging_bucket, sum(a.outstanding_amount) as outstanding, "
        "sum(a.charge_count) as charges from marts.fct_ar_aging as a "
        "left join marts.dim_payers as p on a.payer_id = p.payer_id "
        "where a.month_start = ? group by 1, 2",
        [month],
    )
    return frame.with_columns(pl.col("outstanding").cast(pl.Float64), pl.col("charges").cast(pl.Int64))


def aging_buckets(aging: pl.DataFrame) -> pl.DataFrame:
    """The aging totals per bucket, in bucket order, with each bucket's share."""
    totals = {b: 0.0 for b in AGING_BUCKETS}
    counts = {b: 0 for b in AGING_BUCKETS}
    for row in aging.iter_rows(named=True):
        totals[row["aging_bucket"]] = totals.get(row["aging_bucket"], 0.0) + (row["outstanding"] or 0)
        counts[row["aging_bucket"]] = counts.get(row["aging_bucket"], 0) + (row["charges"] or 0)
    grand = sum(totals.values())
    return pl.DataFrame(
        {
            "bucket": [AGING_LABELS[b] for b in AGING_BUCKETS],
            "outstanding": [totals[b] for b in AGING_BUCKETS],
            "charges": [counts[b] for b in AGING_BUCKETS],
            "share_pct": [round(totals[b] / grand * 100, 1) if grand else None for b in AGING_BUCKETS],
        }
    )


def aging_by_payer(aging: pl.DataFrame) -> pl.DataFrame:
    """Payers as rows, buckets as columns, largest balance first."""
    if aging.is_empty():
        return pl.DataFrame(
            schema={
                "payer": pl.String,
                **{AGING_LABELS[b]: pl.Float64 for b in AGING_BUCKETS},
                "total": pl.Float64,
            }
        )
    wide = aging.pivot(on="aging_bucket", index="payer", values="outstanding", aggregate_function="sum")
    for bucket in AGING_BUCKETS:
        if bucket not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(bucket))
    wide = wide.select("payer", *AGING_BUCKETS).fill_null(0.0)
    wide = wide.with_columns(pl.sum_horizontal(*AGING_BUCKETS).alias("total")).sort("total", descending=True)
    return wide.rename(AGING_LABELS)


@cached(max_entries=32)
def denials_by_carc(month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """Denied claims by adjudication month and denial reason (CARC, with its label), with amounts."""
    frame = query(
        "select cast(date_trunc('month', cl.adjudicated_date) as date) as month, "
        "coalesce(cl.denial_carc_code, 'none given') as carc_code, "
        "coalesce(t.short_label, 'Unlabelled reason') as reason, count(*) as claims_denied, "
        "sum(cl.total_charge_amount) as amount_denied "
        "from marts.fct_claims as cl "
        "left join reference.terminology__carc_codes as t on cl.denial_carc_code = t.code "
        "where cl.is_denied and cl.adjudicated_date between ? and ? group by 1, 2, 3 order by 1, 4 desc",
        [month_from, _month_end(month_to)],
    )
    return frame.with_columns(
        pl.col("amount_denied").cast(pl.Float64), pl.col("claims_denied").cast(pl.Int64)
    )


@cached(max_entries=32)
def claims_adjudicated(month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """Claims adjudicated and denied per month, for the denial rate."""
    frame = query(
        "select month_start as month, claims_adjudicated, claims_denied, claim_denial_rate_pct "
        "from marts.fct_billing_monthly_summary where scope = 'practice' and month_start between ? and ? "
        "order by month_start",
        [month_from, month_to],
    )
    return frame.with_columns(
        pl.col("claim_denial_rate_pct").cast(pl.Float64),
        pl.col("claims_adjudicated", "claims_denied").cast(pl.Int64),
    )


@cached(max_entries=32)
def era_denial_adjustments(month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """Denial adjustments on posted 835 remittances by CARC and payer (empty until ERAs are loaded)."""
    frame = query(
        "select carc_code, coalesce(carc_label, 'Unlabelled reason') as reason, payer_name as payer, "
        "count(*) as adjustments, sum(adjustment_amount) as amount "
        "from marts.fct_era_adjustments where is_denial and not is_reversal "
        "and payment_month between ? and ? group by 1, 2, 3 order by amount desc",
        [month_from, month_to],
    )
    return frame.with_columns(pl.col("amount").cast(pl.Float64), pl.col("adjustments").cast(pl.Int64))


def denial_reasons(denials: pl.DataFrame) -> pl.DataFrame:
    """Denials over the whole range grouped by CARC, most frequent first, with each reason's share."""
    if denials.is_empty():
        return pl.DataFrame(
            schema={
                "carc_code": pl.String,
                "reason": pl.String,
                "claims_denied": pl.Int64,
                "amount_denied": pl.Float64,
                "share_pct": pl.Float64,
            }
        )
    grouped = (
        denials.group_by("carc_code", "reason")
        .agg(pl.col("claims_denied").sum(), pl.col("amount_denied").sum())
        .sort(["claims_denied", "carc_code"], descending=[True, False])
    )
    total = grouped["claims_denied"].sum()
    return grouped.with_columns((pl.col("claims_denied") / total * 100).round(1).alias("share_pct"))


@cached(max_entries=32)
def payer_mix(month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """Per payer (self-pay as its own line): charges billed by service month and what they brought in."""
    frame = query(
        "select coalesce(p.payer_name, 'Self-pay') as payer, count(*) as charge_lines, "
        "sum(ch.charge_amount) as billed, sum(ch.paid_amount) as paid, sum(ch.balance_amount) as outstanding "
        "from marts.fct_charges as ch left join marts.dim_payers as p on ch.payer_id = p.payer_id "
        "where not ch.is_void and ch.service_date between ? and ? group by 1 order by billed desc",
        [month_from, _month_end(month_to)],
    )
    frame = frame.with_columns(
        pl.col("billed", "paid", "outstanding").cast(pl.Float64), pl.col("charge_lines").cast(pl.Int64)
    )
    total = frame["billed"].sum() if not frame.is_empty() else 0
    return frame.with_columns(
        (pl.col("billed") / total * 100 if total else pl.lit(None, pl.Float64))
        .round(1)
        .alias("share_of_billed_pct"),
        (pl.col("paid") / pl.col("billed") * 100).round(1).alias("paid_pct"),
    )


def _month_end(month: dt.date) -> dt.date:
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


@dataclass(frozen=True)
class AgingReport:
    """The AR aging tab: totals per bucket and per payer, and the receivables outstanding."""

    buckets: pl.DataFrame
    by_payer: pl.DataFrame
    outstanding: float


@cached(max_entries=32)
def aging_report(month: dt.date) -> AgingReport | None:
    """The aging tab worked out once per month rather than on every render (None: nothing outstanding)."""
    rows = ar_aging(month)
    if rows.is_empty():
        return None
    buckets = aging_buckets(rows)
    return AgingReport(
        buckets=buckets, by_payer=aging_by_payer(rows), outstanding=float(buckets["outstanding"].sum())
    )


@dataclass(frozen=True)
class DenialReport:
    """The claim denials tab: the denial rate over the range, denials by month and reason, and by reason."""

    claims_denied: int
    claims_adjudicated: int
    by_month: pl.DataFrame  # month, carc_code, reason, claims_denied, amount_denied
    trend: pl.DataFrame  # by_month with a CARC label for the chart
    reasons: pl.DataFrame


@cached(max_entries=32)
def denial_report(month_from: dt.date, month_to: dt.date) -> DenialReport:
    """The denials tab worked out once per range rather than on every render."""
    rate = claims_adjudicated(month_from, month_to)
    by_month = denials_by_carc(month_from, month_to)
    return DenialReport(
        claims_denied=int(rate["claims_denied"].sum()),
        claims_adjudicated=int(rate["claims_adjudicated"].sum()),
        by_month=by_month,
        trend=by_month.with_columns((pl.col("carc_code") + " " + pl.col("reason")).alias("CARC")),
        reasons=denial_reasons(by_month),
    )
