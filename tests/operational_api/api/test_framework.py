"""The API framework: problem+json everywhere, tokens (expiry, rotation, revocation), HIPAA training gate,
idempotency keys, ETag / If-Match, pagination and read audit."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid

import httpx
from sqlalchemy import select

from operational_api import mfa
from operational_api.audit import AuditEvent
from operational_api.auth import replace_recovery_codes
from operational_api.db import session_scope
from operational_api.models import Client, User
from tests.operational_api.api.conftest import PASSWORD, START, Api

# httpx's default is 5 s: a sign-in hashes a password, which took longer than that on a loaded CI machine.
get = functools.partial(httpx.get, timeout=60)
post = functools.partial(httpx.post, timeout=60)


def _is_problem(response: httpx.Response, status: int, rule: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["rule"] == rule and body["type"].endswith("/" + rule)
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


def test_errors_are_problem_json(api: Api):
    client = api.as_role("ADMIN")
    _is_problem(client.get("/no/such/thing"), 404, "http.not_found")
    _is_problem(client.delete("/clients"), 405, "http.method_not_allowed")
    body = _is_problem(client.post("/clients", json={"first_name": "X"}), 422, "request.invalid")
    assert body["field"] == "last_name"
    _is_problem(client.get(f"/clients/{10**9}"), 404, "client.not_found")
    _is_problem(get(f"{api.url}/clients"), 401, "auth.token_invalid")
    assert api.as_role("CLINICIAN").get("/docs").status_code == 200
    assert "/clients" in get(f"{api.url}/openapi.json").json()["paths"]


def test_validation_problem_never_echoes_the_value(api: Api):
    response = api.as_role("ADMIN").post(
        "/clients",
        json={"first_name": "Zebulon", "last_name": "Quartermaine", "date_of_birth": "Zebulon-born"},
    )
    _is_problem(response, 422, "request.invalid")
    assert "Zebulon" not in response.text


def test_sign_in_refresh_rotation_and_sign_out(api: Api):
    user = api.world.users["FRONT_DESK"]
    wrong = post(f"{api.url}/auth/token", json={"email": api.email(user), "password": "nope nope"})
    _is_problem(wrong, 401, "auth.sign_in_refused")
    pair = api.sign_in(user).json()
    assert pair["expires_in"] == 900 and pair["refresh_expires_in"] == 7 * 24 * 3600
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert get(f"{api.url}/users/me", headers=headers).json()["id"] == user

    rotated = post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    new_pair = rotated.json()
    # The old refresh token presented again: copied, so the whole sign-in is revoked.
    reused = post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    _is_problem(reused, 401, "auth.refresh_reused")
    revoked = get(f"{api.url}/users/me", headers={"Authorization": f"Bearer {new_pair['access_token']}"})
    _is_problem(revoked, 401, "auth.session_revoked")

    fresh = api.sign_in(user).json()
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert post(f"{api.url}/auth/sign-out", headers=headers).status_code == 204
    _is_problem(get(f"{api.url}/users/me", headers=headers), 401, "auth.session_revoked")
    _is_problem(
        post(f"{api.url}/auth/refresh", json={"refresh_token": fresh["refresh_token"]}),
        401,
        "auth.session_revoked",
    )


def test_access_token_expires_after_15_minutes(api: Api):
    pair = api.sign_in(api.world.users["BILLING"]).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    api.clock.now += dt.timedelta(minutes=14, seconds=59)
    assert get(f"{api.url}/users/me", headers=headers).status_code == 200
    api.clock.now += dt.timedelta(seconds=1)
    _is_problem(get(f"{api.url}/users/me", headers=headers), 401, "auth.token_expired")
    assert post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200
    api.clock.now += dt.timedelta(days=7)
    _is_problem(
        post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "auth.token_expired",
    )


def test_staff_without_current_hipaa_training_cannot_use_the_api(api: Api):
    # One rule (auth.training_allows) at sign-in and on every request, with one rule id: no training at all or
    # an expired one is refused at sign-in, after the right password and code.
    for user in (api.world.untrained, api.world.expired):
        body = _is_problem(api.sign_in(user), 403, "staff.hipaa_training_required")
        assert "HIPAA training" in body["detail"]
    # A trained user's training lapsing while their token is alive: refused from its expiry date on, in the
    # practice's time zone (the warehouse's definition: expired on that date). BILLING's expires 2027-02-01.
    api.clock.now = dt.datetime(2027, 2, 1, 4, 50)  # 23:50 on 31 January in New York
    token = api.sign_in(api.world.users["BILLING"]).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert get(f"{api.url}/users/me", headers=headers).status_code == 200
    api.clock.now = dt.datetime(2027, 2, 1, 5, 0)  # midnight in New York, the token still alive
    _is_problem(get(f"{api.url}/users/me", headers=headers), 403, "staff.hipaa_training_required")
    _is_problem(api.sign_in(api.world.users["BILLING"]), 403, "staff.hipaa_training_required")


def _caller(api: Api) -> httpx.Client:
    """A client from its own loopback address per database: the sign-in throttle counts failures per address,
    and this module's deliberate failures must not slow other tests' sign-ins from 127.0.0.1."""
    address = "127.0.0.2" if api.backend == "sqlite" else "127.0.0.3"
    return httpx.Client(base_url=api.url, transport=httpx.HTTPTransport(local_address=address), timeout=60)


def test_sign_in_takes_each_totp_code_once_then_a_recovery_code(api: Api):
    user = api.world.users["SUPERVISOR"]
    body = {"email": api.email(user), "password": PASSWORD}
    # A second in a step no other test signs in at (tests share one server and each step is good once).
    api.clock.now = START + dt.timedelta(days=3, hours=5, seconds=7)
    with session_scope(api.engine) as session:
        secret = session.get(User, user).mfa_secret
    code = mfa.current_code(secret, api.clock.now)
    with _caller(api) as caller:
        _is_problem(caller.post("/auth/token", json=body), 401, "auth.sign_in_refused")  # no code
        assert caller.post("/auth/token", json={**body, "totp_code": code}).status_code == 200
        # The same code again (replayed, or read over a shoulder) within its step: refused.
        _is_problem(caller.post("/auth/token", json={**body, "totp_code": code}), 401, "auth.sign_in_refused")
    # A recovery code works once, with or without its dash.
    with session_scope(api.engine) as session:
        recovery = replace_recovery_codes(session, user, api.clock.now)
    assert api.sign_in(user, recovery[0]).status_code == 200
    assert api.sign_in(user, recovery[1].replace("-", "")).status_code == 200
    _is_problem(api.sign_in(user, recovery[0]), 401, "auth.sign_in_refused")


def test_a_user_without_mfa_is_told_to_enrol_on_the_dashboards(api: Api):
    response = api.sign_in(api.world.unenrolled)
    body = _is_problem(response, 403, "auth.mfa_enrolment_required")
    assert "dashboards" in body["detail"]
    assert "access_token" not in response.text


def test_idempotency_key_replays_and_refuses_a_different_body(api: Api):
    client = api.as_role("FRONT_DESK")
    key = uuid.uuid4().hex
    body = {
        "first_name": "Idem",
        "last_name": "Potent",
        "primary_clinician_id": api.world.clinician_a,
        "is_self_pay": True,
    }
    before = api.count(Client)
    first = client.post("/clients", json=body, headers={"Idempotency-Key": key})
    again = client.post("/clients", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert api.count(Client) == before + 1
    changed = client.post("/clients", json={**body, "last_name": "Other"}, headers={"Idempotency-Key": key})
    _is_problem(changed, 422, "idempotency.key_reused")
    assert api.count(Client) == before + 1
    # Another user's identical key is theirs alone.
    other = api.as_role("ADMIN").post("/clients", json=body, headers={"Idempotency-Key": key})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_etag_and_if_match_prevent_lost_updates(api: Api):
    client = api.as_role("FRONT_DESK")
    created = client.post(
        "/clients",
        json={"first_name": "Etag", "last_name": "Case", "primary_clinician_id": api.world.clinician_a},
    )
    cid, etag = created.json()["id"], created.headers["ETag"]
    read = client.get(f"/clients/{cid}")
    assert read.headers["ETag"] == etag
    _is_problem(client.patch(f"/clients/{cid}", json={"city": "Macon"}), 428, "request.if_match_required")
    ok = client.patch(f"/clients/{cid}", json={"city": "Macon"}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] != etag and ok.json()["city"] == "Macon"
    stale = client.patch(f"/clients/{cid}", json={"city": "Athens"}, headers={"If-Match": etag})
    _is_problem(stale, 412, "client.version_conflict")
    assert client.get(f"/clients/{cid}").json()["city"] == "Macon"


def test_pagination_and_updated_since(api: Api):
    client = api.as_role("ADMIN")
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/clients", params=params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(set(seen)) and len(seen) == api.count(Client)
    _is_problem(client.get("/clients", params={"cursor": "garbage!"}), 422, "request.cursor_invalid")
    # Later than any other test's clock (the server is shared): only this client changed since.
    api.clock.now = dt.datetime(2026, 12, 30, 12, 0)
    since = (api.clock.now - dt.timedelta(seconds=1)).isoformat()
    client = api.as_role("ADMIN")
    client.post(
        "/clients",
        json={"first_name": "Late", "last_name": "Comer", "primary_clinician_id": api.world.clinician_b},
    )
    recent = client.get("/clients", params={"updated_since": since}).json()["items"]
    assert [c["first_name"] for c in recent] == ["Late"]


def test_phi_reads_are_audited_with_client_ids(api: Api):
    client = api.as_role("CLINICIAN")
    cid = api.world.client_in
    assert client.get(f"/clients/{cid}").status_code == 200
    with session_scope(api.engine) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "api.read").order_by(AuditEvent.id.desc()).limit(1)
        ).one()
    assert event.actor_user_id == api.world.users["CLINICIAN"] and json.loads(event.client_ids) == [cid]
    assert event.source == "api" and event.entity == "client"


def test_a_crash_is_a_problem_without_traceback_or_values(api: Api, caplog):
    from operational_api.api.server import BackgroundServer

    with BackgroundServer(api.engine) as server:

        def boom():
            raise ValueError("Zebulon Quartermaine born 1990-05-05")

        server.app.add_api_route("/boom", boom)
        with caplog.at_level("DEBUG"):
            response = get(f"{server.url}/boom")
    body = _is_problem(response, 500, "server.error")
    assert "Zebulon" not in response.text and "reference" in body["detail"]
    assert "Zebulon" not in caplog.text and "Traceback" not in caplog.text


def test_a_database_condition_that_passes_is_a_503_to_retry(api: Api, caplog):
    """A deadlock still there after the write's retries (or no connection to be had) is the database's passing
    state, not a crash: 503 with Retry-After, logged with its SQLSTATE and never with the statement's values."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from operational_api.api.server import BackgroundServer

    with BackgroundServer(api.engine) as server:

        def deadlocked():
            raise OperationalError(
                "insert into clients ...",
                {"last_name": "Quartermaine"},
                psycopg.errors.DeadlockDetected("deadlock"),
            )

        def lost():
            raise OperationalError("select 1", {}, psycopg.errors.UndefinedFile("no such file"))

        server.app.add_api_route("/deadlocked", deadlocked)
        server.app.add_api_route("/lost", lost)
        with caplog.at_level("DEBUG"):
            busy = get(f"{server.url}/deadlocked")
            other = get(f"{server.url}/lost")
    body = _is_problem(busy, 503, "server.database_busy")
    assert busy.headers["Retry-After"] == "1" and "nothing was changed" in body["detail"]
    assert "Quartermaine" not in busy.text and "Quartermaine" not in caplog.text
    assert "SQLSTATE 40P01" in caplog.text
    # Any other database error is ours to look into.
    _is_problem(other, 500, "server.error")


def test_concurrent_retries_with_one_idempotency_key_create_once(api: Api):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    token = api.as_role("FRONT_DESK").headers["Authorization"]
    key = uuid.uuid4().hex
    body = {"first_name": "Race", "last_name": "Retry", "primary_clinician_id": api.world.clinician_a}
    before = api.count(Client)
    barrier = threading.Barrier(20)
    with httpx.Client(
        base_url=api.url, headers={"Authorization": token, "Idempotency-Key": key}, timeout=60
    ) as c:

        def post(_):
            barrier.wait()
            return c.post("/clients", json=body)

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(post, range(20)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert api.count(Client) == before + 1


def test_an_administrators_training_exception_lets_staff_in_while_it_lasts(tmp_path):
    """h4a's exception (services/users.grant_training_exception) is honoured by the same gate until it ends."""
    from operational_api.api.server import BackgroundServer
    from operational_api.db import get_engine, migrate
    from operational_api.services import users as admin
    from tests.operational_api.api.conftest import Clock, seed_world

    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    world = seed_world(engine)
    with session_scope(engine) as session:
        admin.grant_training_exception(
            session,
            admin.CommandLineOperator("test"),
            world.untrained,
            until=START + dt.timedelta(days=1),
            reason="renewal booked",
            source="cli",
            now=START,
        )
    clock = Clock()
    with BackgroundServer(engine, clock=clock) as server:
        api = Api(server.url, engine, clock, world, "sqlite")
        token = api.sign_in(world.untrained).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert get(f"{server.url}/users/me", headers=headers).status_code == 200
        # The exception ends while the token is alive: refused from that moment, not at the next sign-in.
        clock.now = START + dt.timedelta(days=1) - dt.timedelta(minutes=5)
        token = api.sign_in(world.untrained).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert get(f"{server.url}/users/me", headers=headers).status_code == 200
        clock.now = START + dt.timedelta(days=1)
        _is_problem(get(f"{server.url}/users/me", headers=headers), 403, "staff.hipaa_training_required")
        _is_problem(api.sign_in(world.untrained), 403, "staff.hipaa_training_required")
    engine.dispose()
