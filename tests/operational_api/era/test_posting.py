"""Posting a remittance: what lands in the store, once only, all or nothing; reversals undo;
duplicates wait for a person; the review queue posts what a person resolves."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from edi835.generate import generate_remittance
from operational_api.era import posting
from operational_api.era.posting import (
    PostingError,
    mark_unmatchable,
    post_remittance,
    resolve_review,
    review_queue,
)
from operational_api.era.remittances import load_specs_into_store
from operational_api.models import (
    Charge,
    ChargeAdjustment,
    Claim,
    EraClaim,
    EraFile,
    EraMatchCandidate,
    EraServiceLine,
    Payment,
    PaymentApplication,
)
from tests.operational_api.era.conftest import as_printed, clean_options, spec

DAY = dt.date(2026, 11, 2)
PAID = spec(1, 1, "Ashdown", "Avery", "SYN000000001", DAY, payer="SYN01")
TWO_LINES = spec(
    2, 2, "Brightwater", "Blake", "SYN000000002", DAY, (("99214", "165"), ("90833", "85")), payer="SYN01"
)
DENIED = spec(3, 3, "Calloway", "Casey", "SYN000000003", DAY, payer="SYN02")
ZERO_PAY = spec(4, 4, "Dunmore", "Dakota", "SYN000000004", DAY, (("90791", "220"),), payer="SYN02")
HARD = spec(5, 5, "Eastbrook", "Emerson", "SYN000000005", DAY, payer="SYN02")
STORE = [PAID, TWO_LINES, DENIED, ZERO_PAY, HARD]
ERA_TABLES = (
    EraFile,
    EraClaim,
    EraServiceLine,
    EraMatchCandidate,
    Payment,
    PaymentApplication,
    ChargeAdjustment,
)


def _write(tmp_path, printed, name="era.835", **options):
    remittance = generate_remittance(printed, clean_options(**{"seed": 11, **options}))
    path = tmp_path / name
    path.write_bytes(remittance.to_bytes())
    return path, remittance.ground_truth


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in ERA_TABLES
        }


def _charges(engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Charge.id,
                Charge.payment_amount,
                Charge.adjustment_amount,
                Charge.patient_responsibility_amount,
                Charge.status,
            )  # fmt: skip
        ).all()
    return {r[0]: (Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), r[4]) for r in rows}


def _standard_file(tmp_path):
    printed = [
        as_printed(PAID, scenario="paid"),
        as_printed(TWO_LINES, scenario="paid"),
        as_printed(DENIED, scenario="denied"),
        as_printed(ZERO_PAY, scenario="zero_pay"),
    ]
    return _write(tmp_path, printed)


def test_post_records_payments_applications_adjustments_and_statuses(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    path, truth = _standard_file(tmp_path)
    result = post_remittance(engine, path)

    assert not result.already_posted
    assert (result.claim_count, result.auto_posted, result.review_count) == (4, 4, 0)
    assert result.level_counts == {"CCN_EXACT": 4}
    with engine.connect() as conn:
        payments = conn.execute(
            select(Payment.check_number, Payment.payment_amount, Payment.payment_method, Payment.payer_id)
            .order_by(Payment.id)
        ).all()  # fmt: skip
        # One payment per ST (payer check): TRN02 is the check/EFT number, BPR02 the amount.
        assert [(p[0], Decimal(p[1])) for p in payments] == [
            (t["trace_number"], Decimal(t["payment_amount"])) for t in truth["transactions"]
        ]
        assert {p[2] for p in payments} == {"INSURANCE"} and all(p[3] for p in payments)
        era = {
            r.segment_position: r
            for r in conn.execute(
                select(
                    EraClaim.id,
                    EraClaim.segment_position,
                    EraClaim.review_status,
                    EraClaim.match_method,
                    EraClaim.matched_claim_id,
                    EraClaim.match_confidence,
                )  # fmt: skip
            )
        }
        for clp in truth["claims"]:
            row = era[clp["segment_position"]]
            assert (row.review_status, row.match_method, row.matched_claim_id) == (
                "AUTO_POSTED", "CCN_EXACT", clp["claim_id"]
            )  # fmt: skip
            applied = conn.execute(
                select(func.coalesce(func.sum(PaymentApplication.applied_amount), 0)).where(
                    PaymentApplication.era_claim_id == row.id
                )
            ).scalar_one()
            adjusted = conn.execute(
                select(ChargeAdjustment.group_code, func.sum(ChargeAdjustment.adjustment_amount))
                .where(ChargeAdjustment.era_claim_id == row.id)
                .group_by(ChargeAdjustment.group_code)
            ).all()
            by_group = {g: Decimal(a).quantize(Decimal("0.01")) for g, a in adjusted}
            assert Decimal(applied).quantize(Decimal("0.01")) == Decimal(clp["paid_amount"])
            assert by_group.get("PR", Decimal("0.00")) == Decimal(clp["patient_responsibility_amount"])
            assert sum(by_group.values()) == Decimal(clp["charge_amount"]) - Decimal(clp["paid_amount"])
        denial = conn.execute(
            select(ChargeAdjustment.carc_code, ChargeAdjustment.rarc_codes).where(
                ChargeAdjustment.charge_id == 30
            )
        ).one()
        assert denial.carc_code in {"16", "29", "97", "197"}
        lines = conn.execute(
            select(EraServiceLine.matched_charge_id).order_by(EraServiceLine.segment_position)
        ).all()
        assert [r[0] for r in lines] == [10, 20, 21, 30, 40] or [r[0] for r in lines] == [10, 20, 21, 40]
        claims = dict(conn.execute(select(Claim.id, Claim.status)).all())
    charges = _charges(engine)
    paid, _, patient, status = charges[10]
    assert paid > 0 and status == ("PAID" if patient == 0 else "PARTIALLY_PAID")
    assert charges[30][3] == "DENIED" and charges[30][0] == 0 and charges[30][1] == Decimal("175.00")
    assert (
        charges[40][0] == 0 and charges[40][2] > 0 and charges[40][3] == "PARTIALLY_PAID"
    )  # all to deductible
    assert claims[3] == "DENIED" and claims[1] in ("PAID", "PARTIALLY_PAID") and claims[5] == "ACCEPTED"
    assert charges[50] == (0, 0, 0, "BILLED")  # not in the file: untouched


def test_reposting_the_same_remittance_posts_nothing(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    path, _ = _standard_file(tmp_path)
    first = post_remittance(engine, path)
    before, charges = _counts(engine), _charges(engine)

    again = post_remittance(engine, path)
    assert again.already_posted and again.era_file_id == first.era_file_id
    assert "already posted" in again.summary_lines()[0]
    # Different bytes (a clearinghouse re-wrapped it) but the same ISA13 + TRN02: the same payment.
    rewrapped = tmp_path / "rewrapped.835"
    rewrapped.write_bytes(path.read_bytes().replace(b"~\n", b"~\r\n"))
    assert post_remittance(engine, rewrapped).already_posted
    assert _counts(engine) == before and _charges(engine) == charges


def test_a_crash_mid_posting_leaves_nothing_behind(engine, tmp_path, monkeypatch):
    load_specs_into_store(engine, STORE)
    path, _ = _standard_file(tmp_path)
    monkeypatch.setattr(posting, "CHUNK_CLAIMS", 2)
    calls = []

    def crash(stage, done, total):
        calls.append(done)
        raise RuntimeError("disk full")  # after the first two claims were written

    charges = _charges(engine)
    with pytest.raises(RuntimeError, match="disk full"):
        post_remittance(engine, path, on_progress=crash)
    assert calls == [2]
    assert set(_counts(engine).values()) == {0}
    assert _charges(engine) == charges
    assert not post_remittance(engine, path).already_posted  # and the retry posts normally


def test_reversal_undoes_the_payment_it_reverses(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    path, _ = _write(tmp_path, [as_printed(PAID, scenario="paid"), as_printed(TWO_LINES, scenario="paid")])
    post_remittance(engine, path)
    assert _charges(engine)[20][0] > 0

    later, truth = _write(tmp_path, [as_printed(TWO_LINES, scenario="reversal")], "reversal.835",
                          interchange_control_number=424242)  # fmt: skip
    result = post_remittance(engine, later)
    assert result.auto_posted == 1 and truth["claims"][0]["status_code"] == "22"
    charges = _charges(engine)
    assert charges[20] == (0, 0, 0, "BILLED") and charges[21] == (0, 0, 0, "BILLED")
    assert charges[10][0] > 0  # the other claim keeps its payment
    with engine.connect() as conn:
        assert conn.execute(select(Claim.status).where(Claim.id == 2)).scalar_one() == "ACCEPTED"
        net = conn.execute(
            select(func.sum(PaymentApplication.applied_amount)).where(
                PaymentApplication.charge_id.in_([20, 21])
            )
        ).scalar_one()
        assert Decimal(net) == 0
        assert (
            conn.execute(
                select(func.count())
                .select_from(PaymentApplication)
                .where(PaymentApplication.applied_amount < 0)
            ).scalar_one()
            == 2
        )


def test_correction_replaces_the_payment(sqlite_engine, tmp_path):
    load_specs_into_store(sqlite_engine, STORE)
    path, first = _write(tmp_path, [as_printed(PAID, scenario="paid")])
    post_remittance(sqlite_engine, path)
    later, truth = _write(tmp_path, [as_printed(PAID, scenario="correction")], "correction.835",
                          interchange_control_number=515151)  # fmt: skip
    result = post_remittance(sqlite_engine, later)
    assert (result.auto_posted, result.review_count) == (2, 0)
    corrected = Decimal(truth["claims"][1]["paid_amount"])
    assert -Decimal(truth["claims"][0]["paid_amount"]) == Decimal(first["claims"][0]["paid_amount"])
    assert _charges(sqlite_engine)[10][0] == corrected != Decimal(first["claims"][0]["paid_amount"])


def test_a_second_payment_of_a_paid_charge_waits_for_review(sqlite_engine, tmp_path):
    load_specs_into_store(sqlite_engine, STORE)
    path, _ = _write(tmp_path, [as_printed(PAID, scenario="paid")])
    post_remittance(sqlite_engine, path)
    paid_once = _charges(sqlite_engine)[10]
    again, _ = _write(
        tmp_path, [as_printed(PAID, scenario="paid")], "again.835", interchange_control_number=616161
    )
    result = post_remittance(sqlite_engine, again)
    assert (result.auto_posted, result.review_count, result.duplicate_payments) == (0, 1, 1)
    assert _charges(sqlite_engine)[10] == paid_once
    (item,) = review_queue(sqlite_engine)
    assert item.hold_reason == "duplicate_payment_same_payer"
    assert "duplicate_payment_same_payer" in item.candidates[0].reasons and item.candidates[0].claim_id == 1


def test_manual_review_resolve_posts_and_unmatchable_sets_aside(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    hard = as_printed(HARD, scenario="paid", claim_control_number="EQQ26001999", patient_last_name="Eastbrok",
                      member_id=None)  # fmt: skip
    stranger = dataclasses.replace(
        spec(99, 99, "Nobody", "Known", None, DAY, (("90834", "130"),)),
        claim_control_number="ZZ1",
        scenario="paid",
    )
    path, truth = _write(tmp_path, [as_printed(PAID, scenario="paid"), hard, stranger])
    result = post_remittance(engine, path)
    assert (result.auto_posted, result.review_count) == (1, 2)

    queue = {item.claim_control_number: item for item in review_queue(engine)}
    assert set(queue) == {"EQQ26001999", "ZZ1"}
    waiting = queue["EQQ26001999"]
    assert waiting.candidates and waiting.candidates[0].claim_id == 5  # the true claim ranks first
    assert "Eastbro" not in repr(queue)  # the queue carries no names

    resolved = resolve_review(engine, waiting.era_claim_id, charge_id=50)
    assert (resolved.claim_id, resolved.charge_ids) == (5, (50,))
    paid = Decimal(next(c["paid_amount"] for c in truth["claims"] if c["claim_id"] == 5))
    assert resolved.applied_amount == paid and _charges(engine)[50][0] == paid
    with engine.connect() as conn:
        row = conn.execute(
            select(EraClaim.review_status, EraClaim.match_method, EraClaim.matched_charge_id).where(
                EraClaim.id == waiting.era_claim_id
            )
        ).one()
        assert tuple(row) == ("RESOLVED", "MANUAL", 50)
    with pytest.raises(PostingError, match="not waiting for review"):
        resolve_review(engine, waiting.era_claim_id, charge_id=50)

    assert queue["ZZ1"].candidates == ()  # nobody we know
    set_aside = mark_unmatchable(engine, queue["ZZ1"].era_claim_id)
    assert set_aside.review_status == "UNMATCHABLE" and review_queue(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(EraFile.matching_status)).scalar_one() == "POSTED"


def test_resolve_refuses_bad_choices(sqlite_engine, tmp_path):
    load_specs_into_store(sqlite_engine, STORE)
    hard = as_printed(HARD, scenario="paid", claim_control_number="EQQ26001999", patient_last_name="Eastbrok",
                      member_id=None)  # fmt: skip
    path, _ = _write(tmp_path, [hard])
    post_remittance(sqlite_engine, path)
    (item,) = review_queue(sqlite_engine)
    with pytest.raises(PostingError, match="charge 999 does not exist"):
        resolve_review(sqlite_engine, item.era_claim_id, charge_id=999)
    with pytest.raises(PostingError, match="belongs to claim 1, not claim 5"):
        resolve_review(sqlite_engine, item.era_claim_id, charge_id=10, claim_id=5)
    with pytest.raises(PostingError, match="matches no charge of claim 2"):
        resolve_review(sqlite_engine, item.era_claim_id, claim_id=2)  # a 99214+90833 claim, no 90837 $175
    with pytest.raises(PostingError, match="ERA claim 12345 does not exist"):
        mark_unmatchable(sqlite_engine, 12345)
    assert review_queue(sqlite_engine)[0].era_claim_id == item.era_claim_id  # nothing changed


def test_bad_files_are_refused_with_one_clear_line_and_nothing_written(sqlite_engine, tmp_path):
    load_specs_into_store(sqlite_engine, STORE)
    path, truth = _standard_file(tmp_path)
    amount = truth["transactions"][0]["payment_amount"]
    unbalanced = tmp_path / "unbalanced.835"
    data = path.read_bytes()
    unbalanced.write_bytes(
        data.replace(f"BPR*I*{amount.rstrip('0').rstrip('.')}*".encode(), b"BPR*I*1.00*", 1)
    )
    assert unbalanced.read_bytes() != data
    with pytest.raises(PostingError) as err:
        post_remittance(sqlite_engine, unbalanced)
    message = str(err.value)
    assert message.startswith("unbalanced.835: segment ") and "transaction_unbalanced" in message
    assert "\n" not in message and "Ashdown" not in message

    garbage = tmp_path / "garbage.835"
    garbage.write_bytes(b"this is not an 835 at all")
    with pytest.raises(PostingError, match="garbage.835"):
        post_remittance(sqlite_engine, garbage)
    with pytest.raises(PostingError, match="missing.835: cannot read file"):
        post_remittance(sqlite_engine, tmp_path / "missing.835")
    with pytest.raises(PostingError, match="between 0 and 1"):
        post_remittance(sqlite_engine, path, min_confidence=1.5)
    with pytest.raises(PostingError, match="user 77 does not exist"):
        post_remittance(sqlite_engine, path, uploaded_by=77)
    assert set(_counts(sqlite_engine).values()) == {0}


def test_min_confidence_decides_what_waits(sqlite_engine, tmp_path):
    load_specs_into_store(sqlite_engine, STORE)
    printed = [
        as_printed(PAID, scenario="paid", claim_control_number="EQQ1", member_id=None)
    ]  # name-only level 2
    path, _ = _write(tmp_path, printed)
    result = post_remittance(sqlite_engine, path, min_confidence=0.95)
    assert (result.auto_posted, result.review_count) == (0, 1)
    (item,) = review_queue(sqlite_engine)
    assert item.match_method == "CLIENT_DATE_AMOUNT" and 0.9 <= item.match_confidence < 0.95
    assert item.candidates[0].claim_id == 1
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("select count(*) from payment_applications")).scalar_one() == 0
