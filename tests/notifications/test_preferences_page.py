"""The Notification preferences page (every staff role): a saved choice reaches the store and the digest run
honours it; critical alerts stay on, even when the request says otherwise."""

from __future__ import annotations

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
