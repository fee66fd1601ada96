"""A realistic remittance for 10,000 claims of a synthetic practice: at least 97% auto-match and
not one wrong post, measured against the generator's ground truth (claim and charge level)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import text

from edi835.generate import RemittanceOptions
from operational_api.bulk import load_tables
from operational_api.db import get_engine, migrate
from operational_api.era.posting import post_remittance
from operational_api.era.remittances import claim_specs_from_store, write_remittance
from operational_api.synthetic import PracticeSpec, generate

AS_OF = dt.date(2026, 11, 25)


def _practice_store(url: str, clinicians: int):
    engine = get_engine(url)
    migrate(engine)
    practice = generate(PracticeSpec(clinicians=clinicians, months=6, seed=7, as_of=AS_OF))
    load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    _before_the_payers_answered(engine)
    return engine


def _before_the_payers_answered(engine) -> None:
    """The practice as it was before any payer answered its claims: this measures matching over
    every claim, and posting refuses to pay a claim a second time."""
    with engine.begin() as conn:
        billed = "select id from charges where claim_id is not null"
        conn.execute(text(f"delete from payment_applications where charge_id in ({billed})"))
        conn.execute(text(f"delete from charge_adjustments where charge_id in ({billed})"))
        conn.execute(
            text(
                "update charges set payment_amount = 0, adjustment_amount = 0, patient_responsibility_amount = 0, "
                "status = 'BILLED' where claim_id is not null and status <> 'VOID'"
            )
        )
        conn.execute(
            text(
                "update claims set status = 'ACCEPTED', adjudicated_at = null, denied_at = null "
                "where status <> 'REJECTED'"
            )
        )


def _check_against_truth(engine, written, expected_claims: int) -> dict:
    truth = json.loads(written.truth_path.read_text())
    result = post_remittance(engine, written.path)
    with engine.connect() as conn:
        posted = conn.execute(
            text("select segment_position, matched_claim_id, review_status, match_method from era_claims")
        ).all()
        lines = conn.execute(
            text(
                "select e.segment_position, l.segment_position, l.matched_charge_id from era_service_lines l "
                "join era_claims e on e.id = l.era_claim_id where e.review_status = 'AUTO_POSTED'"
            )
        ).all()
    frame = pl.DataFrame(posted, schema=["clp", "claim", "status", "method"], orient="row").join(
        pl.DataFrame(truth["claims"]).select(clp="segment_position", truth="claim_id", charges="charge_ids"),
        on="clp",
    )
    auto = frame.filter(pl.col("status") == "AUTO_POSTED")
    wrong_claims = auto.filter(pl.col("claim") != pl.col("truth")).height
    # Line level: the k-th SVC of a CLP belongs to the k-th charge id of its ground truth.
    by_clp: dict[int, list[int]] = {}
    for clp, _, charge in sorted(lines):
        by_clp.setdefault(clp, []).append(charge)
    expected = {row["clp"]: row["charges"] for row in auto.iter_rows(named=True)}
    wrong_lines = sum(1 for clp, charges in by_clp.items() if charges != expected[clp])
    n = frame.height
    per_level = {m: auto.filter(pl.col("method") == m).height for m in sorted(set(auto["method"]))}
    figures = {
        "our claims": expected_claims,
        "claim payments (CLP)": n,
        "auto-posted": auto.height,
        "auto-posted %": round(100 * auto.height / n, 2),
        "per level %": {m: round(100 * c / n, 2) for m, c in per_level.items()},
        "manual review": result.review_count,
        "wrong claim posts": wrong_claims,
        "wrong charge posts": wrong_lines,
        "seconds to post": result.seconds,
    }
    print("\nERA end to end:", json.dumps(figures, indent=1))
    assert result.claim_count == n == len(truth["claims"]) and result.auto_posted == auto.height
    return figures


def test_ten_thousand_claims_auto_match_at_least_97_percent_with_no_wrong_post(tmp_path):
    engine = _practice_store(f"sqlite:///{tmp_path / 'store.db'}", clinicians=30)
    specs = claim_specs_from_store(engine, limit=10_000, seed=7)
    assert len(specs) == 10_000
    written = write_remittance(specs, tmp_path, RemittanceOptions(seed=7))
    figures = _check_against_truth(engine, written, 10_000)
    assert figures["auto-posted %"] >= 97.0
    assert figures["wrong claim posts"] == 0 and figures["wrong charge posts"] == 0
    assert all(figures["per level %"].get(m, 0) > 0 for m in ("CCN_EXACT", "CLIENT_DATE_AMOUNT", "FUZZY"))
    engine.dispose()


@pytest.mark.postgres
def test_synthetic_practice_remittance_on_postgres(pg_database, tmp_path):
    engine = _practice_store(pg_database, clinicians=6)
    specs = claim_specs_from_store(engine, limit=2_000, seed=8)
    written = write_remittance(specs, tmp_path, RemittanceOptions(seed=8))
    figures = _check_against_truth(engine, written, len(specs))
    assert figures["auto-posted %"] >= 97.0
    assert figures["wrong claim posts"] == 0 and figures["wrong charge posts"] == 0
    engine.dispose()
