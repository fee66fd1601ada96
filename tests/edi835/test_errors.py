"""Malformed input raises Edi835Error (and nothing else) with a PHI-free, located message."""

from __future__ import annotations

import re

import pytest

import edi835
from edi835 import Edi835Error
from tests.edi835.conftest import fixture_path

GOOD = fixture_path("claim_loop_segments.835").read_bytes()


def _error(data: bytes, name: str = "bad.835") -> Edi835Error:
    with pytest.raises(Edi835Error) as info:
        edi835.parse_bytes(data, name)
    return info.value


def test_error_type_is_a_value_error():
    assert issubclass(Edi835Error, ValueError)


def test_message_names_file_segment_number_segment_id_and_reason():
    data = GOOD.replace(b"SE*33*0001~\n", b"")
    err = _error(data, "cut.835")
    assert str(err) == "cut.835: segment 3 (ST): transaction set has no SE (truncated file)"
    assert (err.file_name, err.segment_position, err.segment_id) == ("cut.835", 3, "ST")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \r\n\t ", "empty file"),
        (b"hello, this is not EDI", "not an X12 file"),
        (bytes(range(256)) * 4, "not an X12 file"),
        (GOOD[:60], "ISA has fewer than 16 elements"),
        (GOOD[: len(GOOD) // 2], "transaction set has no SE"),
        (GOOD.replace(b"ST*835*", b"ST*837*"), "is not an 835"),
        (GOOD.replace(b"BPR*", b"XYZ*"), "no BPR"),
        (GOOD.replace(b"CLP*PCN0006", b"ZZZ*PCN0006"), "outside a claim"),
        (GOOD.replace(b"ISA*00*", b"ISA*00\x00", 1), "ISA"),
    ],
)
def test_malformed_input_raises_edi835_error(data, reason):
    assert reason in str(_error(data))


def test_file_without_any_transaction_set_is_not_an_835():
    envelope_only = b"".join(
        line + b"\n" for line in GOOD.splitlines() if line[:2] in (b"IS", b"GS", b"GE", b"IE")
    )
    assert "no ST transaction set" in str(_error(envelope_only))


def test_wrong_element_separator_is_reported_at_the_first_bad_segment():
    body = GOOD.split(b"~\n", 1)[1].replace(b"*", b"|")
    err = _error(GOOD.split(b"~\n", 1)[0] + b"~\n" + body)
    assert err.segment_position == 2
    assert "invalid segment identifier" in err.reason


def test_se_without_st_and_envelope_inside_a_transaction_are_structural_errors():
    two = fixture_path("split_remittance_plb.835").read_bytes()
    assert "SE without a matching ST" in str(_error(two.replace(b"ST*835*0002~", b"")))
    assert "inside a transaction set" in str(_error(GOOD.replace(b"LX*1~", b"GE*1*101~")))


def test_errors_never_quote_patient_names_or_member_ids():
    # The patient segment loses its separators: the message may show the id, never the name.
    data = GOOD.replace(
        b"NM1*QC*1*SYNTHETICLAST*SYNTHETICFIRST****MI*SYNMEMBER01", b"NM1|QC|1|SYNTHETICLAST|SYNMEMBER01"
    )
    err = _error(data)
    assert err.segment_position == 13
    assert not re.search("SYNTHETICLAST|SYNTHETICFIRST|SYNMEMBER01", str(err))


def test_unreadable_path_and_unsupported_input_raise_edi835_error():
    with pytest.raises(Edi835Error, match="cannot read file"):
        edi835.parse_file("/nonexistent/dir/remit.835")
    with pytest.raises(Edi835Error, match="unsupported input type"):
        edi835.parse(12345)  # type: ignore[arg-type]


def test_parse_accepts_bytes_or_a_path():
    path = fixture_path("claim_loop_segments.835")
    from_path = edi835.parse(path)
    from_bytes = edi835.parse(path.read_bytes(), "claim_loop_segments.835")
    assert from_path.summary() == from_bytes.summary()
    assert from_path.file_name == "claim_loop_segments.835"


def test_envelope_messages_never_echo_a_control_value_that_holds_other_segments():
    """Found by the fuzz test: a lost segment terminator ran the next transaction (patient name included) into
    SE01, and the count warning echoed it. Counts and control numbers are shown only when they are digits."""
    import edi835

    broken = (
        "ISA*00*          *00*          *ZZ*SYNPAYER       *ZZ*SYNPRACTICE    *240120*1200*^*00501*000000101*0*T*:~"
        "GS*HP*SYNPAYER*SYNPRACTICE*20240120*1200*101*X*005010X221A1~ST*835*0001~"
        "BPR*I*100*C*ACH*CCP*01*999999999*DA*123456*1999999999**01*999988880*DA*98765*20240120~"
        "TRN*1*TRACE0001*1999999999~N1*PR*SYNTHETIC HEALTH PLAN~N1*PE*SYNTHETIC THERAPY GROUP*XX*1999999984~LX*1~"
        "CLP*PCN0001*1*140*100*0*12*ICN0001*11*1~NM1*QC*1*SYNTHETICLAST*SYNTHETICFIRST****MI*SYNMEMBER01~"
        "SVC*HC:90834*140*100**1~SE*SYNTHETICLAST SYNMEMBER01*SYNTHETICFIRST~GE*SYNTHETICLAST*101~"
        "IEA*SYNMEMBER01*000000101~"
    )
    result = edi835.parse_bytes(broken.encode(), "broken_envelope.835")
    messages = " ".join([i.message for i in result.validation.issues] + result.summary()["anomalies"])
    assert "but counted" in messages
    assert "SYNTHETIC" not in messages and "SYNMEMBER" not in messages
