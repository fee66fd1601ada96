"""Reading what the loopback server received, the marts the figures must equal, and the PHI scan."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import polars as pl
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api import mfa
from operational_api.db import session_scope
from operational_api.models_credentials import MfaRecoveryCode
from operational_api.services import users
from tests.dashboards.conftest import new_app
from tests.notifications.practice import CLIENTS

PASSWORD = "Correct horse battery staple 15"


def signed_in_app(store: Engine, user_id: int) -> AppTest:
    """An AppTest signed in as a practice user through the real form: password, then a recovery code.

    The hand-built practice has no passwords or authenticators; this gives the user both (the password through
    the administrators' service, as `mentalspace users` would) and a fresh one-time recovery code, which signs in
    any number of times a minute, unlike a TOTP code.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    code = mfa.new_recovery_codes()[0]
    with session_scope(store) as session:
        user = users.set_password(
            session, users.CommandLineOperator("tests"), user_id, PASSWORD, source="cli", now=now
        )
        email = user.email
        if not user.mfa_secret:
            user.mfa_secret, user.mfa_enrolled_at = mfa.new_secret(), now
        session.add(MfaRecoveryCode(user_id=user_id, code_hash=mfa.recovery_code_hash(code), created_at=now))
    at = new_app().run()
    at.text_input(key="auth_email").input(email)
    at.text_input(key="auth_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    at.text_input(key="auth_code").input(code)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "auth_user" in at.session_state, [e.value for e in at.error]
    return at


def mart(sql: str, params: list | None = None) -> pl.DataFrame:
    return Warehouse(current_environment()).query(sql, params)


def plain(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def by_recipient(messages: list[EmailMessage]) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for m in messages:
        out.setdefault(m["To"].addresses[0].addr_spec, []).append(m)
    return out


def forbidden_strings() -> list[str]:
    """Every synthetic client's names and date of birth, in the ways a message could write them."""
    out = ["private matter"]  # the notes' text
    for first, last, dob, _, _ in CLIENTS.values():
        out += [
            first,
            last,
            f"{first} {last}",
            dob.isoformat(),
            f"{dob:%m/%d/%Y}",
            f"{dob.month}/{dob.day}/{dob.year}",
        ]
        out += [f"{dob:%d %b %Y}", f"{dob:%B} {dob.day}, {dob.year}", f"{dob.day} {dob:%b} {dob.year}"]
    return out


def assert_no_phi(messages: list[EmailMessage]) -> None:
    assert messages, "no message to scan"
    for m in messages:
        whole = "\n".join([m["Subject"], plain(m), html(m)])
        found = [s for s in forbidden_strings() if s.lower() in whole.lower()]
        assert not found, f"message '{m['Subject']}' to {m['To']} contains {found}"
