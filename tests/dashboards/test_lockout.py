"""Sign-in refusals that cannot be turned into a weapon: one message for every refusal, a lockout that
runs out after 30 minutes (or an administrator's unlock), and a source that keeps failing is slowed down.

A small SQLite store per test with one staff member; the clock is passed in, so nobody waits 30 minutes.
"""

from __future__ import annotations

import datetime as dt

import pytest

from operational_api.auth import (
    REFUSED,
    SignInError,
    SignInThrottle,
    authenticate,
    set_password,
    unlock,
)
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import User
from tests.conftest import new_pg_database, run_cli

EMAIL = "pat.doe@practice.example"
PASSWORD = "a-good-password"
T0 = dt.datetime(2026, 12, 4, 9, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, var_dir):
    """The store with one clinician; on PostgreSQL too when MENTALSPACE_TEST_PG_URL is set (else skipped)."""
    if request.param == "postgresql":
        with new_pg_database() as url:
            yield _with_clinician(get_engine(url))
    else:
        yield _with_clinician(get_engine(f"sqlite:///{var_dir / 'store.db'}"))


def _with_clinician(engine):
    migrate(engine)
    with session_scope(engine) as session:
        user = User(email=EMAIL, first_name="Pat", last_name="Doe", role="CLINICIAN")
        session.add(user)
        session.flush()
        user_id = user.id
    set_password(engine, user_id, PASSWORD)
    return engine


@pytest.fixture
def sqlite_store(var_dir):
    return _with_clinician(get_engine(f"sqlite:///{var_dir / 'store.db'}"))


def refusal(engine, email: str, password: str, now: dt.datetime) -> str:
    with pytest.raises(SignInError) as caught:
        authenticate(engine, email, password, now)
    return str(caught.value)


def fail(engine, times: int, now: dt.datetime = T0) -> None:
    for _ in range(times):
        refusal(engine, EMAIL, "not-the-password", now)


def locked_at(engine) -> dt.datetime | None:
    with session_scope(engine) as session:
        return session.query(User).filter_by(email=EMAIL).one().locked_at


def test_unknown_address_wrong_password_and_locked_account_read_the_same(store):
    unknown = refusal(store, "nobody@practice.example", "whatever-it-is", T0)
    wrong = refusal(store, EMAIL, "not-the-password", T0)
    fail(store, 4)
    locked = refusal(store, EMAIL, PASSWORD, T0 + dt.timedelta(minutes=1))  # the right password, but locked
    assert unknown == wrong == locked == REFUSED
    assert "locked" not in REFUSED.split(".")[0], "the message must not say this account is locked"


def test_the_fifth_failure_locks_not_the_fourth(store):
    fail(store, 4)
    assert locked_at(store) is None
    assert authenticate(store, EMAIL, PASSWORD, T0).user_id  # the fourth failure still lets the owner in
    fail(store, 5)
    assert locked_at(store) == T0
    refusal(store, EMAIL, PASSWORD, T0)


def test_a_lockout_runs_out_after_30_minutes(store):
    fail(store, 5)
    refusal(store, EMAIL, PASSWORD, T0 + dt.timedelta(minutes=29))
    assert authenticate(store, EMAIL, PASSWORD, T0 + dt.timedelta(minutes=31)).user_id
    assert locked_at(store) is None
    # A fresh count after the lockout: four more failures do not lock again.
    fail(store, 4, T0 + dt.timedelta(minutes=32))
    assert locked_at(store) is None


def test_an_administrator_unlocks(store, var_dir):
    fail(store, 5)
    assert unlock(store, EMAIL.upper()) is True
    assert authenticate(store, EMAIL, PASSWORD, T0).user_id
    assert unlock(store, EMAIL) is False
    with pytest.raises(LookupError):
        unlock(store, "nobody@practice.example")


def test_the_cli_unlocks_a_user(sqlite_store, var_dir):
    store = sqlite_store
    fail(store, 5)
    result = run_cli(
        "users",
        "unlock",
        EMAIL,
        env={"MENTALSPACE_VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'store.db'}"},
    )
    assert result.returncode == 0, result.stderr
    assert "unlocked" in result.stdout
    assert locked_at(store) is None
    unknown = run_cli(
        "users",
        "unlock",
        "nobody@practice.example",
        env={"MENTALSPACE_VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'store.db'}"},
    )
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr, unknown.stderr
    assert "no user" in unknown.stderr


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_source_that_keeps_failing_waits_longer_each_time(sqlite_store):
    store = sqlite_store
    clock = FakeTime()
    throttle = SignInThrottle(clock=lambda: clock.now, sleep=clock.sleep)
    # Guessing across many addresses (no account is locked by this) is what the throttle is for.
    for n in range(7):
        with pytest.raises(SignInError):
            throttle.authenticate(store, "browser-1", f"guess{n}@practice.example", "x", T0)
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]
    assert throttle.delay("browser-2") == 0, "another source is not slowed down"
    clock.now += 15 * 60 + 1
    assert throttle.delay("browser-1") == 0, "failures older than the window are forgotten"
    assert throttle.authenticate(store, "browser-1", EMAIL, PASSWORD, T0).user_id
