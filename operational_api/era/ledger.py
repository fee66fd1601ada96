"""What one remittance posts, computed column-wise with polars (no Python loop per claim).

``build_ledger`` takes the parsed file (:class:`~operational_api.era.frames.EraFrames`), the match
and the store snapshot and returns every row posting writes: era claims and service lines (all of
them), review candidates (for the CLPs that wait), and for the auto-posted CLPs the payment
applications, charge adjustments, the touched charges' new totals and statuses and their claims'
statuses. Amounts stay integer cents; :mod:`.posting` formats them for the database.

Rules (the same as :func:`operational_api.era.posting.charge_status` and ``claim_status``, which
the single-claim manual resolution uses):

- a CLP posts when it is matched at or above ``min_confidence`` and every SVC line sits on a charge;
- a CLP whose charges already carry insurance money (any payment application of an INSURANCE
  payment, from an 835 or not, reversals netted; earlier CLPs of the same file count too, in file
  order) is routed by :func:`_routes`: a reversal posts; the same payer again waits for review
  (``duplicate_payment_same_payer``); another payer posts as the secondary when CLP02 says so
  (2, 3, 20, 21) or the payer is one of the client's non-primary policies (``route=secondary``),
  else waits (``paid_by_other_payer``);
- a secondary payment settles the patient responsibility the primary left: its applications post,
  the charge's patient responsibility drops by what it paid, and its CAS (mostly OA-23, the prior
  payer's part restated) stay on the era service lines instead of being adjusted a second time;
- a CLP that would leave a charge overpaid (insurance paid + adjustments + the larger of patient
  responsibility and what the patient paid, above the charge amount) waits for review
  (``would_overpay``): billing staff decide refunds, nothing becomes a credit balance silently;
  likewise a reversal that would take a charge's insurance paid, adjustments or patient
  responsibility below zero (``reversal_exceeds_payment``: it reverses a payment never posted, or
  other amounts than were posted);
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

DUPLICATE_REASON = "duplicate_payment_same_payer"
OTHER_PAYER_REASON = "paid_by_other_payer"
OVERPAY_REASON = "would_overpay"
UNDERPAY_REASON = "reversal_exceeds_payment"
HOLD_REASONS = (
    DUPLICATE_REASON,
    OTHER_PAYER_REASON,
    OVERPAY_REASON,
    UNDERPAY_REASON,
)  # stable, in match_reasons
SECONDARY_ROUTE = "route=secondary"
SECONDARY_STATUSES = ("2", "3", "20", "21")  # CLP02: processed as secondary / tertiary


@dataclass(frozen=True)
class PriorInsurance:
    """Insurance money already on the store's charges, and who else insures whom.

    payments   charge_id, payer_code (null when the payment names no payer), cents: the net of
               every payment application of an INSURANCE payment (835 or not, reversals netted)
    secondary  client_id, payer_code: the clients' policies that are not primary (rank > 1)
    """

    payments: pl.DataFrame
    secondary: pl.DataFrame


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
    duplicates: int  # CLPs held for review because the charge already carries insurance money
    overpayments: int  # CLPs held for review: posting would overpay a charge (or reverse more than it has)
    secondary: int  # CLPs posted as a secondary payer's payment


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
    prior: PriorInsurance,
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
    routes = _routes(claims.filter(pl.col("auto")), targets, store, prior)
    claims = (
        claims.join(routes, on="era_key", how="left")
        .with_columns(secondary=pl.col("secondary").fill_null(False))
        .with_columns(auto=pl.col("auto") & pl.col("hold").is_null())
    )
    claim_rarcs = (
        frames.remarks.filter(pl.col("service_line_id").is_null())
        .group_by("era_key", maintain_order=True)
        .agg(rarcs=pl.col("rarc_code").str.join(","), rarc_json=pl.format('"{}"', "rarc_code").str.join(","))
    )
    line_rarcs = (
        frames.remarks.filter(pl.col("service_line_id").is_not_null())
        .group_by("service_line_id", maintain_order=True)
        .agg(rarc_codes=pl.col("rarc_code").str.join(","))
    )
    post = _Postings(frames, lines, claim_charges, claim_rarcs, line_rarcs)
    applications, adjustments, effects = post.compute(claims.filter(pl.col("auto")), targets)
    out_of_bounds = _out_of_bounds(effects, claims, store, prior)
    if out_of_bounds:
        bounds = pl.DataFrame(
            list(out_of_bounds.items()), schema={"era_key": pl.Int64, "bound": pl.String}, orient="row"
        )
        claims = (
            claims.join(bounds, on="era_key", how="left")
            .with_columns(hold=pl.coalesce("hold", "bound"))
            .drop("bound")
            .with_columns(auto=pl.col("auto") & pl.col("hold").is_null())
        )
        kept = claims.filter(pl.col("auto")).select("era_key")
        applications, adjustments, effects = (
            f.join(kept, on="era_key", how="semi") for f in (applications, adjustments, effects)
        )
    claims = claims.with_columns(
        secondary=pl.col("secondary") & pl.col("auto"),
        reasons=pl.when(pl.col("hold").is_not_null())
        .then(
            pl.concat_str(pl.col("reasons").fill_null(""), pl.lit(";"), pl.col("hold")).str.strip_chars(";")
        )
        .when(pl.col("secondary") & pl.col("auto"))
        .then(
            pl.concat_str(pl.col("reasons").fill_null(""), pl.lit(";" + SECONDARY_ROUTE)).str.strip_chars(";")
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
    waiting = claims.filter(~pl.col("auto")).select("era_key", "era_claim_id", "chunk", "hold", "claim_id",
                                                    "confidence", "reasons")  # fmt: skip
    candidates = matched.candidates.join(waiting.select("era_key", "era_claim_id", "chunk"), on="era_key")
    held = waiting.filter(pl.col("hold").is_not_null()).join(
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
    auto_keys = auto.select("era_key", "era_claim_id", "payment_id", "chunk")
    applications = (
        applications.join(auto_keys, on="era_key")
        .sort("era_claim_id", "charge_id")
        .select("payment_id", "charge_id", "era_claim_id", "cents", "chunk")
    )
    adjustments = (
        adjustments.join(auto_keys, on="era_key")
        .sort("era_claim_id", "charge_id")
        .select("charge_id", "era_claim_id", "group_code", "carc_code", "rarc_codes", "cents", "chunk")
    )

    # ---- new totals and statuses ----------------------------------------------------------
    deltas = effects.group_by("charge_id").agg(pl.col("paid", "adjusted", "patient").sum())
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
        duplicates=int(claims["hold"].is_in([DUPLICATE_REASON, OTHER_PAYER_REASON]).sum()),
        overpayments=int(claims["hold"].is_in([OVERPAY_REASON, UNDERPAY_REASON]).sum()),
        secondary=int(claims["secondary"].sum()),
    )


class _Postings:
    """Applications, adjustments and per-charge effects of a set of CLPs (integer cents)."""

    def __init__(self, frames: EraFrames, lines: pl.DataFrame, claim_charges: pl.DataFrame,
                 claim_rarcs: pl.DataFrame, line_rarcs: pl.DataFrame) -> None:  # fmt: skip
        self.frames = frames
        self.lines = lines.join(line_rarcs, on="service_line_id", how="left")
        self.claim_charges = claim_charges
        self.claim_rarcs = claim_rarcs

    def compute(self, auto: pl.DataFrame, targets: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
        """For the CLPs of ``auto``: applications (era_key, charge_id, cents), adjustments (era_key,
        charge_id, group_code, carc_code, rarc_codes, cents) and effects (era_key, charge_id, paid,
        adjusted, patient: what each CLP adds to each charge's totals)."""
        keys = auto.select("era_key")
        targets = targets.join(keys, on="era_key", how="semi")
        weights = targets.join(self.claim_charges.select("charge_id", "charge_cents"), on="charge_id")
        lines = self.lines.join(keys, on="era_key", how="semi")
        paid_lines = lines.group_by("era_key", "charge_id").agg(cents=pl.col("paid_cents").sum())
        paid_claim_level = _spread(
            weights.join(auto.filter(pl.col("n_lines") == 0).select("era_key", total="paid_cents"), on="era_key"),
            ["era_key"], "total", "charge_cents", "charge_id",
        ).select("era_key", "charge_id", cents="share")  # fmt: skip
        applications = pl.concat([paid_lines, paid_claim_level], how="vertical_relaxed").filter(
            pl.col("cents") != 0
        )
        # A secondary payer's CAS restate the primary's adjudication: not adjusted a second time.
        primary = auto.filter(~pl.col("secondary")).select("era_key")
        adjustments = self.frames.adjustments.join(primary, on="era_key", how="semi")
        line_adjustments = (
            adjustments.filter(pl.col("service_line_id").is_not_null())
            .join(lines.select("service_line_id", "charge_id", "rarc_codes"), on="service_line_id")
            .select("era_key", "charge_id", "group_code", "carc_code", "rarc_codes", "cents")
        )
        claim_level_cas = adjustments.filter(pl.col("service_line_id").is_null()).with_row_index("triplet")
        spread_cas = _spread(
            claim_level_cas.join(weights, on="era_key").rename({"cents": "total"}),
            ["era_key", "triplet"], "total", "charge_cents", "charge_id",
        ).join(self.claim_rarcs.select("era_key", rarc_codes="rarcs"), on="era_key", how="left").select(
            "era_key", "charge_id", "group_code", "carc_code", "rarc_codes", cents="share"
        )  # fmt: skip
        adjustments = pl.concat(
            [line_adjustments, spread_cas.filter(pl.col("cents") != 0)], how="vertical_relaxed"
        )
        zero = pl.lit(0, pl.Int64)
        secondary = auto.filter(pl.col("secondary")).select("era_key")
        effects = pl.concat(
            [
                applications.select("era_key", "charge_id", paid="cents", adjusted=zero, patient=zero),
                adjustments.select(
                    "era_key",
                    "charge_id",
                    paid=zero,
                    adjusted=pl.when(pl.col("group_code") == "PR").then(0).otherwise(pl.col("cents")),
                    patient=pl.when(pl.col("group_code") == "PR").then(pl.col("cents")).otherwise(0),
                ),
                # What a secondary pays, the patient no longer owes.
                applications.join(secondary, on="era_key", how="semi").select(
                    "era_key", "charge_id", paid=zero, adjusted=zero, patient=-pl.col("cents")
                ),
                targets.select("era_key", "charge_id", paid=zero, adjusted=zero, patient=zero),
            ],
            how="vertical_relaxed",
        )
        return applications, adjustments, effects


def _routes(
    claims: pl.DataFrame, targets: pl.DataFrame, store: StoreSnapshot, prior: PriorInsurance
) -> pl.DataFrame:
    """era_key, secondary, hold for the CLPs of ``claims`` whose charges already carry insurance
    money (earlier postings of any kind, or an earlier CLP of this file), decided in file order:
    a reversal posts and takes its payer's payment back; the same payer (or a payer we cannot
    tell) again is a duplicate; another payer posts as the secondary when CLP02 or the client's
    policies say so, else waits. CLPs on untouched charges are decided without Python."""
    schema = {"era_key": pl.Int64, "secondary": pl.Boolean, "hold": pl.String}
    targets = targets.join(claims.select("era_key"), on="era_key", how="semi")
    paid_before = prior.payments.filter(pl.col("cents") != 0)
    touched = targets.group_by("charge_id").agg(n=pl.col("era_key").n_unique())
    contested = touched.filter(
        (pl.col("n") > 1) | pl.col("charge_id").is_in(paid_before["charge_id"].implode())
    ).select("charge_id")
    if contested.height == 0:
        return pl.DataFrame(schema=schema)
    policy = (
        claims.select("era_key", "claim_id", "payer_code")
        .join(store.claims.select("claim_id", "client_id"), on="claim_id", how="left")
        .join(prior.secondary.unique().with_columns(policy=pl.lit(True)), on=["client_id", "payer_code"],
              how="left")
        .select("era_key", policy=pl.col("policy").fill_null(False))
    )  # fmt: skip
    rows = (
        targets.join(contested, on="charge_id", how="semi")
        .join(claims.select("era_key", "is_reversal", "status_code", "payer_code", "paid_cents"), on="era_key")
        .join(policy, on="era_key")
        .sort("era_key", "charge_id")
        .group_by("era_key", maintain_order=True)
        .agg(pl.col("is_reversal", "status_code", "payer_code", "paid_cents", "policy").first(),
             charges=pl.col("charge_id"))
    )  # fmt: skip
    running: dict[int, dict[str | None, int]] = {}
    for charge, payer in (
        paid_before.join(contested, on="charge_id", how="semi").select("charge_id", "payer_code").iter_rows()
    ):
        running.setdefault(charge, {})[payer] = 1
    out: list[tuple[int, bool, str | None]] = []
    for era_key, is_reversal, status, payer, paid, policy_says, charges in rows.iter_rows():
        if is_reversal:
            if paid:
                for c in charges:
                    by_payer = running.get(c, {})
                    if by_payer.get(payer, 0) > 0:
                        by_payer[payer] -= 1
            continue
        before = {p for c in charges for p, n in running.get(c, {}).items() if n > 0}
        if before:
            if payer is None or payer in before or None in before:
                out.append((era_key, False, DUPLICATE_REASON))
                continue
            if status not in SECONDARY_STATUSES and not policy_says:
                out.append((era_key, False, OTHER_PAYER_REASON))
                continue
            out.append((era_key, True, None))
        if paid:
            for c in charges:
                by_payer = running.setdefault(c, {})
                by_payer[payer] = by_payer.get(payer, 0) + 1
    return pl.DataFrame(out, schema=schema, orient="row")


def _out_of_bounds(
    effects: pl.DataFrame, claims: pl.DataFrame, store: StoreSnapshot, prior: PriorInsurance
) -> dict[int, str]:
    """CLPs that would leave a charge out of bounds, with the reason: a payment that overpays it
    (insurance paid + adjustments + the larger of the patient's responsibility and what the
    patient already paid, above the charge amount) or a reversal that takes back more than the
    charge has (insurance paid, adjustments or patient responsibility below zero: a reversal of a
    payment never posted, or of different amounts). Holding a CLP back moves the totals of the
    others, so this runs in rounds until nothing more is held."""
    insurance = prior.payments.group_by("charge_id").agg(insurance=pl.col("cents").sum())
    base = (
        store.charges.join(effects.select("charge_id").unique(), on="charge_id", how="semi")
        .join(insurance, on="charge_id", how="left")
        .with_columns(pl.col("insurance").fill_null(0))
        .with_columns(client=(pl.col("paid_cents") - pl.col("insurance")).clip(lower_bound=0))
        .select("charge_id", "charge_cents", "insurance", "adjustment_cents", "patient_cents", "client")
    )
    live = effects.join(claims.select("era_key", "is_reversal"), on="era_key")
    held: dict[int, str] = {}
    while live.height:
        totals = (
            live.group_by("charge_id")
            .agg(pl.col("paid", "adjusted", "patient").sum())
            .join(base, on="charge_id")
            .with_columns(
                insurance=pl.col("insurance") + pl.col("paid"),
                adjusted=pl.col("adjustment_cents") + pl.col("adjusted"),
                patient=pl.col("patient_cents") + pl.col("patient"),
            )
        )
        over = totals.filter(
            pl.col("insurance") + pl.col("adjusted") + pl.max_horizontal("patient", "client")
            > pl.col("charge_cents")
        ).select("charge_id")
        under = totals.filter(
            (pl.col("insurance") < 0) | (pl.col("adjusted") < 0) | (pl.col("patient") < 0)
        ).select("charge_id")
        found = {
            **dict.fromkeys(
                live.filter(~pl.col("is_reversal"))
                .join(over, on="charge_id", how="semi")["era_key"]
                .to_list(),
                OVERPAY_REASON,
            ),
            **dict.fromkeys(
                live.filter(pl.col("is_reversal"))
                .join(under, on="charge_id", how="semi")["era_key"]
                .to_list(),
                UNDERPAY_REASON,
            ),
        }
        if not found:
            break
        held |= found
        live = live.filter(~pl.col("era_key").is_in(list(found)))
    return held
