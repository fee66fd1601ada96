"""50 concurrent bookings of overlapping slots: exactly one wins, on SQLite and PostgreSQL, because the database
refuses the overlap (exclusion constraints / triggers of migration 0007), not only the Python check."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from operational_api.db import session_scope
from operational_api.models import Appointment
from tests.operational_api.api.conftest import Api, add_complete_client, iso, next_slot

CONCURRENT = 50


def _race(api: Api, bodies: list[dict]) -> list[httpx.Response]:
    token = api.as_role("FRONT_DESK").headers["Authorization"]
    barrier = threading.Barrier(len(bodies))
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    with httpx.Client(
        base_url=api.url, headers={"Authorization": token}, timeout=120, limits=limits
    ) as client:

        def post(body: dict) -> httpx.Response:
            barrier.wait()
            return client.post("/appointments", json=body)

        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(post, bodies))


def _check_one_winner(api: Api, responses: list[httpx.Response], where) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (len(responses) - 1), statuses
    assert {r.json()["rule"] for r in responses if r.status_code == 409} == {"appointment.double_booked"}
    assert api.count(Appointment, *where) == 1


def test_fifty_clients_racing_for_one_clinician_slot(api: Api):
    with session_scope(api.engine) as session:
        clients = [
            add_complete_client(session, api.world.clinician_a, api.world.payer_id).id
            for _ in range(CONCURRENT)
        ]
    start, end = next_slot()
    bodies = [
        {
            "client_id": client_id,
            "clinician_id": api.world.clinician_a,
            # Every pair overlaps: starts spread over 9 minutes of a 50-minute session.
            "start_at": iso(start + dt.timedelta(minutes=i % 10)),
            "end_at": iso(end + dt.timedelta(minutes=i % 10)),
        }
        for i, client_id in enumerate(clients)
    ]
    responses = _race(api, bodies)
    _check_one_winner(
        api,
        responses,
        (
            Appointment.clinician_id == api.world.clinician_a,
            Appointment.start_at >= start,
            Appointment.start_at < end,
        ),
    )


def test_one_client_racing_with_two_clinicians(api: Api):
    with session_scope(api.engine) as session:
        client_id = add_complete_client(session, api.world.clinician_a, api.world.payer_id).id
    start, end = next_slot()
    bodies = [
        {
            "client_id": client_id,
            "clinician_id": (api.world.clinician_a, api.world.clinician_b)[i % 2],
            "start_at": iso(start + dt.timedelta(minutes=i % 10)),
            "end_at": iso(end + dt.timedelta(minutes=i % 10)),
        }
        for i in range(CONCURRENT)
    ]
    responses = _race(api, bodies)
    _check_one_winner(api, responses, (Appointment.client_id == client_id,))


@pytest.mark.parametrize("who", ["clinician", "client"])
def test_the_database_itself_refuses_an_overlap(api: Api, who: str):
    """Bypassing the service layer (a raw INSERT) still cannot double-book."""
    with session_scope(api.engine) as session:
        first = add_complete_client(session, api.world.clinician_a, api.world.payer_id).id
        second = add_complete_client(session, api.world.clinician_b, api.world.payer_id).id
    start, end = next_slot()
    insert = text(
        "insert into appointments (client_id, clinician_id, appointment_type, status, start_at, end_at, "
        "is_telehealth, is_booked_online, is_recurring, booked_at, created_at, updated_at, version) values "
        "(:client, :clinician, 'THERAPY_SESSION', :status, :start, :end, false, false, false, :start, :start, :start, 1)"
    )
    row = {
        "client": first,
        "clinician": api.world.clinician_a,
        "status": "SCHEDULED",
        "start": start,
        "end": end,
    }
    with api.engine.begin() as conn:
        conn.execute(insert, row)
    clash = (
        {**row, "client": second, "start": start + dt.timedelta(minutes=20)}
        if who == "clinician"
        else {**row, "clinician": api.world.clinician_b, "end": end - dt.timedelta(minutes=20)}
    )
    with pytest.raises(IntegrityError), api.engine.begin() as conn:
        conn.execute(insert, clash)
    # A cancelled appointment does not hold its slot.
    with api.engine.begin() as conn:
        conn.execute(insert, {**clash, "status": "CANCELLED"})
