"""The dashboards' sign-in with MFA (AppTest): password then TOTP code; first-time enrolment with its QR code,
secret and 10 recovery codes; a recovery code works once; 5 bad codes lock; lapsed HIPAA training suspends.

Each test uses its own staff member of the demo practice (never a demo sign-in, which other tests use) and a
fixed dashboards clock, so the codes it computes are the ones the page expects.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import auth
from dashboards.auth import store_engine
from operational_api import mfa
from operational_api.auth import REFUSED, TRAINING_SUSPENDED, SignInThrottle
from operational_api.db import session_scope
from operational_api.services.users import CommandLineOperator, reset_mfa, set_password, unlock_user
from tests.dashboards.conftest import demo_logins, new_app

PASSWORD = "Harbour-Lamp-42!"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# On a step boundary + 5 s, so a code computed here is good for the whole test.
T0 = dt.datetime.fromtimestamp((dt.datetime.now(dt.UTC).timestamp() // 30) * 30 + 5, dt.UTC)
OPERATOR = CommandLineOperator("test")


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(auth, "clock", lambda: T0)
    monkeypatch.setattr(auth, "THROTTLE", SignInThrottle(sleep=lambda _s: None))
    return T0


def staff_member(var, index: int, *, enrolled: bool, training_ok: bool = True) -> str:
    """The index-th spare staff member (no demo sign-in; not the one test_sign_in_and_kvr locks), set up."""
    taken = {email for email, _ in demo_logins(var).values()}
    with sqlite3.connect(var / "operational.db") as con:
        rows = con.execute(
            "select id, email from users where role in ('CLINICIAN', 'SUPERVISOR') "
            "and id in (select user_id from hipaa_trainings) order by id"
        ).fetchall()
        last_clinician = con.execute("select max(id) from users where role = 'CLINICIAN'").fetchone()[0]
        spare = [(i, e) for i, e in rows if e not in taken and i != last_clinician]
        user_id, email = spare[index]
        # Updates only (no new rows), so the store still counts as the generated demo.
        expires = T0.date() + dt.timedelta(days=200 if training_ok else -1)
        con.execute(
            "update hipaa_trainings set expires_date = ? where user_id = ?", (expires.isoformat(), user_id)
        )
    now = T0.replace(tzinfo=None)
    with session_scope(store_engine()) as session:
        set_password(session, OPERATOR, user_id, PASSWORD, source="cli", now=now)
        unlock_user(session, OPERATOR, user_id, source="cli", now=now)
        reset_mfa(session, OPERATOR, user_id, source="cli", now=now)
    if enrolled:
        with sqlite3.connect(var / "operational.db") as con:
            con.execute(
                "update users set mfa_secret = ?, mfa_enrolled_at = ? where id = ?",
                (SECRET, now.isoformat(sep=" "), user_id),
            )
    return email


def password_step(email: str, password: str = PASSWORD) -> AppTest:
    at = new_app().run()
    at.text_input(key="auth_email").input(email)
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def enter_code(at: AppTest, code: str) -> AppTest:
    at.text_input(key="auth_code").input(code)
    at.button(key="FormSubmitter:auth_code_form-Verify").click().run()
    assert not at.exception, at.exception
    return at


def signed_in(at: AppTest) -> bool:
    return "auth_user" in at.session_state


def test_password_then_totp_code_signs_in(demo_env, clock):
    email = staff_member(demo_env, 0, enrolled=True)
    at = password_step(email)
    assert not signed_in(at) and [t.value for t in at.title] == ["Sign in"]
    assert at.text_input(key="auth_code").label == "Authentication code"
    enter_code(at, "000000")
    assert at.error[0].value == REFUSED and not signed_in(at)
    enter_code(at, mfa.current_code(SECRET, T0))
    assert signed_in(at) and at.session_state["auth_user"].role in ("CLINICIAN", "SUPERVISOR")
    assert "auth_pending" not in at.session_state, "the password ticket is gone once signed in"


def test_first_sign_in_enrols_and_a_recovery_code_works_once(demo_env, clock):
    email = staff_member(demo_env, 1, enrolled=False)
    at = password_step(email)
    assert "Set up multi-factor sign-in" in [h.value for h in at.subheader]
    assert len(at.get("image")) == 1, "the QR code"
    secret = at.code[0].value
    assert len(secret) == 32 and mfa.enrolment_for(email, secret).secret == secret
    at.text_input(key="auth_enrol_code").input(mfa.current_code(secret, T0))
    at.button(key="FormSubmitter:auth_enrol_form-Confirm").click().run()
    codes = at.code[0].value.splitlines()
    assert len(codes) == 10 and not signed_in(at), "the recovery codes are shown before the pages open"
    at.button(key="auth_codes_saved").click().run()
    assert signed_in(at)

    again = enter_code(password_step(email), codes[0])
    assert signed_in(again), [e.value for e in again.error]
    reused = enter_code(password_step(email), codes[0])
    assert not signed_in(reused) and reused.error[0].value == REFUSED


def test_five_bad_codes_lock_the_account(demo_env, clock):
    email = staff_member(demo_env, 2, enrolled=True)
    at = password_step(email)
    for _ in range(4):
        enter_code(at, "000000")
    assert at.error[0].value == REFUSED
    at = password_step(email)  # a fresh password step: the code failures still count
    enter_code(at, "111111")
    enter_code(at, mfa.current_code(SECRET, T0))
    assert not signed_in(at) and at.error[0].value == REFUSED, "locked after the fifth bad code"
    with sqlite3.connect(demo_env / "operational.db") as con:
        locked = con.execute("select locked_at from users where email = ?", (email,)).fetchone()[0]
    assert locked is not None


def test_lapsed_training_is_named_after_the_password(demo_env, clock):
    email = staff_member(demo_env, 3, enrolled=True, training_ok=False)
    wrong = password_step(email, "Wrong-Password-1!")
    assert wrong.error[0].value == REFUSED, "nothing about training before the password is right"
    at = password_step(email)
    assert at.error[0].value == TRAINING_SUSPENDED and not signed_in(at)
    assert "auth_pending" not in at.session_state
