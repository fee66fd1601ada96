"""Consents: record (informed, guardian, telehealth), read, revoke."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from operational_api.api.context import SCHEDULING, Ctx, api_route, reads_phi, register_scope, writes
from operational_api.models import Consent
from operational_api.services import consents as svc
from operational_api.services.ids import RecordId
from operational_api.services.rules import consent_current_until, local_today

router = APIRouter(tags=["consents"])
register_scope("consent", svc.get_consent)


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    consent_type: str
    guardian_id: int | None
    signed_date: dt.date
    expiry_date: dt.date | None
    revoked_date: dt.date | None
    version: int
    # The warehouse's definition (int_consents_with_validity): exclusive end; null = open-ended.
    current_until_date: dt.date | None = None
    is_current: bool = False


def consent_out(session, consent: Consent, today: dt.date) -> ConsentOut:
    out = ConsentOut.model_validate(consent)
    out.current_until_date = consent_current_until(session, consent)
    out.is_current = consent.signed_date <= today and (
        out.current_until_date is None or today < out.current_until_date
    )
    return out


@api_route(
    router,
    "POST",
    "/clients/{client_id}/consents",
    roles=SCHEDULING,
    audit=writes("consent"),
    scope="client",
    status_code=201,
    response_model=ConsentOut,
)
def create_consent(client_id: RecordId, payload: svc.ConsentCreate, ctx: Ctx):
    return ctx.write(
        lambda s: consent_out(
            s, svc.create_consent(s, ctx.actor, client_id, payload, now=ctx.now), local_today(ctx.now)
        ),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/clients/{client_id}/consents",
    roles=SCHEDULING,
    audit=reads_phi("consent"),
    scope="client",
    response_model=list[ConsentOut],
)
def list_consents(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        rows = svc.list_consents(session, ctx.actor, client_id)
        ctx.record_read(session, "consent", None, client_ids=[client_id])
        return ctx.respond([consent_out(session, c, local_today(ctx.now)) for c in rows])


@api_route(
    router,
    "GET",
    "/consents/{consent_id}",
    roles=SCHEDULING,
    audit=reads_phi("consent"),
    scope="consent",
    response_model=ConsentOut,
)
def get_consent(consent_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        consent = svc.get_consent(session, ctx.actor, consent_id)
        ctx.record_read(session, "consent", consent.id, client_ids=[consent.client_id])
        return ctx.respond(consent_out(session, consent, local_today(ctx.now)))


@api_route(
    router,
    "POST",
    "/consents/{consent_id}/revoke",
    roles=SCHEDULING,
    audit=writes("consent"),
    scope="consent",
    response_model=ConsentOut,
)
def revoke_consent(consent_id: RecordId, payload: svc.ConsentRevoke, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: consent_out(
            s,
            svc.revoke_consent(s, ctx.actor, consent_id, payload, expected_version=expected, now=ctx.now),
            local_today(ctx.now),
        )
    )
