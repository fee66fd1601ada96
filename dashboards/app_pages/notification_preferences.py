"""Notification preferences (every staff role): which non-critical messages the signed-in user receives.

Reads and writes the user's own rows through operational_api.notifications.kinds (the same rules as
`mentalspace notify-preferences`): critical alerts are shown switched on and cannot be switched off, here or
by a crafted request, because the save refuses the whole change.
"""

import streamlit as st

from dashboards.auth import store_engine
from dashboards.components import ui
from operational_api.db import session_scope
from operational_api.notifications.kinds import (
    CRITICAL_KINDS,
    KIND_LABELS,
    KINDS,
    PreferenceError,
    preferences,
    save_preferences,
)

PAGE = "notification_preferences"


def body(user, scope) -> None:
    st.title("Notification preferences")
    st.caption(
        "Choose which e-mails you receive. Critical compliance alerts (a note nearing its signing deadline, a "
        "missing safety plan, an unsigned supervision note, HIPAA training running out) always go."
    )
    with session_scope(store_engine()) as session:
        current = preferences(session, user.user_id)
    with st.form(f"{PAGE}_form"):
        choices = {
            kind: st.toggle(
                KIND_LABELS[kind],
                value=current[kind],
                key=f"{PAGE}_{kind}",
                disabled=kind in CRITICAL_KINDS,
                help="Critical: cannot be switched off." if kind in CRITICAL_KINDS else None,
            )
            for kind in KINDS
        }
        saved = st.form_submit_button("Save")
    if not saved:
        return
    try:
        with session_scope(store_engine()) as session:
            save_preferences(session, user.user_id, choices)
    except PreferenceError as exc:
        st.error(str(exc))
        return
    st.success("Saved.")


ui.run_page(PAGE, body)
