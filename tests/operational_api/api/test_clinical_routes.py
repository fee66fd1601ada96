"""Notes, plans, billing and supervision through the HTTP API (real uvicorn on loopback, both databases):
refusals are problem+json with the rule id and write nothing; front desk and billing never receive note text."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from operational_api.audit import AuditEvent
from operational_api.db import session_scope
from operational_api.models import Appointment, Charge, ClinicalNote, Payment, SupervisionSession
from tests.operational_api.api.conftest import Api

NOTE_TEXT = "Client described sleeping poorly all week."


def _problem(response: httpx.Response, status: int, rule: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["rule"] == rule and body["type"].endswith("/" + rule)
    assert "Traceback" not in response.text and NOTE_TEXT not in response.text
    return body


def _completed_session(api: Api, *, days_ago: int, client_id: int | None = None) -> int:
    """A completed session of clinician A (the scheduling routes are another area's; this is set-up only)."""
    start = api.clock.now.replace(hour=14, minute=0) - dt.timedelta(days=days_ago)
    with session_scope(api.engine) as session:
        row = Appointment(
            client_id=client_id or api.world.client_in,
            clinician_id=api.world.clinician_a,
            appointment_type="THERAPY_SESSION",
            status="COMPLETED",
            start_at=start,
            end_at=start + dt.timedelta(minutes=50),
            booked_at=start - dt.timedelta(days=7),
            created_at=start - dt.timedelta(days=7),
            updated_at=start,
        )
        session.add(row)
        session.flush()
        return row.id


def _note(api: Api, appointment_id: int, *, sign: bool) -> dict:
    clinician = api.as_role("CLINICIAN")
    created = clinician.post(
        "/notes",
        json={
            "client_id": api.world.client_in,
            "note_type": "PROGRESS_NOTE",
            "appointment_id": appointment_id,
            "content": NOTE_TEXT,
        },
    )
    assert created.status_code == 201, created.text
    note = created.json()
    if sign:
        signed = clinician.post(f"/notes/{note['id']}/sign")
        assert signed.status_code == 200, signed.text
        note = signed.json()
    return note


def _audit_rows(api: Api) -> int:
    with session_scope(api.engine) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "ok"))


def test_note_life_over_http(api: Api):
    clinician = api.as_role("CLINICIAN")
    note = _note(api, _completed_session(api, days_ago=1), sign=False)
    assert note["requires_cosign"] is True and note["content"] == NOTE_TEXT
    note_id = note["id"]
    _problem(clinician.patch(f"/notes/{note_id}", json={"content": "v2"}), 428, "request.if_match_required")
    edited = clinician.patch(
        f"/notes/{note_id}", json={"content": NOTE_TEXT + " v2"}, headers={"If-Match": '"1"'}
    )
    assert edited.status_code == 200 and edited.headers["ETag"] == '"2"'
    _problem(
        clinician.patch(f"/notes/{note_id}", json={"content": "lost"}, headers={"If-Match": '"1"'}),
        412,
        "clinical_note.version_conflict",
    )
    assert clinician.post(f"/notes/{note_id}/sign").json()["status"] == "SIGNED"
    before = (api.count(ClinicalNote), _audit_rows(api))
    _problem(clinician.post(f"/notes/{note_id}/sign"), 409, "note.already_signed")
    _problem(
        clinician.patch(f"/notes/{note_id}", json={"content": "changed"}, headers={"If-Match": '"3"'}),
        409,
        "note.signed_immutable",
    )
    assert (api.count(ClinicalNote), _audit_rows(api)) == before

    supervisor = api.as_role("SUPERVISOR")
    queue = supervisor.get("/notes/cosign-queue").json()["items"]
    assert note_id in [n["id"] for n in queue]
    cosigned = supervisor.post(f"/notes/{note_id}/cosign")
    assert cosigned.status_code == 200 and cosigned.json()["cosigned_by"] == api.world.users["SUPERVISOR"]
    _problem(supervisor.post(f"/notes/{note_id}/cosign"), 409, "note.already_cosigned")

    addendum = clinician.post(
        f"/notes/{note_id}/amendments", json={"kind": "ADDENDUM", "content": "Later: ok."}
    )
    assert addendum.status_code == 201
    assert clinician.get(f"/notes/{note_id}").json()["content"] == NOTE_TEXT + " v2"


def test_front_desk_and_billing_never_receive_note_text(api: Api):
    note = _note(api, _completed_session(api, days_ago=2), sign=True)
    for role in ("FRONT_DESK", "BILLING"):
        client = api.as_role(role)
        one = client.get(f"/notes/{note['id']}")
        assert one.status_code == 200 and "content" not in one.json()
        listed = client.get("/notes", params={"client_id": api.world.client_in})
        assert listed.status_code == 200 and all("content" not in n for n in listed.json()["items"])
        assert NOTE_TEXT not in one.text + listed.text
        _problem(client.get(f"/notes/{note['id']}/amendments"), 403, "auth.role_forbidden")
        _problem(
            client.post("/notes", json={"client_id": api.world.client_in, "note_type": "SOAP_NOTE"}),
            403,
            "auth.role_forbidden",
        )
    assert api.as_role("ADMIN").get(f"/notes/{note['id']}").json()["content"] == NOTE_TEXT


def test_out_of_scope_note_reads_as_not_found(api: Api):
    with session_scope(api.engine) as session:
        other = ClinicalNote(
            client_id=api.world.client_out,
            clinician_id=api.world.clinician_b,
            note_type="SOAP_NOTE",
            status="DRAFT",
            content=NOTE_TEXT,
            created_at=api.clock.now,
            updated_at=api.clock.now,
        )
        session.add(other)
        session.flush()
        other_id = other.id
    for role in ("CLINICIAN", "SUPERVISOR"):
        _problem(api.as_role(role).get(f"/notes/{other_id}"), 404, "clinical_note.not_found")
        _problem(api.as_role(role).post(f"/notes/{other_id}/sign"), 404, "clinical_note.not_found")


def test_charges_claims_and_payments_over_http(api: Api):
    billing = api.as_role("BILLING")
    appointment = _completed_session(api, days_ago=3)
    _note(api, appointment, sign=True)
    _problem(
        api.as_role("CLINICIAN").post("/charges", json={"appointment_id": appointment, "cpt_code": "90834"}),
        403,
        "auth.role_forbidden",
    )
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = billing.post("/charges", json={"appointment_id": appointment, "cpt_code": "90834"}, headers=key)
    again = billing.post("/charges", json={"appointment_id": appointment, "cpt_code": "90834"}, headers=key)
    assert (
        first.status_code == again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    )
    assert first.json() == again.json() and first.json()["charge_amount"] == "130.00"
    charge_id = first.json()["id"]
    assert api.count(Charge, Charge.appointment_id == appointment) == 1
    claim = billing.post("/claims", json={"charge_ids": [charge_id]})
    assert claim.status_code == 201 and claim.json()["status"] == "SUBMITTED", claim.text
    _problem(
        billing.post(f"/claims/{claim.json()['id']}/status", json={"status": "PAID"}),
        409,
        "claim.status_derived",
    )

    front = api.as_role("FRONT_DESK")
    payment = front.post(
        "/payments",
        json={
            "payment_method": "CASH",
            "payment_amount": "150.00",
            "payment_date": "2026-06-01",
            "client_id": api.world.client_in,
        },
    )
    assert payment.status_code == 201, payment.text
    pid = payment.json()["id"]
    before = api.count(Payment), _audit_rows(api)
    _problem(
        front.post(f"/payments/{pid}/applications", json={"charge_id": charge_id, "amount": "150.00"}),
        409,
        "payment.exceeds_balance",
    )
    assert (api.count(Payment), _audit_rows(api)) == before
    applied = front.post(
        f"/payments/{pid}/applications",
        json={
            "charge_id": charge_id,
            "amount": "150.00",
            "excess_to_credit": True,
            "credit_reason": "next visit",
        },
    )
    assert applied.status_code == 201, applied.text
    assert (applied.json()["applied_amount"], applied.json()["credit_amount"]) == ("130.00", "20.00")
    assert billing.get(f"/charges/{charge_id}").json()["status"] == "PAID"


def test_billing_hold_over_http(api: Api):
    appointment = _completed_session(api, days_ago=20)
    note = _note(api, appointment, sign=False)
    billing = api.as_role("BILLING")
    charge = billing.post("/charges", json={"appointment_id": appointment, "cpt_code": "90837"}).json()
    assert charge["is_billing_hold"] is True
    body = _problem(billing.post("/claims", json={"charge_ids": [charge["id"]]}), 409, "charge.billing_hold")
    assert f"note {note['id']}" in body["detail"]
    assert billing.get(f"/charges/{charge['id']}").json()["status"] == "UNBILLED"
    api.as_role("CLINICIAN").post(f"/notes/{note['id']}/sign")
    assert billing.post("/claims", json={"charge_ids": [charge["id"]]}).status_code == 201


def test_supervision_session_over_http(api: Api):
    supervisor = api.as_role("SUPERVISOR")
    made = supervisor.post(
        "/supervision-sessions",
        json={"supervisee_id": api.world.clinician_a, "session_date": "2026-05-29", "duration_hours": "1.5"},
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    _problem(
        api.as_role("CLINICIAN").post(f"/supervision-sessions/{sid}/sign"), 409, "supervision.not_supervisor"
    )
    assert supervisor.post(f"/supervision-sessions/{sid}/sign").json()["is_note_signed"] is True
    _problem(supervisor.post(f"/supervision-sessions/{sid}/sign"), 409, "supervision.already_signed")
    # The authorization matrix seeds one of B's sessions on the shared server: the refusal adds none.
    b_sessions = api.count(SupervisionSession, SupervisionSession.supervisee_id == api.world.clinician_b)
    _problem(
        supervisor.post(
            "/supervision-sessions",
            json={
                "supervisee_id": api.world.clinician_b,
                "session_date": "2026-05-29",
                "duration_hours": "1",
            },
        ),
        404,
        "user.not_found",
    )
    assert (
        api.count(SupervisionSession, SupervisionSession.supervisee_id == api.world.clinician_b) == b_sessions
    )


RACERS = 10


def _race(api: Api, role: str, requests: list[tuple[str, str, dict | None]]) -> list[httpx.Response]:
    """Send the requests at once (a barrier releases them together), each on its own connection."""
    token = api.as_role(role).headers["Authorization"]
    barrier = threading.Barrier(len(requests))
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    with httpx.Client(
        base_url=api.url, headers={"Authorization": token}, timeout=120, limits=limits
    ) as client:

        def send(request: tuple[str, str, dict | None]) -> httpx.Response:
            method, url, body = request
            barrier.wait()
            return client.request(method, url, json=body)

        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(send, requests))


def test_concurrent_signatures_sign_a_note_once(api: Api):
    note = _note(api, _completed_session(api, days_ago=4), sign=False)
    responses = _race(api, "CLINICIAN", [("POST", f"/notes/{note['id']}/sign", None)] * RACERS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert {r.json()["rule"] for r in responses if r.status_code != 200} <= {
        "note.already_signed",
        "clinical_note.version_conflict",
        "request.version_conflict",
    }
    with session_scope(api.engine) as session:
        signs = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "note.sign", AuditEvent.entity_id == str(note["id"]))
        )
    assert signs == 1


def test_concurrent_applications_never_overpay_a_charge(api: Api):
    appointment = _completed_session(api, days_ago=5)
    _note(api, appointment, sign=True)
    billing = api.as_role("BILLING")
    charge = billing.post(
        "/charges", json={"appointment_id": appointment, "cpt_code": "90834"}
    ).json()  # 130.00
    payment = billing.post(
        "/payments",
        json={"payment_method": "CHECK", "payment_amount": "500.00", "payment_date": "2026-06-01",
              "client_id": api.world.client_in},
    ).json()  # fmt: skip
    body = {"charge_id": charge["id"], "amount": "50.00"}
    responses = _race(api, "BILLING", [("POST", f"/payments/{payment['id']}/applications", body)] * RACERS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201] + [409] * (RACERS - 2), statuses
    assert {r.json()["rule"] for r in responses if r.status_code == 409} == {"payment.exceeds_balance"}
    final = billing.get(f"/charges/{charge['id']}").json()
    assert (final["payment_amount"], final["status"]) == ("100.00", "PARTIALLY_PAID")
