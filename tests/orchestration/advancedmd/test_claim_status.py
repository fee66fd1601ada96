"""Claim status (276/277) lands one row per claim AdvancedMD holds for a billed visit, with the date the visit was
billed (the claim's submission date) and the 277 category of its first STC (issue 16). The simulator holds the
store's claims (``from_practice._add_claims``); the oracle below reads them from the practice's own rows."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from operational_api.synthetic import Practice
from tests.orchestration.advancedmd.conftest import AS_OF, SPEC, WINDOW, AmdWorld


def _rows(practice: Practice, table: str) -> list[dict[str, Any]]:
    t = practice.tables[table]
    return [dict(zip(t.columns, row, strict=True)) for row in t.rows]


def _expected_category(claim: dict[str, Any]) -> str:
    """What the payer answered, in 277 terms, from the store's own record of the claim."""
    if claim["status"] == "REJECTED" or claim["rejected_at"] is not None:
        return "A7"
    if claim["status"] == "DENIED" or claim["denied_at"] is not None:
        return "F2"
    if claim["adjudicated_at"] is not None or claim["status"] in ("PAID", "PARTIALLY_PAID"):
        return "F1"
    if claim["status"] != "SUBMITTED" or claim["accepted_at"] is not None:
        return "A2"
    return "A1"


def _run_claims(amd: AmdWorld, **config: int) -> None:
    from orchestration.defs.advancedmd.assets import advancedmd_claims

    days_back = (AS_OF - WINDOW[0]).days + 1
    run_config = {"ops": {advancedmd_claims.op.name: {"config": {"days_back": days_back} | config}}}
    assert amd.run("advancedmd_claims_job", run_config=run_config).success


def _landed_claims(amd: AmdWorld) -> dict[int, tuple[str, dt.date, str]]:
    return {
        row["visit_id"]: (row["carrier_code"], row["billed_date"], row["category_code"])
        for row in amd.table("claims", "claim_id").values()
    }


def _expected_claims(amd: AmdWorld, practice: Practice) -> dict[int, tuple[str, dt.date, str]]:
    """Per landed visit the store billed: carrier, the day it was billed, the 277 category (the oracle)."""
    tz = ZoneInfo(SPEC.timezone)
    payers = {p["id"]: p["payer_code"] for p in _rows(practice, "payers")}
    appointment_of = {c["claim_id"]: c["appointment_id"] for c in _rows(practice, "charges") if c["claim_id"]}
    visit_of = {int(v.external_appointment_id): v.visit_id for v in amd.ds.visits.values()}
    landed_visits = set(amd.table("visits", "visit_id"))
    expected = {}
    for claim in _rows(practice, "claims"):
        appointment = appointment_of.get(claim["id"])
        visit = visit_of.get(appointment) if appointment is not None else None
        if visit in landed_visits:
            expected[visit] = (
                payers[claim["payer_id"]],
                claim["submitted_at"].replace(tzinfo=dt.UTC).astimezone(tz).date(),
                _expected_category(claim),
            )
    return expected


def test_each_billed_visit_lands_its_claims_with_the_date_billed_and_the_277_category(
    amd: AmdWorld, practice: Practice
):
    amd.sync()
    _run_claims(amd)

    expected = _expected_claims(amd, practice)
    got = _landed_claims(amd)
    assert len(expected) > 20
    assert got == expected
    assert {category for _, _, category in expected.values()} >= {"A7", "F1"}
    # Visits with charges but no claim (self-pay, billing hold, not yet submitted) land nothing.
    charged = {row["visit_id"] for row in amd.table("charges", "charge_id").values()}
    assert charged - set(expected), "the practice has charged visits that were never billed"

    # Re-reading replaces each visit's claims: nothing duplicated, and finalized claims are not asked again.
    before = amd.sim.counters.by_action.get("request", 0)
    _run_claims(amd)
    asked = amd.sim.counters.by_action.get("request", 0) - before
    finalized = sum(1 for _, _, category in expected.values() if category.startswith("F"))
    assert asked == len(expected) - finalized
    assert _landed_claims(amd) == expected


def test_a_night_asks_at_most_max_visits_and_the_next_nights_the_rest(amd: AmdWorld, practice: Practice):
    """A practice with more open visits than a night's budget: each run asks at most ``max_visits`` visits (one
    charge detail each), and within a few nights every visit has had its turn: the landed claims are all of them."""
    amd.sync()
    expected = _expected_claims(amd, practice)
    charged = {row["visit_id"] for row in amd.table("charges", "charge_id").values()}
    max_visits = -(-len(charged) // 3)  # a third of the charged visits a night
    assert max_visits >= 10
    landed_by_night = []
    for _night in range(6):
        before = amd.sim.counters.by_action.get("getchargedetaildataicd10", 0)
        # The window reaches back past the first night's, so the nights see the same visits.
        _run_claims(amd, max_visits=max_visits, days_back=(AS_OF - WINDOW[0]).days + 8)
        asked = amd.sim.counters.by_action.get("getchargedetaildataicd10", 0) - before
        assert 0 < asked <= max_visits
        landed_by_night.append(_landed_claims(amd))
        if landed_by_night[-1] == expected:
            break
        amd.advance(24 * 60)  # the next night
    assert len(landed_by_night[0]) < len(expected) and landed_by_night[-1] == expected, [
        len(n) for n in landed_by_night
    ]
