"""Manual payments (services/billing.py) and ERA posting keep one ledger: an insurance check applied by hand counts
as that payer's money when its 835 arrives later (held for review as a duplicate, nothing posted twice), and a
charge the client already paid in full is not overpaid by a later 835 (held as would_overpay)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from operational_api.auth import SignedInUser
from operational_api.db import session_scope
from operational_api.era.posting import post_remittance, review_queue
from operational_api.era.remittances import load_specs_into_store
from operational_api.models import Charge, Payer, User
from operational_api.services import billing
from operational_api.services.billing import ApplicationInput, PaymentInput
from tests.operational_api.era.conftest import as_printed
from tests.operational_api.era.test_posting import PAID, STORE
from tests.operational_api.era.test_prior_payments import _charge, _file

NOW = dt.datetime(2026, 11, 20, 12)


def _billing_actor(engine) -> SignedInUser:
    with session_scope(engine) as session:
        user = User(email="billing@manual.test", first_name="Bill", last_name="Ing", role="BILLING")
        session.add(user)
        session.flush()
        return SignedInUser(user.id, "BILLING", "Bill Ing", None)


def _pay(engine, actor, payload: PaymentInput, charge_id: int, amount: str) -> None:
    with session_scope(engine) as session:
        payment = billing.record_payment(session, actor, payload, now=NOW)
        billing.apply_payment(
            session, actor, payment.id, ApplicationInput(charge_id=charge_id, amount=Decimal(amount)), now=NOW
        )


def test_an_insurance_check_applied_by_hand_makes_the_same_payers_835_a_duplicate(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    actor = _billing_actor(engine)
    with engine.connect() as conn:
        payer = conn.execute(select(Payer.id).where(Payer.payer_code == "SYN01")).scalar_one()
    check = PaymentInput(
        payment_method="INSURANCE", payment_amount=Decimal("103.00"), payment_date=NOW.date(), payer_id=payer,
        check_number="PAPER-1",
    )  # fmt: skip
    _pay(engine, actor, check, 10, "103.00")
    before = _charge(engine)
    assert before[0] == Decimal("103.00") and before[3] == "PARTIALLY_PAID"

    path, _ = _file(tmp_path, [as_printed(PAID, scenario="paid")], "era.835")
    result = post_remittance(engine, path)
    assert (result.auto_posted, result.duplicate_payments) == (0, 1)
    assert _charge(engine) == before
    assert review_queue(engine)[0].hold_reason == "duplicate_payment_same_payer"


def test_a_charge_the_client_paid_in_full_is_not_overpaid_by_a_later_835(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    actor = _billing_actor(engine)
    with engine.connect() as conn:
        amount, client = conn.execute(
            select(Charge.charge_amount, Charge.client_id).where(Charge.id == 10)
        ).one()
    paid_by_client = PaymentInput(
        payment_method="CREDIT_CARD",
        payment_amount=Decimal(amount),
        payment_date=NOW.date(),
        client_id=client,
    )
    _pay(engine, actor, paid_by_client, 10, str(amount))
    before = _charge(engine)
    assert before[3] == "PAID"

    path, _ = _file(tmp_path, [as_printed(PAID, scenario="paid")], "era.835")
    result = post_remittance(engine, path)
    assert (result.auto_posted, result.overpayments) == (0, 1)
    assert _charge(engine) == before
    assert review_queue(engine)[0].hold_reason == "would_overpay"
