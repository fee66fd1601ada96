"""My Team (PRD Module 7, supervisor dashboard): the team table with a status from the dictionary's
thresholds, team metrics against their targets, coaching opportunities, supervision hours per
supervisee, alerts, and the trend against last month.

The team is the signed-in user's scope: a supervisor and their supervisees (every clinician for an
administrator, who can narrow it to one supervisor's team).
"""

import polars as pl
import streamlit as st

from dashboards import audit_trail
from dashboards.components import quick_actions, ui
from dashboards.components.charts import show, team_trend
from dashboards.data import alerts, metrics, periods
from dashboards.data.dictionary import definitions
from dashboards.data.team import TEAM_KEYS, load_team

PAGE = "my_team"
SUPERVISOR_KEY = "team_supervisor"
COACHING_SHOWN = 10


def settings(user, scope) -> tuple[tuple[int, ...] | None, int | None]:
    """The team's clinician ids and the supervisor whose escalations count (None for everyone)."""
    if not scope.sees_everyone:
        return scope.clinician_ids, user.user_id if user.role == "SUPERVISOR" else None
    people = metrics.clinicians(None)
    supervisors = people.filter(pl.col("role") == "SUPERVISOR")
    names = dict(
        zip(supervisors["clinician_id"].to_list(), supervisors["clinician_name"].to_list(), strict=True)
    )
    options = [None, *names]
    chosen = st.selectbox(
        "Team",
        options,
        key=SUPERVISOR_KEY,
        format_func=lambda sid: "Every clinician" if sid is None else f"{names[sid]}'s team",
    )
    if chosen is None:
        return None, None
    members = people.filter((pl.col("supervisor_id") == chosen) | (pl.col("clinician_id") == chosen))
    return tuple(sorted(members["clinician_id"].to_list())), chosen


def body(user, scope) -> None:
    st.title("My Team")
    team_ids, supervisor_id = settings(user, scope)
    as_of = periods.as_of()
    # The supervisor is in their own scope (their own clients, their escalations) but is not their own supervisee.
    supervisees = team_ids if supervisor_id is None else tuple(c for c in team_ids if c != supervisor_id)
    team = load_team(supervisees, as_of)
    team_alerts = alerts.open_conditions(team_ids, supervisor_id)
    render(team, team_alerts)
    if user.role == "SUPERVISOR":
        # The co-sign queue is the supervisor of record's own (administrators co-sign nothing).
        st.subheader("Co-sign queue")
        quick_actions.cosign_notes(user, "team_cosign", (load_team,))


def render(team, team_alerts) -> None:
    defs = definitions()
    st.caption(f"Month to date from {team.period:%d %b %Y} · as of {team.as_of:%a %d %b %Y}")
    if team.table.is_empty():
        st.info(
            "No active clinicians in your team yet: supervisees appear once their supervisor is set in the store."
        )
        return

    st.subheader("Team overview")
    # Unrounded: ui.table writes every value to one decimal the way the cards do (a polars round gave
    # 95.4 here for the 95.35 that My Practice shows as 95.3).
    shown = team.table.select(
        pl.col("clinician").alias("Clinician"),
        pl.col("status").alias("Status"),
        pl.col("kept_visit_rate").alias("KVR %"),
        pl.col("no_show_rate").alias("No-show rate %"),
        pl.col("unsigned_notes").alias("Unsigned notes"),
        pl.col("unsigned_note_backlog").cast(pl.Int64).alias("Notes > 7 days"),
        pl.col("oldest_unsigned_days").alias("Oldest unsigned (days)"),
        pl.col("same_day_documentation_rate").alias("Same-day doc %"),
        pl.col("status_code"),
        *[pl.col(f"{k}_status") for k in TEAM_KEYS],
    )
    ui.table(
        shown,
        key="team_table",
        empty="",
        file_name="team_overview.csv",
        colour_by={
            "Status": "status_code",
            "KVR %": "kept_visit_rate_status",
            "No-show rate %": "no_show_rate_status",
            "Notes > 7 days": "unsigned_note_backlog_status",
            "Same-day doc %": "same_day_documentation_rate_status",
        },
        paging=ui.Paging(noun="clinicians", search="Clinician", filter_by="Status"),
    )
    ui.status_legend()

    st.subheader("Team metrics this month")
    cols = st.columns(len(TEAM_KEYS))
    for col, key in zip(cols, TEAM_KEYS, strict=True):
        f = team.team_figures[key]
        ui.metric_card(
            col,
            f"team-{key}",
            defs[key].label,
            f.definition,
            f.value,
            status=f.status,
            change=f.change,
            help="Pooled over the team, month to date; change against last month.",
        )

    left, right = st.columns(2)
    with left:
        st.subheader("Coaching opportunities")
        if not team.coaching:
            st.info("No measures to discuss yet this month.")
        ui.status_lines(team.coaching[:COACHING_SHOWN])
        if len(team.coaching) > COACHING_SHOWN:
            st.caption(
                f"{len(team.coaching) - COACHING_SHOWN} more in the team table, most urgent first above."
            )
    with right:
        st.subheader("Supervision hours this month")
        ui.table(
            team.supervision,
            key="team_supervision",
            file_name="supervision_hours.csv",
            colour_by={"status": "status_code"},
            empty="No supervisee in this team has a licence that requires supervision hours.",
        )

    st.subheader("Alerts")
    ui.table(
        team_alerts.select("severity", "person", "alert_type", "message", "due_date"),
        key="team_alerts",
        clients=audit_trail.client_ids_in(team_alerts),
        limit=1000,
        empty="No open alerts for your team.",
        file_name="team_alerts.csv",
    )

    st.subheader("Trend against last months")
    trend = team.trend
    if trend.is_empty():
        st.info("No monthly figures yet.")
        return
    # Drawn once a measure is picked: the chart library is the largest script a first visit fetches and compiles.
    key = st.segmented_control(
        "Measure", list(TEAM_KEYS), format_func=lambda k: defs[k].label, key="team_trend_metric"
    )
    if key is None:
        st.caption("Pick a measure to chart the team's last months against its benchmark.")
        return
    series = trend.filter(pl.col("metric_key") == key)
    show(team_trend(series, defs[key]), "team_trend_chart")


ui.run_page(PAGE, body)
