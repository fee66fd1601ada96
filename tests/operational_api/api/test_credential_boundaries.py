"""The credential rules at their boundaries, through the HTTP API (the dashboards' side: tests/dashboards/
test_mfa_sign_in.py, test_lockout.py, test_idle_timeout.py; the 15-minute token and the training day:
test_framework.py): a password of 11 characters is refused and one of 12 taken; the 4th failure leaves the
account open and the 5th locks it; a lock still holds at 29 minutes and has lapsed at 31; the sign-in throttle
counts a source's failures on every server (worker process) over the store alike."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from operational_api.api.server import BackgroundServer
from operational_api.db import session_scope
from operational_api.models import HipaaTraining
from tests.operational_api.api.conftest import PASSWORD, Api, _user

# Both meet every class rule and neither is a common password: only the length differs.
ELEVEN = "Kx7#mWq2$Lz"
TWELVE = "Kx7#mWq2$Lzp"
WRONG = "Not-the-Password-9"


def _problem(response: httpx.Response, status: int, rule: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    if rule:
        assert body["rule"] == rule, body
    return body


def test_a_password_of_11_characters_is_refused_and_12_taken(api: Api):
    admin = api.as_role("ADMIN")
    body = {
        "email": f"len-{uuid.uuid4().hex[:6]}@example.test",
        "first_name": "Len",
        "last_name": "Boundary",
        "role": "FRONT_DESK",
    }
    assert len(ELEVEN) == 11 and len(TWELVE) == 12
    refused = _problem(admin.post("/users", json={**body, "password": ELEVEN}), 422, "user.password_policy")
    assert ELEVEN not in str(refused)
    made = admin.post("/users", json={**body, "password": TWELVE})
    assert made.status_code == 201, made.text


def _new_user(api: Api) -> int:
    """A trained, enrolled user of this test alone: a lock must not touch the users other tests sign in as."""
    with session_scope(api.engine) as session:
        user = _user(session, "FRONT_DESK", f"lock-{uuid.uuid4().hex[:8]}@example.test")
        session.add(
            HipaaTraining(
                user_id=user.id, completed_date=dt.date(2026, 2, 1), expires_date=dt.date(2027, 2, 1)
            )
        )
        return user.id


def _attempt(api: Api, user_id: int, password: str, source: int) -> httpx.Response:
    # Each attempt from its own loopback address: the per-source throttle (its own test) would otherwise make
    # this test wait, and slow the sign-ins of other tests from 127.0.0.1.
    body = {"email": api.email(user_id), "password": password, "totp_code": api.code(user_id)}
    transport = httpx.HTTPTransport(local_address=f"127.0.{10 + source // 250}.{1 + source % 250}")
    with httpx.Client(base_url=api.url, transport=transport, timeout=60) as client:
        return client.post("/auth/token", json=body)


def test_the_fifth_failure_locks_not_the_fourth_and_the_lock_lapses_after_30_minutes(api: Api):
    sources = iter(range(500))
    four = _new_user(api)
    refusal = None
    for _ in range(4):
        refusal = _problem(_attempt(api, four, WRONG, next(sources)), 401)
    assert _attempt(api, four, PASSWORD, next(sources)).status_code == 200  # four failures: still open

    five = _new_user(api)
    for _ in range(5):
        _problem(_attempt(api, five, WRONG, next(sources)), 401)
    locked = _problem(_attempt(api, five, PASSWORD, next(sources)), 401)
    # The right password on a locked account reads as any refusal: nothing says the account exists or is locked.
    assert locked["detail"] == refusal["detail"] and locked.get("rule") == refusal.get("rule")

    api.clock.now += dt.timedelta(minutes=29)
    _problem(_attempt(api, five, PASSWORD, next(sources)), 401)
    api.clock.now += dt.timedelta(minutes=2)  # 31 minutes after the fifth failure
    assert _attempt(api, five, PASSWORD, next(sources)).status_code == 200


def test_failures_through_one_server_slow_the_same_source_on_another(api: Api):
    """`mentalspace serve` runs the API as several uvicorn workers: a source that failed on one must wait on the
    next (the throttle reads the store's audit rows, not a process's memory). Three failures are free; after
    them the next attempt waits 1 s, wherever it lands."""
    user = _new_user(api)
    address = "127.0.9.1" if api.backend == "sqlite" else "127.0.9.2"
    body = {"email": api.email(user), "password": WRONG, "totp_code": api.code(user)}

    def post(url: str) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=url, transport=transport, timeout=60) as client:
            return client.post("/auth/token", json=body)

    with BackgroundServer(api.engine, clock=api.clock) as other:
        waits: list[float] = []
        other.app.state.api.sign_in_throttle.sleep = waits.append
        for _ in range(3):
            _problem(post(api.url), 401, "auth.sign_in_refused")
        _problem(post(other.url), 401, "auth.sign_in_refused")
        assert waits == [1.0]
        # The window is the store's clock's: 15 minutes later the source starts afresh.
        api.clock.now += dt.timedelta(minutes=16)
        _problem(post(other.url), 401, "auth.sign_in_refused")
        assert waits == [1.0]
