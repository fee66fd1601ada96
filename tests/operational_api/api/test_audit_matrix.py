"""Every API route x every role leaves the audit rows its `x-audit` declares (issue 14), generated from ROUTE_TABLE
through the authorization matrix's own enumeration (`matrix_calls`): the same calls, now read for their audit rows.

What a route must audit lives in one place, its `api_route(..., audit=...)` (context.Audited says what each kind
leaves); a route without it cannot be declared, and the sign-in routes carry it by hand (checked below).

- A successful PHI read: exactly one `api.read` row, the actor and role, the entity, the record's id (routes
  naming one) and exactly the clients whose data the answer holds.
- A successful write: the service's row(s), all "ok", one of them the actor's about the entity and the record
  written (and its client); a write that fails leaves no "ok" row: the audit row commits with the write.
- A read of nothing clinical: no row.
- Refusals: a write refused by a rule leaves one "refused" `api.write` row naming the rule; the role check (403),
  the scope check (404) and request validation (422/428) turn a request away before the route runs and leave
  none; a refused read leaves none. A bulk write's per-record refusals (a 200) are audited as refusals each.
- Writes get a valid body (`_body`), so most succeed for the roles they admit; the matrix's records change state
  as it runs (a revoked consent, a voided charge), and a later write refused by a rule is checked as a refusal.
- No row carries PHI: the matrix's client names, dates of birth and note text appear in no column.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from operational_api.api.routes import ROUTE_TABLE
from operational_api.audit import AuditEvent
from operational_api.db import session_scope
from operational_api.models import Client, ClinicalNote, Payment
from tests.operational_api.api.conftest import PASSWORD, ROLES, Api, iso, next_slot
from tests.operational_api.api.test_authorization_matrix import (
    PUBLIC,
    SCOPED_ROLES,
    MatrixCall,
    _routes,
    matrix_calls,
    matrix_records,
    send,
)

KINDS = {"phi_read", "write", "auth", "none"}
# Sunday hours for the availability each call adds (a second one at the same hour would overlap).
SUNDAY_HOURS = itertools.count(0)
# Problems the framework answers before a route's body runs (nothing is audited for them).
FRAMEWORK_RULES = ("request.", "idempotency.", "http.")
# Scope kinds whose answers hold a client's record without naming the client: where the client is looked up.
CLIENT_OF = {"payment": Payment, "note": ClinicalNote}


# Values sent in the writes' bodies below that are PHI (a client's name and birth date, note text): never audited.
SENT_PHI = {
    "Zelda",
    "Quartzfield",
    "1971-03-09",
    "Quentin Marrow",
    "worried about her sister",
    "Corrected entry",
}


def _sunday_hour() -> dict[str, str]:
    hour = next(SUNDAY_HOURS) % 24
    return {"start_time": f"{hour:02d}:00", "end_time": f"{hour:02d}:45"}


def _body(api: Api, role: str, key: tuple[str, str], which: int) -> dict | None:
    """A valid body per write route (else the call gets `{}`): the write half of the matrix needs writes that
    succeed. Each call makes its own slot, user or record where the service would refuse a second one."""
    world, records = api.world, matrix_records(api)
    client = records["client"][which]
    clinician = (world.clinician_a, world.clinician_b)[which]
    day = {"effective_date": "2026-06-01"}

    def slot() -> dict[str, str]:
        start, end = next_slot()  # one per booking: slots are few before the allocator reaches November
        return {"start_at": iso(start), "end_at": iso(end)}

    def window() -> dict[str, str]:
        start, _ = next_slot()
        return {"window_start_at": iso(start), "window_end_at": iso(start + dt.timedelta(days=7))}

    samples = {
        ("POST", "/users"): lambda: {
            "email": f"new-{uuid.uuid4().hex[:8]}@example.test", "first_name": "Nina", "last_name": "Staffer",
            "role": "FRONT_DESK",
        },
        ("PATCH", "/users/{user_id}"): lambda: {"hipaa_training_completed": "2026-02-01"},
        ("POST", "/clients"): lambda: {
            "first_name": "Zelda", "last_name": "Quartzfield", "date_of_birth": "1971-03-09",
            "primary_clinician_id": world.clinician_a,
        },
        ("PATCH", "/clients/{client_id}"): lambda: {"phone": "555-0199"},
        ("POST", "/clients/{client_id}/insurance-policies"): lambda: {
            "payer_id": world.payer_id, "rank": 2, "member_id": "M-2", "effective_date": "2026-01-01",
        },
        ("POST", "/clients/{client_id}/guardians"): lambda: {"full_name": "Quentin Marrow", "relationship": "PARENT"},
        ("POST", "/clients/{client_id}/insurance-policies/{policy_id}/verifications"): lambda: {
            "status": "VERIFIED", "is_eligible": True, "source": "MANUAL",
        },
        ("POST", "/clients/{client_id}/consents"): lambda: {"consent_type": "TELEHEALTH", "signed_date": "2026-05-01"},
        ("POST", "/appointments"): lambda: {"client_id": client, "clinician_id": clinician, **slot()},
        ("POST", "/appointments/series"): lambda: {
            "client_id": client, "clinician_id": clinician, **slot(), "occurrences": 2,
        },
        ("POST", "/appointments/{appointment_id}/cancel"): lambda: {"reason": "CLIENT_REQUEST"},
        ("POST", "/appointments/{appointment_id}/reschedule"): slot,
        ("POST", "/waitlist"): lambda: {"client_id": client, "clinician_id": clinician, **window()},
        ("POST", "/notes"): lambda: {
            "client_id": client, "note_type": "PROGRESS_NOTE", "content": "Zelda worried about her sister",
        },
        ("PATCH", "/notes/{note_id}"): lambda: {"content": "worried about her sister, calmer"},
        ("POST", "/notes/bulk-sign"): lambda: {"note_ids": [records["note"][which]]},
        ("POST", "/notes/{note_id}/amendments"): lambda: {"kind": "ADDENDUM", "content": "Corrected entry"},
        ("POST", "/treatment-plans"): lambda: {"client_id": client, **day},
        ("POST", "/treatment-plans/{plan_id}/review"): lambda: {"reviewed_date": "2026-06-01"},
        ("POST", "/safety-plans"): lambda: {"client_id": client, **day},
        ("POST", "/charges"): lambda: {"appointment_id": records["appointment"][which], "cpt_code": "90834"},
        ("POST", "/claims"): lambda: {"charge_ids": [records["charge"][which]]},
        ("POST", "/claims/{claim_id}/status"): lambda: {"status": "ACCEPTED"},
        ("POST", "/payments"): lambda: {
            "payment_method": "CASH", "payment_amount": "10.00", "payment_date": "2026-06-01", "client_id": client,
        },
        ("POST", "/payments/{payment_id}/applications"): lambda: {
            "charge_id": records["charge"][which], "amount": "1.00", "excess_to_credit": True,
        },
        ("POST", "/supervision-sessions"): lambda: {
            "supervisee_id": world.clinician_a, "session_date": "2026-05-28", "duration_hours": "1.00",
        },
        ("POST", "/breach-incidents"): lambda: {"severity": "LOW", "category": "MISDIRECTED_FAX", "detected_at": iso(api.clock.now)},
        ("POST", "/case-inputs"): lambda: {"client_id": client, "discipline": "PSYCHIATRY", "input_date": "2026-05-30"},
        ("POST", "/performance-goals"): lambda: {
            "user_id": world.clinician_a, "metric_key": "notes_signed_on_time", "target_value": "90",
            "start_date": "2026-06-01", "end_date": "2026-06-30",
        },
        ("POST", "/performance-goals/{goal_id}/status"): lambda: {"status": "ACHIEVED"},
        ("POST", "/payers"): lambda: {"name": "Harbour Mutual", "payer_code": f"HM{uuid.uuid4().hex[:8]}"},
        ("PATCH", "/payers/{payer_id}"): lambda: {"name": "Harbour Mutual Health"},
        ("POST", "/clinicians/{clinician_id}/availability"): lambda: {
            "weekday": 6, **_sunday_hour(), "slot_minutes": 15,
            "effective_from": "2026-06-07", "effective_to": "2026-06-07",
        },
        ("PATCH", "/availability/{availability_id}"): lambda: {"slot_minutes": 30},
        ("POST", "/hipaa-trainings"): lambda: {"user_id": api.world.users[role], "completed_date": "2026-02-01"},
    }  # fmt: skip
    sample = samples.get(key)
    return sample() if sample else None


def _request(api: Api, client: httpx.Client, call: MatrixCall, role: str) -> tuple[dict | None, dict | None]:
    """The body and headers to send: a route's sample body for a role it admits (a role turned away is refused
    before the body is read); an update sends If-Match with the version a read just gave."""
    if not call.allowed or call.method == "GET":
        return None, None
    body = _body(api, role, (call.method, call.route.path), call.which)
    headers = None
    if call.method == "PATCH":
        etag = client.get(call.url).headers.get("etag")
        headers = {"If-Match": etag} if etag else None
    return body, headers


def _audit_of(route) -> dict:
    return (route.openapi_extra or {}).get("x-audit") or {}


def test_every_route_declares_what_it_audits():
    missing = [
        f"{method} {route.path}"
        for method, route in _routes()
        if _audit_of(route).get("kind") not in KINDS
        or (_audit_of(route)["kind"] in ("phi_read", "write") and not _audit_of(route).get("entity"))
    ]
    assert not missing, f"declare what these routes audit (api_route(..., audit=...)): {missing}"
    assert {(m, r.path) for m, r in _routes() if _audit_of(r)["kind"] == "auth"} == PUBLIC
    assert sum(len(router.routes) for router in ROUTE_TABLE) == len(_routes())


def _last_id(api: Api) -> int:
    with session_scope(api.engine) as session:
        return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def _rows_after(api: Api, last: int) -> list[AuditEvent]:
    with session_scope(api.engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id)))


def _phi(api: Api) -> set[str]:
    """What must never reach the audit log: the matrix's clients' names and dates of birth, its notes' text."""
    records = matrix_records(api)
    clients = [*records["client"], api.world.client_in, api.world.client_out]
    with session_scope(api.engine) as session:
        values: set[str] = set()
        for first, last, dob in session.execute(
            select(Client.first_name, Client.last_name, Client.date_of_birth).where(Client.id.in_(clients))
        ):
            values |= {first, last, dob.isoformat() if dob else ""}
        values |= set(
            session.scalars(select(ClinicalNote.content).where(ClinicalNote.id.in_(records["note"])))
        )
    return {v for v in values if v and len(v) >= 3} | SENT_PHI


def _carries_phi(row: AuditEvent, phi: set[str]) -> list[str]:
    text = json.dumps(
        [row.action, row.entity, row.entity_id, row.client_ids, row.detail, row.actor_role], default=str
    )
    return sorted(v for v in phi if v in text)


def _path_ids(call: MatrixCall) -> list[str]:
    """The ids in the call's path, in order (the route's {params} filled in)."""
    pattern = re.sub(r"\\{\w+\\}", r"(\\d+)", re.escape(call.route.path))
    match = re.fullmatch(pattern, call.url.split("?")[0])
    assert match, call.url
    return list(match.groups())


def _clients_shown(api: Api, call: MatrixCall, body) -> set[int]:
    """The clients whose data a successful read's answer holds."""
    if call.route.path.startswith("/clients/{client_id}"):
        return {int(_path_ids(call)[0])}
    if isinstance(body, dict) and "items" in body:
        key = "id" if call.route.path == "/clients" else "client_id"
        return {item[key] for item in body["items"]}
    if isinstance(body, dict) and "client_id" in body:
        return {body["client_id"]}
    # An answer about a client's record that does not name the client (a payment, a note's amendments).
    assert call.scope in CLIENT_OF, f"{call.route.path}: how does the test know whose record this answer is?"
    with session_scope(api.engine) as session:
        client_id = session.get(CLIENT_OF[call.scope], int(_path_ids(call)[0])).client_id
    return {client_id} if client_id is not None else set()


def _written_ids(call: MatrixCall, body) -> set[str]:
    ids = set(_path_ids(call))
    if isinstance(body, dict):
        ids |= {str(body[k]) for k in ("id", "series_id") if k in body}
        ids |= {str(i) for i in body.get("signed", [])}
        ids |= {str(i["id"]) for i in body.get("items", [])}
    return ids


def _check(
    api: Api, call: MatrixCall, role: str, response: httpx.Response, rows: list[AuditEvent]
) -> list[str]:
    declared = _audit_of(call.route)
    kind, entity = declared["kind"], declared.get("entity")
    user_id = api.world.users[role]
    status = response.status_code
    mine = [(r.action, r.outcome, r.entity, r.entity_id, r.client_ids) for r in rows]
    if 200 <= status < 300:
        body = response.json() if response.content else None
        if kind == "none":
            return [f"reads nothing clinical but audited {mine}"] if rows else []
        if kind == "phi_read":
            want_id = _path_ids(call)[-1] if call.route.path.endswith("}") else None
            want = (
                "api.read",
                "ok",
                entity,
                want_id,
                json.dumps(sorted(_clients_shown(api, call, body))),
            )
            who = [(r.actor_user_id, r.actor_role, r.source) for r in rows]
            if mine != [want] or who != [(user_id, role, "api")]:
                return [f"PHI read audited {mine} by {who}, want [{want}] by {user_id}"]
            return []
        # A bulk write answers 200 with per-record refusals: each is audited as a refusal, with its rule.
        refused = body.get("refused", []) if isinstance(body, dict) else []
        refusals = [(r.outcome, r.entity_id, (r.detail or {}).get("rule")) for r in rows if r.outcome != "ok"]
        if refusals != [("refused", str(item["note_id"]), item["rule"]) for item in refused]:
            return [f"per-record refusals {refused} audited as {refusals}"]
        written = _written_ids(call, body)
        if refused and not body.get("signed"):
            return []
        found = [
            r
            for r in rows
            if (r.actor_user_id, r.entity, r.outcome) == (user_id, entity, "ok") and r.entity_id in written
        ]
        problems = [] if found else [f"write of {entity} {sorted(written)} not audited: {mine}"]
        if refused and {str(i) for i in body.get("signed", [])} - {r.entity_id for r in found}:
            problems.append(f"not every record written is audited: {mine}")
        client_id = body.get("client_id") if isinstance(body, dict) else None
        if found and isinstance(client_id, int) and client_id not in json.loads(found[0].client_ids):
            problems.append(f"write of {entity} does not name its client {body['client_id']}: {mine}")
        return problems
    rule = response.json().get("rule", "") if response.content else ""
    turned_away = (
        not call.allowed
        or (call.scope is not None and call.which == 1 and role in SCOPED_ROLES)
        or rule.startswith(FRAMEWORK_RULES)
        or call.method == "GET"
    )
    if turned_away:
        return [f"{status} {rule}: nothing runs, yet audited {mine}"] if rows else []
    want_refusal = [("api.write", "refused", user_id, rule)]
    got = [(r.action, r.outcome, r.actor_user_id, (r.detail or {}).get("rule")) for r in rows]
    return [] if got == want_refusal else [f"{status} {rule}: refusal audited {mine}, want {want_refusal}"]


@pytest.mark.parametrize("role", ROLES)
def test_audit_matrix(api: Api, role: str):
    phi = _phi(api)
    failures: list[str] = []
    succeeded: set[tuple[str, str]] = set()
    for call in matrix_calls(api, role):
        client = api.as_role(role)  # signed in before the snapshot: sign-in rows are not the call's
        body, headers = _request(api, client, call, role)
        before = _last_id(api)
        response = send(client, call, body, headers)
        rows = _rows_after(api, before)
        where = f"{role} {call.method} {call.url} ({call.label}) -> {response.status_code}"
        failures += [f"{where}: {problem}" for problem in _check(api, call, role, response, rows)]
        failures += [
            f"{where}: row {r.id} carries PHI {_carries_phi(r, phi)}" for r in rows if _carries_phi(r, phi)
        ]
        if response.is_success:
            succeeded.add((call.method, call.route.path))
    assert not failures, "\n".join(failures)
    # The matrix really exercises the audit: every read this role may make succeeded and was checked.
    reads = {(m, r.path) for m, r in _routes() if m == "GET" and role in (r.openapi_extra or {})["x-roles"]}
    assert reads <= succeeded, sorted(reads - succeeded)


def test_sign_in_refresh_and_sign_out_are_audited(api: Api):
    user_id = api.world.users["FRONT_DESK"]
    before = _last_id(api)
    tokens = api.sign_in(user_id).json()
    refresh = httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 200, refresh.text
    reused = httpx.post(f"{api.url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    again = api.sign_in(user_id).json()
    out = httpx.post(f"{api.url}/auth/sign-out", headers={"Authorization": f"Bearer {again['access_token']}"})
    assert out.status_code == 204
    # The clock stays in one TOTP step, so the second sign-in spends a recovery code (audited too).
    rows = [r for r in _rows_after(api, before) if r.action != "auth.mfa_recovery_code_used"]
    assert [(r.action, r.outcome, r.actor_user_id, r.source) for r in rows] == [
        ("auth.sign_in", "ok", user_id, "api"),
        ("auth.api_token", "ok", user_id, "api"),
        ("auth.api_refresh", "ok", user_id, "api"),
        ("auth.api_refresh", "refused", user_id, "api"),
        ("auth.sign_in", "ok", user_id, "api"),
        ("auth.api_token", "ok", user_id, "api"),
        ("auth.sign_out", "ok", user_id, "api"),
    ]
    assert (
        rows[1].entity_id == rows[2].entity_id == rows[3].entity_id != rows[5].entity_id == rows[6].entity_id
    )
    assert not [r.id for r in rows if _carries_phi(r, _phi(api)) or PASSWORD in json.dumps(r.detail)]
