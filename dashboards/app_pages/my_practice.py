"""My Practice (PRD Module 7, clinician dashboard): this week, documentation, client engagement,
revenue, alerts and nudges, notes pending signature, clients to rebook, supervision hours.

A clinician sees only themself; a supervisor may open a supervisee's page for a one-to-one, and an
administrator anyone's. The clinician comes from the signed-in user, or from the picker / `?clinician=`
only when that id is in the user's scope.
"""

import streamlit as st

from dashboards import audit_trail
from dashboards.components import quick_actions, ui
from dashboards.data import alerts, metrics, periods
from dashboards.data.practice import (
    REBOOK_WINDOW_DAYS,
    load_my_practice,
    nudges,
    unsigned_notes,
    week_appointments,
)
from dashboards.data.status import Status

PAGE = "my_practice"
PICKER_KEY = "mp_clinician"


def settings(user, scope) -> tuple[int | None, bool]:
    """Whose page: the user themself, or a clinician in their scope picked here or named in the URL."""
    people = metrics.clinicians(scope.clinician_ids)
    names = dict(zip(people["clinician_id"].to_list(), people["clinician_name"].to_list(), strict=True))
    default = user.user_id if user.user_id in names else next(iter(names), None)
    return ui.clinician_picker(scope, names, default, PICKER_KEY)


def body(user, scope) -> None:
    st.title("My Practice")
    clinician_id, refused = settings(user, scope)
    ui.refused_notice(refused)
    if clinician_id is None:
        st.info("There is no clinician in your scope yet: ask an administrator to link your supervisees.")
        return
    as_of = periods.as_of()
    data = load_my_practice(clinician_id, scope.clinician_ids, as_of)
    mine = alerts.open_conditions((clinician_id,), None)
    render(data, mine, user)


# What an action changes: the page's loaders read again on the next render (the warehouse's side at its refresh).
CHANGED_BY_ACTIONS = (load_my_practice, unsigned_notes, week_appointments)


def render(data, open_alerts, user) -> None:
    """The page, with the quick actions (sign a note, mark today's outcomes) that write to the store as `user`."""
    st.caption(
        f"Week of {data.week_start:%a %d %b} · month to date from {data.month_start:%d %b} · "
        f"as of {data.as_of:%a %d %b %Y}"
    )

    st.subheader("This week")
    week, figs = data.week, data.week_figures
    kvr = figs["kept_visit_rate"]
    c1, c2, c3, c4, c5 = st.columns(5)
    ui.metric_card(
        c1,
        "mp-kvr",
        "KVR (this week)",
        kvr.definition,
        kvr.value,
        status=kvr.status,
        change=kvr.change,
        help=f"{int(kvr.numerator or 0)} completed of {int(kvr.denominator or 0)} appointments with a "
        "final status this week; change against last week.",
    )
    ui.metric_card(
        c2,
        "mp-completed",
        "Sessions completed",
        None,
        None,
        status=kvr.status,
        value_text=f"{week['completed']} of {week['scheduled']}",
        note=f"{week['still_open']} still on the books",
        help="Completed of all appointments booked this week (rescheduled originals left out).",
    )
    no_show = figs["no_show_rate"]
    ui.metric_card(
        c3,
        "mp-no-shows",
        "No-shows",
        no_show.definition,
        no_show.value,
        status=no_show.status,
        value_text=str(week["no_shows"]),
        note=no_show.text,
    )
    cancel = figs["cancellation_rate"]
    ui.metric_card(
        c4,
        "mp-cancellations",
        "Cancellations",
        cancel.definition,
        cancel.value,
        status=cancel.status,
        value_text=str(week["cancelled"]),
        note=cancel.text,
    )
    unsigned = data.unsigned
    oldest = int(unsigned["days_unsigned"].max()) if not unsigned.is_empty() else None
    overdue = int(unsigned["past_deadline"].sum()) if not unsigned.is_empty() else 0
    status = Status.GOOD if unsigned.is_empty() else Status.URGENT if overdue else Status.REVIEW
    ui.metric_card(
        c5,
        "mp-unsigned",
        "Unsigned notes",
        None,
        None,
        status=status,
        value_text=str(unsigned.height),
        note="none waiting" if oldest is None else f"oldest: {oldest} days",
        help="Georgia rule: notes must be signed within 7 days.",
    )

    st.subheader("Today and tomorrow")
    ui.table(
        data.schedule.drop("clinician"),
        key="mp_schedule",
        file_name="my_schedule.csv",
        empty="Nothing booked today or tomorrow: open slots can go to clients waiting for a rebook (below).",
    )
    with st.expander("Mark an appointment's outcome (today)"):
        quick_actions.mark_outcomes(user, data.clinician_id, "mp_outcome", CHANGED_BY_ACTIONS)

    m = data.month_figures
    st.subheader("Documentation status (month to date)")
    d1, d2, d3 = st.columns(3)
    for col, key, label in (
        (d1, "same_day_documentation_rate", "Same-day documentation"),
        (d2, "average_documentation_time", "Average documentation time"),
        (d3, "unsigned_note_backlog", "Notes unsigned past 7 days (today)"),
    ):
        f = m[key]
        # The backlog is counted on the period's last day: for the running month, today.
        ui.metric_card(
            col,
            f"mp-{key}",
            label,
            f.definition,
            f.value,
            status=f.status,
            change=f.change,
            help="Change against last month"
            + (" (its last day)." if key == "unsigned_note_backlog" else "."),
        )

    st.subheader("Client engagement")
    e1, e2, e3 = st.columns(3)
    for col, key, label in (
        (e1, "rebook_rate", "Rebook rate"),
        (e2, "client_retention_90_day", "90-day retention"),
    ):
        f = m[key]
        ui.metric_card(
            col,
            f"mp-{key}",
            label,
            f.definition,
            f.value,
            status=f.status,
            change=f.change,
            help="Month to date; change against last month.",
        )
    ui.metric_card(
        e3,
        "mp-active",
        "Active clients",
        None,
        None,
        value_text="—" if data.active_clients is None else str(data.active_clients),
        help="Clients with a completed visit in the last 90 days, not discharged (the dictionary's "
        "active client).",
    )

    st.subheader("Revenue (month to date)")
    r1, r2, r3 = st.columns(3)
    billing = data.billing
    billed = m["billing_compliance_rate"]
    ui.metric_card(
        r1,
        "mp-billed",
        "Sessions billed",
        billed.definition,
        billed.value,
        status=billed.status,
        value_text=f"{billing['sessions_billed']} of {billing['sessions_completed']}",
        note=billed.text,
    )
    reimbursement = m["average_reimbursement_per_session"]
    ui.metric_card(
        r2,
        "mp-reimbursement",
        f"Reimbursement ({periods.period_label(reimbursement.period, data.as_of, settled=True)})",
        reimbursement.definition,
        reimbursement.value,
        status=reimbursement.status,
        change=reimbursement.change,
        help=f"Sessions of {reimbursement.period:%B %Y}: recent months keep rising as claims settle "
        "(typically 2-6 weeks), so the latest settled month is shown.",
    )
    ui.metric_card(
        r3,
        "mp-outstanding",
        "Outstanding charges",
        None,
        None,
        value_text=f"${billing['outstanding_amount']:,.2f}",
        help="Receivables of your charges today (charges less payments and adjustments).",
    )

    left, right = st.columns(2)
    with left:
        st.subheader("Alerts and nudges")
        ui.status_lines(nudges(data, open_alerts))
        ui.status_legend()
    with right:
        st.subheader("Supervision hours")
        sup = data.supervision
        if sup.denominator is None:
            st.write("No supervision requirement applies to this licence this month.")
        else:
            ui.status_line(
                sup.status,
                f"{sup.numerator:g} of {sup.denominator:g} hours logged this month "
                f"({sup.definition.georgia_rule}).",
            )

    st.subheader("Notes pending signature")
    ui.table(
        unsigned.select(
            "note_id",
            "client",
            "note_type",
            "service_date",
            "signature_due_date",
            "days_unsigned",
            "past_deadline",
        ),
        key="mp_unsigned",
        clients=audit_trail.client_ids_in(unsigned),
        empty="No notes waiting for your signature.",
        file_name="notes_pending_signature.csv",
    )
    with st.expander("Sign a pending note"):
        quick_actions.sign_notes(user, data.clinician_id, "mp_sign", CHANGED_BY_ACTIONS)
    st.subheader(f"Clients not rebooked in {REBOOK_WINDOW_DAYS}+ days")
    ui.table(
        data.not_rebooked.select("client", "last_visit_date", "days_since_last_visit"),
        clients=audit_trail.client_ids_in(data.not_rebooked),
        key="mp_rebook",
        empty="Every active client has a visit on the books or was seen recently.",
        file_name="clients_to_rebook.csv",
    )
    st.subheader("Open alerts")
    ui.table(
        open_alerts.select("severity", "alert_type", "message", "action_required", "due_date"),
        key="mp_alerts",
        clients=audit_trail.client_ids_in(open_alerts),
        limit=1000,
        empty="No open alerts: nothing needs your attention.",
        file_name="my_alerts.csv",
        # Fixed widths (about 950 px) keep the long texts from pushing the due date off the page.
        column_config={
            "severity": st.column_config.Column(width=80),
            "alert_type": st.column_config.Column(width=210),
            "message": st.column_config.TextColumn(width=340),
            "action_required": st.column_config.TextColumn(width=220),
            "due_date": st.column_config.DateColumn(format="YYYY-MM-DD", width=100),
        },
    )


ui.run_page(PAGE, body)
