"""Clients with guardians, insurance policies and insurance verifications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from operational_api.api.context import SCHEDULING, STAFF, Ctx, api_route, reads_phi, register_scope, writes
from operational_api.api.types import UtcDateTime
from operational_api.models import Client
from operational_api.services import clients as svc
from operational_api.services.ids import RecordId
from operational_api.services.rules import client_missing_demographics, clients_missing_demographics
from operational_api.services.scope import visible_client

router = APIRouter(tags=["clients"])
register_scope("client", visible_client)
INSURANCE = frozenset({"ADMIN", "FRONT_DESK", "BILLING", "CLINICIAN", "SUPERVISOR"})


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    gender: str | None
    email: str | None
    phone: str | None
    address: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    emergency_contact_name: str | None
    emergency_contact_phone: str | None
    referring_provider: str | None
    status: str
    primary_clinician_id: int | None
    is_high_risk: bool
    has_suicidal_ideation: bool
    is_emancipated: bool
    is_self_pay: bool
    has_email_contact_consent: bool
    has_sms_contact_consent: bool
    intake_date: dt.date | None
    discharged_date: dt.date | None
    created_at: UtcDateTime | None
    updated_at: UtcDateTime | None
    version: int
    # dim_clients.missing_demographic_fields, computed the same way (services/rules.py).
    missing_demographic_fields: list[str] = []
    has_complete_demographics: bool = False


class ClientList(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None


class GuardianOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    full_name: str
    relationship: str
    phone: str | None


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    payer_id: int
    rank: int
    member_id: str
    group_number: str | None
    effective_date: dt.date
    termination_date: dt.date | None


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    policy_id: int
    client_id: int
    status: str
    is_eligible: bool | None
    source: str
    verified_by: int | None
    verified_at: UtcDateTime
    expires_at: UtcDateTime | None


def client_out(session, client: Client, missing: list[str] | None = None) -> ClientOut:
    """`missing`: the client's missing demographic fields when the caller already has them (a list page)."""
    out = ClientOut.model_validate(client)
    out.missing_demographic_fields = (
        missing if missing is not None else client_missing_demographics(session, client)
    )
    out.has_complete_demographics = not out.missing_demographic_fields
    return out


@api_route(
    router,
    "POST",
    "/clients",
    roles=SCHEDULING,
    audit=writes("client"),
    status_code=201,
    response_model=ClientOut,
)
def create_client(payload: svc.ClientCreate, ctx: Ctx):
    return ctx.write(
        lambda s: client_out(s, svc.create_client(s, ctx.actor, payload, now=ctx.now)), status=201
    )


@api_route(router, "GET", "/clients", roles=STAFF, audit=reads_phi("client"), response_model=ClientList)
def list_clients(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    clinician_id: RecordId | None = None,
    status: str | None = None,
):
    with ctx.session() as session:
        result = svc.list_clients(
            session,
            ctx.actor,
            limit=limit,
            cursor=cursor,
            updated_since=updated_since,
            clinician_id=clinician_id,
            status=status,
        )
        missing = clients_missing_demographics(session, result.items)
        items = [client_out(session, c, missing[c.id]) for c in result.items]
        ctx.record_read(session, "client", None, client_ids=[c.id for c in items])
        return ctx.respond(ClientList(items=items, next_cursor=result.next_cursor))


@api_route(
    router,
    "GET",
    "/clients/{client_id}",
    roles=STAFF,
    audit=reads_phi("client"),
    scope="client",
    response_model=ClientOut,
)
def get_client(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        client = svc.get_client(session, ctx.actor, client_id)
        ctx.record_read(session, "client", client.id, client_ids=[client.id])
        return ctx.respond(client_out(session, client))


@api_route(
    router,
    "PATCH",
    "/clients/{client_id}",
    roles=SCHEDULING,
    audit=writes("client"),
    scope="client",
    response_model=ClientOut,
)
def update_client(client_id: RecordId, payload: svc.ClientUpdate, ctx: Ctx):
    expected = ctx.expected_version()
    return ctx.write(
        lambda s: client_out(
            s, svc.update_client(s, ctx.actor, client_id, payload, expected_version=expected, now=ctx.now)
        )
    )


@api_route(
    router,
    "POST",
    "/clients/{client_id}/guardians",
    roles=SCHEDULING,
    audit=writes("guardian"),
    scope="client",
    status_code=201,
    response_model=GuardianOut,
)
def add_guardian(client_id: RecordId, payload: svc.GuardianCreate, ctx: Ctx):
    return ctx.write(
        lambda s: GuardianOut.model_validate(svc.add_guardian(s, ctx.actor, client_id, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/clients/{client_id}/guardians",
    roles=SCHEDULING,
    audit=reads_phi("guardian"),
    scope="client",
    response_model=list[GuardianOut],
)
def list_guardians(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        rows = svc.list_guardians(session, ctx.actor, client_id)
        ctx.record_read(session, "guardian", None, client_ids=[client_id])
        return ctx.respond([GuardianOut.model_validate(r) for r in rows])


@api_route(
    router,
    "POST",
    "/clients/{client_id}/insurance-policies",
    roles=INSURANCE,
    audit=writes("insurance_policy"),
    scope="client",
    status_code=201,
    response_model=PolicyOut,
)
def add_policy(client_id: RecordId, payload: svc.PolicyCreate, ctx: Ctx):
    return ctx.write(
        lambda s: PolicyOut.model_validate(svc.add_policy(s, ctx.actor, client_id, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/clients/{client_id}/insurance-policies",
    roles=INSURANCE,
    audit=reads_phi("insurance_policy"),
    scope="client",
    response_model=list[PolicyOut],
)
def list_policies(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        rows = svc.list_policies(session, ctx.actor, client_id)
        ctx.record_read(session, "insurance_policy", None, client_ids=[client_id])
        return ctx.respond([PolicyOut.model_validate(r) for r in rows])


@api_route(
    router,
    "POST",
    "/clients/{client_id}/insurance-policies/{policy_id}/verifications",
    roles=INSURANCE,
    audit=writes("insurance_verification"),
    scope="client",
    status_code=201,
    response_model=VerificationOut,
)
def add_verification(client_id: RecordId, policy_id: RecordId, payload: svc.VerificationCreate, ctx: Ctx):
    return ctx.write(
        lambda s: VerificationOut.model_validate(
            svc.add_verification(s, ctx.actor, client_id, policy_id, payload, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/clients/{client_id}/insurance-verifications",
    roles=INSURANCE,
    audit=reads_phi("insurance_verification"),
    scope="client",
    response_model=list[VerificationOut],
)
def list_verifications(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        rows = svc.list_verifications(session, ctx.actor, client_id)
        ctx.record_read(session, "insurance_verification", None, client_ids=[client_id])
        return ctx.respond([VerificationOut.model_validate(r) for r in rows])
