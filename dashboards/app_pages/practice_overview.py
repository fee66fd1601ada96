"""Practice Overview (PRD Module 7, administrator dashboard): scorecard with trends, clinician
performance matrix, Georgia compliance panel, revenue-cycle health, capacity planning, and alerts and
action items. Only administrators open it (everyone scope)."""

import polars as pl
import streamlit as st

from dashboards.components import ui
from dashboards.components.charts import bars, capacity_chart, show, team_trend
from dashboards.data import periods
from dashboards.data.dictionary import definitions
from dashboards.data.overview import MATRIX_KEYS, PLAN_REDS, load_overview
from dashboards.data.status import REVENUE_TARGET_ALERT_PCT, Status

PAGE = "practice_overview"


def body(user, scope) -> None:
    st.title("Practice Overview")
    if not scope.sees_everyone:  # the navigation never offers it; refuse rather than show a partial practice
        st.error("Practice Overview is for administrators.")
        return
    render(load_overview(periods.as_of()))


def render(data) -> None:
    defs = definitions()
    st.caption(f"Month to date from {data.month:%d %b %Y} · as of {data.as_of:%a %d %b %Y}")

    st.subheader(f"Practice scorecard ({data.month_label})")
    c1, c2, c3, c4 = st.columns(4)
    kvr = data.scorecard["kept_visit_rate"]
    ui.metric_card(
        c1,
        "ov-kvr",
        "Overall KVR (month to date)",
        kvr.definition,
        kvr.value,
        status=kvr.status,
        change=kvr.change,
        help="Change against last month.",
    )
    revenue = data.revenue
    ui.metric_card(
        c2,
        "ov-revenue",
        "Revenue this month",
        None,
        None,
        status=revenue.status,
        value_text=f"${revenue.this_month:,.0f}",
        note=_revenue_note(revenue),
        help=_revenue_help(revenue),
    )
    # Days in AR has its own card under Revenue cycle health: the amount here, the days there.
    ui.metric_card(
        c3,
        "ov-ar",
        "Outstanding AR",
        None,
        None,
        value_text=f"${revenue.outstanding:,.0f}",
        help="Receivables today (charges less payments and adjustments); days in AR is under Revenue "
        "cycle health.",
    )
    acceptance = data.scorecard["claim_acceptance_rate"]
    ui.metric_card(
        c4,
        "ov-acceptance",
        "Claim acceptance rate",
        acceptance.definition,
        acceptance.value,
        status=acceptance.status,
        change=acceptance.change,
    )
    # The charts on demand: the chart library is the largest script a first visit fetches and compiles, and on the
    # large practice these two were a sixth of the browser's work for the whole page.
    if st.toggle("Show the last 12 months", key="ov_trends"):
        trends(data, defs)

    st.subheader(f"Clinician performance matrix ({data.month_label})")
    st.caption(
        f"Status from the warehouse's green / amber / red of the five measures for {data.month_label}: "
        f"performance plan when {PLAN_REDS} or more are past their alert threshold, needs coaching when any "
        'other is off benchmark, excellent when all are at benchmark. "Why" names the measures. Plans % and '
        "late notes are counted today. Those needing attention come first."
    )
    # Unrounded: ui.table writes every value to one decimal the way the cards do (a polars round gave
    # 95.4 here for the 95.35 that My Practice shows as 95.3).
    # Short headers (the coloured columns size to them) and fixed widths, about 950 px in all: the whole matrix
    # fits a laptop-wide page without scrolling sideways; each header's help spells it out.
    matrix = data.matrix.select(
        pl.col("clinician").alias("Clinician"),
        pl.col("status").alias("Status"),
        pl.col("kept_visit_rate").alias("KVR %"),
        pl.col("sessions_per_day").alias("Sessions/day"),
        pl.col("revenue").alias("Revenue ($)"),
        pl.col("same_day_documentation_rate").alias("Same-day %"),
        pl.col("treatment_plan_currency").alias("Plans %"),
        pl.col("notes_signed_within_7_days_pct").alias("On time %"),
        pl.col("unsigned_note_backlog").cast(pl.Int64).alias("Late notes"),
        pl.col("why").alias("Why"),
        pl.col("status_code"),
        *[pl.col(f"{k}_status") for k in MATRIX_KEYS],
    )
    column = st.column_config.Column
    config = {
        "Clinician": column(width=145),
        "Why": st.column_config.TextColumn(
            width=160, help="The measures that set the status (hover a cell to read it all)"
        ),
        "KVR %": column(width=64, help=defs["kept_visit_rate"].label),
        "Sessions/day": column(width=64, help=defs["sessions_per_day"].label),
        "Revenue ($)": st.column_config.NumberColumn(
            format="dollar", width=80, help="Payments applied this month"
        ),
        "Same-day %": column(width=64, help=defs["same_day_documentation_rate"].label),
        "Plans %": column(width=64, help=defs["treatment_plan_currency"].label),
        "On time %": st.column_config.NumberColumn(
            format="%.1f",
            width=64,
            help="Notes signed within the Georgia 7-day deadline, of those whose deadline has passed",
        ),
        "Late notes": column(width=64, help="Notes unsigned past their 7-day deadline, today"),
    }
    ui.table(
        matrix,
        key="ov_matrix",
        empty="No active clinicians yet.",
        file_name="clinician_matrix.csv",
        column_config=config,
        colour_by={
            "Status": "status_code",
            "KVR %": "kept_visit_rate_status",
            "Sessions/day": "sessions_per_day_status",
            "Same-day %": "same_day_documentation_rate_status",
            "Plans %": "treatment_plan_currency_status",
            "Late notes": "unsigned_note_backlog_status",
        },
        paging=ui.Paging(noun="clinicians", search="Clinician", filter_by="Status"),
    )
    ui.status_legend()

    st.subheader("Georgia compliance (today)")
    lines = [
        (
            Status[row["status"]],
            f"{row['rule']}: all current"
            if row["open_alerts"] == 0
            else f"{row['rule']}: {row['open_alerts']} open across {row['people']} "
            f"clinician(s) ({row['most_affected']})",
        )
        for row in data.georgia.iter_rows(named=True)
    ]
    missing = data.emergency_contacts_missing
    lines.append(
        (
            Status.REVIEW if missing else Status.GOOD,
            f"{missing} client(s) seen are missing emergency contact information"
            if missing
            else "Emergency contacts on file for every client seen",
        )
    )
    ui.status_lines(lines)
    ui.csv_button(data.georgia, "ov_georgia", "georgia_compliance.csv")

    revenue_cycle(data, defs)
    capacity_planning(data, defs)

    st.subheader("Alerts and action items")
    if not data.action_items:
        st.success("Nothing escalated to the administrator.")
    ui.status_lines(data.action_items)


def trends(data, defs) -> None:
    revenue = data.revenue
    t1, t2 = st.columns(2)
    if not data.kvr_trend.is_empty():
        show(team_trend(data.kvr_trend, defs["kept_visit_rate"]), "ov_kvr_trend", t1)
    if not data.revenue_trend.is_empty():
        show(
            bars(
                data.revenue_trend,
                "month_start",
                "revenue_amount",
                x_title="Month",
                y_title="Revenue ($)",
                title="Revenue by month",
                target=revenue.target,
                alert_pct=REVENUE_TARGET_ALERT_PCT,
            ),
            "ov_revenue_trend",
            t2,
        )


def revenue_cycle(data, defs) -> None:
    # Two cards a row: each label has room for its period.
    st.subheader("Revenue cycle health")
    cols = [c for _ in range(0, len(data.revenue_cycle), 2) for c in st.columns(2)]
    for col, (key, fig) in zip(cols, data.revenue_cycle.items(), strict=False):
        period = data.label(fig)
        ui.metric_card(
            col,
            f"ov-rc-{key}",
            f"{defs[key].label} ({period})",
            fig.definition,
            fig.value,
            status=fig.status,
            change=fig.change,
            help={"today": "As of today", "month to date": "Month to date"}.get(
                period, f"{fig.period:%B %Y}, the latest month whose claims have mostly settled"
            )
            + "; change against the month before.",
        )


def capacity_planning(data, defs) -> None:
    st.subheader("Capacity planning")
    c1, c2, c3 = st.columns(3)
    for col, key in zip((c1, c2), ("schedule_fill_rate", "prime_time_utilization"), strict=True):
        fig = data.capacity_figures[key]
        ui.metric_card(
            col,
            f"ov-cap-{key}",
            f"{defs[key].label} ({data.label(fig)})",
            fig.definition,
            fig.value,
            status=fig.status,
            change=fig.change,
            help="Month to date; change against last month.",
        )
    capacity = data.capacity
    this_week = periods.week_start(data.as_of)
    current = capacity.filter(pl.col("week_start") == this_week)
    if not current.is_empty():
        row = current.row(0, named=True)
        ui.metric_card(
            c3,
            "ov-cap-week",
            "Booked this week",
            None,
            None,
            value_text=f"{row['booked_slots']} of {row['available_slots']} slots",
            note=f"{row['open_slots']} open",
            help=f"{row['clinicians']} clinicians with availability; their weekly session targets add up "
            f"to {row['weekly_session_target']}.",
        )
    st.info(ui.plain(data.recommendation), icon=":material/lightbulb:")
    # The weeks on demand, as the 12 months above: a chart and a data grid are the costliest elements to draw.
    if not st.toggle("Show the weeks", key="ov_capacity_weeks"):
        return
    if not capacity.is_empty():
        show(capacity_chart(capacity, this_week), "ov_capacity_chart")
    ui.table(
        capacity,
        key="ov_capacity",
        empty="No availability templates yet: add clinician availability to plan capacity.",
        file_name="capacity_by_week.csv",
    )


def _revenue_note(revenue) -> str:
    if revenue.target is None:
        if revenue.last_month is None:
            return "no monthly target set"
        change = revenue.this_month - revenue.last_month
        return f"{'+' if change >= 0 else '-'}${abs(change):,.0f} vs last month (no target set)"
    return f"{revenue.target_pct or 0:.1f}% of ${revenue.target:,.0f} target"


def _revenue_help(revenue) -> str:
    text = "Payments applied to charges this month, month to date (cash basis). "
    if revenue.target is None:
        return text + "Set the practice's monthly revenue target to compare with it."
    text += (
        f"Colour: green on pace for the monthly target ({revenue.share_of_month_gone:.0%} of the month gone), "
        f"amber from {REVENUE_TARGET_ALERT_PCT:g}% of that pace, red below; revenue under "
        f"{REVENUE_TARGET_ALERT_PCT:g}% of target two finished months running escalates to the administrator."
    )
    if revenue.last_month is not None:
        text += f" Last month: ${revenue.last_month:,.0f}"
        if revenue.last_month_target_pct is not None:
            text += f" ({revenue.last_month_target_pct:.1f}% of target)"
        text += "."
    return text


ui.run_page(PAGE, body)
