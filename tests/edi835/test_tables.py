"""Flat tables: schema, keys back to the file, and agreement between tables."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import polars as pl
import pytest

import edi835
from tests.edi835.conftest import FIXTURES, fixture_path, parse_fixture

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.835"))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_table_has_exactly_the_documented_schema(name):
    tables = parse_fixture(name).tables
    assert list(tables) == list(edi835.TABLE_SCHEMAS)
    for table, frame in tables.items():
        assert dict(frame.schema) == edi835.TABLE_SCHEMAS[table], table


def test_money_columns_are_decimal_12_2():
    schema = edi835.TABLE_SCHEMAS["claims"]
    assert schema["paid_amount"] == pl.Decimal(12, 2)
    assert pl.Decimal(12, 2) == edi835.MONEY
    assert all(dtype == edi835.MONEY for col, dtype in schema.items() if col.endswith("_amount"))


def test_every_row_carries_the_file_sha256():
    path = fixture_path("telehealth_modifiers_svc.835")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result = edi835.parse_file(path)
    assert result.source_file_id == digest
    for frame in result.tables.values():
        assert frame["source_file_id"].unique().to_list() in ([digest], [])


def test_segment_position_points_at_the_source_segment():
    path = fixture_path("telehealth_modifiers_svc.835")
    segments = [s.strip() for s in path.read_text().split("~") if s.strip()]
    result = edi835.parse_file(path)
    for table, seg_id in (
        ("claims", "CLP"),
        ("service_lines", "SVC"),
        ("adjustments", "CAS"),
        ("remark_codes", "LQ"),
    ):
        for position in result.tables[table]["segment_position"].to_list():
            assert segments[position - 1].startswith(seg_id + "*"), (table, position)


def test_child_rows_link_to_their_parents():
    result = parse_fixture("split_remittance_plb.835")
    claims, lines, adj = result.claims, result.service_lines, result.adjustments
    assert set(lines["claim_id"]) <= set(claims["claim_id"])
    assert set(adj["service_line_id"].drop_nulls()) <= set(lines["service_line_id"])
    assert set(claims["remittance_id"]) == set(result.remittances["remittance_id"])
    joined = lines.join(claims, on="claim_id", suffix="_claim")
    assert (joined["remittance_id"] == joined["remittance_id_claim"]).all()


def test_adjustments_have_one_row_per_cas_triplet():
    result = parse_fixture("cas_six_triplets.835")
    assert result.adjustments.height == 6
    assert result.summary()["transactions"][0]["cas_segment_count"] == 1


def test_amounts_with_more_than_two_decimals_are_rounded_to_cents_in_tables_only():
    text = fixture_path("denied_claim_co45.835").read_text().replace("CAS*CO*45*150", "CAS*CO*45*149.995")
    result = edi835.parse_bytes(text.encode(), "rounding.835")
    assert result.adjustments["adjustment_amount"].to_list() == [Decimal("150.00")]  # half-to-even
    assert result.transactions[0].claims[0].service_lines[0].adjustments[0].amount == Decimal("149.995")


def test_empty_tables_keep_their_schema():
    result = parse_fixture("denied_claim_co45.835")
    assert result.provider_adjustments.height == 0
    assert dict(result.provider_adjustments.schema) == edi835.TABLE_SCHEMAS["provider_adjustments"]


def test_result_exposes_each_table_as_a_property():
    result = parse_fixture("reversal_clp22.835")
    for name in edi835.TABLE_SCHEMAS:
        assert getattr(result, name).equals(result.tables[name])
