"""The API framework: problem+json everywhere, tokens (expiry, rotation, revocation), HIPAA training gate,
idempotency keys, ETag / If-Match, pagination and read audit."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
from sqlalchemy import select

from operational_api.audit import AuditEvent
from operational_api.db import session_scope
from operational_api.models import Client
from tests.operational_api.api.conftest import PASSWORD, Api


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
    _is_problem(httpx.get(f"{api.url}/clients"), 401, "auth.token_invalid")
    assert api.as_role("CLINICIAN").get("/docs").status_code == 200
    assert "/clients" in httpx.get(f"{api.url}/openapi.json").json()["paths"]


def test_validation_problem_never_echoes_the_value(api: Api):
    response = api.as_role("ADMIN").post(
        "/clients",
        json={"first_name": "Zebulon", "last_name": "Quartermaine", "date_of_birth": "Zebulon-born"},
    )
    _is_problem(response, 422, "request.invalid")
    assert "Zebulon" not in response.text


def test_sign_in_refresh_rotation_and_sign_out(api: Api):
    user = api.world.users["FRONT_DESK"]
    wrong = httpx.post(f"{api.url}/auth/token", json={"email": api.email(user), "password": "nope nope"})
    _is_problem(wrong, 401, "auth.sign_in_refused")
    pair = api.sign_in(user).json()
    assert pair["expires_in"] == 900 and pair["refresh_expires_in"] == 7 * 24 * 3600
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert httpx.get(f"{api.url}/users/me", headers=headers).json()["id"] == user

    rotated = httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    new_pair = rotated.json()
    # The old refresh token presented again: copied, so the whole sign-in is revoked.
    reused = httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    _is_problem(reused, 401, "auth.refresh_reused")
    revoked = httpx.get(
        f"{api.url}/users/me", headers={"Authorization": f"Bearer {new_pair['access_token']}"}
    )
    _is_problem(revoked, 401, "auth.session_revoked")

    fresh = api.sign_in(user).json()
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert httpx.post(f"{api.url}/auth/sign-out", headers=headers).status_code == 204
    _is_problem(httpx.get(f"{api.url}/users/me", headers=headers), 401, "auth.session_revoked")
    _is_problem(
        httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": fresh["refresh_token"]}),
        401,
        "auth.session_revoked",
    )


def test_access_token_expires_after_15_minutes(api: Api):
    pair = api.sign_in(api.world.users["BILLING"]).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    api.clock.now += dt.timedelta(minutes=14, seconds=59)
    assert httpx.get(f"{api.url}/users/me", headers=headers).status_code == 200
    api.clock.now += dt.timedelta(seconds=1)
    _is_problem(httpx.get(f"{api.url}/users/me", headers=headers), 401, "auth.token_expired")
    assert (
        httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 200
    )
    api.clock.now += dt.timedelta(days=7)
    _is_problem(
        httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "auth.token_expired",
    )


def test_staff_without_current_hipaa_training_cannot_use_the_api(api: Api):
    # No training at all: signs in (authenticate lets them), but every route answers 403 with rule 7's id.
    token = api.sign_in(api.world.untrained).json()["access_token"]
    response = httpx.get(f"{api.url}/users/me", headers={"Authorization": f"Bearer {token}"})
    _is_problem(response, 403, "staff.hipaa_training_required")
    # Expired: refused already at sign-in.
    assert api.sign_in(api.world.expired).status_code in (401, 403)
    # A trained user's training lapsing while their token is alive: refused from its expiry date on (the
    # warehouse's definition: expired on that date).
    token = api.sign_in(api.world.users["BILLING"]).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{api.url}/users/me", headers=headers).status_code == 200
    api.clock.now = dt.datetime(2027, 2, 1, 12, 0)
    token = api.sign_in(api.world.users["BILLING"]).json().get("access_token", "x")
    lapsed = httpx.get(f"{api.url}/users/me", headers={"Authorization": f"Bearer {token}"})
    _is_problem(lapsed, 403, "staff.hipaa_training_required")


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
            response = httpx.get(f"{server.url}/boom")
    body = _is_problem(response, 500, "server.error")
    assert "Zebulon" not in response.text and "reference" in body["detail"]
    assert "Zebulon" not in caplog.text and "Traceback" not in caplog.text


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
    """h4a's `hipaa_training_exceptions` (created here in its shape when that branch is not merged yet)."""
    from sqlalchemy import text

    from operational_api.api.server import BackgroundServer
    from operational_api.db import get_engine, migrate
    from tests.operational_api.api.conftest import START, Clock, seed_world

    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    world = seed_world(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "create table if not exists hipaa_training_exceptions (id integer primary key, user_id integer "
                "not null, granted_by integer, reason varchar(500) not null, granted_at datetime not null, "
                "expires_at datetime not null)"
            )
        )
        conn.execute(
            text(
                "insert into hipaa_training_exceptions (user_id, reason, granted_at, expires_at) "
                "values (:user, 'renewal booked', :granted, :expires)"
            ),
            {"user": world.untrained, "granted": START, "expires": START + dt.timedelta(days=1)},
        )
    clock = Clock()
    with BackgroundServer(engine, clock=clock) as server:
        with session_scope(engine) as session:
            from operational_api.models import User

            email = session.get(User, world.untrained).email
        token = httpx.post(f"{server.url}/auth/token", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(f"{server.url}/users/me", headers=headers).status_code == 200
        clock.now = START + dt.timedelta(days=1)
        token = httpx.post(f"{server.url}/auth/token", json={"email": email, "password": PASSWORD}).json()
        lapsed = httpx.get(
            f"{server.url}/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        _is_problem(lapsed, 403, "staff.hipaa_training_required")
    engine.dispose()
