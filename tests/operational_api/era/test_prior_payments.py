"""A remittance for charges that already carry insurance money, whichever way it reached the store
(an earlier 835, or a payment posted by hand / by the synthetic practice): the same payer again
waits for review with its reason, a secondary payer posts as secondary, a reversal and correction
net out, and no posting overpays a charge silently. The generator only remits unanswered claims
unless asked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text, update

from edi835.generate import RemittanceOptions, generate_remittance
from operational_api.era.cli import main as era_main
from operational_api.era.posting import charge_status, post_remittance, review_queue
from operational_api.era.remittances import NothingToRemit, claim_specs_from_store, load_specs_into_store
from operational_api.models import (
    Charge,
    ChargeAdjustment,
    EraClaim,
    InsurancePolicy,
    Payer,
    Payment,
    PaymentApplication,
)
from tests.operational_api.era.conftest import as_printed, clean_options
from tests.operational_api.era.test_posting import DENIED, PAID, STORE

BLUE_RIDGE = {"payer_code": "SYN02", "payer_name": "BLUE RIDGE MUTUAL"}  # DENIED's payer: in the store
WHEN = dt.datetime(2026, 11, 20, 12)
SEED = 9  # PAID's adjudication at this seed: $103.00 paid, $30.00 coinsurance, $42.00 CO-45


def _cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def _file(tmp_path, printed, name, seed=SEED, icn=None):
    remittance = generate_remittance(printed, clean_options(seed=seed, interchange_control_number=icn))
    path = tmp_path / name
    path.write_bytes(remittance.to_bytes())
    return path, remittance.ground_truth["claims"]


def _pay_outside_an_835(engine, charge_id: int, payer_code: str, paid: Decimal, patient: Decimal,
                        client_paid: Decimal = Decimal("0"), carc: str = "45") -> None:  # fmt: skip
    """What the synthetic practice (or a person posting a paper EOB) writes: an INSURANCE payment
    with its payer, one application, CO/PR adjustments, no era claim; the charge's totals."""
    with engine.begin() as conn:
        charge, client_id = conn.execute(
            select(Charge.charge_amount, Charge.client_id).where(Charge.id == charge_id)
        ).one()
        payer_id = conn.execute(select(Payer.id).where(Payer.payer_code == payer_code)).scalar_one()
        payment = conn.execute(
            insert(Payment).values(payer_id=payer_id, payment_amount=paid, payment_method="INSURANCE",
                                   payment_date=WHEN.date(), check_number=f"EFT-{charge_id}", created_at=WHEN)
        ).inserted_primary_key[0]  # fmt: skip
        if paid:
            conn.execute(insert(PaymentApplication).values(payment_id=payment, charge_id=charge_id,
                                                           applied_amount=paid, applied_at=WHEN))  # fmt: skip
        adjusted = Decimal(charge) - paid - patient
        for group, code, amount in (("CO", carc, adjusted), ("PR", "2", patient)):
            if amount:
                conn.execute(insert(ChargeAdjustment).values(charge_id=charge_id, group_code=group, carc_code=code,
                                                             adjustment_amount=amount, adjusted_at=WHEN))  # fmt: skip
        if client_paid:
            own = conn.execute(
                insert(Payment).values(client_id=client_id, payment_amount=client_paid, payment_method="CREDIT_CARD",
                                       payment_date=WHEN.date(), created_at=WHEN)
            ).inserted_primary_key[0]  # fmt: skip
            conn.execute(insert(PaymentApplication).values(payment_id=own, charge_id=charge_id,
                                                           applied_amount=client_paid, applied_at=WHEN))  # fmt: skip
        status = charge_status(_cents(charge), _cents(paid + client_paid), _cents(adjusted), _cents(patient))
        conn.execute(
            update(Charge)
            .where(Charge.id == charge_id)
            .values(payment_amount=paid + client_paid, adjustment_amount=adjusted,
                    patient_responsibility_amount=patient, status=status)
        )  # fmt: skip


def _primary_outside_an_835(engine, tmp_path, client_paid=Decimal("0")) -> dict:
    """PAID's primary payment (exactly what SYN01's 835 would say) posted without an 835."""
    _, (truth,) = _file(tmp_path, [as_printed(PAID, scenario="paid")], "primary-unposted.835")
    paid, patient = Decimal(truth["paid_amount"]), Decimal(truth["patient_responsibility_amount"])
    _pay_outside_an_835(engine, 10, "SYN01", paid, patient, client_paid)
    return truth


def _charge(engine, charge_id=10) -> tuple:
    with engine.connect() as conn:
        row = conn.execute(
            select(Charge.payment_amount, Charge.adjustment_amount, Charge.patient_responsibility_amount,
                   Charge.status).where(Charge.id == charge_id)
        ).one()  # fmt: skip
    return (Decimal(row[0]), Decimal(row[1]), Decimal(row[2]), row[3])


def _era_applications(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(PaymentApplication)
            .where(PaymentApplication.era_claim_id.is_not(None))
        ).scalar_one()


def test_same_payer_again_after_a_payment_posted_outside_an_835_waits_with_its_reason(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    _primary_outside_an_835(engine, tmp_path)
    before = _charge(engine)
    assert before == (Decimal("103.00"), Decimal("42.00"), Decimal("30.00"), "PARTIALLY_PAID")

    path, _ = _file(tmp_path, [as_printed(PAID, scenario="paid")], "era.835")
    result = post_remittance(engine, path)
    assert (result.auto_posted, result.review_count, result.duplicate_payments) == (0, 1, 1)
    assert _charge(engine) == before and _era_applications(engine) == 0
    (item,) = review_queue(engine)
    assert item.hold_reason == "duplicate_payment_same_payer"
    assert item.candidates[0].claim_id == 1  # the person sees which claim it would have paid
    assert any("held for review" in line for line in result.summary_lines())


def test_secondary_payer_posts_as_secondary_and_settles_the_patient_share(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    _primary_outside_an_835(engine, tmp_path)
    path, (truth,) = _file(tmp_path, [as_printed(PAID, scenario="secondary", **BLUE_RIDGE)], "secondary.835")
    assert (truth["status_code"], truth["paid_amount"]) == ("2", "30.00")

    result = post_remittance(engine, path)
    # Paid by both payers in full; the OA-23 restating the primary's part is not adjusted again.
    assert _charge(engine) == (Decimal("133.00"), Decimal("42.00"), Decimal("0.00"), "PAID")
    assert (result.auto_posted, result.review_count, result.secondary_payments) == (1, 0, 1)
    with engine.connect() as conn:
        reasons = conn.execute(select(EraClaim.match_reasons)).scalar_one()
        payer = conn.execute(
            select(Payer.payer_code).join(Payment, Payment.payer_id == Payer.id).join(
                PaymentApplication, PaymentApplication.payment_id == Payment.id
            ).where(PaymentApplication.era_claim_id.is_not(None))
        ).scalar_one()  # fmt: skip
    assert reasons.endswith(";route=secondary") and payer == "SYN02"


def test_another_payer_is_secondary_only_when_clp02_or_the_clients_policies_say_so(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    _primary_outside_an_835(engine, tmp_path)
    path, _ = _file(tmp_path, [as_printed(PAID, scenario="secondary", **BLUE_RIDGE)], "as-primary.835")
    as_primary = tmp_path / "as-primary-status-1.835"
    as_primary.write_bytes(path.read_bytes().replace(b"CLP*MS00000001*2*", b"CLP*MS00000001*1*"))
    assert as_primary.read_bytes() != path.read_bytes()

    held = post_remittance(engine, as_primary)  # CLP02 1 and no policy with SYN02: who is this payer?
    assert (held.auto_posted, held.review_count) == (0, 1)
    assert review_queue(engine)[0].hold_reason == "paid_by_other_payer"

    with engine.begin() as conn:  # the client's secondary coverage is with SYN02 after all
        payer_id = conn.execute(select(Payer.id).where(Payer.payer_code == "SYN02")).scalar_one()
        conn.execute(insert(InsurancePolicy).values(client_id=1, payer_id=payer_id, rank=2, member_id="BR1",
                                                    effective_date=dt.date(2026, 1, 1)))  # fmt: skip
    again, _ = _file(
        tmp_path, [as_printed(PAID, scenario="secondary", **BLUE_RIDGE)], "again.835", icn=777001
    )
    relabelled = tmp_path / "again-status-1.835"
    relabelled.write_bytes(again.read_bytes().replace(b"CLP*MS00000001*2*", b"CLP*MS00000001*1*"))
    posted = post_remittance(engine, relabelled)
    assert (posted.auto_posted, posted.secondary_payments) == (1, 1)
    assert _charge(engine) == (Decimal("133.00"), Decimal("42.00"), Decimal("0.00"), "PAID")


def test_reversal_and_correction_of_a_payment_posted_outside_an_835_net_to_the_correction(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    first = _primary_outside_an_835(engine, tmp_path)
    path, (reversal, corrected) = _file(tmp_path, [as_printed(PAID, scenario="correction")], "correction.835")
    assert reversal["status_code"] == "22" and Decimal(reversal["paid_amount"]) == -Decimal(
        first["paid_amount"]
    )

    result = post_remittance(engine, path)
    assert (result.auto_posted, result.review_count) == (2, 0)
    paid, adjusted, patient, status = _charge(engine)
    assert paid == Decimal(corrected["paid_amount"]) != Decimal(first["paid_amount"])
    assert patient == Decimal(corrected["patient_responsibility_amount"])
    assert paid + adjusted + patient == Decimal("175.00") and status == "PARTIALLY_PAID"

    # The corrected payment sent once more by the same payer is a duplicate.
    again, _ = _file(tmp_path, [as_printed(PAID, scenario="paid")], "again.835", seed=SEED + 7919, icn=777002)
    assert post_remittance(engine, again).auto_posted == 0
    assert review_queue(engine)[0].hold_reason == "duplicate_payment_same_payer"


def test_reversal_in_one_file_and_a_new_payment_in_a_later_one(sqlite_engine, tmp_path):
    load_specs_into_store(sqlite_engine, STORE)
    _primary_outside_an_835(sqlite_engine, tmp_path)
    reversal, _ = _file(tmp_path, [as_printed(PAID, scenario="reversal")], "reversal.835")
    assert post_remittance(sqlite_engine, reversal).auto_posted == 1
    assert _charge(sqlite_engine) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), "BILLED")
    repaid, (truth,) = _file(tmp_path, [as_printed(PAID, scenario="paid")], "repaid.835", seed=8)
    assert post_remittance(sqlite_engine, repaid).auto_posted == 1
    assert _charge(sqlite_engine)[0] == Decimal(truth["paid_amount"])


def test_an_overpayment_never_posts_silently(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    # Claim 1: the patient already paid their $30 share; a secondary that pays it again overpays.
    _primary_outside_an_835(engine, tmp_path, client_paid=Decimal("30.00"))
    # Claim 3: the payer denied it outside an 835 (CO-16 for the whole charge); paying it now
    # without reversing the denial would overpay too.
    _pay_outside_an_835(engine, 30, "SYN02", Decimal("0"), Decimal("0"), carc="16")

    before = {c: _charge(engine, c) for c in (10, 30)}
    path, _ = _file(tmp_path, [as_printed(PAID, scenario="secondary", **BLUE_RIDGE)], "secondary.835")
    paid_denial, _ = _file(tmp_path, [as_printed(DENIED, scenario="paid")], "denied-paid.835", icn=777003)
    for file in (path, paid_denial):
        result = post_remittance(engine, file)
        assert (result.auto_posted, result.review_count) == (0, 1)
        assert result.overpayments == 1
        assert any("would overpay" in line for line in result.summary_lines())
    assert {c: _charge(engine, c) for c in (10, 30)} == before and _era_applications(engine) == 0
    assert [i.hold_reason for i in review_queue(engine)] == ["would_overpay", "would_overpay"]


def test_a_reversal_of_a_payment_never_posted_waits_instead_of_going_negative(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    path, (truth,) = _file(tmp_path, [as_printed(PAID, scenario="reversal")], "reversal.835")
    assert truth["status_code"] == "22"
    result = post_remittance(engine, path)
    assert _charge(engine) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), "BILLED")
    assert (result.auto_posted, result.review_count) == (0, 1)
    assert review_queue(engine)[0].hold_reason == "reversal_exceeds_payment"


def test_generator_remits_only_unanswered_claims_unless_asked(store_env, tmp_path, capsys):
    from operational_api.db import get_engine

    engine = get_engine()
    load_specs_into_store(engine, STORE)
    _primary_outside_an_835(engine, tmp_path)
    assert [s.claim_id for s in claim_specs_from_store(engine)] == [2, 3, 4, 5]
    for charge_id in (20, 21, 30, 40, 50):
        _pay_outside_an_835(engine, charge_id, "SYN01", Decimal("50.00"), Decimal("0"))

    with pytest.raises(NothingToRemit, match="all 5 submitted claims already carry an insurance payment"):
        claim_specs_from_store(engine)
    assert len(claim_specs_from_store(engine, include_paid=True)) == 5
    code = era_main(["generate", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no claims to remit" in err and "--include-paid" in err
    assert not (tmp_path / "out").exists()
    assert era_main(["generate", "--out", str(tmp_path / "out"), "--include-paid"]) == 0
    assert "5 of the store's claims" in capsys.readouterr().out


@pytest.fixture
def store_env(var_dir):
    from operational_api.db import get_engine, migrate

    migrate(get_engine())
    return var_dir


def _overpaid(engine) -> int:
    """Charges whose insurance money + adjustments + the patient's part exceed the charge."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "with ins as (select pa.charge_id, sum(pa.applied_amount) as paid from payment_applications pa "
                "join payments p on p.id = pa.payment_id where p.payment_method = 'INSURANCE' group by pa.charge_id) "
                "select count(*) from charges c left join ins on ins.charge_id = c.id "
                "where coalesce(ins.paid, 0) + c.adjustment_amount + max(c.patient_responsibility_amount, "
                "c.payment_amount - coalesce(ins.paid, 0)) > c.charge_amount + 0.005"
            )
        ).scalar_one()


def test_a_generated_remittance_on_a_practice_store_overpays_nothing(sqlite_engine, tmp_path):
    from operational_api.bulk import load_tables
    from operational_api.era.remittances import write_remittance
    from operational_api.synthetic import PracticeSpec, generate

    practice = generate(PracticeSpec(clinicians=2, months=3, seed=3, as_of=dt.date(2026, 11, 25)))
    load_tables(sqlite_engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    assert _overpaid(sqlite_engine) == 0
    # What the issue saw: 200 claims sampled from all of them, most already paid by the practice.
    everything = claim_specs_from_store(sqlite_engine, limit=200, seed=1, include_paid=True)
    written = write_remittance(everything, tmp_path, stem="all")
    result = post_remittance(sqlite_engine, written.path)
    assert result.duplicate_payments > 100 and result.review_count >= result.duplicate_payments
    assert _overpaid(sqlite_engine) == 0
    # The generator's default: only claims the payer has not answered; they post, nothing overpaid.
    fresh = claim_specs_from_store(sqlite_engine, limit=200, seed=1)
    assert 0 < len(fresh) < len(everything)
    written = write_remittance(fresh, tmp_path, RemittanceOptions(seed=2), stem="fresh")
    result = post_remittance(sqlite_engine, written.path)
    assert result.duplicate_payments == 0 and result.auto_match_rate > 0.9
    assert _overpaid(sqlite_engine) == 0
