"""Normalisation, envelope/JSON conversion, credentials and charge validation (no network)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ingest.advancedmd.charges import (
    ChargeLine,
    ChargeSubmission,
    ChargeValidationError,
    validate_charge_submission,
)
from ingest.advancedmd.credentials import AmdCredentials, load_credentials
from ingest.advancedmd.errors import CredentialsError
from ingest.advancedmd.normalize import (
    ValueFormatError,
    clean_email,
    clean_phone,
    clean_text,
    clean_zip,
    parse_amd_date,
    parse_amd_datetime,
    parse_amd_naive,
    parse_bool,
    parse_decimal,
    parse_id,
    split_list,
    split_name,
    strip_id_prefix,
)
from ingest.advancedmd.protocol import (
    Fault,
    FaultCode,
    build_request,
    build_response,
    decode_json,
    decode_xml,
    element,
    element_to_json,
    encode_json,
    encode_xml,
    json_to_element,
    parse_response,
)

MT = ZoneInfo("America/Denver")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pat123", 123),
        ("vst9", 9),
        ("charge77", 77),
        ("payplan5", 5),
        ("pcode12", 12),
        ("FCLASS3", 3),
        ("123", 123),
        (" ins44 ", 44),
        ("", None),
        (None, None),
    ],
)
def test_id_prefixes_are_stripped(raw: str | None, expected: int | None) -> None:
    assert parse_id(raw) == expected


def test_unknown_id_shape_is_rejected_without_echoing_the_value() -> None:
    with pytest.raises(ValueFormatError) as exc:
        parse_id("SMITH42")
    assert "SMITH" not in str(exc.value)
    assert strip_id_prefix("patient") == "patient"  # no digits after: not a prefix


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03/24/2015", datetime(2015, 3, 24)),
        ("3/4/2015", datetime(2015, 3, 4)),
        ("03/24/2015 8:25:28 AM", datetime(2015, 3, 24, 8, 25, 28)),
        ("03/24/2015 12:05:00 AM", datetime(2015, 3, 24, 0, 5)),
        ("03/24/2015 12:05:00 PM", datetime(2015, 3, 24, 12, 5)),
        ("3/24/2015 11:59:59 pm", datetime(2015, 3, 24, 23, 59, 59)),
        ("2015-03-24T08:25:28.730", datetime(2015, 3, 24, 8, 25, 28, 730000)),
        (
            "2015-03-24T8:25:28.730",
            datetime(2015, 3, 24, 8, 25, 28, 730000),
        ),  # the vendor's own sloppy sample
        ("2015-03-24T08:25:28", datetime(2015, 3, 24, 8, 25, 28)),
        ("2015-03-24", datetime(2015, 3, 24)),
        ("", None),
    ],
)
def test_three_date_formats(raw: str, expected: datetime | None) -> None:
    assert parse_amd_naive(raw) == expected


def test_dates_and_datetimes() -> None:
    assert parse_amd_date("1985-07-04T00:00:00") == date(1985, 7, 4)
    assert parse_amd_date("07/04/1985 12:00:00 AM") == date(1985, 7, 4)
    dt = parse_amd_datetime("2025-03-10T08:00:00.000", MT)
    assert dt is not None and dt.utcoffset().total_seconds() == -6 * 3600  # MDT
    with pytest.raises(ValueFormatError) as exc:
        parse_amd_date("24.03.1985")
    assert "1985" not in str(exc.value)  # shape only: dates of birth are PHI


def test_text_normalisation() -> None:
    assert clean_text("  de  la cruz ") == "DE LA CRUZ"
    assert clean_text("   ") is None
    assert clean_email("JOSE.MUNOZ@EXAMPLE.COM") == "jose.munoz@example.com"
    assert clean_phone("(404) 555-0123") == "4045550123"
    assert clean_phone("+1 404 555 0123") == "4045550123"
    assert clean_zip("303031234") == "30303-1234"
    assert split_name("O'BRIEN,MARY ANN") == ("O'BRIEN", "MARY ANN", None)
    assert split_name("SMITH,JOHN Q") == ("SMITH", "JOHN", "Q")
    assert parse_decimal("$1,234.50") == Decimal("1234.50")
    assert parse_bool("Y") is True and parse_bool("0") is False and parse_bool("") is None
    assert split_list("F41.1, f32.1;Z63.0") == ("F41.1", "F32.1", "Z63.0")


def test_request_envelope_puts_usercontext_first() -> None:
    msg = build_request(
        "getdemographic",
        "api",
        msgtime="3/10/2025 8:00:00 AM",
        attrs={"patientid": 5},
        children=[element("patient", {"name": "Name"})],
        usercontext="991001abc",
    )
    assert msg.get("nocookie") == "1"
    assert [c.tag for c in msg] == ["usercontext", "patient"]
    body = encode_xml(msg)
    assert body.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert decode_xml(body).find("usercontext").text == "991001abc"


def test_latin1_round_trip() -> None:
    root = build_response(element("Results", {"name": "MUÑOZ,ZOË"}), server="S", lst="x")
    body = encode_xml(root)
    assert "MUÑOZ".encode("latin-1") in body
    assert decode_xml(body).find("Results").get("name") == "MUÑOZ,ZOË"


def test_json_broker_single_item_is_an_object_many_is_an_array() -> None:
    one = element("Results", None, element("patientlist", None, element("patient", {"id": "1"})))
    two = element(
        "Results",
        None,
        element("patientlist", None, element("patient", {"id": "1"}), element("patient", {"id": "2"})),
    )
    j1, j2 = element_to_json(one), element_to_json(two)
    assert isinstance(j1["Results"]["patientlist"]["patient"], dict)
    assert isinstance(j2["Results"]["patientlist"]["patient"], list)
    # ...and our reader accepts both shapes.
    assert len(json_to_element(j1).findall("patientlist/patient")) == 1
    assert len(json_to_element(j2).findall("patientlist/patient")) == 2


def test_json_conversion_rules() -> None:
    el = element("usercontext", {"webserver": "https://x"})
    el.text = "TOKEN"
    assert element_to_json(el) == {"usercontext": {"@webserver": "https://x", "#text": "TOKEN"}}
    assert element_to_json(element("Error")) == {"Error": None}
    parsed = decode_json(
        json.dumps({"ppmdmsg": {"@action": "login", "@nocookie": 1, "usercontext": "T"}}).encode()
    )
    assert parsed.get("nocookie") == "1" and parsed.find("usercontext").text == "T"
    assert decode_json(encode_json(el)).text == "TOKEN"


def test_fault_parsing_and_classification() -> None:
    root = build_response(
        None, server="S", lst="x", fault=Fault(FaultCode.SESSION_TIMEOUT, "Client", "Session has timed out")
    )
    resp = parse_response(decode_xml(encode_xml(root)))
    assert resp.fault is not None and resp.fault.code == -2147220479 and resp.results is None
    assert not resp.fault.is_retryable
    assert Fault(FaultCode.OPERATION_TIMED_OUT, "Server", "Operation timed out").is_retryable
    assert Fault(FaultCode.MAX_QUANTITY_EXCEEDED, "Client", "Too many requests: Please wait").is_rate_limit
    assert FaultCode.TOO_MANY_ROWS_IDS_ONLY == -2147217350 and FaultCode.LOGIN_REDIRECT == -2147220476


# ---------------------------------------------------------------------------- credentials


def test_credentials_from_env_mask_password() -> None:
    env = {
        "AMD_USERNAME": "apiuser",
        "AMD_PASSWORD": "hunter2-secret",
        "AMD_OFFICE_KEY": "991234",
        "AMD_APP_NAME": "MENTALSPACE",
    }
    creds = AmdCredentials.from_env(env)
    assert creds.office_key == "991234" and creds.app_name == "MENTALSPACE"
    assert "hunter2" not in repr(creds) and "hunter2" not in str(creds) and "***" in repr(creds)
    assert creds.login_url.startswith("https://partnerlogin.advancedmd.com/")


def test_credentials_from_secrets_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "amd.env"
    f.write_text("# AMD\nexport AMD_USERNAME=apiuser\nAMD_PASSWORD='s3cret'\nAMD_OFFICE_KEY=991234\n")
    assert load_credentials(environ={"AMD_SECRETS_FILE": str(f)}).password == "s3cret"
    j = tmp_path / "amd.json"
    j.write_text(json.dumps({"username": "u", "password": "p", "office_key": "991001"}))
    assert AmdCredentials.from_file(j).username == "u"


def test_missing_credentials_name_the_variable_not_the_value() -> None:
    with pytest.raises(CredentialsError) as exc:
        load_credentials(environ={"AMD_USERNAME": "u", "AMD_PASSWORD": "topsecret"})
    assert "AMD_OFFICE_KEY" in str(exc.value) and "topsecret" not in str(exc.value)
    with pytest.raises(CredentialsError):
        AmdCredentials("u", "p", "ABC")


# ---------------------------------------------------------------------------- charge validation


def _submission(**overrides: object) -> ChargeSubmission:
    base = dict(
        patient_id=10001,
        visit_id=500001,
        provider_id=200,
        service_date=date(2025, 3, 7),
        diagnoses=("F41.1", "F32.1"),
        lines=(ChargeLine("90837", 1, Decimal("160.00"), ("95",), (1, 2), "10"),),
    )
    base.update(overrides)
    return ChargeSubmission(**base)  # type: ignore[arg-type]


def test_valid_submission_passes() -> None:
    validate_charge_submission(_submission(), today=date(2025, 3, 10))
    validate_charge_submission(_submission(lines=(ChargeLine("0591T"), ChargeLine("3085F", 2))))


def test_every_invalid_field_is_named() -> None:
    bad = _submission(
        patient_id=0,
        visit_id="vst5",
        provider_id=True,
        service_date=date(2030, 1, 1),
        diagnoses=("F41.1", "41.1", "F41.1"),
        lines=(
            ChargeLine("9083", 0, Decimal("10.001"), ("9", "95", "GT", "HO", "U1"), (0, 5), "2"),
            ChargeLine("90834", 1, 120.0, (), (), "11"),  # type: ignore[arg-type]
        ),
    )
    with pytest.raises(ChargeValidationError) as exc:
        validate_charge_submission(bad, today=date(2025, 3, 10))
    fields = set(exc.value.fields)
    assert {
        "patient_id",
        "visit_id",
        "provider_id",
        "service_date",
        "diagnoses[1]",
        "diagnoses[2]",
        "lines[0].cpt_code",
        "lines[0].units",
        "lines[0].fee",
        "lines[0].modifiers",
        "lines[0].modifiers[0]",
        "lines[0].diagnosis_pointers[0]",
        "lines[0].diagnosis_pointers[1]",
        "lines[0].place_of_service",
        "lines[1].fee",
        "lines[1].diagnosis_pointers",
    } <= fields
    assert "41.1" not in str(exc.value)  # rules, not values


def test_empty_submission() -> None:
    with pytest.raises(ChargeValidationError) as exc:
        validate_charge_submission(_submission(diagnoses=(), lines=()))
    assert {"diagnoses", "lines"} <= set(exc.value.fields)
