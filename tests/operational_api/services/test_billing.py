"""Charges, claims and manual payments through the service layer: billing hold, note signature, claim state
machine, balances and credit balances, and the ledger the ERA posting reads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from operational_api.models import Charge, Claim, PaymentApplication
from operational_api.models_billing import CreditBalance
from operational_api.services import billing, notes
from operational_api.services.billing import (
    CLAIM_TRANSITIONS,
    ApplicationInput,
    ChargeInput,
    ClaimInput,
    ClaimStatusInput,
    PaymentInput,
)
from operational_api.services.clinical_common import rule_value
from operational_api.services.notes import NoteDraftInput
from tests.operational_api.services.conftest import NOW, run


def _session_with_note(practice, *, days_ago=1, signed=True, client="c", clinician="clinician"):
    appointment = practice.appointment(client, clinician, days_ago=days_ago)
    payload = NoteDraftInput(
        client_id=practice.clients[client].id,
        note_type="PROGRESS_NOTE",
        content="x",
        appointment_id=appointment.id,
    )
    note = run(
        practice.engine, lambda s: notes.create_note_draft(s, practice.actor(clinician), payload, now=NOW)
    )
    if signed:
        run(practice.engine, lambda s: notes.sign_note(s, practice.actor(clinician), note.id, now=NOW))
    return appointment, note


def _charge(practice, appointment, cpt="90837", **extra):
    payload = ChargeInput(appointment_id=appointment.id, cpt_code=cpt, **extra)
    return run(
        practice.engine, lambda s: billing.create_charge(s, practice.actor("billing"), payload, now=NOW)
    )


def _claim(practice, *charges):
    payload = ClaimInput(charge_ids=[c.id for c in charges])
    return run(
        practice.engine, lambda s: billing.submit_claim(s, practice.actor("billing"), payload, now=NOW)
    )


def test_charge_from_a_completed_session_then_a_claim(practice):
    appointment, note = _session_with_note(practice)
    charge = _charge(practice, appointment)
    assert (charge.charge_amount, charge.note_id, charge.status, charge.is_billing_hold, charge.version) == (
        Decimal("175.00"),
        note.id,
        "UNBILLED",
        False,
        1,
    )
    assert charge.service_date == dt.date(2026, 11, 30)  # the session's New York day
    claim = _claim(practice, charge)
    assert (claim.status, claim.claim_control_number, claim.payer_id) == (
        "SUBMITTED",
        f"MS{claim.id:08d}",
        practice.payer.id,
    )
    with practice.engine.connect() as conn:
        row = conn.execute(select(Charge.status, Charge.claim_id).where(Charge.id == charge.id)).one()
    assert tuple(row) == ("BILLED", claim.id)


def test_charge_rules(practice, refused):
    booked = practice.appointment("c", "clinician", status="SCHEDULED")
    actor = practice.actor("billing")
    refused(
        lambda s: billing.create_charge(
            s, actor, ChargeInput(appointment_id=booked.id, cpt_code="90837"), now=NOW
        ),
        "charge.appointment_not_completed",
        409,
    )
    appointment, _ = _session_with_note(practice)
    _charge(practice, appointment)
    refused(
        lambda s: billing.create_charge(
            s, actor, ChargeInput(appointment_id=appointment.id, cpt_code="90837"), now=NOW
        ),
        "charge.duplicate",
        409,
    )
    refused(
        lambda s: billing.create_charge(
            s, actor, ChargeInput(appointment_id=appointment.id, cpt_code="H0031"), now=NOW
        ),
        "charge.fee_unknown",
        422,
    )
    refused(
        lambda s: billing.create_charge(
            s,
            practice.actor("clinician"),
            ChargeInput(appointment_id=appointment.id, cpt_code="90834"),
            now=NOW,
        ),
        "role.forbidden",
        403,
    )


def test_unsigned_note_blocks_submission_and_day_14_is_a_billing_hold(practice, refused):
    hold_day = run(practice.engine, lambda s: int(rule_value(s, "NOTE_SIGNATURE", "billing_hold_day")))
    recent, _ = _session_with_note(practice, days_ago=2, signed=False)
    old, old_note = _session_with_note(practice, days_ago=hold_day + 1, signed=False)
    recent_charge, old_charge = _charge(practice, recent), _charge(practice, old)
    assert (recent_charge.is_billing_hold, old_charge.is_billing_hold) == (False, True)
    actor = practice.actor("billing")
    refused(
        lambda s: billing.submit_claim(s, actor, ClaimInput(charge_ids=[recent_charge.id]), now=NOW),
        "charge.note_unsigned",
        409,
    )
    error = refused(
        lambda s: billing.submit_claim(s, actor, ClaimInput(charge_ids=[old_charge.id]), now=NOW),
        "charge.billing_hold",
        409,
    )
    assert f"charge {old_charge.id}" in error.message and f"note {old_note.id}" in error.message
    # All or nothing: a claim of a submittable charge and a held one is refused whole.
    signed_session, _ = _session_with_note(practice, days_ago=3)
    fine = _charge(practice, signed_session)
    refused(
        lambda s: billing.submit_claim(s, actor, ClaimInput(charge_ids=[fine.id, old_charge.id]), now=NOW),
        "charge.billing_hold",
        409,
    )
    # Signing the note lifts the hold (and its mirror flag); the charge then goes out.
    run(practice.engine, lambda s: notes.sign_note(s, practice.actor("clinician"), old_note.id, now=NOW))
    with practice.engine.connect() as conn:
        assert (
            conn.execute(select(Charge.is_billing_hold).where(Charge.id == old_charge.id)).scalar_one()
            is False
        )
    assert _claim(practice, old_charge).status == "SUBMITTED"


def test_a_session_without_any_note_is_not_submitted(practice, refused):
    appointment = practice.appointment("c", "clinician", days_ago=1)
    charge = _charge(practice, appointment)
    refused(
        lambda s: billing.submit_claim(
            s, practice.actor("billing"), ClaimInput(charge_ids=[charge.id]), now=NOW
        ),
        "charge.note_unsigned",
        409,
    )


def test_claim_state_machine(practice, refused):
    appointment, _ = _session_with_note(practice)
    charge = _charge(practice, appointment)
    claim = _claim(practice, charge)
    actor = practice.actor("billing")

    def move(status, **extra):
        return lambda s: billing.set_claim_status(
            s, actor, claim.id, ClaimStatusInput(status=status, **extra), now=NOW
        )

    assert "PAID" not in CLAIM_TRANSITIONS["SUBMITTED"]
    refused(move("PAID"), "claim.status_derived", 409)
    refused(move("DENIED", denial_carc_code="16"), "claim.transition", 409)
    run(practice.engine, move("ACCEPTED"))
    refused(move("DENIED"), "claim.denial_reason_missing", 422)
    denied = run(practice.engine, move("DENIED", denial_carc_code="16"))
    assert (denied.status, denied.denial_carc_code, denied.version) == ("DENIED", "16", 3)
    refused(
        lambda s: billing.set_claim_status(
            s, actor, claim.id, ClaimStatusInput(status="ACCEPTED"), expected_version=2, now=NOW
        ),
        "claim.version_conflict",
        412,
    )
    assert run(practice.engine, move("ACCEPTED")).status == "ACCEPTED"


def test_a_rejected_claim_returns_its_charges_for_a_corrected_claim(practice):
    appointment, _ = _session_with_note(practice)
    charge = _charge(practice, appointment)
    claim = _claim(practice, charge)
    run(
        practice.engine,
        lambda s: billing.set_claim_status(
            s,
            practice.actor("billing"),
            claim.id,
            ClaimStatusInput(status="REJECTED", rejection_reason="Invalid member id"),
            now=NOW,
        ),
    )
    again = _claim(practice, charge)
    assert again.id != claim.id and again.status == "SUBMITTED"


def _client_payment(practice, amount, client="c", who="frontdesk"):
    payload = PaymentInput(
        payment_method="CREDIT_CARD", payment_amount=Decimal(amount), payment_date=dt.date(2026, 12, 1),
        client_id=practice.clients[client].id,
    )  # fmt: skip
    return run(practice.engine, lambda s: billing.record_payment(s, practice.actor(who), payload, now=NOW))


def test_client_payment_applications_stay_within_the_balance(practice, refused):
    appointment, _ = _session_with_note(practice)
    charge = _charge(practice, appointment)  # 175.00
    payment = _client_payment(practice, "200.00")
    actor = practice.actor("frontdesk")
    first = run(
        practice.engine,
        lambda s: billing.apply_payment(
            s, actor, payment.id, ApplicationInput(charge_id=charge.id, amount=Decimal("100.00")), now=NOW
        ),
    )
    assert first.application.applied_amount == Decimal("100.00") and first.credit is None
    error = refused(
        lambda s: billing.apply_payment(
            s, actor, payment.id, ApplicationInput(charge_id=charge.id, amount=Decimal("100.00")), now=NOW
        ),
        "payment.exceeds_balance",
        409,
    )
    assert "$75.00" in error.message
    refused(
        lambda s: billing.apply_payment(
            s, actor, payment.id,
            ApplicationInput(charge_id=charge.id, amount=Decimal("100.00"), excess_to_credit=True), now=NOW,
        ),
        "payment.credit_reason_missing",
        422,
    )  # fmt: skip
    refused(
        lambda s: billing.apply_payment(
            s, actor, payment.id, ApplicationInput(charge_id=charge.id, amount=Decimal("150.00"), excess_to_credit=True,
                                                   credit_reason="prepaid next visit"), now=NOW,
        ),
        "payment.over_applied",
        409,
    )  # fmt: skip
    done = run(
        practice.engine,
        lambda s: billing.apply_payment(
            s, actor, payment.id,
            ApplicationInput(charge_id=charge.id, amount=Decimal("100.00"), excess_to_credit=True,
                             credit_reason="prepaid next visit"), now=NOW,
        ),
    )  # fmt: skip
    assert (done.application.applied_amount, done.credit.amount) == (Decimal("75.00"), Decimal("25.00"))
    with practice.engine.connect() as conn:
        row = conn.execute(select(Charge.payment_amount, Charge.status).where(Charge.id == charge.id)).one()
        credits = (
            conn.execute(select(CreditBalance.amount).where(CreditBalance.payment_id == payment.id))
            .scalars()
            .all()
        )
        applied = (
            conn.execute(
                select(PaymentApplication.applied_amount).where(PaymentApplication.payment_id == payment.id)
            )
            .scalars()
            .all()
        )
    assert tuple(row) == (Decimal("175.00"), "PAID")
    assert credits == [Decimal("25.00")] and sum(applied) + sum(credits) == Decimal("200.00")


def test_payments_go_to_the_right_client_and_payer(practice, refused):
    appointment, _ = _session_with_note(practice)
    charge = _charge(practice, appointment)
    other = _client_payment(practice, "20.00", client="a")
    refused(
        lambda s: billing.apply_payment(
            s,
            practice.actor("billing"),
            other.id,
            ApplicationInput(charge_id=charge.id, amount=Decimal("20")),
            now=NOW,
        ),
        "payment.wrong_client",
        422,
    )
    check = PaymentInput(
        payment_method="INSURANCE", payment_amount=Decimal("120.00"), payment_date=dt.date(2026, 12, 1),
        payer_id=practice.payer.id, check_number="CHK1",
    )  # fmt: skip
    refused(
        lambda s: billing.record_payment(s, practice.actor("frontdesk"), check, now=NOW),
        "role.forbidden",
        403,
    )
    insurance = run(
        practice.engine, lambda s: billing.record_payment(s, practice.actor("billing"), check, now=NOW)
    )
    refused(
        lambda s: billing.apply_payment(
            s, practice.actor("billing"), insurance.id, ApplicationInput(charge_id=charge.id, amount=Decimal("120")),
            now=NOW,
        ),
        "payment.wrong_payer",
        422,
    )  # fmt: skip
    claim = _claim(practice, charge)
    run(
        practice.engine,
        lambda s: billing.apply_payment(
            s, practice.actor("billing"), insurance.id, ApplicationInput(charge_id=charge.id, amount=Decimal("120")),
            now=NOW,
        ),
    )  # fmt: skip
    with practice.engine.connect() as conn:
        charge_row = conn.execute(
            select(Charge.status, Charge.payment_amount).where(Charge.id == charge.id)
        ).one()
        claim_status = conn.execute(select(Claim.status).where(Claim.id == claim.id)).scalar_one()
    assert tuple(charge_row) == ("PARTIALLY_PAID", Decimal("120.00")) and claim_status == "PARTIALLY_PAID"
