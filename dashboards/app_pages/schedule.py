"""Schedule (front desk): today's and this week's appointments, with status counts."""

import datetime as dt

import streamlit as st

from dashboards import audit_trail
from dashboards.components import ui
from dashboards.data import periods, schedule

PAGE = "schedule"


def settings(as_of: dt.date) -> tuple[str, dt.date, dt.date]:
    view = st.segmented_control("Show", ["Today", "This week"], default="Today", key="sc_view") or "Today"
    if view == "Today":
        return view, as_of, as_of
    start = periods.week_start(as_of)
    return view, start, start + dt.timedelta(days=6)


def body(user, scope) -> None:
    st.title("Schedule")
    as_of = periods.as_of()
    view, first, last = settings(as_of)
    frame = schedule.appointments(scope.clinician_ids, first, last)
    render(view, first, last, frame)


def render(view, first, last, frame) -> None:
    st.caption(f"{first:%a %d %b %Y}" + ("" if first == last else f" to {last:%a %d %b %Y}"))
    counts = schedule.status_counts(frame)
    cols = st.columns(5)
    for col, (label, status) in zip(
        cols,
        (
            ("Booked", None),
            ("Confirmed", "CONFIRMED"),
            ("Checked in", "CHECKED_IN"),
            ("Completed", "COMPLETED"),
            ("No-shows", "NO_SHOW"),
        ),
        strict=True,
    ):
        col.metric(label, frame.height if status is None else counts.get(status, 0), border=True)
    ui.table(
        frame.drop("client_id"),
        clients=audit_trail.client_ids_in(frame),
        key="sc_table",
        limit=1000,
        file_name=f"schedule_{first:%Y%m%d}_{last:%Y%m%d}.csv",
        empty=f"No appointments {'today' if view == 'Today' else 'this week'}: book from the scheduling screen.",
    )


ui.run_page(PAGE, body)
