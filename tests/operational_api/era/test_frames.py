"""The 835 as frames for matching: patient identity read straight from the bytes agrees with the
parser's typed records, amounts are exact cents, and a Social Security number is never kept."""

from __future__ import annotations

import datetime as dt

import polars as pl

import edi835
from edi835.generate import RemittanceOptions, generate_remittance, synthetic_claim_specs
from operational_api.era.frames import _patients, _patients_from_records, build_frames
from tests.operational_api.era.conftest import clean_options, spec

SCHEMA = {
    "era_key": pl.Int64,
    "patient_last_name": pl.String,
    "patient_first_name": pl.String,
    "patient_member_id": pl.String,
    "insured_member_id": pl.String,
}


def test_vectorised_patient_identity_equals_the_typed_records():
    remittance = generate_remittance(synthetic_claim_specs(1_500, seed=6), RemittanceOptions(seed=6))
    data = remittance.to_bytes()
    parsed = edi835.parse_bytes(data, "names.835")
    fast = _patients(parsed, data)
    assert fast.height == parsed.claims.height
    assert fast.equals(_patients_from_records(parsed, SCHEMA))
    frames = build_frames(parsed, data)
    assert frames.claims.height == len(remittance.ground_truth["claims"])
    assert frames.claims["paid_cents"].sum() == sum(
        round(float(c["paid_amount"]) * 100) for c in remittance.ground_truth["claims"]
    )


def test_a_social_security_number_is_never_kept():
    claim = spec(1, 1, "Ashdown", "Avery", "SYN000000001", dt.date(2026, 11, 2))
    data = (
        generate_remittance([claim], clean_options(1))
        .to_bytes()
        .replace(b"****MI*SYN000000001", b"****34*123456789")
    )
    assert b"*34*123456789" in data
    frames = build_frames(edi835.parse_bytes(data, "ssn.835"), data)
    row = frames.claims.row(0, named=True)
    assert row["patient_member_id"] is None and row["member_norm"] in (None, "")
    assert "123456789" not in str(frames.claims.to_dicts())
