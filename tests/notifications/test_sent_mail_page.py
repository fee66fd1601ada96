"""The administrators' Sent mail page lists the outbox with each row's status and renders a message; other
roles do not get the page."""

from __future__ import annotations

import datetime as dt

import pytest
import streamlit as st

from dashboards.access import pages_for
from dashboards.data.warehouse import reader
from operational_api.notifications import service
from tests.notifications.helpers import signed_in_app
from tests.notifications.practice import ADMIN, AS_OF


def test_admin_sees_the_outbox_and_a_message(store, mail_server, smtp):
    st.cache_data.clear()
    st.cache_resource.clear()
    service.run_daily_digest(store, AS_OF, settings=smtp, now=dt.datetime(2026, 11, 24, 12))
    at = signed_in_app(store, ADMIN)
    at.switch_page("app_pages/sent_mail.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Sent mail"
    (outbox,) = [f.value for f in at.dataframe if "recipient" in f.value.columns]
    assert sorted(outbox["recipient"]) == [
        "ben.solo@practice.example",
        "cara.clin@practice.example",
        "sam.super@practice.example",
    ]
    assert set(outbox["status"]) == {"sent"} and set(outbox["kind"]) == {"daily_digest"}
    at.radio(key="sent_mail_view").set_value("Plain text").run()
    assert "Daily digest" in at.text[0].value and "Today's appointments" in at.text[0].value
    assert {m.value for m in at.metric if m.label == "Sent"} == {"3"}
    assert "sent_mail" not in pages_for("CLINICIAN") and "sent_mail" in pages_for("ADMIN")


@pytest.fixture(autouse=True)
def _close_the_pages_warehouse_connection():
    # The page's reader keeps a DuckDB connection for 2 idle seconds and closes it from a timer thread; a
    # process ending meanwhile (this module can be the run's last) would close it during interpreter shutdown.
    yield
    reader().close()
    st.cache_resource.clear()
