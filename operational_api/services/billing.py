"""Charges, claims, manual payments and their applications (PRD module 5); ERA posting (operational_api/era) is
the remittance path and keeps its own transaction, this is the manual one, written to the same ledger rules.

Rules, each refused with its rule id:
- a charge comes from a COMPLETED appointment (charge.appointment_not_completed), once per CPT code
  (charge.duplicate); its amount is the fee schedule's for the CPT times the units unless given;
- a charge is not submitted while its note is unsigned (charge.note_unsigned), and from day
  NOTE_SIGNATURE/billing_hold_day after the service date (compliance_rules, one home) it is on billing hold
  (charge.billing_hold) until the note is signed; the hold is computed from the note, `charges.is_billing_hold`
  mirrors it for the warehouse (set when the charge is entered, cleared when the note is signed);
- claim statuses follow `CLAIM_TRANSITIONS`; PAID and PARTIALLY_PAID are never set by hand: they follow the
  charges' payments (`operational_api.era.posting.claim_status`, which ERA posting uses too);
- a payment application never exceeds the charge's balance (charge - paid - adjusted) unless the person asks for
  the excess to become an explicit credit balance (payment.exceeds_balance otherwise), nor the payment's
  unapplied remainder (payment.over_applied).

Ledger consistency with era/ledger.py: a manual INSURANCE application counts as insurance money for later 835s
(it names its payer, so an 835 of the same payer for the same charge waits for review as a duplicate), and, like a
secondary payer's CLP, it lowers the charge's patient responsibility by what it paid; a client payment adds to
`payment_amount` only. Either way insurance + adjustments + max(patient responsibility, client paid) stays within
the charge amount, the bound the ERA posting holds CLPs for (`would_overpay`). Charge statuses come from the same
`charge_status` function the ERA posting uses.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.era.posting import charge_status, claim_status
from operational_api.models import (
    Appointment,
    AppointmentStatus,
    Charge,
    ChargeStatus,
    Claim,
    ClaimStatus,
    Client,
    ClinicalNote,
    InsurancePolicy,
    Payer,
    Payment,
    PaymentApplication,
    PaymentMethod,
)
from operational_api.models_billing import CreditBalance
from operational_api.services.clinical_common import (
    ADMIN,
    BILLING,
    FRONT_DESK,
    check_version,
    get_or_404,
    local_date,
    record_write,
    require_role,
    rule_value,
    versioned,
)
from operational_api.services.errors import InvalidInput, NotFound, RuleViolation
from operational_api.services.ids import RecordId
from operational_api.services.listing import Page, page, touch
from operational_api.synthetic import FEES

BILLING_ROLES = frozenset({BILLING, ADMIN})
# The front desk collects copays and self-pay fees at the visit (client payments only, never insurance).
CLIENT_PAYMENT_ROLES = frozenset({BILLING, ADMIN, FRONT_DESK})
CPT_PATTERN = re.compile(r"^(\d{5}|[A-Z]\d{4})$")

SUBMITTED, ACCEPTED, REJECTED, DENIED, PAID, PARTIALLY_PAID = (s.value for s in ClaimStatus)
# status -> the statuses a person may move a claim to. PAID / PARTIALLY_PAID follow payments; REJECTED is final
# (the payer never took the claim in: its charges return to UNBILLED for a corrected claim); an appeal reopens a
# DENIED claim.
CLAIM_TRANSITIONS: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({ACCEPTED, REJECTED}),
    ACCEPTED: frozenset({DENIED}),
    DENIED: frozenset({ACCEPTED}),
    PARTIALLY_PAID: frozenset({DENIED}),
    PAID: frozenset(),
    REJECTED: frozenset(),
}


def _cents(amount: Decimal | None) -> int:
    return int((Decimal(amount or 0) * 100).to_integral_value())


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


# ---- charges ------------------------------------------------------------------------------------------------


class ChargeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment_id: RecordId
    cpt_code: str
    units: int = Field(default=1, ge=1, le=24)
    modifiers: str | None = Field(default=None, max_length=20)
    diagnosis_codes: str | None = Field(default=None, max_length=100)
    charge_amount: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)

    @field_validator("cpt_code")
    @classmethod
    def _cpt(cls, value: str) -> str:
        value = value.strip().upper()
        if not CPT_PATTERN.match(value):
            raise ValueError("a CPT / HCPCS code is 5 digits, or a letter and 4 digits")
        return value


def note_of(session: Session, charge: Charge) -> ClinicalNote | None:
    """The note a charge is billed on: its own `note_id`, else its session's first note."""
    if charge.note_id is not None:
        return session.get(ClinicalNote, charge.note_id)
    if charge.appointment_id is None:
        return None
    return session.scalar(
        select(ClinicalNote)
        .where(ClinicalNote.appointment_id == charge.appointment_id)
        .order_by(ClinicalNote.id)
        .limit(1)
    )


def submission_block(session: Session, charge: Charge, today: dt.date) -> tuple[str, str] | None:
    """(rule, message) when the charge may not be submitted because of its note, else None."""
    note = note_of(session, charge)
    if note is not None and note.signed_at is not None:
        return None
    hold_day = int(rule_value(session, "NOTE_SIGNATURE", "billing_hold_day"))
    days = (today - charge.service_date).days
    which = f"note {note.id}" if note is not None else "its session's note (none written yet)"
    if days >= hold_day:
        return (
            "charge.billing_hold",
            f"charge {charge.id} is on billing hold: {which} is unsigned {days} days after the service "
            f"(hold from day {hold_day}); sign the note first",
        )
    return ("charge.note_unsigned", f"charge {charge.id} cannot be submitted: {which} is not signed")


def create_charge(
    session: Session, actor: SignedInUser, payload: ChargeInput, *, now: dt.datetime, source: str = audit.API
) -> Charge:
    """A charge for a completed session (service date = the session's practice-local day)."""
    require_role(actor, BILLING_ROLES, "enter charges")
    appointment = get_or_404(session, Appointment, payload.appointment_id, "appointment")
    if appointment.status != AppointmentStatus.COMPLETED:
        raise RuleViolation(
            "charge.appointment_not_completed",
            f"appointment {appointment.id} is {appointment.status}: charges are entered for completed sessions only",
            field="appointment_id",
        )
    duplicate = session.scalar(
        select(Charge.id).where(
            Charge.appointment_id == appointment.id,
            Charge.cpt_code == payload.cpt_code,
            Charge.status != ChargeStatus.VOID,
        )
    )
    if duplicate is not None:
        raise RuleViolation(
            "charge.duplicate",
            f"appointment {appointment.id} already has charge {duplicate} for CPT {payload.cpt_code}",
            field="cpt_code",
        )
    amount = payload.charge_amount
    if amount is None:
        if payload.cpt_code not in FEES:
            raise InvalidInput(
                "charge.fee_unknown",
                f"CPT {payload.cpt_code} is not in the fee schedule: give charge_amount",
                field="charge_amount",
            )
        amount = FEES[payload.cpt_code] * payload.units
    note = session.scalar(
        select(ClinicalNote)
        .where(ClinicalNote.appointment_id == appointment.id)
        .order_by(ClinicalNote.id)
        .limit(1)
    )
    charge = Charge(
        client_id=appointment.client_id,
        clinician_id=appointment.clinician_id,
        appointment_id=appointment.id,
        note_id=note.id if note is not None else None,
        service_date=local_date(appointment.start_at),
        cpt_code=payload.cpt_code,
        modifiers=payload.modifiers,
        units=payload.units,
        diagnosis_codes=payload.diagnosis_codes or (note.icd10_codes if note is not None else None),
        charge_amount=amount,
        payment_amount=Decimal("0.00"),
        adjustment_amount=Decimal("0.00"),
        patient_responsibility_amount=Decimal("0.00"),
        status=ChargeStatus.UNBILLED.value,
        is_billing_hold=False,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    # Decided before the insert, so a new charge is written once (version 1).
    block = submission_block(session, charge, local_date(now))
    charge.is_billing_hold = block is not None and block[0] == "charge.billing_hold"
    session.add(charge)
    session.flush()
    record_write(
        session,
        actor,
        "charge.create",
        "charge",
        charge.id,
        client_ids=[charge.client_id],
        source=source,
        now=now,
    )
    return charge


def void_charge(
    session: Session,
    actor: SignedInUser,
    charge_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> Charge:
    """An entry mistake: an UNBILLED charge with nothing applied becomes VOID (submitted ones are the payer's)."""
    require_role(actor, BILLING_ROLES, "void charges")
    charge = get_or_404(session, Charge, charge_id, "charge", for_update=True)
    check_version(charge, expected_version, "charge")
    if charge.status != ChargeStatus.UNBILLED or charge.claim_id is not None or _cents(charge.payment_amount):
        raise RuleViolation(
            "charge.not_voidable",
            f"charge {charge_id} is {charge.status}: only an unbilled, unpaid charge is voided",
        )
    charge.status = ChargeStatus.VOID.value
    touch(charge, now)
    with versioned("charge", charge_id):
        session.flush()
    record_write(
        session,
        actor,
        "charge.void",
        "charge",
        charge.id,
        client_ids=[charge.client_id],
        source=source,
        now=now,
    )
    return charge


def list_charges(
    session: Session,
    actor: SignedInUser,
    *,
    client_id: int | None = None,
    status: str | None = None,
    updated_since: dt.datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    require_role(actor, BILLING_ROLES, "read charges")
    query = select(Charge)
    if client_id is not None:
        query = query.where(Charge.client_id == client_id)
    if status is not None:
        query = query.where(Charge.status == status)
    return page(
        session, query, Charge.id, limit=limit, cursor=cursor, updated_column=Charge.updated_at,
        updated_since=updated_since,
    )  # fmt: skip


# ---- claims -------------------------------------------------------------------------------------------------


class ClaimInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge_ids: list[int] = Field(min_length=1, max_length=50)
    payer_id: RecordId | None = None


class ClaimStatusInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ClaimStatus
    denial_carc_code: str | None = Field(default=None, max_length=10)
    rejection_reason: str | None = Field(default=None, max_length=200)


def _payer_for(session: Session, client: Client, day: dt.date, payer_id: int | None) -> int:
    policies = session.scalars(
        select(InsurancePolicy)
        .where(
            InsurancePolicy.client_id == client.id,
            InsurancePolicy.effective_date <= day,
            (InsurancePolicy.termination_date.is_(None)) | (InsurancePolicy.termination_date >= day),
        )
        .order_by(InsurancePolicy.rank, InsurancePolicy.id)
    ).all()
    if payer_id is not None:
        if session.get(Payer, payer_id) is None:
            raise NotFound("payer.not_found", f"payer {payer_id} not found")
        if payer_id not in {p.payer_id for p in policies}:
            raise RuleViolation(
                "claim.no_coverage",
                f"client {client.id} has no policy with payer {payer_id} on {day.isoformat()}",
            )
        return payer_id
    if client.is_self_pay or not policies:
        raise RuleViolation(
            "claim.no_coverage",
            f"client {client.id} has no insurance policy in effect on {day.isoformat()} (self-pay)",
        )
    return policies[0].payer_id


def submit_claim(
    session: Session, actor: SignedInUser, payload: ClaimInput, *, now: dt.datetime, source: str = audit.API
) -> Claim:
    """One claim for unbilled charges of one client; all or nothing (a claim is one document to the payer)."""
    require_role(actor, BILLING_ROLES, "submit claims")
    today = local_date(now)
    charges = [
        get_or_404(session, Charge, cid, "charge", for_update=True)
        for cid in dict.fromkeys(payload.charge_ids)
    ]
    if len({c.client_id for c in charges}) > 1:
        raise InvalidInput(
            "claim.mixed_clients", "a claim covers the charges of one client", field="charge_ids"
        )
    for charge in charges:
        if charge.status != ChargeStatus.UNBILLED or charge.claim_id is not None:
            raise RuleViolation(
                "charge.not_unbilled",
                f"charge {charge.id} is {charge.status}: only unbilled charges are submitted",
            )
        block = submission_block(session, charge, today)
        if block is not None:
            raise RuleViolation(block[0], block[1], field="charge_ids")
    client = session.get(Client, charges[0].client_id)
    payer_id = _payer_for(session, client, min(c.service_date for c in charges), payload.payer_id)
    claim = Claim(
        updated_at=now,
        client_id=client.id,
        payer_id=payer_id,
        # Our CLM01 is MS + the claim id (as the generator writes it); a unique placeholder until the id exists.
        claim_control_number=f"TMP{uuid.uuid4().hex[:20]}",
        status=SUBMITTED,
        total_charge_amount=sum((Decimal(c.charge_amount) for c in charges), Decimal("0")),
        submitted_at=now,
    )
    session.add(claim)
    session.flush()
    # Not an ORM change: the claim is new in this transaction, so it keeps version 1.
    ccn = f"MS{claim.id:08d}"
    session.execute(
        update(Claim).where(Claim.id == claim.id).values(claim_control_number=ccn, updated_at=now)
    )
    set_committed_value(claim, "claim_control_number", ccn)
    for charge in charges:
        charge.claim_id = claim.id
        charge.status = ChargeStatus.BILLED.value
        charge.is_billing_hold = False
        touch(charge, now)
    with versioned("charge", charges[0].id):
        session.flush()
    record_write(
        session, actor, "claim.submit", "claim", claim.id, client_ids=[claim.client_id], source=source, now=now,
        detail={"charge_ids": [c.id for c in charges]},
    )  # fmt: skip
    return claim


def set_claim_status(
    session: Session,
    actor: SignedInUser,
    claim_id: int,
    payload: ClaimStatusInput,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> Claim:
    """A payer's answer recorded by hand (clearinghouse acknowledgement, denial letter, appeal)."""
    require_role(actor, BILLING_ROLES, "change claim statuses")
    claim = get_or_404(session, Claim, claim_id, "claim", for_update=True)
    check_version(claim, expected_version, "claim")
    target = payload.status.value
    if target in (PAID, PARTIALLY_PAID):
        raise RuleViolation(
            "claim.status_derived",
            f"claim {claim_id}: {target} follows the payments posted to its charges; post the payment instead",
            field="status",
        )
    if target not in CLAIM_TRANSITIONS.get(claim.status, frozenset()):
        raise RuleViolation(
            "claim.transition",
            f"claim {claim_id} is {claim.status}: it cannot become {target}",
            field="status",
        )
    if target == DENIED and not payload.denial_carc_code:
        raise InvalidInput(
            "claim.denial_reason_missing", "a denial names its CARC code", field="denial_carc_code"
        )
    if target == REJECTED and not payload.rejection_reason:
        raise InvalidInput(
            "claim.rejection_reason_missing", "a rejection names its reason", field="rejection_reason"
        )
    # Read before the claim changes: a query after it would autoflush the claim outside the version guard.
    released = (
        session.scalars(select(Charge).where(Charge.claim_id == claim.id)).all() if target == REJECTED else []
    )
    before = claim.status
    claim.status = target
    if target == ACCEPTED:
        claim.accepted_at = claim.accepted_at or now
        claim.denied_at = None
        claim.denial_carc_code = None
    elif target == DENIED:
        claim.denied_at = now
        claim.adjudicated_at = now
        claim.denial_carc_code = payload.denial_carc_code
    elif target == REJECTED:
        claim.rejected_at = now
        claim.rejection_reason = payload.rejection_reason
        for charge in released:
            charge.claim_id = None
            charge.status = ChargeStatus.UNBILLED.value
            touch(charge, now)
    touch(claim, now)
    with versioned("claim", claim_id):
        session.flush()
    record_write(
        session, actor, "claim.status", "claim", claim.id, client_ids=[claim.client_id], source=source, now=now,
        detail={"from": before, "to": target},
    )  # fmt: skip
    return claim


def list_claims(
    session: Session,
    actor: SignedInUser,
    *,
    client_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    require_role(actor, BILLING_ROLES, "read claims")
    query = select(Claim)
    if client_id is not None:
        query = query.where(Claim.client_id == client_id)
    if status is not None:
        query = query.where(Claim.status == status)
    return page(session, query, Claim.id, limit=limit, cursor=cursor)


# ---- payments -----------------------------------------------------------------------------------------------


class PaymentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method: PaymentMethod
    payment_amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    payment_date: dt.date
    client_id: RecordId | None = None
    payer_id: RecordId | None = None
    check_number: str | None = Field(default=None, max_length=60)
    transaction_id: str | None = Field(default=None, max_length=60)


class ApplicationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge_id: RecordId
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    # Above the charge's balance the excess becomes a credit balance only when asked for, with a reason.
    excess_to_credit: bool = False
    credit_reason: str | None = Field(default=None, max_length=200)


def record_payment(
    session: Session, actor: SignedInUser, payload: PaymentInput, *, now: dt.datetime, source: str = audit.API
) -> Payment:
    """Money received by hand: a client's payment, or an insurance check that came without an 835."""
    insurance = payload.payment_method == PaymentMethod.INSURANCE
    require_role(actor, BILLING_ROLES if insurance else CLIENT_PAYMENT_ROLES, "record payments")
    if insurance:
        if payload.payer_id is None:
            raise InvalidInput(
                "payment.payer_missing", "an insurance payment names its payer", field="payer_id"
            )
        get_or_404(session, Payer, payload.payer_id, "payer")
    else:
        if payload.client_id is None:
            raise InvalidInput(
                "payment.client_missing", "a client payment names its client", field="client_id"
            )
        if payload.payer_id is not None:
            raise InvalidInput(
                "payment.payer_unexpected", "only insurance payments name a payer", field="payer_id"
            )
    if payload.client_id is not None:
        get_or_404(session, Client, payload.client_id, "client")
    payment = Payment(
        updated_at=now,
        client_id=payload.client_id,
        payer_id=payload.payer_id,
        payment_amount=payload.payment_amount,
        payment_method=payload.payment_method.value,
        payment_date=payload.payment_date,
        check_number=payload.check_number,
        transaction_id=payload.transaction_id,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(payment)
    session.flush()
    record_write(
        session,
        actor,
        "payment.create",
        "payment",
        payment.id,
        client_ids=[payment.client_id],
        source=source,
        now=now,
    )
    return payment


def unapplied_cents(session: Session, payment: Payment) -> int:
    """What is left of a payment after its applications and credit balances."""
    applied = session.scalar(
        select(func.coalesce(func.sum(PaymentApplication.applied_amount), 0)).where(
            PaymentApplication.payment_id == payment.id
        )
    )
    credited = session.scalar(
        select(func.coalesce(func.sum(CreditBalance.amount), 0)).where(CreditBalance.payment_id == payment.id)
    )
    return _cents(payment.payment_amount) - _cents(applied) - _cents(credited)


@dataclass(frozen=True)
class ApplicationResult:
    application: PaymentApplication | None  # None when the charge owed nothing and all of it went to credit
    credit: CreditBalance | None


def apply_payment(
    session: Session,
    actor: SignedInUser,
    payment_id: int,
    payload: ApplicationInput,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> ApplicationResult:
    """Apply part of a payment to a charge (module docstring: balances, credit, ledger consistency)."""
    payment = get_or_404(session, Payment, payment_id, "payment", for_update=True)
    insurance = payment.payment_method == PaymentMethod.INSURANCE
    require_role(actor, BILLING_ROLES if insurance else CLIENT_PAYMENT_ROLES, "apply payments")
    if payment.era_file_id is not None:
        raise RuleViolation(
            "payment.era_posted",
            f"payment {payment_id} came with an 835: ERA posting and its review queue apply it",
        )
    charge = get_or_404(session, Charge, payload.charge_id, "charge", for_update=True)
    if charge.status == ChargeStatus.VOID:
        raise RuleViolation("charge.void", f"charge {charge.id} is void: nothing is applied to it")
    if not insurance and payment.client_id != charge.client_id:
        raise InvalidInput(
            "payment.wrong_client",
            f"payment {payment_id} and charge {charge.id} belong to different clients",
            field="charge_id",
        )
    if insurance:
        claim = session.get(Claim, charge.claim_id) if charge.claim_id is not None else None
        if claim is None or claim.payer_id != payment.payer_id:
            raise InvalidInput(
                "payment.wrong_payer",
                f"charge {charge.id} is not on a claim to payer {payment.payer_id}: submit it to that payer first",
                field="charge_id",
            )
    amount = _cents(payload.amount)
    remaining = unapplied_cents(session, payment)
    if amount > remaining:
        raise RuleViolation(
            "payment.over_applied",
            f"payment {payment_id} has ${_money(max(remaining, 0)):,.2f} left to apply; "
            f"${payload.amount:,.2f} asked",
            field="amount",
        )
    charge_cents = _cents(charge.charge_amount)
    paid, adjusted, patient = (
        _cents(charge.payment_amount),
        _cents(charge.adjustment_amount),
        _cents(charge.patient_responsibility_amount),
    )
    balance = max(charge_cents - paid - adjusted, 0)
    to_charge, to_credit = min(amount, balance), max(amount - balance, 0)
    if to_credit and not payload.excess_to_credit:
        raise RuleViolation(
            "payment.exceeds_balance",
            f"charge {charge.id} has a balance of ${_money(balance):,.2f}; ${payload.amount:,.2f} would overpay it "
            "(ask for the excess to become a credit balance, with a reason, to record it)",
            field="amount",
        )
    if to_credit and not (payload.credit_reason or "").strip():
        raise InvalidInput(
            "payment.credit_reason_missing", "a credit balance records why", field="credit_reason"
        )
    application = credit = None
    if to_charge:
        application = PaymentApplication(
            updated_at=now,
            payment_id=payment.id,
            charge_id=charge.id,
            applied_amount=_money(to_charge),
            applied_at=now,
        )
        session.add(application)
        paid += to_charge
        if insurance:
            patient = max(patient - to_charge, 0)
        charge.payment_amount = _money(paid)
        charge.patient_responsibility_amount = _money(patient)
        charge.status = charge_status(charge_cents, paid, adjusted, patient)
        touch(charge, now)
    if to_credit:
        credit = CreditBalance(
            updated_at=now,
            payment_id=payment.id,
            client_id=payment.client_id if payment.client_id is not None else charge.client_id,
            charge_id=charge.id,
            amount=_money(to_credit),
            reason=payload.credit_reason.strip(),
            created_by=actor.user_id,
            created_at=now,
        )
        session.add(credit)
    with versioned("charge", charge.id):
        session.flush()
    if insurance and to_charge and charge.claim_id is not None:
        claim = session.get(Claim, charge.claim_id)
        statuses = session.scalars(select(Charge.status).where(Charge.claim_id == claim.id)).all()
        claim.status = claim_status(statuses)
        claim.adjudicated_at = claim.adjudicated_at or now
        touch(claim, now)
        with versioned("claim", claim.id):
            session.flush()
    record_write(
        session, actor, "payment.apply", "payment", payment.id, client_ids=[charge.client_id], source=source, now=now,
        detail={"charge_id": charge.id, "applied_cents": to_charge, "credit_cents": to_credit},
    )  # fmt: skip
    return ApplicationResult(application, credit)


# ---- reads --------------------------------------------------------------------------------------------------


def get_charge(session: Session, actor: SignedInUser, charge_id: int) -> Charge:
    require_role(actor, BILLING_ROLES, "read charges")
    return get_or_404(session, Charge, charge_id, "charge")


def get_claim(session: Session, actor: SignedInUser, claim_id: int) -> Claim:
    require_role(actor, BILLING_ROLES, "read claims")
    return get_or_404(session, Claim, claim_id, "claim")


def get_payment(session: Session, actor: SignedInUser, payment_id: int) -> Payment:
    require_role(actor, CLIENT_PAYMENT_ROLES, "read payments")
    payment = get_or_404(session, Payment, payment_id, "payment")
    if actor.role == FRONT_DESK and payment.payment_method == PaymentMethod.INSURANCE:
        raise NotFound("payment.not_found", f"payment {payment_id} not found")
    return payment
