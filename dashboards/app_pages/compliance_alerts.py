"""Compliance alerts: the warehouse's open conditions the user may see, with their lifecycle in the
store; filter by type, severity, person and status; acknowledge or resolve one.

A clinician sees alerts about themself, a supervisor those about their team or escalated to them, an
administrator all. Acknowledge/resolve go through `operational_api.alerts`, which records who and when.
"""

import polars as pl
import streamlit as st

from dashboards.components import ui
from dashboards.data import alerts
from operational_api.alerts import AlertActionError

PAGE = "compliance_alerts"
ACTION_LIMIT = 500
TABLE_LIMIT = 1000


def settings(frame: pl.DataFrame) -> dict:
    c1, c2, c3, c4 = st.columns(4)
    return {
        "types": c1.multiselect("Type", sorted(frame["alert_type"].unique().to_list()), key="ca_types"),
        "severities": c2.multiselect("Severity", list(alerts.SEVERITIES), key="ca_severities"),
        "people": c3.multiselect("Person", sorted(frame["person"].unique().to_list()), key="ca_people"),
        "statuses": c4.multiselect("Status", list(alerts.LIFECYCLE), default=["OPEN", "ACKNOWLEDGED", "NOT SYNCED"],
                                   key="ca_statuses"),
    }


def body(user, scope) -> None:
    st.title("Compliance alerts")
    supervisor_id = user.user_id if user.role == "SUPERVISOR" else None
    done = st.session_state.pop("ca_notice", None)
    if done:
        st.success(done)
    frame = alerts.with_lifecycle(scope.clinician_ids, supervisor_id)
    if frame.is_empty():
        st.info("No open compliance conditions for you: nothing to acknowledge.")
        return
    chosen = settings(frame)
    shown = alerts.filter_alerts(frame, **chosen)
    render(shown, frame, scope, supervisor_id, user)


def render(shown: pl.DataFrame, everything: pl.DataFrame, scope, supervisor_id, user) -> None:
    counts = {s: everything.filter(pl.col("severity") == s).height for s in alerts.SEVERITIES}
    st.caption(f"{everything.height} open conditions: {counts['CRITICAL']} critical, {counts['WARNING']} warnings, "
               f"{counts['INFO']} for information · showing {shown.height} after filters")
    table = shown.select("alert_id", "severity", "status", "person", "alert_type", "message", "action_required",
                         "due_date", "acknowledged_at", "resolved_at", "alert_key")
    ui.table(table, key="ca_table", file_name="compliance_alerts.csv", limit=TABLE_LIMIT,
             empty="No alerts match these filters: clear a filter to see more.")
    actionable = shown.filter(pl.col("status").is_in(["OPEN", "ACKNOWLEDGED"]))
    if actionable.is_empty():
        return
    st.subheader("Act on an alert")
    if actionable.height > ACTION_LIMIT:
        st.caption(f"Showing the first {ACTION_LIMIT} alerts of this view: narrow the filters to reach the others.")
        actionable = actionable.head(ACTION_LIMIT)
    labels = {r["alert_key"]: f"#{r['alert_id']} · {r['severity']} · {r['status'].lower()} · {r['message']}"
              for r in actionable.iter_rows(named=True)}
    # Preselect the first alert nobody has acknowledged yet: that is usually the next one to act on.
    statuses = actionable["status"].to_list()
    first_open = statuses.index("OPEN") if "OPEN" in statuses else 0
    key = st.selectbox("Alert", list(labels), index=first_open, format_func=labels.get, key="ca_selected")
    status = actionable.filter(pl.col("alert_key") == key)["status"][0]
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button("Acknowledge", key="ca_acknowledge", disabled=status != "OPEN", type="primary"):
        _act("acknowledge", key, labels[key], scope, supervisor_id, user)
    if c2.button("Resolve", key="ca_resolve"):
        _act("resolve", key, labels[key], scope, supervisor_id, user)
    st.caption("Resolving records who closed it; if the condition is still there at the next sync, the alert reopens.")


def _act(action: str, key: str, label: str, scope, supervisor_id, user) -> None:
    try:
        alerts.act(action, key, scope.clinician_ids, supervisor_id, user.user_id)
    except (AlertActionError, alerts.AlertNotVisible) as exc:
        st.error(str(exc))
        return
    st.session_state["ca_notice"] = f"{'Acknowledged' if action == 'acknowledge' else 'Resolved'}: {label}"
    st.rerun()


ui.run_page(PAGE, body)
