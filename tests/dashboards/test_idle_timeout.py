"""Idle sign-out at 15 minutes, on the page run and for downloads (the no-click part is in test_browser.py).

The dashboards read the time through `dashboards.auth.clock`; the tests move it on instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import polars as pl
import pytest

from dashboards import auth
from dashboards.components import prefetch, ui
from tests.dashboards.conftest import signed_in_app

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, minutes: int, seconds: int = 0) -> None:
        self.now += dt.timedelta(minutes=minutes, seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(auth, "clock", clock)
    return clock


def signed_in(at) -> bool:
    return "auth_user" in at.session_state and not any(t.value == "Sign in" for t in at.title)


def test_idle_14_59_stays_signed_in_and_15_01_signs_out(demo_env, clock):
    at = signed_in_app(demo_env, "CLINICIAN")
    assert signed_in(at) and at.dataframe, "My Practice with its client tables"
    user_id = at.session_state["auth_user"].user_id
    clock.move(14, 59)
    at.run()
    assert signed_in(at), "14:59 without activity is still within the timeout"
    clock.move(15, 1)  # counted from the page run just above
    at.run()
    assert not signed_in(at)
    assert [t.value for t in at.title] == ["Sign in"]
    # The sign-in page's only table is its hidden, made-up example (dashboards/components/prefetch.py).
    shown = [f.value for f in at.dataframe]
    assert all(list(f.columns) == prefetch.EXAMPLE_TABLE.column_names for f in shown), (
        "no client list may stay on the screen"
    )
    assert all(f["name"].tolist() == prefetch.EXAMPLE_TABLE["name"].to_pylist() for f in shown)
    assert auth.IDLE_NOTICE in [i.value for i in at.info]
    with sqlite3.connect(demo_env / "operational.db") as con:
        timed_out = con.execute(
            "select occurred_at from audit_events where action = 'auth.timeout' and actor_user_id = ? "
            "order by id desc limit 1",
            (user_id,),
        ).fetchone()
    assert timed_out[0].startswith("2026-11-25 09:30:00"), "the timeout is audited at the idle clock"


def test_a_download_is_refused_once_the_session_is_idle_or_signed_out(demo_env, clock):
    at = signed_in_app(demo_env, "CLINICIAN")
    activity = at.session_state["auth_activity"]
    write = ui.csv_source(pl.DataFrame({"client": ["someone"]}), activity)
    clock.move(14, 59)
    assert write().startswith("client")
    clock.move(0, 2)  # 15:01 since the last page run, nothing clicked in between
    with pytest.raises(PermissionError, match="refused"):
        write()
    clock.now = T0
    assert write().startswith("client")
    assert not auth.download_allowed(None), "no session, no download"


def test_signing_out_ends_the_activity_download_buttons_hold(demo_env, clock):
    at = signed_in_app(demo_env, "CLINICIAN")
    activity = at.session_state["auth_activity"]
    at.button(key="auth_sign_out").click().run()
    assert activity.ended and not auth.download_allowed(activity)
