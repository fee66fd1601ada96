"""What one remittance posts, computed column-wise with polars (no Python loop per claim).

``build_ledger`` takes the parsed file (:class:`~operational_api.era.frames.EraFrames`), the match
and the store snapshot and returns every row posting writes: era claims and service lines (all of
them), review candidates (for the CLPs that wait), and for the auto-posted CLPs the payment
applications, charge adjustments, the touched charges' new totals and statuses and their claims'
statuses. Amounts stay integer cents; :mod:`.posting` formats them for the database.

Rules (the same as :func:`operational_api.era.posting.charge_status` and ``claim_status``, which
the single-claim manual resolution uses):

- a CLP posts when it is matched at or above ``min_confidence`` and every SVC line sits on a charge;
- a CLP that would pay a charge an earlier remittance already paid (no reversal in between, in file
  order) waits for review instead (``already_paid_by_era``);
- line amounts go to the line's charge; claim-level amounts (and the payment of a CLP without SVC
  lines) are spread over the claim's charges pro rata to their charge amounts, the last charge
  taking the rounding;
- PR adjustments are patient responsibility, every other group is an adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from operational_api.era.frames import EraFrames
from operational_api.era.matching import MatchResult, StoreSnapshot
from operational_api.models import ChargeStatus, ClaimStatus, EraReviewStatus

DUPLICATE_REASON = "already_paid_by_era"


@dataclass(frozen=True)
class Ledger:
    """Rows to write (every frame but ``charges``/``claims`` has a ``chunk`` column: CLPs in file
    order, ``chunk_size`` at a time, so posting can write and report progress chunk by chunk)."""

    era_claims: pl.DataFrame
    service_lines: pl.DataFrame
    candidates: pl.DataFrame
    applications: pl.DataFrame
    adjustments: pl.DataFrame
    charges: pl.DataFrame  # charge_id, paid_cents, adjustment_cents, patient_cents, status
    claims: pl.DataFrame  # claim_id, status
    auto_posted: int
    review_count: int
    level_counts: dict[str, int]
    applied_cents: int
    duplicates: int


def dollars(cents: pl.Expr) -> pl.Expr:
    """Integer cents as exact decimal text, e.g. -1234 -> "-12.34"."""
    a = cents.abs()
    return pl.concat_str(
        pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (a // 100).cast(pl.String),
        pl.lit("."),
        (a % 100).cast(pl.String).str.zfill(2),
    )


def charge_status_expr(charge: str, paid: str, adjusted: str, patient: str) -> pl.Expr:
    """:func:`operational_api.era.posting.charge_status` as a polars expression over cent columns."""
    c, p, a, r = pl.col(charge), pl.col(paid), pl.col(adjusted), pl.col(patient)
    return (
        pl.when((p <= 0) & (a <= 0) & (r <= 0))
        .then(pl.lit(ChargeStatus.BILLED.value))
        .when((p <= 0) & (r <= 0))
        .then(pl.lit(ChargeStatus.DENIED.value))
        .when(c - p - a <= 0)
        .then(pl.lit(ChargeStatus.PAID.value))
        .otherwise(pl.lit(ChargeStatus.PARTIALLY_PAID.value))
    )


def _spread(frame: pl.DataFrame, group: list[str], total: str, weight: str, order: str) -> pl.DataFrame:
    """Adds ``share``: ``total`` split over each group's rows pro rata to ``weight``; the row with
    the largest ``order`` takes the rounding, so the shares add up exactly."""
    base = pl.col(weight).abs().sum().over(group)
    n = pl.len().over(group)
    first = (
        pl.when(base == 0).then(pl.col(total) // n).otherwise(pl.col(total) * pl.col(weight).abs() // base)
    )
    return (
        frame.with_columns(_s=first)
        .with_columns(
            share=pl.col("_s")
            + pl.when(pl.col(order) == pl.col(order).max().over(group))
            .then(pl.col(total) - pl.col("_s").sum().over(group))
            .otherwise(0)
        )
        .drop("_s")
    )


def build_ledger(
    frames: EraFrames,
    matched: MatchResult,
    store: StoreSnapshot,
    *,
    era_ids: list[int],
    payment_ids: dict[int, int],
    prior_posted: set[int],
    min_confidence: float,
    chunk_size: int,
) -> Ledger:
    """Everything posting one file writes (see the module docstring)."""
    claims = (
        frames.claims.join(matched.claims, on="era_key", how="left")
        .sort("era_key")
        .with_columns(
            era_claim_id=pl.Series(era_ids, dtype=pl.Int64),
            chunk=(pl.int_range(pl.len()) // chunk_size).cast(pl.Int64),
            payment_id=pl.col("remittance_id").replace_strict(
                payment_ids, default=None, return_dtype=pl.Int64
            ),
            is_reversal=pl.col("status_code") == "22",
        )
    )
    lines = frames.lines.sort("service_line_id").join(
        matched.lines.select("service_line_id", "charge_id"), on="service_line_id", how="left"
    )
    claim_charges = store.charges.select("claim_id", "charge_id", "charge_cents")
    unplaced = lines.group_by("era_key").agg(n_unplaced=pl.col("charge_id").is_null().sum())
    claims = claims.join(unplaced, on="era_key", how="left").with_columns(
        auto=pl.col("claim_id").is_not_null()
        & (pl.col("confidence").fill_null(0.0) >= min_confidence)
        & (pl.col("n_unplaced").fill_null(0) == 0)
    )

    # Charges each CLP would touch: its lines' charges, or the whole claim for a claim-level CLP.
    line_targets = lines.filter(pl.col("charge_id").is_not_null()).select("era_key", "charge_id")
    claim_level = claims.filter(pl.col("auto") & (pl.col("n_lines") == 0)).select("era_key", "claim_id")
    targets = pl.concat(
        [
            line_targets.join(claims.filter(pl.col("auto")).select("era_key"), on="era_key", how="semi"),
            claim_level.join(claim_charges, on="claim_id").select("era_key", "charge_id"),
        ]
    ).unique()
    duplicates = _duplicate_payments(claims, targets, prior_posted)
    claims = claims.with_columns(
        duplicate=pl.col("era_key").is_in(duplicates) & pl.col("auto"),
    ).with_columns(
        auto=pl.col("auto") & ~pl.col("duplicate"),
        reasons=pl.when(pl.col("duplicate"))
        .then(
            pl.concat_str(pl.col("reasons").fill_null(""), pl.lit(";" + DUPLICATE_REASON)).str.strip_chars(
                ";"
            )
        )
        .otherwise(pl.col("reasons")),
    )
    targets = targets.join(claims.filter(pl.col("auto")).select("era_key"), on="era_key", how="semi")
    auto = claims.filter(pl.col("auto"))

    # ---- every CLP and SVC ----------------------------------------------------------------
    single = targets.group_by("era_key").agg(n=pl.len(), charge_id=pl.col("charge_id").first())
    claim_cas = (
        frames.adjustments.filter(pl.col("service_line_id").is_null())
        .with_columns(t=pl.format('["{}","{}","{}"]', "group_code", "carc_code", dollars(pl.col("cents"))))
        .group_by("era_key", maintain_order=True)
        .agg(cas=pl.col("t").str.join(","))
    )
    claim_rarcs = (
        frames.remarks.filter(pl.col("service_line_id").is_null())
        .group_by("era_key", maintain_order=True)
        .agg(rarcs=pl.col("rarc_code").str.join(","), rarc_json=pl.format('"{}"', "rarc_code").str.join(","))
    )
    claims = (
        claims.join(single, on="era_key", how="left")
        .join(claim_cas, on="era_key", how="left")
        .join(claim_rarcs, on="era_key", how="left")
        .with_columns(
            matched_charge_id=pl.when(pl.col("auto") & (pl.col("n") == 1)).then(pl.col("charge_id")),
            claim_adjustments=pl.concat_str(
                pl.lit('{"adjustments":['),
                pl.col("cas").fill_null(""),
                pl.lit("]"),
                pl.when(pl.col("rarc_json").is_not_null())
                .then(pl.concat_str(pl.lit(',"remarks":['), pl.col("rarc_json"), pl.lit("]")))
                .otherwise(pl.lit("")),
                pl.lit("}"),
            ),
            review_status=pl.when(pl.col("auto"))
            .then(pl.lit(EraReviewStatus.AUTO_POSTED.value))
            .otherwise(pl.lit(EraReviewStatus.PENDING.value)),
        )
        .drop("n", "charge_id")
    )
    line_cas = (
        frames.adjustments.filter(pl.col("service_line_id").is_not_null())
        .with_columns(t=pl.format('["{}","{}","{}"]', "group_code", "carc_code", dollars(pl.col("cents"))))
        .group_by("service_line_id", maintain_order=True)
        .agg(cas=pl.col("t").str.join(","))
    )
    line_rarcs = (
        frames.remarks.filter(pl.col("service_line_id").is_not_null())
        .group_by("service_line_id", maintain_order=True)
        .agg(rarc_codes=pl.col("rarc_code").str.join(","))
    )
    lines = (
        lines.join(claims.select("era_key", "era_claim_id", "chunk", "auto"), on="era_key")
        .join(line_cas, on="service_line_id", how="left")
        .join(line_rarcs, on="service_line_id", how="left")
        .with_columns(
            adjustments=pl.concat_str(pl.lit("["), pl.col("cas").fill_null(""), pl.lit("]")),
            matched_charge_id=pl.when(pl.col("auto")).then(pl.col("charge_id")),
        )
    )

    # ---- candidates for the CLPs that wait ------------------------------------------------
    waiting = claims.filter(~pl.col("auto")).select("era_key", "era_claim_id", "chunk", "duplicate", "claim_id",
                                                    "confidence", "reasons")  # fmt: skip
    candidates = matched.candidates.join(waiting.select("era_key", "era_claim_id", "chunk"), on="era_key")
    held = waiting.filter(pl.col("duplicate")).join(
        candidates.select("era_key").unique(), on="era_key", how="anti"
    )
    if held.height:
        single_charge = store.charges.group_by("claim_id").agg(n=pl.len(), c=pl.col("charge_id").first())
        extra = held.join(single_charge, on="claim_id", how="left").select(
            "era_key",
            rank=pl.lit(1, pl.Int64),
            claim_id="claim_id",
            charge_id=pl.when(pl.col("n") == 1).then(pl.col("c")),
            score=pl.col("confidence"),
            reasons="reasons",
            era_claim_id="era_claim_id",
            chunk="chunk",
        )
        candidates = pl.concat([candidates, extra], how="vertical_relaxed")

    # ---- what the auto-posted CLPs post ---------------------------------------------------
    weights = targets.join(claim_charges.select("charge_id", "charge_cents"), on="charge_id")
    auto_keys = auto.select("era_key", "era_claim_id", "payment_id", "chunk")
    paid_lines = (
        lines.filter(pl.col("auto")).group_by("era_key", "charge_id").agg(cents=pl.col("paid_cents").sum())
    )
    paid_claim_level = _spread(
        weights.join(auto.filter(pl.col("n_lines") == 0).select("era_key", total="paid_cents"), on="era_key"),
        ["era_key"], "total", "charge_cents", "charge_id",
    ).select("era_key", "charge_id", cents="share")  # fmt: skip
    applications = (
        pl.concat([paid_lines, paid_claim_level], how="vertical_relaxed")
        .filter(pl.col("cents") != 0)
        .join(auto_keys, on="era_key")
        .sort("era_claim_id", "charge_id")
        .select("payment_id", "charge_id", "era_claim_id", "cents", "chunk")
    )
    line_adjustments = (
        frames.adjustments.filter(pl.col("service_line_id").is_not_null())
        .join(
            lines.filter(pl.col("auto")).select("service_line_id", "charge_id", "rarc_codes"),
            on="service_line_id",
        )
        .select("era_key", "charge_id", "group_code", "carc_code", "rarc_codes", "cents")
    )
    claim_level_cas = frames.adjustments.filter(pl.col("service_line_id").is_null()).with_row_index("triplet")
    spread_cas = _spread(
        claim_level_cas.join(weights, on="era_key").rename({"cents": "total"}),
        ["era_key", "triplet"], "total", "charge_cents", "charge_id",
    ).join(claim_rarcs.select("era_key", rarc_codes="rarcs"), on="era_key", how="left").select(
        "era_key", "charge_id", "group_code", "carc_code", "rarc_codes", cents="share"
    )  # fmt: skip
    adjustments = (
        pl.concat([line_adjustments, spread_cas.filter(pl.col("cents") != 0)], how="vertical_relaxed")
        .join(auto_keys, on="era_key")
        .sort("era_claim_id", "charge_id")
        .select("charge_id", "era_claim_id", "group_code", "carc_code", "rarc_codes", "cents", "chunk")
    )

    # ---- new totals and statuses ----------------------------------------------------------
    deltas = (
        pl.concat(
            [
                applications.select(
                    "charge_id",
                    paid=pl.col("cents"),
                    adjusted=pl.lit(0, pl.Int64),
                    patient=pl.lit(0, pl.Int64),
                ),
                adjustments.select(
                    "charge_id",
                    paid=pl.lit(0, pl.Int64),
                    adjusted=pl.when(pl.col("group_code") == "PR").then(0).otherwise(pl.col("cents")),
                    patient=pl.when(pl.col("group_code") == "PR").then(pl.col("cents")).otherwise(0),
                ),
                targets.select(
                    "charge_id",
                    paid=pl.lit(0, pl.Int64),
                    adjusted=pl.lit(0, pl.Int64),
                    patient=pl.lit(0, pl.Int64),
                ),
            ],  # fmt: skip
            how="vertical_relaxed",
        )
        .group_by("charge_id")
        .agg(pl.col("paid", "adjusted", "patient").sum())
    )
    charges = (
        store.charges.join(deltas, on="charge_id")
        .with_columns(
            paid_cents=pl.col("paid_cents") + pl.col("paid"),
            adjustment_cents=pl.col("adjustment_cents") + pl.col("adjusted"),
            patient_cents=pl.col("patient_cents") + pl.col("patient"),
        )
        .with_columns(
            status=charge_status_expr("charge_cents", "paid_cents", "adjustment_cents", "patient_cents")
        )
        .select("charge_id", "claim_id", "paid_cents", "adjustment_cents", "patient_cents", "status")
    )
    touched_claims = auto.select("claim_id").unique()
    statuses = (
        store.charges.join(touched_claims, on="claim_id", how="semi")
        .select("charge_id", "claim_id", "status")
        .join(charges.select("charge_id", new="status"), on="charge_id", how="left")
        .with_columns(status=pl.coalesce("new", "status"))
        .filter(pl.col("status") != ChargeStatus.VOID.value)
    )
    claims_out = (
        statuses.group_by("claim_id")
        .agg(
            all_paid=(pl.col("status") == ChargeStatus.PAID.value).all(),
            any_paid=pl.col("status")
            .is_in([ChargeStatus.PAID.value, ChargeStatus.PARTIALLY_PAID.value])
            .any(),
            any_denied=(pl.col("status") == ChargeStatus.DENIED.value).any(),
        )
        .select(
            "claim_id",
            status=pl.when(pl.col("all_paid"))
            .then(pl.lit(ClaimStatus.PAID.value))
            .when(pl.col("any_paid"))
            .then(pl.lit(ClaimStatus.PARTIALLY_PAID.value))
            .when(pl.col("any_denied"))
            .then(pl.lit(ClaimStatus.DENIED.value))
            .otherwise(pl.lit(ClaimStatus.ACCEPTED.value)),
        )
    )
    claims_out = pl.concat(
        [
            claims_out,
            touched_claims.join(claims_out, on="claim_id", how="anti").with_columns(
                status=pl.lit(ClaimStatus.ACCEPTED.value)
            ),
        ]
    )
    level_counts = {m: n for m, n in auto.group_by("method").len().iter_rows()}
    return Ledger(
        era_claims=claims,
        service_lines=lines,
        candidates=candidates,
        applications=applications,
        adjustments=adjustments,
        charges=charges.drop("claim_id"),
        claims=claims_out,
        auto_posted=auto.height,
        review_count=claims.height - auto.height,
        level_counts=level_counts,
        applied_cents=int(applications["cents"].sum()) if applications.height else 0,
        duplicates=int(claims["duplicate"].sum()),
    )


def _duplicate_payments(claims: pl.DataFrame, targets: pl.DataFrame, prior_posted: set[int]) -> set[int]:
    """CLPs that would pay a charge already paid by an ERA (earlier file, or earlier in this file
    without a reversal in between). Only charges touched twice or already paid need a look, in file
    order; everything else is decided without Python."""
    touched = targets.group_by("charge_id").agg(n=pl.col("era_key").n_unique())
    contested = touched.filter((pl.col("n") > 1) | pl.col("charge_id").is_in(list(prior_posted)))["charge_id"]
    if contested.len() == 0:
        return set()
    rows = (
        targets.filter(pl.col("charge_id").is_in(contested.implode()))
        .join(claims.select("era_key", "is_reversal"), on="era_key")
        .sort("era_key")
        .group_by("era_key", maintain_order=True)
        .agg(pl.col("is_reversal").first(), charges=pl.col("charge_id"))
    )
    running = dict.fromkeys(prior_posted, 1)
    held: set[int] = set()
    for era_key, is_reversal, charges in rows.iter_rows():
        if not is_reversal and any(running.get(c, 0) > 0 for c in charges):
            held.add(era_key)
            continue
        step = -1 if is_reversal else 1
        for c in charges:
            running[c] = running.get(c, 0) + step
    return held
