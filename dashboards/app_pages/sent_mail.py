"""Sent mail (administrators): the notification outbox, newest first, with each message as it was rendered.

Reads the store's outbox through operational_api.notifications (never the warehouse): what was queued, sent,
is still waiting for the mail server, bounced or was refused, and why (the server's code and words, no PHI).
"""

import polars as pl
import streamlit as st
import streamlit.components.v1 as components

from dashboards import audit_trail
from dashboards.auth import store_engine
from dashboards.components import ui
from operational_api.notifications.content import client_ids_named_in
from operational_api.notifications.mailbox import message_body, outbox_rows

PAGE = "sent_mail"
STATUSES = ("queued", "sent", "failed_permanent", "bounced", "withdrawn")


def body(user, scope) -> None:
    st.title("Sent mail")
    if user.role != "ADMIN":
        st.error("The outbox is for administrators.")
        return
    frame = outbox_rows(store_engine(), limit=2000)
    if frame.is_empty():
        st.info(
            "No message has been rendered yet: the schedules send the first digest at 07:00 on a working day."
        )
        return
    counts = frame.group_by("status").len()
    cols = st.columns(len(STATUSES))
    for col, status in zip(cols, STATUSES, strict=True):
        n = counts.filter(pl.col("status") == status)["len"].sum()
        col.metric(status.replace("_", " ").capitalize(), int(n))
    left, right = st.columns(2)
    kinds = left.multiselect("Kind", sorted(frame["kind"].unique().to_list()), key=f"{PAGE}_kinds")
    statuses = right.multiselect("Status", list(STATUSES), key=f"{PAGE}_statuses")
    shown = frame
    if kinds:
        shown = shown.filter(pl.col("kind").is_in(kinds))
    if statuses:
        shown = shown.filter(pl.col("status").is_in(statuses))
    ui.table(shown, key=f"{PAGE}_outbox", empty="No message matches these filters.", limit=500)
    if shown.is_empty():
        return
    chosen = st.selectbox(
        "Show message",
        shown["id"].to_list(),
        # A selectbox shows its options as plain text (no Markdown): escaping them would show the backslashes.
        format_func=lambda i: " · ".join(
            str(v) for v in shown.filter(pl.col("id") == i).select("id", "recipient", "subject").row(0)
        ),
        key=f"{PAGE}_message",
    )
    message = message_body(store_engine(), int(chosen))
    if message is None:
        st.info("That message is no longer in the outbox.")
        return
    html, text, to_client = message
    # The message names clients by initials and record number (a reminder greets its client by first name):
    # showing it is a view of those clients.
    audit_trail.shown([*client_ids_named_in(text), *([to_client] if to_client else [])])
    view = st.radio("View", ["HTML", "Plain text"], horizontal=True, key=f"{PAGE}_view")
    if view == "HTML" and html:  # a text message (SMS) has no HTML
        # Rendered in a sandboxed frame: the message's own markup never touches the page's.
        components.html(html, height=700, scrolling=True)
    else:
        # Plain text as is: st.code would load the syntax highlighter, whose script took ~0.4 s of the browser's
        # main thread on the benchmark machine to show a text with no syntax.
        st.text(text)


ui.run_page(PAGE, body)
