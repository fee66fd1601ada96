"""The remittance generator writes 835s the parser reads cleanly, that balance, and that carry the
scenarios matching must survive; its ground truth points every CLP at the claim it belongs to."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edi835
from edi835.generate import (
    ClaimSpec,
    RemittanceOptions,
    ServiceLineSpec,
    generate_remittance,
    synthetic_claim_specs,
)
from tests.operational_api.era.conftest import clean_options, spec


def _parse(remittance, name="gen.835"):
    result = edi835.parse_bytes(remittance.to_bytes(), name)
    assert result.validation.errors == (), result.validation.errors[:3]
    assert result.validation.warnings == (), result.validation.warnings[:3]
    return result


def test_generated_file_parses_cleanly_and_balances():
    specs = synthetic_claim_specs(3_000, seed=21)
    remittance = generate_remittance(specs, RemittanceOptions(seed=21, max_claims_per_check=400))
    result = _parse(remittance)
    truth = remittance.ground_truth

    assert result.isa_count == 1 and result.gs_count == 1
    assert result.transaction_count == len(truth["transactions"]) >= 8  # 6 payers, checks of <= 400 claims
    assert result.claims.height == len(truth["claims"]) == remittance.claim_count > 3_000
    rem = result.remittances
    assert rem["is_balanced"].all()
    # BPR02 = sum(CLP04) - sum(PLB), checked here independently of the parser's own flag.
    paid = result.claims.group_by("remittance_id").agg(clp_paid=pl.col("paid_amount").sum())
    plb = result.provider_adjustments.group_by("remittance_id").agg(plb=pl.col("adjustment_amount").sum())
    check = rem.join(paid, on="remittance_id").join(plb, on="remittance_id", how="left")
    check = check.with_columns(pl.col("plb").fill_null(0))
    assert (check["payment_amount"] == check["clp_paid"] - check["plb"]).all()
    assert result.claims["is_balanced"].all() and result.service_lines["is_balanced"].all()
    # Ground truth: one entry per CLP at the parser's claim_id, with the amounts the file carries.
    claims = result.claims.sort("claim_id")
    assert claims["claim_id"].to_list() == [c["segment_position"] for c in truth["claims"]]
    assert [str(a) for a in claims["paid_amount"].to_list()] == [c["paid_amount"] for c in truth["claims"]]
    assert [t["payment_amount"] for t in truth["transactions"]] == [str(a) for a in rem["payment_amount"]]


def test_generated_file_has_every_scenario():
    remittance = generate_remittance(synthetic_claim_specs(4_000, seed=5), RemittanceOptions(seed=5))
    result = _parse(remittance)
    # "split:1", "correction:new" ... count under their kind; mangles and name variants by variant.
    tags = Counter(
        tag if tag.startswith(("mangled_ccn:", "name:")) else tag.split(":")[0]
        for c in remittance.ground_truth["claims"]
        for tag in c["scenarios"]
    )
    for expected in (
        "reversal", "correction", "split", "dropped_modifiers", "missing_member_id", "date_shift",
        "mangled_ccn:dropped_prefix", "mangled_ccn:transposed", "mangled_ccn:payer_icn",
        "mangled_ccn:leading_zeros", "mangled_ccn:case_space",
        "name:case", "name:initial", "name:swapped", "name:hyphenated", "name:typo",
    ):  # fmt: skip
        assert tags[expected] > 0, expected
    denials = {
        t for c in remittance.ground_truth["claims"] for t in c["scenarios"] if t.startswith("denied:")
    }
    assert {"denied:CO-16", "denied:CO-29", "denied:CO-97", "denied:CO-197"} <= denials
    claims = result.claims
    assert set(claims["claim_status_code"].unique()) >= {"1", "4", "19", "22"}
    reversals = claims.filter(pl.col("claim_status_code") == "22")
    assert (reversals["charge_amount"] < 0).all() and (reversals["paid_amount"] <= 0).all()
    assert (claims.filter(pl.col("claim_status_code") == "1")["paid_amount"] == 0).any()  # zero-pay
    adjustments = result.adjustments
    pairs = set(zip(adjustments["group_code"], adjustments["carc_code"], strict=True))
    assert {("CO", "45"), ("PR", "1"), ("PR", "2"), ("PR", "3"), ("CO", "16"), ("CO", "97")} <= pairs
    assert {"M51", "N290", "M15"} & set(result.remark_codes["rarc_code"])
    plb = set(result.provider_adjustments["reason_code"])
    assert {"L6", "WO"} <= plb
    wo = result.provider_adjustments.filter(pl.col("reason_code") == "WO")
    assert wo["reference_id"].is_not_null().all()
    # A dropped modifier: a telehealth line comes back without its 95.
    assert (result.service_lines["modifiers"].list.len() == 0).any()
    assert (result.service_lines["modifiers"].list.len() > 0).any()


def test_same_seed_same_bytes_and_another_seed_another_file():
    specs = synthetic_claim_specs(500, seed=3)
    first = generate_remittance(specs, RemittanceOptions(seed=3))
    assert generate_remittance(specs, RemittanceOptions(seed=3)).text == first.text
    assert synthetic_claim_specs(500, seed=3) == specs
    assert generate_remittance(specs, RemittanceOptions(seed=4)).text != first.text


def test_later_reversal_negates_exactly_what_the_earlier_file_paid():
    claim = spec(
        7, 3, "Ashdown", "Avery", "SYN123456789", dt.date(2026, 11, 2), (("99214", "165"), ("90833", "85"))
    )
    paid = generate_remittance([claim], clean_options(seed=9))
    reversed_ = generate_remittance(
        [ClaimSpec(**{**_fields(claim), "scenario": "reversal"})], clean_options(seed=9)
    )
    original = paid.ground_truth["claims"][0]
    reversal = reversed_.ground_truth["claims"][0]
    assert reversal["status_code"] == "22" and original["status_code"] in ("1", "19")
    assert Decimal(reversal["paid_amount"]) == -Decimal(original["paid_amount"])
    assert Decimal(reversal["charge_amount"]) == -Decimal("250")
    assert reversal["charge_ids"] == original["charge_ids"] == [70, 71]
    result = _parse(reversed_)
    # The payer takes back more than this check pays: the balance is forwarded (PLB FB).
    assert set(result.provider_adjustments["reason_code"]) == {"FB"}
    assert result.remittances["payment_amount"][0] == 0


def test_correction_is_a_reversal_and_a_new_payment_of_the_same_claim():
    claim = spec(8, 4, "Brightwater", "Blake", "SYN223456789", dt.date(2026, 11, 3))
    remittance = generate_remittance(
        [ClaimSpec(**{**_fields(claim), "scenario": "correction"})], clean_options(1)
    )
    _parse(remittance)
    first, second = remittance.ground_truth["claims"]
    assert (first["status_code"], second["status_code"]) == ("22", "1")
    assert first["claim_id"] == second["claim_id"] == 8
    assert Decimal(second["paid_amount"]) > -Decimal(first["paid_amount"])  # corrected upwards


def test_split_claim_is_paid_in_two_clps_with_its_own_charges():
    claim = spec(
        9, 5, "Calloway", "Casey", "SYN323456789", dt.date(2026, 11, 4), (("99214", "165"), ("90833", "85"))
    )
    remittance = generate_remittance([ClaimSpec(**{**_fields(claim), "scenario": "split"})], clean_options(2))
    result = _parse(remittance)
    one, two = remittance.ground_truth["claims"]
    assert one["clp01"] == two["clp01"] == "MS00000009"
    assert (one["charge_ids"], two["charge_ids"]) == ([90], [91])
    assert result.claims["payer_claim_control_number"].n_unique() == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    amounts=st.lists(
        st.lists(st.integers(min_value=1, max_value=99_999), min_size=1, max_size=4), min_size=1, max_size=12
    ),  # fmt: skip
    seed=st.integers(min_value=0, max_value=10_000),
    noise=st.floats(min_value=0.0, max_value=1.0),
)
def test_any_claims_give_a_balanced_clean_file(amounts, seed, noise):
    specs = [
        ClaimSpec(
            f"X{k:05d}", "P1" if k % 2 else "P2", "PAYER", "Last", "First",
            tuple(ServiceLineSpec(dt.date(2026, 10, 1 + j), "90834", Decimal(c).scaleb(-2), ("95",), 1, k * 10 + j)
                  for j, c in enumerate(cents)),
            "M1", k, k,
        )
        for k, cents in enumerate(amounts)
    ]  # fmt: skip
    options = RemittanceOptions(
        seed=seed, denial_rate=noise / 3, zero_pay_rate=noise / 3, reversal_rate=noise / 4, correction_rate=noise / 4,
        split_rate=noise, mangled_ccn_rate=noise, name_variant_rate=noise, interest_rate=noise, recovery_rate=noise,
        max_claims_per_check=5,
    )  # fmt: skip
    _parse(generate_remittance(specs, options))


def _fields(claim: ClaimSpec) -> dict:
    return {name: getattr(claim, name) for name in ClaimSpec.__dataclass_fields__}
