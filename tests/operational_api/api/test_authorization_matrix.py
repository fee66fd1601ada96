"""Every route x every role x an in-scope and an out-of-scope record, generated from the route table.

A route's `x-roles` (from `api_route`) are the only roles that get past 403; for the others 403 comes before the
body is even read. A route with `x-scope` names the kind of record its path id is: clinicians and supervisors get
404 for clinician B's records (outside both their scopes) and never 403/404 for clinician A's; administrators,
the front desk and billing see both. Lists never show a scoped role another clinician's clients.

New areas are covered once their router is in ROUTE_TABLE: give `matrix_records` an in-scope and an out-of-scope
record of any new scope kind (and `PARAM_KINDS` any further path id, or the path id of a route without a scope:
a record every role sees, such as a payer), and `QUERY_SAMPLES` any required query parameter.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from operational_api.api.routes import ROUTE_TABLE
from operational_api.db import session_scope
from operational_api.models import Appointment, ClinicianAvailability, Consent, InsurancePolicy, Payer
from operational_api.models_api import WaitlistEntry
from tests.operational_api.api.clinical_records import clinical_records
from tests.operational_api.api.conftest import ROLES, Api, add_complete_client, next_slot

SCOPED_ROLES = ("CLINICIAN", "SUPERVISOR")
# Routes outside the role system: signing in and out.
PUBLIC = {("POST", "/auth/token"), ("POST", "/auth/refresh"), ("POST", "/auth/sign-out")}
# Path ids after the first: which record kind they name (paired with the first id's record).
PARAM_KINDS = {"policy_id": "policy", "payer_id": "payer"}
QUERY_SAMPLES = {"date_from": "2026-06-01", "date_to": "2026-06-07"}


def _routes() -> list[tuple[str, APIRoute]]:
    return [
        (method, route)
        for router in ROUTE_TABLE
        for route in router.routes
        for method in sorted(route.methods)
    ]


def test_every_route_declares_its_roles():
    for method, route in _routes():
        extra = route.openapi_extra or {}
        if (method, route.path) in PUBLIC:
            continue
        assert extra.get("x-roles"), f"{method} {route.path} has no roles: declare it with api_route"
        assert set(extra["x-roles"]) <= set(ROLES)


def matrix_records(api: Api) -> dict[str, tuple[int, int]]:
    """Per scope kind: (clinician A's record, clinician B's record). Made once per database."""
    cached = getattr(api, "_matrix_records", None)
    if cached:
        return cached
    world = api.world
    with session_scope(api.engine) as session:
        records: dict[str, list[int]] = {}
        for clinician in (world.clinician_a, world.clinician_b):
            client = add_complete_client(session, clinician, world.payer_id)
            start, end = next_slot()
            appointment = Appointment(
                client_id=client.id,
                clinician_id=clinician,
                appointment_type="THERAPY_SESSION",
                status="SCHEDULED",
                start_at=start,
                end_at=end,
                booked_at=api.clock.now,
                created_at=api.clock.now,
                updated_at=api.clock.now,
            )
            session.add(appointment)
            entry = WaitlistEntry(
                client_id=client.id,
                clinician_id=clinician,
                appointment_type="THERAPY_SESSION",
                window_start_at=start + dt.timedelta(days=30),
                window_end_at=end + dt.timedelta(days=31),
                status="WAITING",
                created_at=api.clock.now,
                updated_at=api.clock.now,
            )
            session.add(entry)
            # A Saturday slot of its own: the matrix's updates must not move the weekday hours bookings use.
            slot = ClinicianAvailability(
                clinician_id=clinician,
                weekday=5,
                start_time=dt.time(7, 0),
                end_time=dt.time(8, 0),
                effective_from=dt.date(2026, 1, 1),
            )
            session.add(slot)
            session.flush()
            consent = session.scalar(select(Consent.id).where(Consent.client_id == client.id))
            policy = session.scalar(select(InsurancePolicy.id).where(InsurancePolicy.client_id == client.id))
            for kind, value in (
                ("client", client.id),
                ("appointment", appointment.id),
                ("consent", consent),
                ("waitlist", entry.id),
                ("policy", policy),
                ("clinician", clinician),
                ("user", clinician),
                ("availability", slot.id),
            ):
                records.setdefault(kind, []).append(value)
        records.update(clinical_records(session, world, api.clock.now, records["client"]))
        # Every role sees every payer (no scope): one record, in scope for all.
        payer = Payer(name="Matrix Payer", payer_code=f"MX{uuid.uuid4().hex[:8].upper()}")
        session.add(payer)
        session.flush()
        records["payer"] = [payer.id, payer.id]
    api._matrix_records = {kind: (ids[0], ids[1]) for kind, ids in records.items()}
    return api._matrix_records


def _url(route: APIRoute, records: dict[str, tuple[int, int]], which: int) -> str:
    scope = (route.openapi_extra or {}).get("x-scope")
    params = re.findall(r"{(\w+)}", route.path)
    path = route.path
    for i, name in enumerate(params):
        kind = scope if i == 0 and scope else PARAM_KINDS[name]
        assert kind in records, f"{route.path}: add a {kind!r} record to matrix_records"
        path = path.replace(f"{{{name}}}", str(records[kind][which]))
    query = {
        p.alias: QUERY_SAMPLES[p.alias] for p in route.dependant.query_params if p.field_info.is_required()
    }
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@dataclass(frozen=True)
class MatrixCall:
    """One cell of the matrix: a route called by a role on the in-scope (0) or out-of-scope (1) record."""

    method: str
    route: APIRoute
    which: int
    url: str
    allowed: bool  # the role is one of the route's x-roles
    scope: str | None

    @property
    def label(self) -> str:
        return ("in-scope", "out-of-scope")[self.which]


def matrix_calls(api: Api, role: str) -> Iterator[MatrixCall]:
    """Every route of ROUTE_TABLE (but sign-in/out) for this role, on each record it needs (shared with the audit
    matrix, test_audit_matrix.py)."""
    records = matrix_records(api)
    for method, route in _routes():
        extra = route.openapi_extra or {}
        if (method, route.path) in PUBLIC:
            continue
        scope = extra.get("x-scope")
        for which in (0, 1):
            if scope is None and which == 1:
                continue
            yield MatrixCall(
                method, route, which, _url(route, records, which), role in extra["x-roles"], scope
            )


def send(
    client: httpx.Client, call: MatrixCall, body: dict | None = None, headers: dict | None = None
) -> httpx.Response:
    """The call with `body`, or an empty one where the method takes one (the role check comes before the body's)."""
    if body is None and call.method in ("POST", "PATCH", "PUT"):
        body = {}
    return client.request(call.method, call.url, json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(api: Api, role: str):
    out_client = matrix_records(api)["client"][1]
    failures: list[str] = []
    for call in matrix_calls(api, role):
        method, route, url = call.method, call.route, call.url
        response = send(api.as_role(role), call)
        status = response.status_code
        if not call.allowed:
            expected_ok = status == 403 and response.json().get("rule") == "auth.role_forbidden"
            want = "403"
        elif call.scope is not None and call.which == 1 and role in SCOPED_ROLES:
            expected_ok = status == 404
            want = "404"
        elif method == "GET":
            expected_ok = status == 200
            want = "200"
        else:
            expected_ok = status not in (401, 403, 404, 500)
            want = "not 401/403/404/500"
        if not expected_ok:
            failures.append(
                f"{role} {method} {url} ({call.label}): {status}, want {want}: {response.text[:160]}"
            )
        if call.allowed and method == "GET" and call.scope is None and role in SCOPED_ROLES and status == 200:
            items = response.json().get("items", []) if isinstance(response.json(), dict) else []
            for item in items:
                shown = item.get("client_id", item["id"] if route.path == "/clients" else None)
                if shown == out_client:
                    failures.append(f"{role} {method} {url}: shows out-of-scope client {out_client}")
    assert not failures, "\n".join(failures)
