"""Sign-in (lockout, the not-built state) and the Kept Visit Rate as the metric explorer opens it."""

from __future__ import annotations

import datetime as dt

from dashboards import auth
from dashboards.auth import store_engine
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.auth import REFUSED, SignInThrottle
from operational_api.db import session_scope
from operational_api.services.users import CommandLineOperator, set_password, unlock_user
from tests.dashboards.conftest import chart_specs, demo_logins, new_app, signed_in_app


def _latest(clinician_id: int | None, grain: str) -> float:
    scope = (
        "scope = 'practice'"
        if clinician_id is None
        else f"scope = 'clinician' and clinician_id = {clinician_id}"
    )
    return float(
        Warehouse(current_environment())
        .query(
            "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
            f"and {scope} and period_grain = '{grain}' order by period_start desc limit 1"
        )
        .item()
    )


def test_administrator_sees_the_practice_kvr(demo_env):
    at = signed_in_app(demo_env, "ADMIN")
    at.switch_page("app_pages/metric_explorer.py").run()
    assert at.title[0].value == "Kept Visit Rate (KVR)"
    assert at.metric[0].value == f"{_latest(None, 'week'):.1f}%"
    assert len(chart_specs(at)) == 1
    assert "Whole practice" in at.selectbox(key="mx_clinician").options


def test_clinician_sees_only_their_own_kvr(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    at.switch_page("app_pages/metric_explorer.py").run()
    user = at.session_state["auth_user"]
    assert not [s for s in at.selectbox if s.key == "mx_clinician"], (
        "a clinician must not be offered anyone else"
    )
    at.radio(key="mx_grain").set_value("month").run()
    assert at.metric[0].value == f"{_latest(user.user_id, 'month'):.1f}%"


def test_wrong_password_is_refused_and_the_fifth_failure_locks(demo_env, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(auth, "THROTTLE", SignInThrottle(sleep=waits.append))
    # A staff member without a demo sign-in, so no other test (or worker) signs in as them meanwhile.
    logins = {email for email, _ in demo_logins(demo_env).values()}
    user = int(
        Warehouse(current_environment())
        .query(
            "select clinician_id from marts.dim_clinicians where role = 'CLINICIAN' order by clinician_id desc limit 1"
        )
        .item()
    )
    email = f"clinician{user}@practice.example"
    assert email not in logins
    operator, now = CommandLineOperator("test"), dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with session_scope(store_engine()) as session:
        set_password(session, operator, user, "Harbour-Lamp-42!", source="cli", now=now)
    at = new_app().run()
    for _ in range(5):
        at.text_input(key="auth_email").input(email)
        at.text_input(key="auth_password").input("not-the-password")
        at.button[0].click().run()
    refused = at.error[0].value
    assert refused == REFUSED
    at.text_input(key="auth_password").input("Harbour-Lamp-42!")
    at.button[0].click().run()
    assert at.error[0].value == refused, "a locked account reads exactly like a wrong password"
    assert "auth_user" not in at.session_state
    assert waits == [1.0, 2.0, 4.0], "this browser session is slowed down after three failures"
    with session_scope(store_engine()) as session:
        assert unlock_user(session, operator, user, source="cli", now=now)


def test_page_says_what_to_do_before_the_first_build(var_dir):
    at = new_app().run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
