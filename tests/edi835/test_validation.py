"""Validation report: errors versus warnings, balancing and envelope checks."""

from __future__ import annotations

import edi835
from tests.edi835.conftest import fixture_path, parse_fixture


def test_balanced_file_has_an_empty_report():
    report = parse_fixture("reversal_clp22.835").validation
    assert report.is_valid and len(report) == 0 and report.issues == ()


def test_payment_that_does_not_balance_is_an_error():
    result = parse_fixture("unbalanced_payment.835")
    report = result.validation
    assert not report.is_valid
    [error] = report.errors
    assert error.code == "transaction_unbalanced"
    assert (
        error.message
        == "transaction at segment 3: BPR02 125.00 != sum(CLP04) 100.00 - sum(PLB) 0.00 (difference 25.00)"
    )
    assert result.summary()["unbalanced_transactions"] == [0]
    assert result.summary()["transactions"][0]["balance_diff_bpr02_minus_clp04_plus_plb"] == 25.0


def test_claim_and_line_imbalances_are_warnings():
    text = fixture_path("telehealth_modifiers_svc.835").read_text().replace("CAS*PR*3*10", "CAS*PR*3*11")
    report = edi835.parse_bytes(text.encode(), "x.835").validation
    assert [i.code for i in report.warnings] == ["claim_unbalanced", "service_line_unbalanced"]
    assert (
        report.warnings[1].message
        == "service line at segment 19: SVC02 - SVC03 = 60.00 but CAS adjustments total 61.00"
    )
    assert report.is_valid  # the payment itself still balances


def test_non_numeric_money_is_an_error_and_listed_in_the_summary():
    result = parse_fixture("non_numeric_amount.835")
    codes = [i.code for i in result.validation.errors]
    assert "non_numeric_amount" in codes
    issue = result.validation.by_code("non_numeric_amount")[0]
    assert (issue.segment_id, issue.element, issue.segment_position) == ("CLP", "CLP04", 10)
    assert result.claims["paid_amount"].to_list() == [None]
    assert result.summary()["transactions"][0]["non_numeric"] == ["CLP04 at segment 10"]


def test_unknown_segments_are_reported_per_transaction():
    result = parse_fixture("unknown_segment_kept.835")
    assert [(i.segment_id, i.segment_position) for i in result.validation.by_code("unknown_segment")] == [
        ("ZZZ", 12),
        ("NTE", 16),
    ]
    assert result.summary()["transactions"][0]["unknown_segments"] == [
        "ZZZ at segment 12",
        "NTE at segment 16",
    ]
    assert [s.segment_id for s in result.transactions[0].unknown_segments] == ["ZZZ", "NTE"]
    assert result.claims.height == 1 and result.validation.is_valid


def test_se_count_and_control_number_mismatches_are_transaction_warnings():
    result = parse_fixture("envelope_count_mismatches.835")
    codes = {i.code for i in result.validation.warnings}
    assert {"se_count_mismatch", "se_control_mismatch", "envelope_anomaly"} <= codes
    assert all(i.severity == "warning" for i in result.validation.issues)


def test_issue_frame_is_in_file_order_with_file_level_issues_first():
    frame = parse_fixture("envelope_count_mismatches.835").validation.frame
    assert frame.columns == [
        "severity",
        "code",
        "message",
        "segment_position",
        "segment_id",
        "element",
        "remittance_id",
    ]
    positions = frame.filter(frame["code"] != "envelope_anomaly")["segment_position"].to_list()
    assert positions == sorted(positions)


def test_known_segments_in_the_wrong_loop_are_warned_and_kept_in_the_records():
    text = fixture_path("denied_claim_co45.835").read_text()
    text = text.replace("LX*1~", "LX*1~\nN3*1 WRONG PLACE~").replace("LQ*HE*N130~", "LQ*HE*N130~\nTS3*X*11~")
    result = edi835.parse_bytes(text.encode(), "misplaced.835")
    warnings = result.validation.by_code("misplaced_segment")
    assert [w.message for w in warnings] == [
        "N3 at segment 10 is not expected in the header number (2000) loop; kept in the records only",
        "TS3 at segment 20 is not expected in the service line (2110) loop; kept in the records only",
    ]
    assert [s.segment_id for s in result.transactions[0].unknown_segments] == ["N3", "TS3"]
    assert result.claims.height == 1 and result.validation.is_valid
