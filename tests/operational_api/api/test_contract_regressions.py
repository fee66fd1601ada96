"""What the schema fuzz (test_schema_fuzz.py) found, pinned: ids the store cannot hold, instants without an offset,
and `updated_since` sent with an offset other than UTC; and what the API benchmark found: a query per client on
the clients list."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import Engine, event

from operational_api.services.ids import MAX_RECORD_ID
from tests.operational_api.api.conftest import Api, booking, new_client

TOO_BIG = MAX_RECORD_ID + 1  # past PostgreSQL's integer keys: a DataError there before ids were bounded
HUGE = 2**64  # past what SQLite's driver binds: an OverflowError


def _refused_as_invalid(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == "request.invalid"


@pytest.mark.parametrize("big", [TOO_BIG, HUGE, -HUGE, 0])
def test_an_id_no_record_can_have_is_refused_not_a_crash(api: Api, big: int):
    admin = api.as_role("ADMIN")
    # Routes whose scope is checked before the body (the resolver used to get the raw id), and routes without.
    _refused_as_invalid(admin.get(f"/clients/{big}"))
    _refused_as_invalid(admin.post(f"/clients/{big}/consents", json={"consent_type": "INFORMED"}))
    _refused_as_invalid(admin.get(f"/clinicians/{big}/availability"))
    _refused_as_invalid(admin.post(f"/performance-goals/{big}/status", json={"status": "MISSED"}))
    _refused_as_invalid(admin.get("/appointments", params={"clinician_id": big}))
    body = {"client_id": big, "discipline": "x", "input_date": "2026-06-01"}
    _refused_as_invalid(admin.post("/case-inputs", json=body))
    _refused_as_invalid(
        admin.post("/appointments", json={**booking(api, api.world.client_in), "client_id": big})
    )


def test_a_digit_that_is_not_ascii_is_refused_not_a_crash(api: Api):
    # "²".isdigit() is true, int("²") raises: the scope check took it for an id.
    _refused_as_invalid(api.as_role("ADMIN").get("/clients/²"))


def test_answers_give_instants_in_utc_with_the_offset(api: Api):
    admin = api.as_role("ADMIN")
    booked = admin.post("/appointments", json=booking(api, api.world.client_in))
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["start_at"].endswith("Z") and body["booked_at"].endswith("Z")
    start = dt.datetime.fromisoformat(body["start_at"])
    sent = dt.datetime.fromisoformat(
        booking(api, api.world.client_in)["start_at"]
    )  # naive UTC, as the tests send
    assert start.tzinfo is not None and start.utcoffset() == dt.timedelta(0)
    assert abs((start.replace(tzinfo=None) - sent).days) < 400  # the same clock, not shifted by a zone
    note = api.as_role("CLINICIAN").post(
        "/notes", json={"client_id": api.world.client_in, "note_type": "PROGRESS_NOTE", "content": "text"}
    )
    assert note.status_code == 201, note.text
    assert note.json()["created_at"].endswith("Z")
    # A role that may not read note text gets no `content` key at all (not a null) through the answer model.
    shown = api.as_role("FRONT_DESK").get(f"/notes/{note.json()['id']}")
    if shown.status_code == 200:
        assert "content" not in shown.json()


def test_updated_since_with_an_offset_means_that_instant(api: Api):
    admin = api.as_role("ADMIN")
    client_id = new_client(api)
    updated = dt.datetime.fromisoformat(admin.get(f"/clients/{client_id}").json()["updated_at"])
    # One minute after the update, written in New York's winter offset: it excludes the client. Dropping the offset
    # (the old code) read it as five hours earlier and listed it.
    after = (updated + dt.timedelta(minutes=1)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    listed = admin.get("/clients", params={"updated_since": after.isoformat(), "limit": 500}).json()["items"]
    assert client_id not in [c["id"] for c in listed]
    before = (updated - dt.timedelta(minutes=1)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    listed = admin.get("/clients", params={"updated_since": before.isoformat(), "limit": 500}).json()["items"]
    assert client_id in [c["id"] for c in listed]


def test_the_clients_list_costs_the_same_queries_for_one_client_or_many(api: Api):
    admin = api.as_role("ADMIN")
    for _ in range(3):
        new_client(api)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    # Every engine of this process: on SQLite the app runs its own (BEGIN IMMEDIATE) engine over the store.
    event.listen(Engine, "before_cursor_execute", count)
    try:
        costs = {}
        for limit in (1, 4):
            statements.clear()
            listed = admin.get("/clients", params={"limit": limit})
            assert len(listed.json()["items"]) == limit
            costs[limit] = len(statements)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert costs[1] == costs[4], costs  # was one insurance-policy query per client listed
