"""Each matching level on its own: the payer prints one of our claims with one kind of noise, the
store holds a small caseload around it (namesakes and same-day visits included)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import edi835
from edi835.generate import generate_remittance, synthetic_claim_specs
from operational_api.era.frames import build_frames
from operational_api.era.matching import MatchSettings, load_snapshot, match
from operational_api.era.remittances import load_specs_into_store
from tests.operational_api.era.conftest import as_printed, clean_options, spec

DAY = dt.date(2026, 11, 2)
ASHDOWN = spec(10_001, 5_001, "Ashdown", "Avery", "SYN100000001", DAY)
# Somebody else with the same service on the same day, under the transposed number of a later claim.
OTHER = spec(10_010, 5_002, "Whitlock", "Sage", "SYN100000002", DAY)
ASHDOWN_LATER = spec(10_100, 5_001, "Ashdown", "Avery", "SYN100000001", DAY + dt.timedelta(days=7))
NAMESAKE = spec(10_200, 5_003, "Ashdown", "Avery", "SYN100000003", DAY)  # same name, same day, same fee
TELEHEALTH = spec(10_300, 5_004, "Larkspur", "Quinn", "SYN100000004", DAY, modifiers=("95",))
MED_MGMT = spec(10_400, 5_005, "Oakhurst", "Rowan", "SYN100000005", DAY, (("99214", "165"), ("90833", "85")))


def _caseload():
    # Claim ids 1..400 and charge ids below 600: no clash with the focused claims above.
    return synthetic_claim_specs(400, seed=17, end_date=DAY + dt.timedelta(days=14))


def _match(engine, printed, store=(), settings=None):
    load_specs_into_store(engine, [*_caseload(), *store])
    remittance = generate_remittance(printed, clean_options(seed=3))
    data = remittance.to_bytes()
    frames = build_frames(edi835.parse_bytes(data, "focused.835"), data)
    with engine.connect() as conn:
        result = match(frames, load_snapshot(conn), settings or MatchSettings())
    rows = result.claims.join(
        pl.DataFrame(remittance.ground_truth["claims"]).select(era_key="segment_position", truth="claim_id"),
        on="era_key",
    ).sort("era_key")
    return rows, result


def _only(rows):
    assert rows.height == 1
    return rows.row(0, named=True)


def test_level1_claim_control_number_after_trim_and_upper_case(sqlite_engine):
    rows, _ = _match(sqlite_engine, [as_printed(ASHDOWN, claim_control_number=" ms00010001 ")], [ASHDOWN])
    row = _only(rows)
    assert (row["method"], row["claim_id"], row["confidence"]) == ("CCN_EXACT", 10_001, 1.0)


def test_level1_refuses_a_transposed_number_that_is_somebody_elses_claim(engine):
    printed = as_printed(
        ASHDOWN, claim_control_number="MS00010010"
    )  # 01 -> 10: OTHER's claim, same day and fee
    rows, _ = _match(engine, [printed], [ASHDOWN, OTHER])
    row = _only(rows)
    assert row["claim_id"] == 10_001 == row["truth"]
    assert row["method"] == "CLIENT_DATE_AMOUNT"


def test_level1_refuses_the_patients_own_visit_of_another_week(sqlite_engine):
    printed = as_printed(ASHDOWN, claim_control_number="MS00010100")  # the patient's next week's claim
    rows, _ = _match(sqlite_engine, [printed], [ASHDOWN, ASHDOWN_LATER])
    row = _only(rows)
    assert (row["claim_id"], row["method"]) == (10_001, "CLIENT_DATE_AMOUNT")


def test_level2_client_date_amount_with_the_payers_own_control_number(sqlite_engine):
    rows, _ = _match(sqlite_engine, [as_printed(ASHDOWN, claim_control_number="EPY26301123456")], [ASHDOWN])
    row = _only(rows)
    assert (row["method"], row["claim_id"]) == ("CLIENT_DATE_AMOUNT", 10_001)
    assert row["confidence"] >= 0.97  # member id and name both agree


def test_level2_by_name_only_when_nobody_else_has_the_name(sqlite_engine):
    printed = as_printed(ASHDOWN, claim_control_number="EPY26301123456", member_id=None)
    rows, _ = _match(sqlite_engine, [printed], [ASHDOWN])
    row = _only(rows)
    assert (row["method"], row["claim_id"]) == ("CLIENT_DATE_AMOUNT", 10_001)
    assert 0.9 <= row["confidence"] < 0.97


def test_namesake_with_a_visit_that_day_sends_the_claim_to_review(sqlite_engine):
    printed = as_printed(ASHDOWN, claim_control_number="EPY26301123456", member_id=None)
    rows, result = _match(sqlite_engine, [printed], [ASHDOWN, NAMESAKE])
    row = _only(rows)
    assert row["confidence"] < 0.9  # two people could own it: a person decides
    candidates = result.candidates.filter(pl.col("era_key") == row["era_key"])
    assert {10_001, 10_200} <= set(candidates["claim_id"])


def test_member_id_tells_namesakes_apart(sqlite_engine):
    printed = as_printed(ASHDOWN, claim_control_number="EPY26301123456")
    rows, _ = _match(sqlite_engine, [printed], [ASHDOWN, NAMESAKE])
    row = _only(rows)
    assert (row["method"], row["claim_id"]) == ("CLIENT_DATE_AMOUNT", 10_001)


def test_level3_client_cpt_amount_when_the_payer_keys_the_date_a_day_off(sqlite_engine):
    printed = as_printed(
        ASHDOWN,
        claim_control_number="EPY26301123456",
        service_lines=tuple(
            line.__class__(
                DAY + dt.timedelta(days=1),
                line.cpt_code,
                line.charge_amount,
                line.modifiers,
                1,
                line.charge_id,
            )
            for line in ASHDOWN.service_lines
        ),
    )
    rows, _ = _match(sqlite_engine, [printed], [ASHDOWN, ASHDOWN_LATER])
    row = _only(rows)
    assert (row["method"], row["claim_id"]) == ("CLIENT_CPT_AMOUNT", 10_001)
    assert row["confidence"] == pytest.approx(0.95)  # 0.96 (member and name) minus 0.01 per day off


def test_level4_fuzzy_initial_without_member_id_and_dropped_prefix(sqlite_engine):
    printed = as_printed(ASHDOWN, claim_control_number="00010001", patient_first_name="A", member_id=None)
    rows, _ = _match(sqlite_engine, [printed], [ASHDOWN, OTHER])
    row = _only(rows)
    assert (row["method"], row["claim_id"]) == ("FUZZY", 10_001)
    assert row["confidence"] >= 0.9
    assert "ccn=digits" in row["reasons"] and "member=none" in row["reasons"]


def test_level5_review_ranks_the_true_claim_first(sqlite_engine):
    printed = as_printed(
        ASHDOWN, claim_control_number="EPY26301123456", patient_last_name="Ashdwon", member_id=None
    )
    rows, result = _match(sqlite_engine, [printed], [ASHDOWN, OTHER])
    row = _only(rows)
    assert row["confidence"] < 0.9
    candidates = result.candidates.filter(pl.col("era_key") == row["era_key"]).sort("rank")
    assert candidates["rank"].to_list() == list(range(1, candidates.height + 1))
    assert candidates["claim_id"][0] == 10_001
    assert candidates["charge_id"][0] == 100_010
    assert (
        "name=" in candidates["reasons"][0] and "Ashd" not in candidates["reasons"][0]
    )  # no names in reasons


def test_split_claim_clps_land_on_their_own_charges(sqlite_engine):
    split = as_printed(MED_MGMT, scenario="split")
    rows, result = _match(sqlite_engine, [split], [MED_MGMT])
    assert rows["claim_id"].to_list() == [10_400, 10_400]
    assert set(rows["method"]) == {"CCN_EXACT"}
    lines = result.lines.sort("service_line_id")
    assert lines["charge_id"].to_list() == [104_000, 104_001]


def test_payer_dropped_modifier_is_tolerated(sqlite_engine):
    rows, result = _match(sqlite_engine, [as_printed(TELEHEALTH, service_lines=tuple(
        line.__class__(line.service_date, line.cpt_code, line.charge_amount, (), 1, line.charge_id)
        for line in TELEHEALTH.service_lines))], [TELEHEALTH])  # fmt: skip
    row = _only(rows)
    assert (row["method"], row["confidence"]) == ("CCN_EXACT", 1.0)
    assert "mods=ok" in row["reasons"]
    assert result.lines["charge_id"].to_list() == [103_000]


def test_reversal_matches_the_claim_it_reverses(sqlite_engine):
    rows, result = _match(sqlite_engine, [as_printed(MED_MGMT, scenario="reversal")], [MED_MGMT])
    row = _only(rows)
    assert (row["method"], row["claim_id"]) == ("CCN_EXACT", 10_400)
    assert sorted(result.lines["charge_id"].to_list()) == [104_000, 104_001]
