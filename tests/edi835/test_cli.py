"""``era parse`` through edi835.cli.main: human summary, JSON, exit codes and error lines."""

from __future__ import annotations

import io
import json

from edi835.cli import main
from tests.edi835.conftest import fixture_path, parse_fixture


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_human_summary_lists_payer_payee_trace_payment_counts_and_balance():
    code, out, err = _run("parse", str(fixture_path("split_remittance_plb.835")))
    assert code == 0 and err == ""
    assert "split_remittance_plb.835: 1 interchange(s), 1 group(s), 2 transaction(s)" in out
    assert "payer: SYNTHETIC HEALTH PLAN" in out
    assert "payee: SYNTHETIC THERAPY GROUP NPI 1999999984" in out
    assert "check/trace: TRACE0002  payment: 157.50" in out
    assert "claims: 1 (reversals 0)  service lines: 1" in out
    assert out.count("balanced: yes") == 2


def test_human_summary_shows_warnings_and_unbalanced_difference():
    code, out, _ = _run("parse", str(fixture_path("unbalanced_payment.835")))
    assert code == 0
    assert "balanced: NO (difference 25.00)" in out
    _, out, _ = _run("parse", str(fixture_path("envelope_count_mismatches.835")))
    assert "warning: SE01=99 but counted 13 segments" in out
    assert "anomaly: GE01=2 but counted 1 transaction sets (GE at segment 16)" in out


def test_json_output_is_keyed_by_file_name_with_the_summary_shape():
    path = fixture_path("reversal_clp22.835")
    code, out, _ = _run("parse", str(path), "--json")
    assert code == 0
    assert json.loads(out) == {"reversal_clp22.835": parse_fixture("reversal_clp22.835").summary()}


def test_json_for_several_files():
    code, out, _ = _run(
        "parse", str(fixture_path("denied_claim_co45.835")), str(fixture_path("version_4010.835")), "--json"
    )
    assert code == 0
    assert sorted(json.loads(out)) == ["denied_claim_co45.835", "version_4010.835"]


def test_malformed_file_prints_one_error_line_and_exits_2(tmp_path):
    bad = tmp_path / "bad.835"
    bad.write_bytes(fixture_path("denied_claim_co45.835").read_bytes()[:300])
    code, out, err = _run("parse", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("era: error: bad.835: segment ")


def test_missing_file_and_bad_arguments_exit_2_with_one_line():
    for argv in (("parse", "/no/such/file.835"), ("parse",), ("frobnicate", "x"), ()):
        code, _, err = _run(*argv)
        assert code == 2, argv
        assert err.count("\n") == 1 and err.startswith("era: error: "), argv


def test_help_exits_0():
    assert _run("parse", "--help")[0] == 0


def test_output_never_contains_patient_names_or_member_ids():
    _, out, _ = _run("parse", str(fixture_path("claim_loop_segments.835")))
    _, js, _ = _run("parse", str(fixture_path("claim_loop_segments.835")), "--json")
    for text in (out, js):
        assert "SYNTHETICLAST" not in text and "SYNMEMBER01" not in text
