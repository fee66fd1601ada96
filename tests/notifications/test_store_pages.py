"""Pages that read the store only, on the hand-built practice without a warehouse:

- Notification preferences (every staff role): a saved choice reaches the store and the digest run honours it;
  critical alerts stay on, even when the request says otherwise;
- Sent mail lists a client reminder by record number, not by address or phone number, and showing it is
  recorded as a view of that client."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from sqlalchemy import select

from dashboards.access import PAGES_BY_ROLE, pages_for
from operational_api.db import get_engine, session_scope
from operational_api.notifications.kinds import CRITICAL_ALERT, DAILY_DIGEST, MONDAY_REPORT, opted_out
from operational_api.notifications.models import NotificationPreference
from tests.notifications import practice
from tests.notifications.helpers import signed_in_app

PAGE = "app_pages/notification_preferences.py"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The hand-built practice's store alone: the page reads and writes the store, never the warehouse."""
    url = f"sqlite:///{tmp_path / 'operational.db'}"
    practice.build(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(tmp_path / "var"))
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = get_engine(url)
    yield engine
    engine.dispose()
    st.cache_resource.clear()


def _rows(engine) -> set[tuple[int, str, bool]]:
    with session_scope(engine) as session:
        return set(
            session.execute(
                select(
                    NotificationPreference.user_id,
                    NotificationPreference.kind,
                    NotificationPreference.enabled,
                )
            ).tuples()
        )


def _save(at):
    (button,) = [b for b in at.button if b.label == "Save"]
    button.click().run()


def test_every_staff_role_has_the_page():
    assert all("notification_preferences" in pages_for(role) for role in PAGES_BY_ROLE)


def test_a_clinician_switches_the_digest_off_and_critical_alerts_stay_on(store):
    at = signed_in_app(store, practice.CLINICIAN)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Notification preferences"
    critical = at.toggle(key=f"notification_preferences_{CRITICAL_ALERT}")
    assert critical.value is True and critical.disabled
    assert at.toggle(key=f"notification_preferences_{DAILY_DIGEST}").value is True

    at.toggle(key=f"notification_preferences_{DAILY_DIGEST}").set_value(False)
    _save(at)
    assert not at.exception and [s.value for s in at.success] == ["Saved."]
    assert _rows(store) == {
        (practice.CLINICIAN, DAILY_DIGEST, False),
        (practice.CLINICIAN, MONDAY_REPORT, True),
        (practice.CLINICIAN, "supervision_report", True),
    }
    with session_scope(store) as session:
        assert opted_out(session, DAILY_DIGEST) == {practice.CLINICIAN}

    # A fresh visit shows the saved choice.
    again = signed_in_app(store, practice.CLINICIAN)
    again.switch_page(PAGE).run()
    assert again.toggle(key=f"notification_preferences_{DAILY_DIGEST}").value is False


def test_a_critical_alert_cannot_be_switched_off_even_by_a_forged_request(store):
    at = signed_in_app(store, practice.ADMIN)
    at.switch_page(PAGE).run()
    # The widget is disabled in the browser; a crafted request could still send False: the save refuses it all.
    at.session_state[f"notification_preferences_{CRITICAL_ALERT}"] = False
    at.toggle(key=f"notification_preferences_{MONDAY_REPORT}").set_value(False)
    _save(at)
    assert [e.value for e in at.error] == [
        "'critical_alert' messages are critical and cannot be switched off"
    ]
    assert not at.success and _rows(store) == set()


def test_sent_mail_lists_a_reminder_by_record_number_and_audits_showing_it(store):
    from operational_api.audit import AuditEvent
    from operational_api.notifications import reminders

    reminders.run_appointment_reminders(store, now=practice.utc("2026-11-23 23:45"), smtp=None, sms=None)
    at = signed_in_app(store, practice.ADMIN)
    at.switch_page("app_pages/sent_mail.py").run()
    assert not at.exception, at.exception
    (outbox,) = [f.value for f in at.dataframe if "recipient" in f.value.columns]
    assert sorted(outbox["recipient"]) == ["client #1", "client #1", "client #3"]
    assert not any("@" in r or "+1" in r for r in outbox["recipient"])
    sms_row = outbox[(outbox["kind"] == "reminder_sms") & (outbox["recipient"] == "client #3")]
    at.selectbox(key="sent_mail_message").set_value(int(sms_row["id"].iloc[0])).run()
    assert not at.exception, at.exception
    assert at.text[0].value.startswith("Hi Philippa, a reminder of your appointment with Cara Clin")
    with session_scope(store) as session:
        views = session.scalars(
            select(AuditEvent.client_ids).where(
                AuditEvent.actor_user_id == practice.ADMIN,
                AuditEvent.action == "page.view",
                AuditEvent.entity_id == "sent_mail",
            )
        ).all()
    # First the newest message, shown by default (client 1's SMS), then the one chosen (client 3's).
    assert [json.loads(v) for v in views] == [[1], [3]]
