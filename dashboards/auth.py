"""Sign-in state for the dashboards: who is signed in, idle sign-out, and the role's pages."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from operational_api.auth import IDLE_TIMEOUT, SignedInUser, SignInError, authenticate
from operational_api.db import get_engine
from operational_api.settings import database_url

USER_KEY = "auth_user"
LAST_SEEN_KEY = "auth_last_seen"


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return get_engine(url)


def store_engine():
    """The operational store's engine (sign-in and the alert lifecycle go through operational_api)."""
    return _engine(database_url())


def current_user() -> SignedInUser | None:
    """The signed-in user, or None; signs out after 15 minutes without activity."""
    user = st.session_state.get(USER_KEY)
    now = dt.datetime.now(dt.UTC)
    last_seen = st.session_state.get(LAST_SEEN_KEY)
    if user is not None and last_seen is not None and now - last_seen > IDLE_TIMEOUT:
        sign_out()
        st.session_state["auth_notice"] = "You were signed out after 15 minutes without activity."
        return None
    st.session_state[LAST_SEEN_KEY] = now
    return user


def sign_out() -> None:
    st.session_state.pop(USER_KEY, None)
    st.session_state.pop(LAST_SEEN_KEY, None)


def sign_in_form() -> None:
    """The sign-in page."""
    st.title("Sign in")
    notice = st.session_state.pop("auth_notice", None)
    if notice:
        st.info(notice)
    with st.form("auth_form"):
        email = st.text_input("Email", key="auth_email")
        password = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            st.session_state[USER_KEY] = authenticate(store_engine(), email, password)
        except SignInError as exc:
            st.error(str(exc))
            return
        st.session_state[LAST_SEEN_KEY] = dt.datetime.now(dt.UTC)
        st.rerun()
