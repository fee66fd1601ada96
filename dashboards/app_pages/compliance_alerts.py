"""Compliance alerts: the warehouse's open conditions the user may see, with their lifecycle in the
store; filter by type, severity, person and status; acknowledge or resolve one.

A clinician sees alerts about themself, a supervisor those about their team or escalated to them, an
administrator all. Acknowledge/resolve go through `operational_api.alerts`, which records who and when.
An administrator also sees the open AdvancedMD demographics conflicts (both systems changed a client since the
last sync; read live from the store, field names only), decided with `mentalspace amd resolve-demographics`.
"""

import polars as pl
import streamlit as st

from dashboards import audit_trail
from dashboards.auth import store_engine
from dashboards.components import ui
from dashboards.data import alerts
from ingest.advancedmd.demographics import open_conflicts
from operational_api.alerts import AlertActionError

PAGE = "compliance_alerts"
ACTION_LIMIT = 500
TABLE_LIMIT = 1000


def settings(choices: alerts.AlertChoices) -> dict:
    c1, c2, c3, c4 = st.columns(4)
    return {
        "types": tuple(c1.multiselect("Type", choices.alert_types, key="ca_types")),
        "severities": tuple(c2.multiselect("Severity", list(alerts.SEVERITIES), key="ca_severities")),
        "people": tuple(c3.multiselect("Person", choices.people, key="ca_people")),
        "statuses": tuple(
            c4.multiselect(
                "Status",
                list(alerts.LIFECYCLE),
                default=["OPEN", "ACKNOWLEDGED", "NOT SYNCED"],
                key="ca_statuses",
            )
        ),
    }


def body(user, scope) -> None:
    st.title("Compliance alerts")
    supervisor_id = user.user_id if user.role == "SUPERVISOR" else None
    done = st.session_state.pop("ca_notice", None)
    if done:
        st.success(ui.plain(done))
    if user.role == "ADMIN":
        demographics_conflicts()
    choices = alerts.alert_choices(scope.clinician_ids, supervisor_id)
    if choices.total == 0:
        st.info("No open compliance conditions for you: nothing to acknowledge.")
        return
    chosen = settings(choices)
    view = alerts.alert_view(scope.clinician_ids, supervisor_id, **chosen, action_limit=ACTION_LIMIT)
    render(view, choices, scope, supervisor_id, user)


def render(view: alerts.AlertView, choices: alerts.AlertChoices, scope, supervisor_id, user) -> None:
    counts = choices.severity_counts
    st.caption(
        f"{choices.total} open conditions: {counts['CRITICAL']} critical, {counts['WARNING']} warnings, "
        f"{counts['INFO']} for information · showing {view.table.height} after filters"
    )
    ui.table(
        view.table,
        key="ca_table",
        clients=view.client_ids,
        file_name="compliance_alerts.csv",
        limit=TABLE_LIMIT,
        empty="No alerts match these filters: clear a filter to see more.",
    )
    if not view.actions:
        return
    st.subheader("Act on an alert")
    if view.actionable_count > ACTION_LIMIT:
        st.caption(
            f"Showing the first {ACTION_LIMIT} alerts of this view: narrow the filters to reach the others."
        )
    labels = {key: label for key, (label, _) in view.actions.items()}
    # Preselect the first alert nobody has acknowledged yet: that is usually the next one to act on.
    key = st.selectbox(
        "Alert", list(labels), index=view.first_open, format_func=labels.get, key="ca_selected"
    )
    status = view.actions[key][1]
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button("Acknowledge", key="ca_acknowledge", disabled=status != "OPEN", type="primary"):
        _act("acknowledge", key, labels[key], scope, supervisor_id, user)
    if c2.button("Resolve", key="ca_resolve"):
        _act("resolve", key, labels[key], scope, supervisor_id, user)
    st.caption(
        "Resolving records who closed it; if the condition is still there at the next sync, the alert reopens."
    )


def demographics_conflicts() -> None:
    """Clients both the store and AdvancedMD changed since the last sync: nothing is pushed for them until an
    administrator decides whose values stand. Shown only while there are some."""
    rows = open_conflicts(store_engine())
    if not rows:
        return
    st.subheader("AdvancedMD demographics conflicts")
    ui.table(
        pl.DataFrame(rows, schema_overrides={"conflict_at": pl.Datetime}).rename(
            {"conflict_fields": "fields changed in both", "conflict_at": "since (UTC)"}
        ),
        key="ca_amd_conflicts",
        file_name="advancedmd_demographics_conflicts.csv",
        empty="",
    )
    st.caption(
        "Decide with `mentalspace amd resolve-demographics CLIENT_ID --keep store` (the store's values go to "
        "AdvancedMD with the next patient sync) or `--keep advancedmd`."
    )


def _act(action: str, key: str, label: str, scope, supervisor_id, user) -> None:
    try:
        alerts.act(action, key, scope.clinician_ids, supervisor_id, user.user_id, actor_role=user.role)
    except (AlertActionError, alerts.AlertNotVisible) as exc:
        # The action rolled back with its own audit row; the refusal is recorded on its own.
        concerned = alerts.open_conditions(scope.clinician_ids, supervisor_id).filter(
            pl.col("alert_key") == key
        )
        audit_trail.record(
            user,
            f"alert.{action}",
            outcome="refused",
            detail={"reason": type(exc).__name__},
            entity="compliance_alert",
            entity_id=key,
            client_ids=audit_trail.client_ids_in(concerned),
        )
        st.error(ui.plain(exc))
        return
    st.session_state["ca_notice"] = f"{'Acknowledged' if action == 'acknowledge' else 'Resolved'}: {label}"
    st.rerun()


ui.run_page(PAGE, body)
