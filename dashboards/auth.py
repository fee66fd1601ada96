"""Sign-in state for the dashboards: who is signed in, idle sign-out, and the role's pages.

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

from operational_api.auth import IDLE_TIMEOUT, SignedInUser, SignInError, SignInThrottle
from operational_api.db import get_engine
from operational_api.settings import database_url

USER_KEY = "auth_user"
ACTIVITY_KEY = "auth_activity"
SOURCE_KEY = "auth_source"
NOTICE_KEY = "auth_notice"
# The address's query (`?report=aging`, `?clinician=5`) at sign-in: Streamlit drops it when the rerun after
# the sign-in opens the page, so the page puts it back (ui.run_page) and a bookmark keeps its choices.
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
    sign_out()
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


def sign_out() -> None:
    st.session_state.pop(USER_KEY, None)
    activity: Activity | None = st.session_state.pop(ACTIVITY_KEY, None)
    if activity is not None:
        activity.ended = True  # download callbacks still holding it refuse from now on


def _source() -> str:
    """Who is trying: the address, or this browser session when it comes from the server itself."""
    ip = st.context.ip_address
    if isinstance(ip, str) and ip:  # AppTest hands out a stand-in object, not an address
        return f"ip:{ip}"
    return "session:" + st.session_state.setdefault(SOURCE_KEY, secrets.token_hex(8))


def sign_in_form() -> None:
    """The sign-in page (also shown at any page's address while signed out; that page opens after)."""
    st.title("Sign in")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("auth_form"):
        email = st.text_input("Email", key="auth_email")
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            user = THROTTLE.authenticate(store_engine(), _source(), email, password)
        except SignInError as exc:
            st.error(str(exc))
            return
        st.session_state[USER_KEY] = user
        st.session_state[ACTIVITY_KEY] = Activity(clock())
        st.session_state[LINK_PARAMS_KEY] = st.query_params.to_dict()
        # Same page address, now signed in: the page asked for opens if the role has it.
        st.rerun()
