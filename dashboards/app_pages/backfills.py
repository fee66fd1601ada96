"""Backfills (administrators): re-run an asset group's partitions for a date range through Dagster's GraphQL API,
and follow their progress here, so nobody needs the Dagster UI (which stays on loopback or behind SSO).

Each launch is recorded in the audit log with who launched what; other roles neither see this page nor can call
its loaders (dashboards/data/backfills.py checks the role again).
"""

import datetime as dt

import polars as pl
import streamlit as st

from dashboards.components import ui
from dashboards.data import backfills
from operational_api.errors import PlatformError

PAGE = "backfills"
LAUNCHED_KEY = "bf_launched"


def settings(groups: list[backfills.BackfillGroup], today: dt.date):
    names = [g.name for g in groups]
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox("Asset group", names, key="bf_group")
    group = groups[names.index(name)]
    newest = dt.date.fromisoformat(group.partition_keys[-1][:10])
    last = min(newest, today)
    days = c2.date_input("Dates", (last - dt.timedelta(days=6), last), key="bf_days", format="YYYY-MM-DD")
    first, last = (days[0], days[-1]) if isinstance(days, tuple | list) and days else (last, last)
    return group, first, last


def body(user, scope) -> None:
    st.title("Backfills")
    st.caption(
        "Re-materialise a group's partitions covering a range of dates. Runs go through the Dagster daemon; "
        f"webserver: {backfills.dagster_url()}"
    )
    try:
        groups = backfills.backfill_groups(user)
    except PlatformError as exc:
        st.info(ui.plain(f"{exc}. Start it with `mentalspace serve` (or set MENTALSPACE_DAGSTER_URL)."))
        return
    if not groups:
        st.info("No partitioned asset groups in this Dagster deployment.")
        return
    group, first, last = settings(groups, dt.date.today())
    st.caption(f"{len(group.assets)} asset(s): " + ", ".join("/".join(p) for p in group.assets))
    # A group partitioned by month (the measures) backfills whole months: say which before launching.
    keys = backfills.covering_partitions(group, first, last)
    if keys:
        span = keys[0] if len(keys) == 1 else f"{keys[0]} to {keys[-1]}"
        st.caption(
            ui.plain(
                f"Backfills {len(keys)} partition(s) covering {first} to {last}: {span} "
                "(a partition by month recomputes the whole month: its days, the weeks starting in it and the month)."
            )
        )
    if st.button("Launch backfill", type="primary", key="bf_launch"):
        try:
            backfill_id = backfills.launch(user, group, first, last)
        except PlatformError as exc:
            st.error(ui.plain(exc))
        else:
            st.session_state.setdefault(LAUNCHED_KEY, []).insert(0, (backfill_id, group.name, first, last))
            st.success(ui.plain(f"Launched backfill {backfill_id}: {group.name}, {first} to {last}."))
    launched = st.session_state.get(LAUNCHED_KEY, [])
    if launched:
        st.subheader("Launched from this session")
        st.button("Refresh progress", key="bf_refresh")
        rows = []
        for backfill_id, name, start, end in launched:
            try:
                state = backfills.progress(user, backfill_id)
                runs = ", ".join(f"{n} {s.lower()}" for s, n in sorted(state.runs.items())) or "none yet"
                rows.append(
                    {
                        "backfill": backfill_id,
                        "group": name,
                        "from": start,
                        "to": end,
                        "status": state.status,
                        "partitions": state.partitions,
                        "runs": runs,
                    }
                )
            except PlatformError as exc:
                rows.append(
                    {
                        "backfill": backfill_id,
                        "group": name,
                        "from": start,
                        "to": end,
                        "status": str(exc),
                        "partitions": None,
                        "runs": "",
                    }
                )
        ui.table(pl.DataFrame(rows), key="bf_progress", empty="")


ui.run_page(PAGE, body)
