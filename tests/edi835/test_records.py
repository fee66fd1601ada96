"""Typed records: immutable, complete, consistent with the tables, and PHI-safe in repr."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from edi835.records import Claim, EntityName, Remittance
from tests.edi835.conftest import parse_fixture


def test_records_are_frozen_slotted_dataclasses():
    claim = parse_fixture("claim_loop_segments.835").transactions[0].claims[0]
    assert isinstance(claim, Claim) and dataclasses.is_dataclass(claim)
    assert not hasattr(claim, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        claim.paid_amount = Decimal(0)  # type: ignore[misc]


def test_records_are_built_lazily_and_cached():
    result = parse_fixture("reversal_clp22.835")
    assert result._records is None
    first = result.transactions
    assert result.transactions is first


def test_money_is_decimal_exactly_as_written():
    txn = parse_fixture("reversal_clp22.835").transactions[0]
    assert isinstance(txn, Remittance)
    assert txn.payment.amount == Decimal("20")
    assert [c.paid_amount for c in txn.claims] == [Decimal("-100"), Decimal("120")]
    assert txn.claims[0].is_reversal and txn.is_balanced


def test_claim_adjustment_total_includes_line_adjustments():
    claim = parse_fixture("claim_loop_segments.835").transactions[0].claims[0]
    assert claim.adjustment_total == claim.charge_amount - claim.paid_amount


def test_repr_hides_person_names_member_ids_and_account_numbers():
    claim = parse_fixture("claim_loop_segments.835").transactions[0].claims[0]
    text = repr(claim)
    for secret in ("SYNTHETICLAST", "SYNTHETICFIRST", "SYNMEMBER01", "SYNINSURED", "PCN0006"):
        assert secret not in text
    assert isinstance(claim.patient, EntityName) and claim.patient.identifier == "SYNMEMBER01"


def test_interchange_group_transaction_tree():
    result = parse_fixture("split_remittance_plb.835")
    [interchange] = result.interchanges
    [group] = interchange.groups
    assert group.version == "005010X221A1"
    assert [t.transaction_set_control_number for t in group.transactions] == ["0001", "0002"]
    assert group.transactions == result.transactions
    assert (
        result.transactions[0].segment_count == 13 and result.transactions[0].declared_segment_count == "13"
    )


def test_bare_transaction_has_records_but_no_interchange():
    result = parse_fixture("bare_transaction_no_envelope.835")
    assert result.interchanges == ()
    assert len(result.transactions) == 1 and result.transactions[0].version is None


def test_claim_parties_frame_gives_names_and_ids_vectorised_and_agrees_with_records():
    result = parse_fixture("claim_loop_segments.835")
    parties = result.claim_parties()
    assert parties.columns == [
        "source_file_id", "claim_id", "segment_position", "entity_code", "entity_type",
        "last_or_organization_name", "first_name", "middle_name", "suffix", "id_qualifier", "identifier",
    ]  # fmt: skip
    assert parties["entity_code"].to_list() == ["QC", "IL", "74", "82", "TT", "PR"]
    patient = parties.row(0, named=True)
    assert (patient["last_or_organization_name"], patient["first_name"], patient["identifier"]) == (
        "SYNTHETICLAST",
        "SYNTHETICFIRST",
        "SYNMEMBER01",
    )
    records = result.transactions[0].claims[0].names
    assert [(n.segment_position, n.identifier) for n in records] == list(
        zip(parties["segment_position"], parties["identifier"], strict=True)
    )
    assert set(parties["claim_id"]) == {10}
