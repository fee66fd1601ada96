"""Audit log (administrators): who did what, when, to which client's data; filter and export to CSV.

Reads `audit_events` through operational_api.audit_chain (the store, not the warehouse: the log never leaves it).
Each search is itself recorded (`audit.search`), and so is the CSV export, like every download.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboards import audit_trail
from dashboards.auth import store_engine
from dashboards.components import ui
from operational_api.audit_chain import AuditFilter, known_actions, search
from operational_api.settings import practice_timezone

PAGE = "audit_log"
ROW_LIMIT = 5_000
OUTCOMES = ["ok", "refused", "failed"]


def settings(today: dt.date) -> tuple[AuditFilter, dict]:
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 2, 1])
    days = c1.date_input("Days", (today - dt.timedelta(days=6), today), key="al_days", format="YYYY-MM-DD")
    first, last = (days[0], days[-1]) if isinstance(days, tuple | list) and days else (today, today)
    user_id = c2.number_input("User id", min_value=0, value=None, step=1, key="al_user")
    client_id = c3.number_input("Client id", min_value=0, value=None, step=1, key="al_client")
    actions = c4.multiselect("Action", known_actions(store_engine()), key="al_actions")
    outcome = c5.selectbox("Outcome", [None, *OUTCOMES], format_func=lambda o: o or "any", key="al_outcome")
    zone = ZoneInfo(practice_timezone())

    def utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC).replace(tzinfo=None)

    chosen = AuditFilter(
        since=utc(first),
        until=utc(last + dt.timedelta(days=1)),
        actor_user_id=None if user_id is None else int(user_id),
        actions=tuple(actions),
        client_id=None if client_id is None else int(client_id),
        outcome=outcome,
    )
    described = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "user_id": chosen.actor_user_id,
        "actions": list(chosen.actions),
        "client_id": chosen.client_id,
        "outcome": outcome,
    }
    return chosen, described


def frame_of(events, timezone: str) -> pl.DataFrame:
    zone = ZoneInfo(timezone)
    return pl.DataFrame(
        {
            "id": [e.id for e in events],
            "when": [
                e.occurred_at.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None) for e in events
            ],
            "user_id": [e.actor_user_id for e in events],
            "role": [e.actor_role for e in events],
            "source": [e.source for e in events],
            "action": [e.action for e in events],
            "outcome": [e.outcome for e in events],
            "entity": [e.entity for e in events],
            "entity_id": [e.entity_id for e in events],
            "client_ids": [e.client_ids for e in events],
        },
        schema={
            "id": pl.Int64,
            "when": pl.Datetime,
            "user_id": pl.Int64,
            "role": pl.String,
            "source": pl.String,
            "action": pl.String,
            "outcome": pl.String,
            "entity": pl.String,
            "entity_id": pl.String,
            "client_ids": pl.String,
        },
    )


def body(user, scope) -> None:
    st.title("Audit log")
    st.caption(
        "Every sign-in, page view of client data, CSV download, API read and write, alert action, ERA posting "
        "and administration, hash-chained (`mentalspace audit verify`). Times in the practice's time zone."
    )
    today = dt.datetime.now(ZoneInfo(practice_timezone())).date()
    chosen, described = settings(today)
    events = search(store_engine(), chosen, limit=ROW_LIMIT)
    if st.session_state.get("al_last_search") != described:
        audit_trail.record(
            user, "audit.search", entity="audit_events", detail={**described, "rows": len(events)}
        )
        st.session_state["al_last_search"] = described
    if len(events) == ROW_LIMIT:
        st.caption(f"The newest {ROW_LIMIT:,} events match; narrow the days or filters to see older ones.")
    ui.table(
        frame_of(events, practice_timezone()),
        key="al_table",
        file_name=f"audit_log_{described['from']}_{described['to']}.csv",
        limit=1000,
        empty="No audit events match these filters.",
    )


ui.run_page(PAGE, body)
