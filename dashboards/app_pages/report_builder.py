"""Custom report builder (PRD Module 10): measures from the metric dictionary, for the practice or clinicians in
the user's scope, by week or month over a date range; the table and a chart; saved by name. Administrators and
billing staff also subscribe people to any report (the fixed ones and saved custom ones) here."""

import polars as pl
import streamlit as st
from sqlalchemy import select

from dashboards.auth import store_engine
from dashboards.components import ui
from dashboards.components.charts import lines, show
from dashboards.components.report_controls import clinician_names
from dashboards.data import module10, periods
from dashboards.data.dictionary import definitions
from operational_api.db import session_scope
from operational_api.models import User
from operational_api.reports import service
from operational_api.reports.models import Cadence, ReportSubscription

PAGE = "report_builder"
SCOPES = {"Whole practice": "practice", "Clinicians": "clinicians"}


def body(user, scope) -> None:
    st.title("Report builder")
    as_of = periods.as_of()
    catalogue = {k: d for k, d in definitions().items()}
    keys = st.multiselect(
        "Measures",
        sorted(catalogue, key=lambda k: (catalogue[k].category, catalogue[k].label)),
        default=["kept_visit_rate"],
        format_func=lambda k: f"{catalogue[k].category}: {catalogue[k].label}",
        key="rb_measures",
    )
    names = clinician_names(scope)
    scope_choices = list(SCOPES) if scope.sees_everyone else ["Clinicians"]
    chosen_scope = SCOPES[st.radio("Scope", scope_choices, horizontal=True, key="rb_scope")]
    ids: list[int] = []
    if chosen_scope == "clinicians":
        ids = st.multiselect(
            "Clinicians",
            list(names),
            default=list(names)[:1],
            format_func=lambda i: names.get(i, str(i)),
            key="rb_clinicians",
        )
        ids = [i for i in ids if scope.allows(i)]  # never hand a loader an id outside the scope
    grain = {"Month": "month", "Week": "week"}[
        st.segmented_control("Grain", ["Month", "Week"], default="Month", key="rb_grain") or "Month"
    ]
    default_from = periods.months_back(as_of, 2)
    picked = st.date_input("Date range", value=(default_from, as_of), max_value=as_of, key="rb_range")
    first, last = picked if isinstance(picked, tuple) and len(picked) == 2 else (default_from, as_of)
    if not keys or (chosen_scope == "clinicians" and not ids):
        st.info("Pick at least one measure and, for clinicians, at least one clinician.")
    else:
        definition = {
            "metric_keys": keys,
            "scope": chosen_scope,
            "clinician_ids": ids,
            "grain": grain,
            "date_from": first.isoformat(),
            "date_to": last.isoformat(),
        }
        table = module10.custom_table(
            definition, periods.period_start(first, grain), periods.period_start(last, grain)
        )
        if not table.is_empty():
            show(lines(table, keys[0], catalogue[keys[0]].label), "rb_chart")
        ui.table(table, key="rb_table", empty="No figures for this choice.", file_name="custom_report.csv")
        with st.form("rb_save"):
            name = st.text_input("Save as", key="rb_name", max_chars=100)
            if st.form_submit_button("Save report"):
                try:
                    report_id = service.save_report(
                        store_engine(), user.user_id, name, definition, set(catalogue)
                    )
                    st.success(f"Saved “{ui.plain(name.strip())}” (report custom:{report_id}).")
                except service.ReportError as exc:
                    st.error(str(exc))
    if user.role in service.SUBSCRIBER_ROLES:
        subscriptions(user)


def subscriptions(user) -> None:
    st.subheader("Scheduled delivery")
    engine = store_engine()
    fixed = {name: spec.title for name, spec in module10.fixed_reports().items()}
    custom = {f"{service.CUSTOM_PREFIX}{i}": f"Custom: {n}" for i, n, _ in service.saved_reports(engine)}
    reports = fixed | custom
    with session_scope(engine) as session:
        staff = {
            u.id: f"{u.first_name} {u.last_name} ({u.role.lower()})"
            for u in session.scalars(
                select(User).where(User.is_active.is_(True), User.role != "CLIENT").order_by(User.last_name)
            )
        }
    with st.form("rb_subscribe"):
        report = st.selectbox("Report", list(reports), format_func=reports.get, key="rb_sub_report")
        recipient = st.selectbox("Recipient", list(staff), format_func=staff.get, key="rb_sub_recipient")
        cadence = st.selectbox("Cadence", [c.value for c in Cadence], key="rb_sub_cadence")
        grain = st.selectbox(
            "Grain (productivity, compliance, quarterly review)", ["month", "week", "day"], key="rb_sub_grain"
        )
        if st.form_submit_button("Subscribe"):
            try:
                service.subscribe(
                    engine,
                    actor_user_id=user.user_id,
                    report_name=report,
                    recipient_user_id=int(recipient),
                    cadence=cadence,
                    filters={"grain": grain},
                )
                st.success(
                    f"Subscribed {ui.plain(staff[recipient])} to {ui.plain(reports[report])} ({cadence})."
                )
            except service.ReportError as exc:
                st.error(str(exc))
    with session_scope(engine) as session:
        current = [
            {
                "report": reports.get(s.report_name, s.report_name),
                "recipient": staff.get(s.recipient_user_id, ""),
                "cadence": s.cadence,
                "filters": str(s.filters or {}),
            }
            for s in session.scalars(select(ReportSubscription).where(ReportSubscription.active.is_(True)))
        ]
    ui.table(
        pl.DataFrame(
            current,
            schema={"report": pl.String, "recipient": pl.String, "cadence": pl.String, "filters": pl.String},
        ),
        key="rb_subscriptions",
        empty="No subscriptions yet.",
        file_name="report_subscriptions.csv",
    )


ui.run_page(PAGE, body)
