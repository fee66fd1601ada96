"""Payers and clinicians' weekly availability over HTTP: create, read, list, update with If-Match (migration 0017's
versions), each write audited, every refusal problem+json that changes nothing. Who may call them is the
authorization matrix's job (the routes are in ROUTE_TABLE); these are the rules."""

from __future__ import annotations

import threading
import uuid

import httpx
from sqlalchemy import select

from operational_api.audit import AuditEvent
from operational_api.db import session_scope
from operational_api.models import ClinicianAvailability, Payer
from tests.operational_api.api.conftest import Api


def _problem(response: httpx.Response, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule


def _audited(api: Api, entity: str, entity_id: int) -> list[tuple[str, str]]:
    with session_scope(api.engine) as session:
        return [
            (r.action, r.outcome)
            for r in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id))
                .order_by(AuditEvent.id)
            )
        ]


def _code() -> str:
    return f"PX{uuid.uuid4().hex[:10].upper()}"


def test_billing_adds_lists_and_renames_a_payer(api: Api):
    billing = api.as_role("BILLING")
    code = _code()
    made = billing.post("/payers", json={"name": "  Peachtree Health ", "payer_code": f" {code.lower()} "})
    assert made.status_code == 201, made.text
    payer = made.json()
    # Stored as the warehouse reads codes (trimmed, upper case), so a second spelling cannot sneak in.
    assert (payer["name"], payer["payer_code"], payer["version"]) == ("Peachtree Health", code, 1)
    assert made.headers["etag"] == '"1"'

    # Anyone on staff reads payers (the front desk records policies with them).
    front = api.as_role("FRONT_DESK")
    listed = front.get("/payers", params={"payer_code": code.lower()})
    assert [p["id"] for p in listed.json()["items"]] == [payer["id"]]
    read = front.get(f"/payers/{payer['id']}")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'

    renamed = billing.patch(
        f"/payers/{payer['id']}", json={"name": "Peachtree Health Plan"}, headers={"If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["version"]) == ("Peachtree Health Plan", 2)
    assert renamed.headers["etag"] == '"2"'
    assert _audited(api, "payer", payer["id"]) == [("payer.create", "ok"), ("payer.update", "ok")]


def test_payer_refusals_change_nothing(api: Api):
    billing = api.as_role("BILLING")
    first = billing.post("/payers", json={"name": "First", "payer_code": _code()}).json()
    second = billing.post("/payers", json={"name": "Second", "payer_code": _code()}).json()
    path = f"/payers/{second['id']}"

    _problem(
        billing.post("/payers", json={"name": "Again", "payer_code": first["payer_code"]}),
        409,
        "payer.code_taken",
    )
    _problem(billing.post("/payers", json={"name": " ", "payer_code": _code()}), 422, "request.invalid")
    _problem(billing.patch(path, json={"name": "No If-Match"}), 428, "request.if_match_required")
    _problem(
        billing.patch(path, json={"name": "Stale"}, headers={"If-Match": '"7"'}),
        412,
        "payer.version_conflict",
    )
    _problem(
        billing.patch(path, json={"payer_code": first["payer_code"].lower()}, headers={"If-Match": '"1"'}),
        409,
        "payer.code_taken",
    )
    _problem(billing.patch(path, json={}, headers={"If-Match": '"1"'}), 422, "payer.no_change")
    _problem(billing.patch(path, json={"name": None}, headers={"If-Match": '"1"'}), 422, "payer.no_change")
    _problem(billing.get("/payers/2147483000"), 404, "payer.not_found")

    with session_scope(api.engine) as session:
        stored = session.get(Payer, second["id"])
        assert (stored.name, stored.payer_code, stored.version) == ("Second", second["payer_code"], 1)
        assert session.scalar(select(Payer.id).where(Payer.name == "Again")) is None
    # Refused writes leave a refusal row each, never an "ok" one about the payer.
    assert _audited(api, "payer", second["id"]) == [("payer.create", "ok")]


def test_concurrent_payer_updates_one_wins(api: Api):
    """Two writers who read version 1: exactly one update applies, the other is 412 (no lost update)."""
    billing, admin = api.as_role("BILLING"), api.as_role("ADMIN")
    payer = billing.post("/payers", json={"name": "Race", "payer_code": _code()}).json()
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def rename(client: httpx.Client, name: str) -> None:
        barrier.wait()
        answers.append(
            client.patch(f"/payers/{payer['id']}", json={"name": name}, headers={"If-Match": '"1"'})
        )

    threads = [
        threading.Thread(target=rename, args=(c, n)) for c, n in ((billing, "Race A"), (admin, "Race B"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()["name"]
    with session_scope(api.engine) as session:
        stored = session.get(Payer, payer["id"])
        assert (stored.name, stored.version) == (winner, 2)


def _slot(weekday: int = 5, start: str = "10:00", end: str = "12:00", **extra) -> dict:
    return {"weekday": weekday, "start_time": start, "end_time": end, "effective_from": "2026-06-01", **extra}


def test_a_clinician_sets_and_changes_their_availability(api: Api):
    clinician = api.as_role("CLINICIAN")
    me = api.world.clinician_a
    # A Sunday evening, in 30-minute slots, for the whole of June (the matrices add Saturday mornings and Sunday
    # slots of 7 June only: the days counted here are 14 June and 5 July).
    made = clinician.post(
        f"/clinicians/{me}/availability",
        json=_slot(6, "20:00", "21:00", slot_minutes=30, effective_to="2026-06-30"),
    )
    assert made.status_code == 201, made.text
    slot = made.json()
    assert (slot["clinician_id"], slot["version"], made.headers["etag"]) == (me, 1, '"1"')

    free = clinician.get(
        f"/clinicians/{me}/free-slots", params={"date_from": "2026-06-14", "date_to": "2026-06-14"}
    )
    assert len(free.json()) == 2, free.text  # 20:00 and 20:30 local

    read = clinician.get(f"/availability/{slot['id']}")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    changed = clinician.patch(
        f"/availability/{slot['id']}",
        json={"slot_minutes": 60, "effective_to": None},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["slot_minutes"], changed.json()["effective_to"], changed.json()["version"]) == (
        60,
        None,
        2,
    )
    free = clinician.get(
        f"/clinicians/{me}/free-slots", params={"date_from": "2026-07-05", "date_to": "2026-07-05"}
    )
    assert len(free.json()) == 1, free.text  # open-ended now, one 60-minute slot
    assert _audited(api, "clinician_availability", slot["id"]) == [
        ("availability.create", "ok"),
        ("availability.update", "ok"),
    ]


def test_availability_refusals_change_nothing(api: Api):
    admin = api.as_role("ADMIN")
    clinician_b = api.world.clinician_b
    path = f"/clinicians/{clinician_b}/availability"
    slot = admin.post(path, json=_slot(6, "13:00", "15:00")).json()

    _problem(admin.post(path, json=_slot(6, "14:00", "16:00")), 409, "availability.overlap")
    # An open-ended slot overlaps later ones too; another weekday does not.
    _problem(
        admin.post(path, json=_slot(6, "14:00", "16:00", effective_from="2027-01-01")),
        409,
        "availability.overlap",
    )
    assert admin.post(path, json=_slot(5, "14:00", "16:00")).status_code == 201
    _problem(admin.post(path, json=_slot(6, "16:00", "15:00")), 422, "availability.times_invalid")
    _problem(
        admin.post(path, json=_slot(6, "16:00", "16:30", slot_minutes=45)), 422, "availability.slot_too_long"
    )
    _problem(
        admin.post(path, json=_slot(6, "16:00", "17:00", effective_to="2026-05-01")),
        422,
        "availability.dates_invalid",
    )
    _problem(admin.post(path, json=_slot(7, "16:00", "17:00")), 422, "request.invalid")
    _problem(
        admin.post(path, json=_slot(6, "16:00+02:00", "17:00+02:00")), 422, "availability.time_zone_given"
    )

    item = f"/availability/{slot['id']}"
    _problem(admin.patch(item, json={"end_time": "16:00"}), 428, "request.if_match_required")
    _problem(
        admin.patch(item, json={"end_time": "16:00"}, headers={"If-Match": '"3"'}),
        412,
        "availability.version_conflict",
    )
    _problem(
        admin.patch(item, json={"start_time": None}, headers={"If-Match": '"1"'}),
        422,
        "availability.no_change",
    )
    _problem(
        admin.patch(item, json={"end_time": "12:00"}, headers={"If-Match": '"1"'}),
        422,
        "availability.times_invalid",
    )
    # Clinician A cannot see (or change) clinician B's availability: 404, as for a missing record.
    clinician_a = api.as_role("CLINICIAN")
    _problem(
        clinician_a.patch(item, json={"end_time": "16:00"}, headers={"If-Match": '"1"'}),
        404,
        "availability.not_found",
    )
    _problem(clinician_a.post(path, json=_slot(6, "18:00", "19:00")), 404, "clinician.not_found")

    with session_scope(api.engine) as session:
        rows = session.scalars(
            select(ClinicianAvailability).where(
                ClinicianAvailability.clinician_id == clinician_b, ClinicianAvailability.weekday == 6
            )
        ).all()
        # The one slot made above (the audit matrix may add Sunday rows of its own: none at these hours).
        mine = [r for r in rows if r.start_time.hour in range(13, 20)]
        assert [(r.id, str(r.start_time), str(r.end_time), r.version) for r in mine] == [
            (slot["id"], "13:00:00", "15:00:00", 1)
        ]
    assert _audited(api, "clinician_availability", slot["id"]) == [("availability.create", "ok")]
