"""Charges, claims, manual payments and their applications (ERA remittances post through operational_api/era), and
the payers they name."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from operational_api.api.context import (
    BILLING,
    NO_PHI,
    STAFF,
    Ctx,
    api_route,
    reads_phi,
    register_scope,
    writes,
)
from operational_api.api.types import UtcDateTime
from operational_api.services import billing, payers
from operational_api.services.ids import RecordId

router = APIRouter(tags=["billing"])
PAYMENTS = frozenset({"ADMIN", "BILLING", "FRONT_DESK"})
register_scope("charge", billing.get_charge)
register_scope("claim", billing.get_claim)
register_scope("payment", billing.get_payment)


class ChargeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    clinician_id: int
    appointment_id: int | None
    note_id: int | None
    claim_id: int | None
    service_date: dt.date
    cpt_code: str
    modifiers: str | None
    units: int
    diagnosis_codes: str | None
    charge_amount: Decimal
    payment_amount: Decimal
    adjustment_amount: Decimal
    patient_responsibility_amount: Decimal
    status: str
    is_billing_hold: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime | None
    version: int


class ChargeList(BaseModel):
    items: list[ChargeOut]
    next_cursor: str | None


class ClaimOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    payer_id: int
    claim_control_number: str
    status: str
    total_charge_amount: Decimal
    denial_carc_code: str | None
    rejection_reason: str | None
    submitted_at: UtcDateTime
    accepted_at: UtcDateTime | None
    rejected_at: UtcDateTime | None
    denied_at: UtcDateTime | None
    adjudicated_at: UtcDateTime | None
    version: int


class ClaimList(BaseModel):
    items: list[ClaimOut]
    next_cursor: str | None


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int | None
    payer_id: int | None
    era_file_id: int | None
    payment_amount: Decimal
    payment_method: str
    payment_date: dt.date
    check_number: str | None
    transaction_id: str | None
    created_at: UtcDateTime


class ApplicationOut(BaseModel):
    payment_id: int
    charge_id: int
    application_id: int | None
    applied_amount: Decimal
    credit_balance_id: int | None
    credit_amount: Decimal


def _read(ctx: Ctx, session, entity: str, row) -> None:
    ctx.record_read(session, entity, row.id, client_ids=[row.client_id] if row.client_id else [])


@api_route(
    router,
    "POST",
    "/charges",
    roles=BILLING,
    audit=writes("charge"),
    status_code=201,
    response_model=ChargeOut,
)
def create_charge(payload: billing.ChargeInput, ctx: Ctx):
    return ctx.write(
        lambda s: ChargeOut.model_validate(billing.create_charge(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(router, "GET", "/charges", roles=BILLING, audit=reads_phi("charge"), response_model=ChargeList)
def list_charges(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    client_id: RecordId | None = None,
    status: str | None = None,
):
    with ctx.session() as session:
        result = billing.list_charges(
            session, ctx.actor, client_id=client_id, status=status, updated_since=updated_since, limit=limit,
            cursor=cursor,
        )  # fmt: skip
        ctx.record_read(session, "charge", None, client_ids={c.client_id for c in result.items})
        return ctx.respond(
            ChargeList(
                items=[ChargeOut.model_validate(c) for c in result.items], next_cursor=result.next_cursor
            )
        )


@api_route(
    router,
    "GET",
    "/charges/{charge_id}",
    roles=BILLING,
    audit=reads_phi("charge"),
    scope="charge",
    response_model=ChargeOut,
)
def get_charge(charge_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        charge = billing.get_charge(session, ctx.actor, charge_id)
        _read(ctx, session, "charge", charge)
        return ctx.respond(ChargeOut.model_validate(charge))


@api_route(
    router,
    "POST",
    "/charges/{charge_id}/void",
    roles=BILLING,
    audit=writes("charge"),
    scope="charge",
    response_model=ChargeOut,
)
def void_charge(charge_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: ChargeOut.model_validate(
            billing.void_charge(s, ctx.actor, charge_id, expected_version=expected, now=ctx.now)
        )
    )


@api_route(
    router, "POST", "/claims", roles=BILLING, audit=writes("claim"), status_code=201, response_model=ClaimOut
)
def submit_claim(payload: billing.ClaimInput, ctx: Ctx):
    return ctx.write(
        lambda s: ClaimOut.model_validate(billing.submit_claim(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(router, "GET", "/claims", roles=BILLING, audit=reads_phi("claim"), response_model=ClaimList)
def list_claims(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    client_id: RecordId | None = None,
    status: str | None = None,
):
    with ctx.session() as session:
        result = billing.list_claims(
            session, ctx.actor, client_id=client_id, status=status, limit=limit, cursor=cursor
        )
        ctx.record_read(session, "claim", None, client_ids={c.client_id for c in result.items})
        return ctx.respond(
            ClaimList(
                items=[ClaimOut.model_validate(c) for c in result.items], next_cursor=result.next_cursor
            )
        )


@api_route(
    router,
    "GET",
    "/claims/{claim_id}",
    roles=BILLING,
    audit=reads_phi("claim"),
    scope="claim",
    response_model=ClaimOut,
)
def get_claim(claim_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        claim = billing.get_claim(session, ctx.actor, claim_id)
        _read(ctx, session, "claim", claim)
        return ctx.respond(ClaimOut.model_validate(claim))


@api_route(
    router,
    "POST",
    "/claims/{claim_id}/status",
    roles=BILLING,
    audit=writes("claim"),
    scope="claim",
    response_model=ClaimOut,
)
def set_claim_status(claim_id: RecordId, payload: billing.ClaimStatusInput, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: ClaimOut.model_validate(
            billing.set_claim_status(s, ctx.actor, claim_id, payload, expected_version=expected, now=ctx.now)
        )
    )


@api_route(
    router,
    "POST",
    "/payments",
    roles=PAYMENTS,
    audit=writes("payment"),
    status_code=201,
    response_model=PaymentOut,
)
def record_payment(payload: billing.PaymentInput, ctx: Ctx):
    return ctx.write(
        lambda s: PaymentOut.model_validate(billing.record_payment(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/payments/{payment_id}",
    roles=PAYMENTS,
    audit=reads_phi("payment"),
    scope="payment",
    response_model=PaymentOut,
)
def get_payment(payment_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        payment = billing.get_payment(session, ctx.actor, payment_id)
        _read(ctx, session, "payment", payment)
        return ctx.respond(PaymentOut.model_validate(payment))


@api_route(
    router, "POST", "/payments/{payment_id}/applications", roles=PAYMENTS, audit=writes("payment"), scope="payment", status_code=201,
    response_model=ApplicationOut,
)  # fmt: skip
def apply_payment(payment_id: RecordId, payload: billing.ApplicationInput, ctx: Ctx):
    def run(s):
        result = billing.apply_payment(s, ctx.actor, payment_id, payload, now=ctx.now)
        app, credit = result.application, result.credit
        return ApplicationOut(
            payment_id=payment_id,
            charge_id=payload.charge_id,
            application_id=app.id if app else None,
            applied_amount=app.applied_amount if app else Decimal("0.00"),
            credit_balance_id=credit.id if credit else None,
            credit_amount=credit.amount if credit else Decimal("0.00"),
        )

    return ctx.write(run, status=201)


class PayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    payer_code: str
    version: int


class PayerList(BaseModel):
    items: list[PayerOut]
    next_cursor: str | None


# Payers hold no client's data and every staff member reads them (the front desk records policies): no scope.
@api_route(router, "GET", "/payers", roles=STAFF, audit=NO_PHI, response_model=PayerList, summary="Payers")
def list_payers(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    payer_code: str | None = None,
):
    with ctx.session() as session:
        result = payers.list_payers(session, ctx.actor, limit=limit, cursor=cursor, payer_code=payer_code)
        return ctx.respond(
            PayerList(
                items=[PayerOut.model_validate(p) for p in result.items], next_cursor=result.next_cursor
            )
        )


@api_route(
    router, "POST", "/payers", roles=BILLING, audit=writes("payer"), status_code=201, response_model=PayerOut
)
def create_payer(payload: payers.PayerInput, ctx: Ctx):
    return ctx.write(
        lambda s: PayerOut.model_validate(payers.create_payer(s, ctx.actor, payload, now=ctx.now)), status=201
    )


@api_route(router, "GET", "/payers/{payer_id}", roles=STAFF, audit=NO_PHI, response_model=PayerOut)
def get_payer(payer_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(PayerOut.model_validate(payers.get_payer(session, ctx.actor, payer_id)))


@api_route(
    router, "PATCH", "/payers/{payer_id}", roles=BILLING, audit=writes("payer"), response_model=PayerOut
)
def update_payer(payer_id: RecordId, payload: payers.PayerUpdate, ctx: Ctx):
    """Name and code (If-Match with the ETag read); policies and claims keep naming the payer by id."""
    expected = ctx.expected_version()
    return ctx.write(
        lambda s: PayerOut.model_validate(
            payers.update_payer(s, ctx.actor, payer_id, payload, expected_version=expected, now=ctx.now)
        )
    )
