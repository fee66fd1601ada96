"""Delimiters, whitespace, envelopes and versions: the lexer and the envelope pass."""

from __future__ import annotations

import edi835
from edi835.records import Delimiters
from tests.edi835.conftest import fixture_path, parse_fixture


def _simple_summary(name: str) -> dict:
    return parse_fixture(name).summary()


def test_delimiters_come_from_the_isa_header():
    result = parse_fixture("denied_claim_co45.835")
    assert result.delimiters == [Delimiters("*", "~", ":", "^")]


def test_newline_after_isa16_is_the_segment_terminator():
    result = parse_fixture("newline_terminator.835")
    assert result.delimiters == [Delimiters("*", "\n", ":", "^")]
    assert result.claims["paid_amount"].to_list()[0] == 100
    assert result.validation.is_valid and len(result.validation) == 0


def test_crlf_and_indentation_between_segments_are_ignored():
    pretty = parse_fixture("crlf_indented_pretty.835").summary()
    plain = parse_fixture("newline_terminator.835").summary()
    assert pretty["transactions"] == plain["transactions"]
    assert pretty["anomalies"] == []


def test_segment_positions_count_segments_not_lines_or_whitespace():
    result = parse_fixture("crlf_indented_pretty.835")
    assert result.claims["segment_position"].to_list() == [10]  # ISA, GS, ST, BPR, TRN, DTM, N1, N1, LX, CLP
    assert result.segment_count == 17


def test_utf8_bom_is_stripped_and_reported():
    data = b"\xef\xbb\xbf" + fixture_path("denied_claim_co45.835").read_bytes()
    result = edi835.parse_bytes(data, "bom.835")
    assert result.anomalies == ["UTF-8 BOM at start of file"]
    assert result.claims.height == 1


def test_non_fixed_width_isa_is_parsed_with_an_anomaly():
    result = parse_fixture("non_fixed_width_isa.835")
    assert result.isa_count == 1
    assert result.anomalies == ["ISA at segment 1 is not fixed-width (75 characters instead of 106)"]
    assert result.remittances["interchange_control_number"].to_list() == ["000000101"]


def test_several_interchanges_on_one_line_are_split_by_their_isa():
    result = parse_fixture("three_interchanges_one_line.835")
    assert (result.isa_count, result.gs_count, result.transaction_count) == (3, 3, 3)
    assert result.remittances["interchange_control_number"].to_list() == [
        "000000101",
        "000000102",
        "000000103",
    ]
    assert result.anomalies == []


def test_interchanges_with_different_delimiters_in_one_file():
    result = parse_fixture("two_interchanges_mixed_delimiters.835")
    assert result.delimiters == [Delimiters("*", "~", ":", "^"), Delimiters("|", "\n", ">", "^")]
    assert result.service_lines["cpt_code"].to_list() == ["90834", "90834"]
    assert result.remittances["group_control_number"].to_list() == ["101", "102"]
    assert result.validation.is_valid


def test_bare_transaction_without_envelope_uses_default_delimiters_with_a_warning():
    summary = _simple_summary("bare_transaction_no_envelope.835")
    assert summary["isa_count"] == 0 and summary["gs_count"] == 0 and summary["transaction_count"] == 1
    assert summary["delimiters"] == [{"element": "*", "segment": "~", "component": ":", "repetition": None}]
    assert summary["anomalies"] == ["no ISA envelope; default delimiters * ~ : assumed"]
    assert summary["transactions"][0]["gs08"] is None


def test_version_4010_has_no_repetition_separator_and_keeps_its_version():
    result = parse_fixture("version_4010.835")
    assert result.delimiters[0].repetition is None
    assert result.remittances["version_code"].to_list() == ["004010X091A1"]
    assert result.claims.height == 1


def test_latin1_bytes_are_decoded_with_a_warning():
    result = parse_fixture("latin1_payer_name.835")
    assert result.remittances["payer_name"].to_list() == ["SYNTH\u00c9TIC HEALTH PLAN"]
    assert [i.code for i in result.validation.warnings] == ["encoding"]


def test_envelope_count_and_control_mismatches_are_anomalies_not_errors():
    result = parse_fixture("envelope_count_mismatches.835")
    assert result.anomalies == [
        "GE01=2 but counted 1 transaction sets (GE at segment 16)",
        "GE02=999 but GS06=101 (GE at segment 16)",
        "IEA01=3 but counted 1 functional groups (IEA at segment 17)",
        "IEA02=000000999 but ISA13=000000101 (IEA at segment 17)",
    ]
    txn = result.summary()["transactions"][0]
    assert txn["envelope_issues"] == ["SE01=99 but counted 13 segments", "SE02=0002 but ST02=0001"]
    assert result.validation.is_valid  # the money is intact


def test_missing_ge_and_iea_after_a_complete_transaction_are_anomalies():
    text = fixture_path("denied_claim_co45.835").read_text()
    cut = text[: text.index("GE*")]
    result = edi835.parse_bytes(cut.encode(), "cut.835")
    assert result.anomalies == ["ISA at segment 1 has no IEA", "GS at segment 2 has no GE"]
    assert result.claims.height == 1


def test_interchange_records_carry_envelope_fields():
    result = parse_fixture("three_interchanges_one_line.835")
    interchanges = result.interchanges
    assert [i.control_number for i in interchanges] == ["000000101", "000000102", "000000103"]
    assert interchanges[0].sender_id == "SYNPAYER"
    assert interchanges[1].groups[0].control_number == "102"
    assert interchanges[2].groups[0].transactions[0].transaction_set_control_number == "0003"


def test_trailing_nul_padding_and_ctrl_z_after_the_last_segment_are_ignored():
    data = fixture_path("denied_claim_co45.835").read_bytes() + b"\x00\x00\x1a"
    result = edi835.parse_bytes(data, "padded.835")
    assert result.claims.height == 1 and result.anomalies == []


def test_file_starting_with_gs_has_a_group_but_no_interchange():
    text = fixture_path("denied_claim_co45.835").read_text()
    body = text[text.index("GS*") : text.index("IEA*")]
    result = edi835.parse_bytes(body.encode(), "gs-only.835")
    assert (result.isa_count, result.gs_count) == (0, 1)
    assert result.remittances["version_code"].to_list() == ["005010X221A1"]
    assert result.anomalies == ["no ISA envelope; default delimiters * ~ : assumed"]
