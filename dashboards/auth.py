"""Sign-in state for the dashboards: who is signed in, the password + MFA steps, idle sign-out.

The sign-in is operational_api.auth's two steps: the password (`check_password`), then the authenticator
app's code or a recovery code (`complete_sign_in`); a user without MFA sets it up in between (QR code,
secret, first code, then their 10 recovery codes, shown once). The step's ticket lives in this browser
session's server-side state only.

Idle sign-out happens in two places: every page run checks the time since the last one (a click is
activity), and a fragment that reruns on its own every few seconds signs out a page nobody touches,
so client lists leave the screen at 15 minutes without waiting for a click. Downloads check the same
clock when they are generated (`download_allowed`), so a button still on a stale screen gets nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass

import streamlit as st

from operational_api import auth as store_auth
from operational_api.auth import IDLE_TIMEOUT, AccessSuspended, SignedInUser, SignInError, SignInThrottle
from operational_api.db import get_engine
from operational_api.settings import database_url

USER_KEY = "auth_user"
ACTIVITY_KEY = "auth_activity"
SOURCE_KEY = "auth_source"
NOTICE_KEY = "auth_notice"
PENDING_KEY = "auth_pending"  # PasswordAccepted: the password step passed, the code step is next
ENROL_KEY = "auth_enrolment"  # mfa.Enrolment being set up (user without MFA)
CODES_KEY = "auth_recovery_codes"  # (SignedInUser, codes) to show once before the pages open
SOURCE_NAME = "dashboards"
LINK_PARAMS_KEY = "auth_link_params"
IDLE_NOTICE = "You were signed out after 15 minutes without activity."
# Browser tests shorten the timeout through this variable; it can only shorten it, never lengthen it.
IDLE_SECONDS_VAR = "MENTALSPACE_DASHBOARD_IDLE_SECONDS"

# One per server process: a browser (or address) that keeps failing waits longer before each try.
THROTTLE = SignInThrottle()


def clock() -> dt.datetime:
    """Now, in UTC. Tests replace this module attribute to move time on."""
    return dt.datetime.now(dt.UTC)


def idle_timeout() -> dt.timedelta:
    raw = os.environ.get(IDLE_SECONDS_VAR)
    if raw:
        try:
            return min(IDLE_TIMEOUT, dt.timedelta(seconds=float(raw)))
        except ValueError:
            pass
    return IDLE_TIMEOUT


def _watch_interval() -> float:
    # At most 10 s late at 15 minutes; a shortened test timeout is watched every second.
    return max(1.0, min(10.0, idle_timeout().total_seconds() / 10))


@dataclass
class Activity:
    """When this browser session last did something, shared with download callbacks (other threads)."""

    last_seen: dt.datetime
    ended: bool = False

    def expired(self, now: dt.datetime) -> bool:
        return self.ended or now - self.last_seen > idle_timeout()


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return get_engine(url)


def store_engine():
    """The operational store's engine (sign-in and the alert lifecycle go through operational_api)."""
    return _engine(database_url())


def current_user() -> SignedInUser | None:
    """The signed-in user, or None; signs out after 15 minutes without activity. A page run is activity."""
    if _expire_if_idle():
        return None
    user = st.session_state.get(USER_KEY)
    activity: Activity | None = st.session_state.get(ACTIVITY_KEY)
    if user is not None and activity is not None:
        activity.last_seen = clock()
    return user


def _expire_if_idle() -> bool:
    activity: Activity | None = st.session_state.get(ACTIVITY_KEY)
    if st.session_state.get(USER_KEY) is None or activity is None or not activity.expired(clock()):
        return False
    sign_out(timed_out=True)
    st.session_state[NOTICE_KEY] = IDLE_NOTICE
    return True


@st.fragment(run_every=_watch_interval())
def idle_watch() -> None:
    """Reruns by itself (not counted as activity); at the timeout, reruns the whole app onto the sign-in."""
    if _expire_if_idle():
        st.rerun(scope="app")


def current_activity() -> Activity | None:
    return st.session_state.get(ACTIVITY_KEY)


def download_allowed(activity: Activity | None) -> bool:
    """Whether a download generated now may carry data: signed in and not idle past the timeout."""
    return activity is not None and not activity.expired(clock())


def sign_out(timed_out: bool = False) -> None:
    user: SignedInUser | None = st.session_state.pop(USER_KEY, None)
    activity: Activity | None = st.session_state.pop(ACTIVITY_KEY, None)
    if activity is not None:
        activity.ended = True  # download callbacks still holding it refuse from now on
    if user is not None:
        store_auth.record_sign_out(store_engine(), user, source=SOURCE_NAME, timed_out=timed_out, now=clock())


def _source() -> str:
    """Who is trying: the address, or this browser session when it comes from the server itself."""
    ip = st.context.ip_address
    if isinstance(ip, str) and ip:  # AppTest hands out a stand-in object, not an address
        return f"ip:{ip}"
    return "session:" + st.session_state.setdefault(SOURCE_KEY, secrets.token_hex(8))


def _start_again() -> None:
    for key in (PENDING_KEY, ENROL_KEY, CODES_KEY):
        st.session_state.pop(key, None)


def _signed_in(user: SignedInUser) -> None:
    _start_again()
    st.session_state[USER_KEY] = user
    st.session_state[ACTIVITY_KEY] = Activity(clock())
    # Same page address, now signed in: the page asked for opens if the role has it.
    st.rerun()


def sign_in_form() -> None:
    """The sign-in page (also shown at any page's address while signed out; that page opens after)."""
    st.title("Sign in")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    pending = st.session_state.get(PENDING_KEY)
    if st.session_state.get(CODES_KEY):
        _recovery_codes_step()
    elif pending is None:
        _password_step()
    elif st.session_state.get(ENROL_KEY) is not None:
        _enrolment_step(pending)
    else:
        _code_step(pending)


def _password_step() -> None:
    with st.form("auth_form"):
        email = st.text_input("Email", key="auth_email")
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    engine = store_engine()
    try:
        accepted = THROTTLE.attempt(
            _source(),
            lambda: store_auth.check_password(engine, email, password, source=SOURCE_NAME, now=clock()),
        )
    except SignInError as exc:
        st.error(str(exc))
        return
    st.session_state[PENDING_KEY] = accepted
    # The address's query at sign-in (`?report=aging`): Streamlit drops it on the reruns of the code step and
    # the page that opens, so the page puts it back (ui.run_page) and a bookmark keeps its choices.
    st.session_state[LINK_PARAMS_KEY] = st.query_params.to_dict()
    if accepted.needs_enrolment:
        st.session_state[ENROL_KEY] = store_auth.begin_enrolment(accepted)
    st.rerun()


def _code_step(pending) -> None:
    with st.form("auth_code_form", clear_on_submit=True):
        code = st.text_input(
            "Authentication code",
            key="auth_code",
            help="The 6-digit code your authenticator app shows, or one of your recovery codes.",
        )
        submitted = st.form_submit_button("Verify")
    if st.button("Start again", key="auth_restart"):
        _start_again()
        st.rerun()
    if not submitted:
        return
    try:
        user = THROTTLE.attempt(
            _source(), lambda: store_auth.complete_sign_in(store_engine(), pending, code, now=clock())
        )
    except AccessSuspended as exc:
        _start_again()
        st.error(str(exc))
        return
    except SignInError as exc:
        st.error(str(exc))
        return
    _signed_in(user)


def _enrolment_step(pending) -> None:
    enrolment = st.session_state[ENROL_KEY]
    st.subheader("Set up multi-factor sign-in")
    st.write(
        "Every staff account signs in with a code from an authenticator app. Scan this code with the app "
        "(or type the secret below into it), then enter the 6-digit code it shows."
    )
    st.image(enrolment.qr_png(), caption="Scan with your authenticator app", width=220)
    st.code(enrolment.secret, language=None)
    with st.form("auth_enrol_form", clear_on_submit=True):
        code = st.text_input("Code from the app", key="auth_enrol_code")
        submitted = st.form_submit_button("Confirm")
    if st.button("Start again", key="auth_restart"):
        _start_again()
        st.rerun()
    if not submitted:
        return
    try:
        user, codes = THROTTLE.attempt(
            _source(),
            lambda: store_auth.confirm_enrolment(store_engine(), pending, enrolment, code, now=clock()),
        )
    except SignInError as exc:
        st.error(str(exc))
        return
    st.session_state[CODES_KEY] = (user, codes)
    st.rerun()


def _recovery_codes_step() -> None:
    user, codes = st.session_state[CODES_KEY]
    st.success("Multi-factor sign-in is set up.")
    st.write(
        "These are your 10 recovery codes. Each signs you in once if you lose your phone. Store them somewhere "
        "safe now: they are not shown again (an administrator can reset your MFA if you lose them too)."
    )
    st.code("\n".join(codes), language=None)
    if st.button("I have saved my recovery codes", key="auth_codes_saved"):
        _signed_in(user)
