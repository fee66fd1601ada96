"""A source that keeps failing is slowed down, and an administrator unlocks from the command line.

The rules themselves (one message for every refusal, 4th vs 5th failure, 29 vs 31 minutes, bad codes
counting) are tested at the service in tests/operational_api/test_credentials.py, on both databases.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from operational_api import mfa
from operational_api.auth import SignInError, SignInThrottle, authenticate
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import HipaaTraining, User
from operational_api.services.users import CommandLineOperator, NewUser, create_user
from tests.conftest import run_cli

EMAIL = "pat.doe@practice.example"
PASSWORD = "Harbour-Lamp-42!"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = dt.datetime(2026, 12, 4, 9, 0)


@pytest.fixture
def sqlite_store(var_dir):
    engine = get_engine(f"sqlite:///{var_dir / 'store.db'}")
    migrate(engine)
    with session_scope(engine) as session:
        user = create_user(
            session,
            CommandLineOperator("test"),
            NewUser(email=EMAIL, first_name="Pat", last_name="Doe", role="CLINICIAN", password=PASSWORD),
            source="cli",
            now=T0,
        )
        user.mfa_secret, user.mfa_enrolled_at = SECRET, T0
        session.add(
            HipaaTraining(user_id=user.id, completed_date=T0.date(), expires_date=dt.date(2027, 12, 1))
        )
    return engine


def fail(engine, times: int) -> None:
    for _ in range(times):
        with pytest.raises(SignInError):
            authenticate(engine, EMAIL, PASSWORD, "000000", source="cli", now=T0)


def locked_at(engine) -> dt.datetime | None:
    with session_scope(engine) as session:
        return session.scalar(select(User.locked_at).where(User.email == EMAIL))


def test_the_cli_unlocks_a_user(sqlite_store, var_dir):
    store = sqlite_store
    fail(store, 5)
    assert locked_at(store) == T0
    env = {"MENTALSPACE_VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'store.db'}"}
    result = run_cli("users", "unlock", EMAIL.upper(), env=env)
    assert result.returncode == 0, result.stderr
    assert "unlocked" in result.stdout
    assert locked_at(store) is None
    unknown = run_cli("users", "unlock", "nobody@practice.example", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr, unknown.stderr
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

    def guess(n: int):
        return lambda: authenticate(store, f"guess{n}@practice.example", "x", None, source="test", now=T0)

    # Guessing across many addresses (no account is locked by this) is what the throttle is for.
    for n in range(7):
        with pytest.raises(SignInError):
            throttle.attempt("browser-1", guess(n))
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]
    assert throttle.delay("browser-2") == 0, "another source is not slowed down"
    clock.now += 15 * 60 + 1
    assert throttle.delay("browser-1") == 0, "failures older than the window are forgotten"
    code = mfa.current_code(SECRET, T0)
    assert throttle.attempt(
        "browser-1", lambda: authenticate(store, EMAIL, PASSWORD, code, source="test", now=T0)
    )
