"""The Practice Overview data step (administrators): scorecard, clinician matrix, Georgia compliance,
revenue-cycle health, capacity planning and action items."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

import polars as pl

from dashboards.data import metrics
from dashboards.data.alerts import open_conditions
from dashboards.data.cache import cached
from dashboards.data.dictionary import definitions
from dashboards.data.periods import month_start, months_back, period_label, week_start
from dashboards.data.practice import SETTLE_MONTHS, SETTLING_KEYS, Figure, billing_months, figure
from dashboards.data.status import Status, revenue_target_status, warehouse_status
from dashboards.data.team import rows_by_clinician
from dashboards.data.warehouse import query

# Each measure has one card on the page: days in AR and the collection rate are revenue-cycle cards, so the
# scorecard's Outstanding AR is the receivables amount alone. The PRD's collection rate has its documented net
# variant beside it (see the metric dictionary).
SCORECARD_KEYS = ("kept_visit_rate", "claim_acceptance_rate")
REVENUE_CYCLE_KEYS = (
    "charge_entry_lag",
    "billing_compliance_rate",
    "days_in_ar",
    "collection_rate",
    "net_collection_rate",
)
CAPACITY_KEYS = ("schedule_fill_rate", "prime_time_utilization")
# Measures counted on the period's last day (dictionary: "today for the running period"), not summed over it:
# the running month's figure is today's, and the page says so.
AS_OF_TODAY_KEYS = ("days_in_ar", "treatment_plan_currency", "unsigned_note_backlog")
# The matrix's measures, with the short names its "why" text uses. Its status combines their
# warehouse statuses (rag_status) for the month the matrix shows; see matrix_status.
MATRIX_KEYS = (
    "kept_visit_rate",
    "sessions_per_day",
    "same_day_documentation_rate",
    "treatment_plan_currency",
    "unsigned_note_backlog",
)
MATRIX_LABELS = {
    "kept_visit_rate": "KVR",
    "sessions_per_day": "Sessions/day",
    "same_day_documentation_rate": "Same-day doc",
    "treatment_plan_currency": "Treatment plans",
    "unsigned_note_backlog": "Notes > 7 days",
}
# Red on this many matrix measures recommends a performance plan (PRD: "multiple metrics below benchmark"); one
# red or any amber is coaching. Otherwise a measure red for everybody would put every clinician on a plan.
PLAN_REDS = 2
TREND_MONTHS = 12
CAPACITY_WEEKS_BACK, CAPACITY_WEEKS_AHEAD = 8, 4

# Georgia panel lines: what the administrator checks, and the alert types that break it.
GEORGIA_PANEL = (
    ("Notes unsigned past 7 days", ("UNSIGNED_NOTE_OVERDUE", "UNSIGNED_NOTE_BILLING_HOLD")),
    (
        "Treatment plans current",
        ("TREATMENT_PLAN_MISSING", "TREATMENT_PLAN_OUT_OF_COMPLIANCE", "TREATMENT_PLAN_REVIEW_DUE"),
    ),
    ("Informed consents current", ("INFORMED_CONSENT_EXPIRED",)),
    ("Minor (guardian) consents", ("MINOR_WITHOUT_GUARDIAN_CONSENT",)),
    ("Telehealth consents", ("TELEHEALTH_WITHOUT_CONSENT",)),
    ("Safety plans for high-risk clients", ("SAFETY_PLAN_MISSING",)),
    ("HIPAA training current", ("HIPAA_TRAINING_EXPIRED",)),
    ("Supervision hours", ("SUPERVISION_HOURS_BELOW_REQUIREMENT",)),
)
EMERGENCY_CONTACT_TYPE = "COMPLETED_WITH_INCOMPLETE_DEMOGRAPHICS"
# Practice measures whose state today the Georgia panel shows from the open alerts: the warehouse's
# last-month threshold alert on them would sit beside the panel with an older figure, so it is not repeated.
GEORGIA_MEASURES = (
    "unsigned_note_backlog",
    "treatment_plan_currency",
    "informed_consent_currency",
    "minor_consent_compliance",
    "telehealth_consent_compliance",
    "safety_plan_compliance",
    "hipaa_training_current",
    "supervision_hours_logged",
)
METRIC_THRESHOLD_PREFIX = "METRIC_THRESHOLD_"
# PRD administrator escalations that are about one measure: with the escalation listed, the measure's card is
# not restated as a second action item.
ESCALATION_MEASURES = {"DAYS_IN_AR_OVER_45": "days_in_ar"}


@cached(max_entries=16)
def capacity_weeks(first_week: dt.date, last_week: dt.date) -> pl.DataFrame:
    """Practice totals per week of fct_clinician_capacity_weekly: slots offered, booked, open, prime time,
    and the clinicians' weekly session targets."""
    frame = query(
        "select week_start, count(distinct clinician_id) as clinicians, sum(available_slots) as available_slots, "
        "sum(booked_slots) as booked_slots, sum(open_slots) as open_slots, "
        "sum(available_prime_slots) as available_prime_slots, sum(booked_prime_slots) as booked_prime_slots, "
        "sum(weekly_session_target) as weekly_session_target "
        "from marts.fct_clinician_capacity_weekly where week_start between ? and ? group by week_start "
        "order by week_start",
        [first_week, last_week],
    )
    return frame.with_columns(pl.exclude("week_start").cast(pl.Int64))


@cached(max_entries=16)
def practice_billing_months(month_from: dt.date, month_to: dt.date) -> pl.DataFrame:
    """The practice rows of fct_billing_monthly_summary: revenue, the monthly revenue target and the share of it
    reached, and receivables outstanding at month end, oldest month first."""
    frame = query(
        "select month_start, revenue_amount, monthly_revenue_target, revenue_target_pct, outstanding_amount "
        "from marts.fct_billing_monthly_summary where scope = 'practice' and month_start between ? and ? "
        "order by month_start",
        [month_from, month_to],
    )
    return frame.with_columns(
        pl.col("revenue_amount", "monthly_revenue_target", "revenue_target_pct", "outstanding_amount").cast(
            pl.Float64
        )
    )


@dataclass(frozen=True)
class RevenueAgainstTarget:
    """This month's revenue (month to date) against the practice's monthly target, and last month's."""

    this_month: float
    last_month: float | None
    outstanding: float
    target: float | None  # None: the practice has not set a target
    target_pct: float | None  # the mart's revenue_target_pct of this month
    last_month_target_pct: float | None
    share_of_month_gone: float
    status: Status


def revenue_against_target(months: pl.DataFrame, this_month: dt.date, as_of: dt.date) -> RevenueAgainstTarget:
    """The scorecard's revenue figure from the practice rows of fct_billing_monthly_summary."""
    by_month = {row["month_start"]: row for row in months.iter_rows(named=True)}
    now, before = by_month.get(this_month, {}), by_month.get(months_back(this_month, 1))
    # A month without a row has had no revenue yet; the target is the practice's, the same on every row.
    target = next(
        (
            row["monthly_revenue_target"]
            for row in reversed(by_month.values())
            if row["monthly_revenue_target"] is not None
        ),
        None,
    )
    revenue = now.get("revenue_amount") or 0.0
    share = (
        as_of.day / calendar.monthrange(as_of.year, as_of.month)[1]
        if month_start(as_of) == this_month
        else 1.0
    )
    return RevenueAgainstTarget(
        this_month=revenue,
        last_month=None if before is None else before["revenue_amount"],
        outstanding=now.get("outstanding_amount") or 0.0,
        target=target,
        target_pct=now.get("revenue_target_pct") if now else (0.0 if target else None),
        last_month_target_pct=None if before is None else before["revenue_target_pct"],
        share_of_month_gone=share,
        status=revenue_target_status(revenue, target, share),
    )


@cached(max_entries=16)
def documentation_month(month: dt.date) -> pl.DataFrame:
    """Per clinician: notes due and signed within the Georgia deadline in the month (service month)."""
    frame = query(
        "select clinician_id, notes_due, notes_signed_within_deadline, signed_within_deadline_pct "
        "from marts.fct_documentation_monthly_summary where scope = 'clinician' and month_start = ?",
        [month],
    )
    return frame.with_columns(pl.col("signed_within_deadline_pct").cast(pl.Float64))


@dataclass(frozen=True)
class Overview:
    as_of: dt.date
    month: dt.date
    scorecard: dict[str, Figure]
    revenue: RevenueAgainstTarget
    revenue_trend: pl.DataFrame  # practice rows of fct_billing_monthly_summary
    kvr_trend: pl.DataFrame
    matrix: pl.DataFrame
    georgia: pl.DataFrame
    emergency_contacts_missing: int
    revenue_cycle: dict[str, Figure]
    capacity: pl.DataFrame
    capacity_figures: dict[str, Figure]
    recommendation: str
    action_items: list[tuple[Status, str]]

    def label(self, fig: Figure) -> str:
        """The period of one of the page's figures: "month to date", "today" or "Sep 2026, settled"."""
        return figure_period(fig, self.as_of)

    @property
    def month_label(self) -> str:
        return month_to_date(self.month)


def figure_period(fig: Figure, as_of: dt.date) -> str:
    """How the page names a practice figure's period (its card label and its action item say the same)."""
    key = fig.definition.metric_key
    if key in AS_OF_TODAY_KEYS and fig.period == month_start(as_of):
        return "today"
    return period_label(fig.period, as_of, "month", settled=key in SETTLING_KEYS)


def month_to_date(month: dt.date) -> str:
    """The running month as the matrix and its action items name it: "November 2026, month to date"."""
    return f"{month:%B %Y}, month to date"


@cached(max_entries=64)
def load_overview(as_of: dt.date) -> Overview:
    """The data step of Practice Overview (everyone scope: only administrators open the page)."""
    this_month, last_month = month_start(as_of), months_back(as_of, 1)
    first = months_back(as_of, TREND_MONTHS - 1)
    keys = tuple(dict.fromkeys(SCORECARD_KEYS + REVENUE_CYCLE_KEYS + CAPACITY_KEYS + MATRIX_KEYS))
    # The trends are the practice's; the clinicians' rows are read for the matrix's month only (a year of every
    # clinician's every measure is 150,000 rows for a 1,000-clinician group).
    practice_rows = metrics.practice_metric_rows(keys, "month", None, first, this_month)
    recent = practice_rows.filter(pl.col("period_start") >= last_month)
    billing = billing_months(None, this_month, this_month)
    practice_billing = practice_billing_months(first, this_month)
    capacity = capacity_weeks(
        week_start(as_of) - dt.timedelta(weeks=CAPACITY_WEEKS_BACK),
        week_start(as_of) + dt.timedelta(weeks=CAPACITY_WEEKS_AHEAD),
    )
    capacity_figures = {k: figure(recent, k, this_month, True) for k in CAPACITY_KEYS}
    scorecard = {k: figure(recent, k, this_month, True) for k in SCORECARD_KEYS}
    revenue_cycle = {
        k: figure(practice_rows, k, months_back(as_of, SETTLE_MONTHS), False)
        if k in SETTLING_KEYS
        else figure(recent, k, this_month, True)
        for k in REVENUE_CYCLE_KEYS
    }
    alerts = open_conditions(None, None)
    matrix = clinician_matrix(
        metrics.metric_rows(MATRIX_KEYS, "month", None, this_month, this_month),
        billing,
        documentation_month(this_month),
        metrics.clinicians(None),
        this_month,
    )
    shown = {
        k: (fig, figure_period(fig, as_of))
        for k, fig in (scorecard | revenue_cycle | capacity_figures).items()
    }
    return Overview(
        as_of=as_of,
        month=this_month,
        scorecard=scorecard,
        revenue=revenue_against_target(practice_billing, this_month, as_of),
        revenue_trend=practice_billing,
        kvr_trend=practice_rows.filter(pl.col("metric_key") == "kept_visit_rate"),
        matrix=matrix,
        georgia=georgia_panel(alerts),
        emergency_contacts_missing=alerts.filter(
            (pl.col("alert_type") == EMERGENCY_CONTACT_TYPE)
            & pl.col("message").str.contains("emergency contact")
        ).height,
        revenue_cycle=revenue_cycle,
        capacity=capacity,
        capacity_figures=capacity_figures,
        recommendation=capacity_recommendation(capacity, week_start(as_of)),
        action_items=action_items(alerts, matrix, shown, month_to_date(this_month)),
    )


def matrix_status(statuses: dict[str, Status]) -> Status:
    """The matrix's one status rule over the warehouse statuses of a clinician's matrix measures: red on
    PLAN_REDS or more is a performance plan, any other red or amber is coaching, all green is excellent."""
    known = [s for s in statuses.values() if s is not Status.UNKNOWN]
    if not known:
        return Status.UNKNOWN
    if sum(1 for s in known if s is Status.URGENT) >= PLAN_REDS:
        return Status.URGENT
    return Status.GOOD if all(s is Status.GOOD for s in known) else Status.REVIEW


def matrix_reason(statuses: dict[str, Status]) -> str:
    """Which measures set a clinician's matrix status (red, then amber), by their short names."""
    red = [MATRIX_LABELS[k] for k, s in statuses.items() if s is Status.URGENT]
    amber = [MATRIX_LABELS[k] for k, s in statuses.items() if s is Status.REVIEW]
    parts = ([f"past alert: {', '.join(red)}"] if red else []) + (
        [f"off benchmark: {', '.join(amber)}"] if amber else []
    )
    if parts:
        return "; ".join(parts)
    return "every measure at benchmark" if any(s is Status.GOOD for s in statuses.values()) else "no data"


def clinician_matrix(
    rows: pl.DataFrame,
    billing: pl.DataFrame,
    documentation: pl.DataFrame,
    people: pl.DataFrame,
    month: dt.date,
) -> pl.DataFrame:
    """One row per active clinician for `month`: KVR, sessions per day, revenue, documentation compliance,
    treatment plans, unsigned backlog, the overall status (matrix_status over the warehouse's rag_status of
    each measure for that month) and the measures that set it."""
    by_clinician = rows_by_clinician(rows.filter(pl.col("period_start") == month))
    revenue = dict(
        billing.filter(pl.col("month_start") == month).select("clinician_id", "revenue_amount").iter_rows()
    )
    signed = dict(documentation.select("clinician_id", "signed_within_deadline_pct").iter_rows())
    records = []
    for person in people.filter(pl.col("is_active")).iter_rows(named=True):
        cid = person["clinician_id"]
        mine = by_clinician.get(cid, {})
        statuses = {}
        record = {"clinician_id": cid, "clinician": person["clinician_name"]}
        for key in MATRIX_KEYS:
            row = mine.get(key)
            statuses[key] = warehouse_status(row)
            record[key] = row["metric_value"] if row else None
            record[f"{key}_status"] = statuses[key].name
        record["revenue"] = float(revenue.get(cid) or 0.0)
        record["notes_signed_within_7_days_pct"] = signed.get(cid)
        overall = matrix_status(statuses)
        record["reds"] = sum(1 for s in statuses.values() if s is Status.URGENT)
        record["status"] = overall.matrix_label
        record["status_code"] = overall.name
        record["why"] = matrix_reason(statuses)
        record["_rank"] = int(overall)
        records.append(record)
    schema = {"clinician_id": pl.Int64, "clinician": pl.String}
    for key in MATRIX_KEYS:
        schema[key] = pl.Float64
        schema[f"{key}_status"] = pl.String
    schema |= {
        "revenue": pl.Float64,
        "notes_signed_within_7_days_pct": pl.Float64,
        "reds": pl.Int64,
        "status": pl.String,
        "status_code": pl.String,
        "why": pl.String,
        "_rank": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema).sort(
        ["_rank", "reds", "clinician"], descending=[True, True, False]
    )


def georgia_panel(alerts: pl.DataFrame) -> pl.DataFrame:
    """One line per Georgia rule: open alerts, people affected, and a status (red when any is critical)."""
    records = []
    for label, types in GEORGIA_PANEL:
        hits = alerts.filter(pl.col("alert_type").is_in(list(types)))
        if hits.is_empty():
            status = Status.GOOD
        else:
            status = Status.URGENT if (hits["severity"] == "CRITICAL").any() else Status.REVIEW
        by_person = (
            hits.group_by("person").len().sort("len", descending=True).head(3).iter_rows()
            if not hits.is_empty()
            else []
        )
        records.append(
            {
                "rule": label,
                "status": status.name,
                "open_alerts": hits.height,
                "people": hits["target_user_id"].n_unique() if not hits.is_empty() else 0,
                "most_affected": ", ".join(f"{name}: {count}" for name, count in by_person),
            }
        )
    return pl.DataFrame(
        records,
        schema={
            "rule": pl.String,
            "status": pl.String,
            "open_alerts": pl.Int64,
            "people": pl.Int64,
            "most_affected": pl.String,
        },
    )


def capacity_recommendation(capacity: pl.DataFrame, this_week: dt.date) -> str:
    """What to do about open slots, from the weeks ahead against the schedule-fill benchmark."""
    definition = definitions()["schedule_fill_rate"]
    ahead = capacity.filter(pl.col("week_start") >= this_week)
    if ahead.is_empty() or not ahead["available_slots"].sum():
        return "No availability templates cover the coming weeks: set up clinician availability to plan capacity."
    weeks = ahead.height
    available, booked = ahead["available_slots"].sum() / weeks, ahead["booked_slots"].sum() / weeks
    fill = booked / available * 100
    benchmark = definition.benchmark_value
    if benchmark is None:
        return f"{available - booked:.0f} open slots a week on average over the next {weeks} weeks."
    if fill + 1e-9 >= benchmark:
        return (
            f"Booked at {fill:.0f}% of offered slots over the next {weeks} weeks (benchmark {benchmark:g}%): "
            f"{available - booked:.0f} open slots a week remain; consider adding clinician hours if demand keeps up."
        )
    needed = math.ceil(benchmark / 100 * available - booked)
    return (
        f"Booked at {fill:.0f}% of offered slots over the next {weeks} weeks (benchmark {benchmark:g}%): "
        f"fill about {needed} more slots a week ({available - booked:.0f} open) — "
        f"{definition.alert_action or 'review referrals and marketing'}."
    )


def action_items(
    alerts: pl.DataFrame,
    matrix: pl.DataFrame,
    shown: dict[str, tuple[Figure, str]] | None = None,
    month_label: str = "the month shown",
) -> list[tuple[Status, str]]:
    """Administrator escalations from the warehouse, the page's own practice figures past their alert
    threshold, and the matrix's performance-plan, coaching and recognition lists.

    One figure per concept: a measure the page shows on a card (`shown`: metric key -> the card's figure and its
    period label) is stated here with the card's figure and period, never with the warehouse's last-month
    threshold alert of the same measure; a measure the Georgia panel shows for today is left to the panel. The
    clinician lists are exactly the matrix's statuses (same month, same measures, same rule).
    """
    shown = shown or {}
    items: list[tuple[Status, str]] = []
    escalated = alerts.filter(pl.col("is_admin_escalated") & pl.col("target_user_id").is_null())
    stated = {ESCALATION_MEASURES[t] for t in escalated["alert_type"] if t in ESCALATION_MEASURES}
    for row in escalated.iter_rows(named=True):
        alert_type = row["alert_type"]
        if alert_type.startswith(METRIC_THRESHOLD_PREFIX):
            key = alert_type.removeprefix(METRIC_THRESHOLD_PREFIX).lower()
            if key in shown or key in GEORGIA_MEASURES:
                continue
        status = Status.URGENT if row["severity"] == "CRITICAL" else Status.REVIEW
        message = row["message"]
        if row["due_date"] is not None:
            # The warehouse writes the period as an ISO date or "last month"; the page names the month.
            message = message.replace(f" in {row['due_date']:%Y-%m-%d}", f" in {row['due_date']:%B %Y}")
            if row["due_date"].day == 1:  # the escalations "... last month" are due on that month's first day
                message = message.replace(" last month", f" in {row['due_date']:%B %Y}")
        items.append((status, f"{message} → {row['action_required']}"))
    for key, (fig, period) in shown.items():
        if fig.status is Status.URGENT and key not in stated:
            definition = fig.definition
            bound = (
                f" ({definition.alert_operator} {definition.alert_threshold:g})"
                if definition.alert_operator in ("<", ">") and definition.alert_threshold is not None
                else ""
            )
            items.append(
                (
                    Status.URGENT,
                    f"{definition.label} {fig.text} ({period}) is past its alert threshold"
                    f"{bound} → {definition.alert_action or 'Review'}",
                )
            )

    def named(frame: pl.DataFrame) -> str:
        return ", ".join(frame["clinician"].to_list())

    plans = matrix.filter(pl.col("status_code") == Status.URGENT.name)
    if not plans.is_empty():
        items.append(
            (
                Status.URGENT,
                f"Performance plan recommended for {plans.height} clinician(s) with "
                f"{PLAN_REDS} or more matrix measures past their alert threshold "
                f"({month_label}): {named(plans)}",
            )
        )
    coaching = matrix.filter(pl.col("status_code") == Status.REVIEW.name)
    if not coaching.is_empty():
        items.append(
            (
                Status.REVIEW,
                f"Coaching for {coaching.height} clinician(s) with a matrix measure off "
                f"benchmark ({month_label}): {named(coaching)}",
            )
        )
    stars = matrix.filter(pl.col("status_code") == Status.GOOD.name)
    if not stars.is_empty():
        items.append(
            (
                Status.GOOD,
                f"Meeting every benchmark ({month_label}) → recognition opportunity: {named(stars)}",
            )
        )
    return sorted(items, key=lambda item: -int(item[0]))
