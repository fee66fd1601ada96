"""Clinician-level loaders (My Practice, and My Team's per-clinician figures) and the My Practice data step.

Every loader takes the clinician ids it may read; client display names appear only on rows that
belong to those clinicians (their appointments, notes or attributed clients).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import polars as pl

from dashboards.data import metrics
from dashboards.data.cache import cached
from dashboards.data.dictionary import MetricDefinition, definitions
from dashboards.data.periods import month_start, months_back, week_start
from dashboards.data.schedule import appointments as schedule_appointments
from dashboards.data.status import Status, format_value, metric_status, warehouse_status
from dashboards.data.warehouse import id_filter, query

# Clients whose last completed visit is at least this old with nothing on the books: the PRD's
# "haven't rebooked in 30+ days", the same window as the rebook rate (dbt var rebook_window_days).
REBOOK_WINDOW_DAYS = 30
OPEN_STATUSES = ("SCHEDULED", "CONFIRMED", "CHECKED_IN")
# Measures the dictionary says keep growing as claims settle (payments arrive 2-6 weeks after the
# visit): the running month is far from final, so cards show the month SETTLE_MONTHS back instead.
SETTLING_KEYS = ("average_reimbursement_per_session", "collection_rate", "net_collection_rate")
SETTLE_MONTHS = 2
WEEK_KEYS = ("kept_visit_rate", "no_show_rate", "cancellation_rate", "treatment_plan_currency")
MONTH_KEYS = (
    "same_day_documentation_rate",
    "average_documentation_time",
    "unsigned_note_backlog",
    "rebook_rate",
    "client_retention_90_day",
    "average_reimbursement_per_session",
    "billing_compliance_rate",
    "supervision_hours_logged",
    "kept_visit_rate",
)


@cached(max_entries=128)
def week_appointments(
    clinician_ids: tuple[int, ...] | None, first_day: dt.date, last_day: dt.date
) -> pl.DataFrame:
    """Per clinician, appointments dated in [first_day, last_day]: booked (every status but a rescheduled
    original), completed, no-shows, cancelled, still open, and how many reached a final status."""
    frame = query(
        "select clinician_id, "
        "sum(case when appointment_status <> 'RESCHEDULED' then 1 else 0 end) as scheduled, "
        "sum(case when is_kept then 1 else 0 end) as completed, "
        "sum(case when is_no_show then 1 else 0 end) as no_shows, "
        "sum(case when is_cancelled then 1 else 0 end) as cancelled, "
        "sum(case when is_final_status then 1 else 0 end) as final_status, "
        f"sum(case when appointment_status in ({', '.join(repr(s) for s in OPEN_STATUSES)}) then 1 else 0 end) "
        "as still_open "
        "from marts.fct_appointments "
        f"where appointment_date between ? and ? and {id_filter('clinician_id', clinician_ids)} "
        "group by clinician_id order by clinician_id",
        [first_day, last_day],
    )
    return frame.with_columns(pl.exclude("clinician_id").cast(pl.Int64))


@cached(max_entries=128)
def slots_offered(clinician_ids: tuple[int, ...] | None, first_day: dt.date, last_day: dt.date) -> int:
    """Appointment slots the availability templates offer these clinicians on days in [first_day, last_day]."""
    if last_day < first_day:
        return 0
    frame = query(
        "select coalesce(sum(available_slots), 0) as slots from marts.fct_clinician_capacity_daily "
        f"where calendar_date between ? and ? and {id_filter('clinician_id', clinician_ids)}",
        [first_day, last_day],
    )
    return int(frame["slots"][0] or 0)


@cached(max_entries=128)
def unsigned_notes(clinician_ids: tuple[int, ...] | None, as_of: dt.date) -> pl.DataFrame:
    """Notes not signed yet, oldest first, with the client's display name; age and deadline as the warehouse
    counts them (marts.fct_unsigned_notes, as of its build: `as_of` keys the cache)."""
    frame = query(
        "select n.note_id, n.clinician_id, c.clinician_name, n.client_id, cl.display_name as client, n.note_type, "
        "n.service_date, n.signature_due_date, n.days_unsigned, n.is_past_deadline as past_deadline "
        "from marts.fct_unsigned_notes as n "
        "left join marts.dim_clients as cl on n.client_id = cl.client_id "
        "left join marts.dim_clinicians as c on n.clinician_id = c.clinician_id "
        f"where {id_filter('n.clinician_id', clinician_ids)} "
        "order by n.service_date, n.note_id",
    )
    return frame


@cached(max_entries=128)
def clients_not_rebooked(
    clinician_ids: tuple[int, ...] | None, as_of: dt.date, window_days: int = REBOOK_WINDOW_DAYS
) -> pl.DataFrame:
    """Active clients of these clinicians last seen `window_days` or more ago with no open appointment ahead."""
    cutoff = as_of - dt.timedelta(days=window_days)
    return query(
        "select cl.client_id, cl.display_name as client, cl.clinician_id, c.clinician_name, cl.last_visit_date, "
        "cast(? - cl.last_visit_date as integer) as days_since_last_visit "
        "from marts.dim_clients as cl "
        "left join marts.dim_clinicians as c on cl.clinician_id = c.clinician_id "
        "where cl.discharged_date is null and cl.client_status = 'ACTIVE' and cl.last_visit_date <= ? "
        f"and {id_filter('cl.clinician_id', clinician_ids)} "
        "and not exists (select 1 from marts.fct_appointments as a where a.client_id = cl.client_id "
        f"and a.appointment_date >= ? and a.appointment_status in ({', '.join(repr(s) for s in OPEN_STATUSES)})) "
        "order by cl.last_visit_date, cl.client_id",
        [as_of, cutoff, as_of],
    )


@cached(max_entries=128)
def billing_months(
    clinician_ids: tuple[int, ...] | None, month_from: dt.date, month_to: dt.date
) -> pl.DataFrame:
    """fct_billing_monthly_summary rows of these clinicians (sessions billed, denials, revenue, outstanding)."""
    frame = query(
        "select month_start, clinician_id, sessions_completed, sessions_billed, claims_adjudicated, claims_denied, "
        "revenue_amount, outstanding_amount from marts.fct_billing_monthly_summary "
        f"where scope = 'clinician' and month_start between ? and ? and {id_filter('clinician_id', clinician_ids)} "
        "order by month_start, clinician_id",
        [month_from, month_to],
    )
    return frame.with_columns(
        pl.col("revenue_amount", "outstanding_amount").cast(pl.Float64),
        pl.col("sessions_completed", "sessions_billed", "claims_adjudicated", "claims_denied").cast(pl.Int64),
    )


@dataclass(frozen=True)
class Figure:
    """One measure's value for a period, with what it is made of and its status."""

    definition: MetricDefinition
    value: float | None
    numerator: float | None
    denominator: float | None
    change: float | None
    status: Status
    period: dt.date | None = None

    @property
    def text(self) -> str:
        return format_value(self.definition, self.value)


def figure(rows: pl.DataFrame, metric_key: str, period: dt.date, period_running: bool = False) -> Figure:
    """The figure of `metric_key` for the period starting `period`, pooled over the clinicians in `rows`.

    One clinician: the warehouse's own value. Several (a team): the pooled ratio of their numerators and
    denominators, the way the warehouse computes the practice value (counts add up).
    """
    definition = definitions()[metric_key]
    this = rows.filter((pl.col("metric_key") == metric_key) & (pl.col("period_start") == period))
    if this.is_empty():
        return Figure(definition, None, None, None, None, Status.UNKNOWN, period)
    if this.height == 1:
        row = this.row(0, named=True)
        value, numerator, denominator = row["metric_value"], row["numerator"], row["denominator"]
        return Figure(
            definition,
            value,
            numerator,
            denominator,
            row["change_from_previous"],
            warehouse_status(row),
            period,
        )
    else:
        numerator, denominator = this["numerator"].sum(), this["denominator"].sum()
        value = pooled(definition, numerator, denominator)
        prior = rows.filter((pl.col("metric_key") == metric_key) & (pl.col("period_start") < period))
        previous = None
        if not prior.is_empty():
            last = prior.filter(pl.col("period_start") == prior["period_start"].max())
            previous = pooled(definition, last["numerator"].sum(), last["denominator"].sum())
        change = None if previous is None or value is None else value - previous
    # A team's pooled figure has no warehouse row: the same rule, applied to the pooled value.
    status = metric_status(definition, value, numerator, denominator, previous, period_running)
    return Figure(definition, value, numerator, denominator, change, status, period)


def pooled(definition: MetricDefinition, numerator, denominator) -> float | None:
    """A group's value from summed numerators and denominators, in the measure's unit."""
    if definition.unit == "count" or definition.alert_operator == "below_required":
        return None if numerator is None else float(numerator)
    if not denominator:
        return None
    ratio = float(numerator) / float(denominator)
    return ratio * 100 if definition.unit == "percent" else ratio


@dataclass(frozen=True)
class MyPractice:
    """Everything the My Practice page shows for one clinician."""

    clinician_id: int
    as_of: dt.date
    week_start: dt.date
    month_start: dt.date
    week: dict  # scheduled, completed, no_shows, cancelled, final_status, still_open
    slots_left_this_week: (
        int  # slots offered from tomorrow to Sunday: the most kept visits the week can still add
    )
    week_figures: dict[str, Figure]
    month_figures: dict[str, Figure]
    active_clients: int | None
    billing: dict  # sessions_completed, sessions_billed, revenue_amount, outstanding_amount
    unsigned: pl.DataFrame
    not_rebooked: pl.DataFrame
    supervision: Figure
    schedule: pl.DataFrame  # today's and tomorrow's appointments (the morning huddle)


@cached(max_entries=64)
def load_my_practice(clinician_id: int, clinician_ids: tuple[int, ...] | None, as_of: dt.date) -> MyPractice:
    """The data step of My Practice for one clinician of the caller's scope (`clinician_ids`, None = all)."""
    if clinician_ids is not None and clinician_id not in clinician_ids:
        raise PermissionError("that clinician is outside what you may see")
    ids = (clinician_id,)
    this_week, this_month = week_start(as_of), month_start(as_of)
    last_week, settled = this_week - dt.timedelta(days=7), months_back(as_of, SETTLE_MONTHS)
    week_rows = metrics.metric_rows(WEEK_KEYS, "week", ids, last_week, this_week)
    month_rows = metrics.metric_rows(
        MONTH_KEYS, "month", ids, months_back(as_of, SETTLE_MONTHS + 1), this_month
    )
    appointments = week_appointments(ids, this_week, this_week + dt.timedelta(days=6))
    week = {
        k: int(appointments[k].sum()) if not appointments.is_empty() else 0
        for k in ("scheduled", "completed", "no_shows", "cancelled", "final_status", "still_open")
    }
    active = week_rows.filter(
        (pl.col("metric_key") == "treatment_plan_currency") & (pl.col("period_start") == this_week)
    )
    billing = billing_months(ids, this_month, this_month)
    billing_totals = {
        k: (billing[k].sum() if not billing.is_empty() else 0)
        for k in ("sessions_completed", "sessions_billed", "revenue_amount", "outstanding_amount")
    }
    return MyPractice(
        clinician_id=clinician_id,
        as_of=as_of,
        week_start=this_week,
        month_start=this_month,
        week=week,
        slots_left_this_week=slots_offered(
            ids, as_of + dt.timedelta(days=1), this_week + dt.timedelta(days=6)
        ),
        week_figures={k: figure(week_rows, k, this_week, True) for k in WEEK_KEYS},
        month_figures={
            k: figure(month_rows, k, settled, False)
            if k in SETTLING_KEYS
            else figure(month_rows, k, this_month, True)
            for k in MONTH_KEYS
        },
        active_clients=None if active.is_empty() else int(active["denominator"][0]),
        billing=billing_totals,
        unsigned=unsigned_notes(ids, as_of),
        not_rebooked=clients_not_rebooked(ids, as_of),
        supervision=figure(month_rows, "supervision_hours_logged", this_month, True),
        schedule=schedule_appointments(ids, as_of, as_of + dt.timedelta(days=1)),
    )


def appointments_to_benchmark(completed: int, final: int, benchmark_pct: float | None) -> int | None:
    """How many more kept visits (with no further misses) bring completed/final up to the benchmark."""
    if benchmark_pct is None or final == 0 or benchmark_pct >= 100:
        return None
    target = benchmark_pct / 100
    if completed / final >= target:
        return 0
    return math.ceil((target * final - completed) / (1 - target) - 1e-9)


def nudges(data: MyPractice, open_alerts: pl.DataFrame) -> list[tuple[Status, str]]:
    """The PRD's alerts and nudges for one clinician, most pressing first."""
    items: list[tuple[Status, str]] = []
    unsigned = data.unsigned
    if unsigned.is_empty():
        items.append((Status.GOOD, "All notes are signed."))
    else:
        overdue = int(unsigned["past_deadline"].sum())
        oldest = int(unsigned["days_unsigned"].max())
        status = Status.URGENT if overdue else Status.REVIEW
        text = f"{unsigned.height} note(s) pending signature (oldest: {oldest} days)"
        if overdue:
            text += f"; {overdue} past the Georgia 7-day deadline"
        items.append((status, text + "."))
    plan_alerts = (
        open_alerts.filter(pl.col("alert_type").str.starts_with("TREATMENT_PLAN"))
        if not open_alerts.is_empty()
        else open_alerts
    )
    if plan_alerts.is_empty():
        items.append((Status.GOOD, "Treatment plans all current."))
    else:
        items.append(
            (
                Status.URGENT if (plan_alerts["severity"] == "CRITICAL").any() else Status.REVIEW,
                f"{plan_alerts.height} treatment plan(s) need attention.",
            )
        )
    if not data.not_rebooked.is_empty():
        names = ", ".join(data.not_rebooked["client"].head(3).to_list())
        items.append(
            (
                Status.REVIEW,
                f"{data.not_rebooked.height} client(s) haven't rebooked in "
                f"{REBOOK_WINDOW_DAYS}+ days (suggestions: {names}).",
            )
        )
    kvr = data.week_figures["kept_visit_rate"]
    if kvr.value is not None and kvr.status is not Status.GOOD:
        benchmark = kvr.definition.benchmark_value
        more = appointments_to_benchmark(int(kvr.numerator or 0), int(kvr.denominator or 0), benchmark)
        left = data.slots_left_this_week
        text = f"Your KVR is {kvr.text} this week."
        # Only what the rest of the week can still hold: each slot left can add one kept visit at most.
        if more and more <= left:
            text += (
                f" Keeping {more} more appointment(s) this week would reach the {benchmark:g}% benchmark "
                f"({left} slot(s) left this week)."
            )
        elif more:
            text += (
                f" The {benchmark:g}% benchmark is out of reach this week ({left} slot(s) left): "
                "aim for it next week."
            )
        items.append((kvr.status, text))
    supervision = data.supervision
    if supervision.status in (Status.REVIEW, Status.URGENT):
        short = float(supervision.denominator or 0) - float(supervision.numerator or 0)
        items.append(
            (
                supervision.status,
                f"Supervision: {supervision.numerator:g} of {supervision.denominator:g} "
                f"hours logged this month; {short:g} more needed by month end.",
            )
        )
    return sorted(items, key=lambda item: -int(item[0]))
