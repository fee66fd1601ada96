"""Front desk tasks: today's appointments to mark (an outcome through the service layer), appointments not
closed out, upcoming visits without verified insurance, and clients with incomplete demographics (the warehouse's
open data-quality conditions)."""

import streamlit as st

from dashboards import audit_trail
from dashboards.components import quick_actions, ui
from dashboards.data import metrics, schedule

PAGE = "front_desk_tasks"


def body(user, scope) -> None:
    st.title("Front desk tasks")
    todays_outcomes(user, scope)
    stale = schedule.appointment_work_list(scope.clinician_ids, schedule.NOT_CLOSED_OUT)
    unverified = schedule.appointment_work_list(scope.clinician_ids, schedule.INSURANCE_NOT_VERIFIED)
    incomplete = schedule.incomplete_demographics(scope.clinician_ids)
    render(stale, unverified, incomplete)


def todays_outcomes(user, scope) -> None:
    """Mark today's visits (checked in, completed, no-show, late cancel) of a clinician in the user's scope."""
    st.subheader("Today's appointments")
    people = metrics.clinicians(scope.clinician_ids)
    names = dict(zip(people["clinician_id"].to_list(), people["clinician_name"].to_list(), strict=True))
    clinician_id, _ = ui.clinician_picker(scope, names, next(iter(names), None), "fd_clinician")
    if clinician_id is not None:
        # The work lists below are the warehouse's: a change shows there at its next refresh.
        quick_actions.mark_outcomes(user, clinician_id, "fd_outcome", (schedule.appointment_work_list,))


def render(stale, unverified, incomplete) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Appointments not closed out", stale.height, border=True)
    c2.metric("Insurance not verified (next 7 days)", unverified.height, border=True)
    c3.metric("Clients with incomplete demographics", incomplete.height, border=True)
    st.subheader("Appointments not closed out")
    ui.table(
        stale.drop("client_id"),
        clients=audit_trail.client_ids_in(stale),
        key="fd_stale",
        limit=1000,
        file_name="appointments_not_closed_out.csv",
        empty="Every past appointment is marked Completed, No-Show or Cancelled.",
    )
    st.subheader("Insurance not verified before the visit")
    ui.table(
        unverified.drop("client_id"),
        clients=audit_trail.client_ids_in(unverified),
        key="fd_unverified",
        limit=1000,
        file_name="insurance_not_verified.csv",
        empty="Insurance is verified for every insured client booked in the next 7 days.",
    )
    st.subheader("Incomplete demographics")
    ui.table(
        incomplete,
        key="fd_demographics",
        limit=1000,
        file_name="incomplete_demographics.csv",
        empty="Every client seen has complete demographics on file.",
    )


ui.run_page(PAGE, body)
