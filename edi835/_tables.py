"""Flat tables built column-wise from the split segment frames (no per-segment Python).

Children (DTM, REF, AMT, NM1, CAS ...) are attached to their parent row (remittance, claim,
service line) by position arithmetic: parents are in file order, so ``searchsorted`` of a
child's parent ordinal gives the parent's row and a gather builds the column. No hash joins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from edi835._frames import (
    AMT,
    BPR,
    CAS,
    CLP,
    CUR,
    DTM,
    GS,
    ISA,
    LQ,
    LX,
    MIA,
    MOA,
    N1,
    N3,
    N4,
    NM1,
    PLB,
    REF,
    SCOPE_HEADER,
    SCOPE_PAYEE,
    SCOPE_PAYER,
    SE,
    ST,
    SVC,
    TRN,
    Frames,
    col,
)
from edi835._lexer import Lexed
from edi835._structure import Structure

__all__ = ["MONEY", "TABLE_SCHEMAS", "Built", "build_tables"]

# Decimal dollars, exact: balancing compares cents without float error. Values with more than two
# decimals are rounded half-to-even; values that are not numbers (or >= 10^10) become null and are
# reported in ``non_numeric``.
MONEY = pl.Decimal(12, 2)
ID = pl.Int64

_KEYS = {"source_file_id": pl.String}

TABLE_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "remittances": {
        **_KEYS,
        "remittance_id": ID,
        "segment_position": ID,
        "interchange_control_number": pl.String,
        "interchange_sender_id": pl.String,
        "interchange_receiver_id": pl.String,
        "group_control_number": pl.String,
        "version_code": pl.String,
        "transaction_set_control_number": pl.String,
        "implementation_convention_reference": pl.String,
        "transaction_handling_code": pl.String,
        "credit_debit_flag": pl.String,
        "payment_method_code": pl.String,
        "payment_format_code": pl.String,
        "trace_type_code": pl.String,
        "trace_number": pl.String,
        "payer_originating_company_id": pl.String,
        "currency_code": pl.String,
        "receiver_id": pl.String,
        "payer_name": pl.String,
        "payer_id_qualifier": pl.String,
        "payer_id": pl.String,
        "payer_reference_id": pl.String,
        "payer_address_line": pl.String,
        "payer_city": pl.String,
        "payer_state": pl.String,
        "payer_postal_code": pl.String,
        "payee_name": pl.String,
        "payee_id_qualifier": pl.String,
        "payee_id": pl.String,
        "payee_npi": pl.String,
        "payee_tax_id": pl.String,
        "payee_address_line": pl.String,
        "payee_city": pl.String,
        "payee_state": pl.String,
        "payee_postal_code": pl.String,
        "payment_amount": MONEY,
        "total_charge_amount": MONEY,
        "total_paid_amount": MONEY,
        "total_patient_responsibility_amount": MONEY,
        "provider_adjustment_amount": MONEY,
        "balance_difference_amount": MONEY,
        "claim_count": ID,
        "service_line_count": ID,
        "is_balanced": pl.Boolean,
        "payment_date": pl.Date,
        "production_date": pl.Date,
    },
    "claims": {
        **_KEYS,
        "claim_id": ID,
        "remittance_id": ID,
        "segment_position": ID,
        "patient_control_number": pl.String,
        "claim_status_code": pl.String,
        "claim_filing_indicator_code": pl.String,
        "payer_claim_control_number": pl.String,
        "facility_type_code": pl.String,
        "claim_frequency_code": pl.String,
        "patient_status_code": pl.String,
        "drg_code": pl.String,
        "header_number": pl.String,
        "original_reference_number": pl.String,
        "prior_authorization_number": pl.String,
        "rendering_provider_id_qualifier": pl.String,
        "rendering_provider_id": pl.String,
        "rendering_provider_npi": pl.String,
        "crossover_carrier_name": pl.String,
        "corrected_priority_payer_name": pl.String,
        "charge_amount": MONEY,
        "paid_amount": MONEY,
        "patient_responsibility_amount": MONEY,
        "coverage_amount": MONEY,
        "interest_amount": MONEY,
        "prompt_pay_discount_amount": MONEY,
        "claim_adjustment_amount": MONEY,
        "line_adjustment_amount": MONEY,
        "drg_weight": pl.Float64,
        "discharge_fraction": pl.Float64,
        "service_line_count": ID,
        "is_reversal": pl.Boolean,
        "is_denied": pl.Boolean,
        "is_balanced": pl.Boolean,
        "statement_from_date": pl.Date,
        "statement_to_date": pl.Date,
        "claim_received_date": pl.Date,
        "coverage_expiration_date": pl.Date,
    },
    "service_lines": {
        **_KEYS,
        "service_line_id": ID,
        "claim_id": ID,
        "remittance_id": ID,
        "segment_position": ID,
        "product_qualifier": pl.String,
        "cpt_code": pl.String,
        "modifiers": pl.List(pl.String),
        "procedure_description": pl.String,
        "revenue_code": pl.String,
        "original_product_qualifier": pl.String,
        "original_cpt_code": pl.String,
        "line_item_control_number": pl.String,
        "charge_amount": MONEY,
        "paid_amount": MONEY,
        "allowed_amount": MONEY,
        "adjustment_amount": MONEY,
        "patient_responsibility_amount": MONEY,
        "units_paid": pl.Float64,
        "original_units": pl.Float64,
        "is_balanced": pl.Boolean,
        "service_date": pl.Date,
        "service_start_date": pl.Date,
        "service_end_date": pl.Date,
    },
    "adjustments": {
        **_KEYS,
        "remittance_id": ID,
        "claim_id": ID,
        "service_line_id": ID,
        "segment_position": ID,
        "adjustment_sequence": ID,
        "adjustment_level": pl.String,
        "group_code": pl.String,
        "carc_code": pl.String,
        "adjustment_amount": MONEY,
        "adjustment_quantity": pl.Float64,
    },
    "remark_codes": {
        **_KEYS,
        "remittance_id": ID,
        "claim_id": ID,
        "service_line_id": ID,
        "segment_position": ID,
        "remark_level": pl.String,
        "source_segment": pl.String,
        "source_element": pl.String,
        "code_list_qualifier": pl.String,
        "rarc_code": pl.String,
    },
    "provider_adjustments": {
        **_KEYS,
        "remittance_id": ID,
        "segment_position": ID,
        "adjustment_sequence": ID,
        "provider_id": pl.String,
        "reason_code": pl.String,
        "reference_id": pl.String,
        "adjustment_amount": MONEY,
        "fiscal_period_date": pl.Date,
    },
}

_ZERO = pl.lit(0).cast(MONEY)


def _money(name: str) -> pl.Expr:
    return pl.col(name).cast(MONEY, strict=False)


def _float(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64, strict=False)


def _date(name: str) -> pl.Expr:
    c = pl.col(name)
    # to_date is lenient about short digit runs; CCYYMMDD must be exactly 8 characters.
    return pl.when(c.str.len_bytes() == 8).then(c.str.to_date("%Y%m%d", strict=False))


def _nullable(index: np.ndarray) -> pl.Series:
    s = pl.Series(index, dtype=pl.Int64)
    return pl.select(pl.when(s >= 0).then(s)).to_series()


def _first_rows(parent_pos: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Map each parent row to the first child row whose key is that parent's ordinal (-1 if none).

    ``keys`` must be non-decreasing (children in file order) and only contain parent ordinals.
    """
    out = np.full(len(parent_pos), -1, dtype=np.int64)
    if len(keys) == 0:
        return out
    rows = np.searchsorted(parent_pos, keys)
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    out[rows[first]] = np.flatnonzero(first)
    return out


def _attach(
    parent_pos: np.ndarray, child: pl.DataFrame, key: str, exprs: dict[str, pl.Expr]
) -> list[pl.Series]:
    """Columns for the parents taken from each parent's first matching child row."""
    child = child.filter(pl.col(key).is_not_null())
    index = _nullable(_first_rows(parent_pos, child[key].to_numpy()))
    values = child.select(**exprs)
    return [values[name].gather(index).alias(name) for name in exprs]


def _attach_sum(
    parent_pos: np.ndarray, child: pl.DataFrame, key: str, value: pl.Expr, name: str
) -> pl.Series:
    """Per-parent sum of ``value`` over the children (0 when a parent has none)."""
    agg = child.filter(pl.col(key).is_not_null()).group_by(key).agg(value.sum().alias(name))
    out = np.full(len(parent_pos), -1, dtype=np.int64)
    if len(agg):
        out[np.searchsorted(parent_pos, agg[key].to_numpy())] = np.arange(len(agg))
    return agg[name].gather(_nullable(out)).fill_null(0).alias(name)


def _count_per(parent_pos: np.ndarray, keys: np.ndarray) -> pl.Series:
    keys = keys[keys > 0]
    if len(keys) == 0:
        return pl.Series(np.zeros(len(parent_pos), dtype=np.int64))
    rows = np.searchsorted(parent_pos, keys)
    return pl.Series(np.bincount(rows, minlength=len(parent_pos)).astype(np.int64))


def _qualified(frame: pl.DataFrame, qualifier: str, mask: pl.Expr | None = None) -> pl.DataFrame:
    cond = pl.col("e1") == qualifier
    return frame.filter(cond if mask is None else cond & mask)


def _conform(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    schema = TABLE_SCHEMAS[name]
    return frame.select(
        [
            pl.col(c).cast(t, strict=False) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
        ]
    )


@dataclass(slots=True)
class Built:
    """Flat tables plus the per-transaction figures and data-quality findings behind them."""

    tables: dict[str, pl.DataFrame]
    stats: pl.DataFrame  # one row per transaction: summary figures not in the public tables
    non_numeric: pl.DataFrame  # rem, pos, label
    imbalances: pl.DataFrame  # rem, pos, segment_id, code, message


def build_tables(lexed: Lexed, frames: Frames, structure: Structure) -> Built:
    """Build every flat table for one file."""
    sfid = pl.lit(lexed.source_file_id)
    non_numeric: list[pl.DataFrame] = []

    def track(frame: pl.DataFrame, seg: str, elements: list[int]) -> None:
        for k in elements:
            c = col(k)
            bad = frame.filter(pl.col(c).is_not_null() & pl.col(c).cast(MONEY, strict=False).is_null())
            if len(bad):
                non_numeric.append(bad.select("rem", "pos", label=pl.lit(f"{seg}{k:02d}")))

    # ---- claims -------------------------------------------------------------------------
    clp = frames.ctx(CLP)
    track(clp, "CLP", [3, 4, 5])
    claim_pos = clp["pos"].to_numpy()
    claims = clp.select(
        claim_id="pos",
        remittance_id="rem",
        segment_position="pos",
        patient_control_number="e1",
        claim_status_code="e2",
        claim_filing_indicator_code="e6",
        payer_claim_control_number="e7",
        facility_type_code="e8",
        claim_frequency_code="e9",
        patient_status_code="e10",
        drg_code="e11",
        charge_amount=_money("e3"),
        paid_amount=_money("e4"),
        patient_responsibility_amount=_money("e5"),
        drg_weight=_float("e12"),
        discharge_fraction=_float("e13"),
    )
    lx = frames.split(LX)
    lx_rows = np.where(
        structure.lx_of_claim > 0, np.searchsorted(lx["i"].to_numpy(), structure.lx_of_claim - 1), -1
    )
    extra: list[pl.Series] = [lx["e1"].gather(_nullable(lx_rows)).alias("header_number")]

    nm1 = frames.ctx(NM1)
    extra += _attach(
        claim_pos,
        nm1.filter(pl.col("e1") == "82"),
        "clm",
        {
            "rendering_provider_id_qualifier": pl.col("e8"),
            "rendering_provider_id": pl.col("e9"),
            "rendering_provider_npi": pl.when(pl.col("e8") == "XX").then(pl.col("e9")),
        },
    )
    extra += _attach(
        claim_pos, nm1.filter(pl.col("e1") == "TT"), "clm", {"crossover_carrier_name": pl.col("e3")}
    )
    extra += _attach(
        claim_pos, nm1.filter(pl.col("e1") == "PR"), "clm", {"corrected_priority_payer_name": pl.col("e3")}
    )

    claim_scope = pl.col("svc").is_null()
    ref = frames.ctx(REF)
    claim_refs = ref.filter(pl.col("clm").is_not_null() & claim_scope)
    extra += _attach(
        claim_pos, _qualified(claim_refs, "F8"), "clm", {"original_reference_number": pl.col("e2")}
    )
    extra += _attach(
        claim_pos, _qualified(claim_refs, "G1"), "clm", {"prior_authorization_number": pl.col("e2")}
    )

    dtm = frames.ctx(DTM)
    claim_dtm = dtm.filter(pl.col("clm").is_not_null() & claim_scope)
    for qual, name in (
        ("232", "statement_from_date"),
        ("233", "statement_to_date"),
        ("050", "claim_received_date"),
        ("036", "coverage_expiration_date"),
    ):
        extra += _attach(claim_pos, _qualified(claim_dtm, qual), "clm", {name: _date("e2")})

    amt = frames.ctx(AMT)
    claim_amt = amt.filter(pl.col("clm").is_not_null() & claim_scope)
    for qual, name in (
        ("AU", "coverage_amount"),
        ("I", "interest_amount"),
        ("D8", "prompt_pay_discount_amount"),
    ):
        extra += _attach(claim_pos, _qualified(claim_amt, qual), "clm", {name: _money("e2")})

    # ---- adjustments (one row per CAS triplet) --------------------------------------------
    cas = frames.ctx(CAS)
    track(cas, "CAS", [3, 6, 9, 12, 15, 18])
    triplets = []
    for k in range(6):
        r, a, q = col(2 + 3 * k), col(3 + 3 * k), col(4 + 3 * k)
        part = cas.filter(pl.col(r).is_not_null() | pl.col(a).is_not_null()) if k else cas
        triplets.append(
            part.select(
                remittance_id="rem",
                claim_id="clm",
                service_line_id="svc",
                segment_position="pos",
                adjustment_sequence=pl.lit(k + 1, ID),
                adjustment_level=pl.when(pl.col("svc").is_null())
                .then(pl.lit("claim"))
                .otherwise(pl.lit("service_line")),
                group_code="e1",
                carc_code=r,
                adjustment_amount=_money(a),
                adjustment_quantity=_float(q),
            )
        )
    adjustments = pl.concat(triplets, how="vertical")
    if len(triplets) > 1 and len(adjustments) > len(cas):
        adjustments = adjustments.sort(["segment_position", "adjustment_sequence"])
    line_adj = adjustments.filter(pl.col("service_line_id").is_not_null())
    claim_adj = adjustments.filter(pl.col("service_line_id").is_null())
    extra.append(
        _attach_sum(claim_pos, claim_adj, "claim_id", pl.col("adjustment_amount"), "claim_adjustment_amount")
    )
    extra.append(
        _attach_sum(claim_pos, line_adj, "claim_id", pl.col("adjustment_amount"), "line_adjustment_amount")
    )

    # ---- service lines --------------------------------------------------------------------
    svc = frames.ctx(SVC)
    track(svc, "SVC", [2, 3])
    svc_pos = svc["pos"].to_numpy()
    comp = lexed.component
    proc = svc.select(
        pl.col("e1").str.split_exact(comp, 6).struct.unnest(),
    )
    orig = svc.select(
        pl.col("e6").str.split_exact(comp, 1).struct.rename_fields(["oq", "oc"]).struct.unnest()
    )
    mods = [pl.when(pl.col(f"field_{k}") != "").then(pl.col(f"field_{k}")) for k in range(2, 6)]
    lines = pl.concat(
        [
            svc.select(
                service_line_id="pos",
                claim_id="clm",
                remittance_id="rem",
                segment_position="pos",
                revenue_code="e4",
                charge_amount=_money("e2"),
                paid_amount=_money("e3"),
                units_paid=_float("e5"),
                original_units=_float("e7"),
            ),
            proc.select(
                product_qualifier=pl.when(pl.col("field_0") != "").then(pl.col("field_0")),
                cpt_code=pl.when(pl.col("field_1") != "").then(pl.col("field_1")),
                modifiers=pl.concat_list(mods).list.drop_nulls(),
                procedure_description=pl.when(pl.col("field_6") != "").then(pl.col("field_6")),
            ),
            orig.select(
                original_product_qualifier=pl.when(pl.col("oq") != "").then(pl.col("oq")),
                original_cpt_code=pl.when(pl.col("oc") != "").then(pl.col("oc")),
            ),
        ],
        how="horizontal",
    )
    line_extra: list[pl.Series] = []
    line_dtm = dtm.filter(pl.col("svc").is_not_null())
    d472, d150, d151 = (
        _attach(svc_pos, _qualified(line_dtm, q), "svc", {q: _date("e2")})[0] for q in ("472", "150", "151")
    )
    line_extra += [
        pl.select(pl.coalesce(d472, d150)).to_series().alias("service_date"),
        pl.select(pl.coalesce(d150, d472)).to_series().alias("service_start_date"),
        pl.select(pl.coalesce(d151, d472)).to_series().alias("service_end_date"),
    ]
    line_extra += _attach(
        svc_pos,
        _qualified(ref.filter(pl.col("svc").is_not_null()), "6R"),
        "svc",
        {"line_item_control_number": pl.col("e2")},
    )
    line_extra += _attach(
        svc_pos,
        _qualified(amt.filter(pl.col("svc").is_not_null()), "B6"),
        "svc",
        {"allowed_amount": _money("e2")},
    )
    line_extra.append(
        _attach_sum(svc_pos, line_adj, "service_line_id", pl.col("adjustment_amount"), "adjustment_amount")
    )
    line_extra.append(
        _attach_sum(
            svc_pos,
            line_adj.filter(pl.col("group_code") == "PR"),
            "service_line_id",
            pl.col("adjustment_amount"),
            "patient_responsibility_amount",
        )
    )
    lines = lines.with_columns(line_extra).with_columns(
        is_balanced=(
            pl.col("charge_amount").fill_null(0) - pl.col("paid_amount").fill_null(0)
            == pl.col("adjustment_amount")
        ),
        source_file_id=sfid,
    )
    extra.append(_count_per(claim_pos, svc["clm"].fill_null(0).to_numpy()).alias("service_line_count"))
    claims = claims.with_columns(extra).with_columns(
        is_reversal=pl.col("claim_status_code") == "22",
        is_denied=pl.col("claim_status_code") == "4",
        is_balanced=(
            pl.col("charge_amount").fill_null(0) - pl.col("paid_amount").fill_null(0)
            == pl.col("claim_adjustment_amount") + pl.col("line_adjustment_amount")
        ),
        source_file_id=sfid,
    )

    # ---- remark codes -----------------------------------------------------------------------
    remarks = []
    lq = frames.ctx(LQ).filter(pl.col("svc").is_not_null())
    remarks.append(
        lq.filter(pl.col("e2").is_not_null()).select(
            remittance_id="rem",
            claim_id="clm",
            service_line_id="svc",
            segment_position="pos",
            remark_level=pl.lit("service_line"),
            source_segment=pl.lit("LQ"),
            source_element=pl.lit("LQ02"),
            code_list_qualifier="e1",
            rarc_code="e2",
        )
    )
    for code, seg, elements in ((MOA, "MOA", (3, 4, 5, 6, 7)), (MIA, "MIA", (5, 20, 21, 22, 23))):
        frame = frames.ctx(code).filter(pl.col("clm").is_not_null() & pl.col("svc").is_null())
        for k in elements:
            remarks.append(
                frame.filter(pl.col(col(k)).is_not_null()).select(
                    remittance_id="rem",
                    claim_id="clm",
                    service_line_id="svc",
                    segment_position="pos",
                    remark_level=pl.lit("claim"),
                    source_segment=pl.lit(seg),
                    source_element=pl.lit(f"{seg}{k:02d}"),
                    code_list_qualifier=pl.lit("HE"),
                    rarc_code=col(k),
                )
            )
    remark_codes = pl.concat(remarks, how="vertical_relaxed").sort("segment_position", maintain_order=True)

    # ---- provider adjustments (one row per PLB reason/amount pair) ----------------------------
    plb = frames.ctx(PLB)
    track(plb, "PLB", [4, 6, 8, 10, 12, 14])
    pairs = []
    for k in range(6):
        reason, amount = col(3 + 2 * k), col(4 + 2 * k)
        part = plb.filter(pl.col(reason).is_not_null() | pl.col(amount).is_not_null())
        composite = part[reason].str.split_exact(comp, 1).struct.unnest()
        pairs.append(
            pl.concat(
                [
                    part.select(
                        remittance_id="rem",
                        segment_position="pos",
                        adjustment_sequence=pl.lit(k + 1, ID),
                        provider_id="e1",
                        adjustment_amount=_money(amount),
                        fiscal_period_date=_date("e2"),
                    ),
                    composite.select(
                        reason_code=pl.when(pl.col("field_0") != "").then(pl.col("field_0")),
                        reference_id=pl.when(pl.col("field_1") != "").then(pl.col("field_1")),
                    ),
                ],
                how="horizontal",
            )
        )
    provider_adjustments = pl.concat(pairs, how="vertical").sort(["segment_position", "adjustment_sequence"])

    # ---- remittances ----------------------------------------------------------------------------
    st = frames.ctx(ST)
    rem_pos = st["pos"].to_numpy()
    bpr = frames.ctx(BPR)
    track(bpr, "BPR", [2])
    gs = frames.split(GS)
    isa = frames.split(ISA)
    group = structure.txn_group
    gs_row = _nullable(group)
    isa_of_group = (
        np.where(group >= 0, structure.group_isa[np.maximum(group, 0)], -1)
        if len(structure.group_isa)
        else group
    )
    isa_row = _nullable(isa_of_group)
    header = pl.col("scope") == SCOPE_HEADER
    payer = pl.col("scope") == SCOPE_PAYER
    payee = pl.col("scope") == SCOPE_PAYEE
    n1, n3, n4 = frames.ctx(N1), frames.ctx(N3), frames.ctx(N4)
    rem_cols: list[pl.Series] = [
        isa["e13"].gather(isa_row).alias("interchange_control_number"),
        isa["e6"].gather(isa_row).str.strip_chars_end().alias("interchange_sender_id"),
        isa["e8"].gather(isa_row).str.strip_chars_end().alias("interchange_receiver_id"),
        gs["e6"].gather(gs_row).alias("group_control_number"),
        gs["e8"].gather(gs_row).alias("version_code"),
    ]
    rem_cols += _attach(
        rem_pos,
        bpr,
        "rem",
        {
            "transaction_handling_code": pl.col("e1"),
            "payment_amount": _money("e2"),
            "credit_debit_flag": pl.col("e3"),
            "payment_method_code": pl.col("e4"),
            "payment_format_code": pl.col("e5"),
            "payment_date": _date("e16"),
        },
    )
    rem_cols += _attach(
        rem_pos,
        frames.ctx(TRN).filter(header),
        "rem",
        {
            "trace_type_code": pl.col("e1"),
            "trace_number": pl.col("e2"),
            "payer_originating_company_id": pl.col("e3"),
        },
    )
    rem_cols += _attach(rem_pos, frames.ctx(CUR).filter(header), "rem", {"currency_code": pl.col("e2")})
    rem_cols += _attach(rem_pos, _qualified(ref, "EV", header), "rem", {"receiver_id": pl.col("e2")})
    rem_cols += _attach(rem_pos, _qualified(dtm, "405", header), "rem", {"production_date": _date("e2")})
    for who, scope, entity in (("payer", payer, "PR"), ("payee", payee, "PE")):
        rem_cols += _attach(
            rem_pos,
            n1.filter(pl.col("e1") == entity),
            "rem",
            {f"{who}_name": pl.col("e2"), f"{who}_id_qualifier": pl.col("e3"), f"{who}_id": pl.col("e4")},
        )
        rem_cols += _attach(rem_pos, n3.filter(scope), "rem", {f"{who}_address_line": pl.col("e1")})
        rem_cols += _attach(
            rem_pos,
            n4.filter(scope),
            "rem",
            {f"{who}_city": pl.col("e1"), f"{who}_state": pl.col("e2"), f"{who}_postal_code": pl.col("e3")},
        )
    rem_cols += _attach(rem_pos, _qualified(ref, "2U", payer), "rem", {"payer_reference_id": pl.col("e2")})
    rem_cols += _attach(rem_pos, _qualified(ref, "TJ", payee), "rem", {"payee_tax_id": pl.col("e2")})

    rem_cols.append(_count_per(rem_pos, claims["remittance_id"].to_numpy()).alias("claim_count"))
    rem_cols.append(_count_per(rem_pos, lines["remittance_id"].to_numpy()).alias("service_line_count"))
    rem_cols.append(
        _attach_sum(rem_pos, claims, "remittance_id", pl.col("charge_amount"), "total_charge_amount")
    )
    rem_cols.append(_attach_sum(rem_pos, claims, "remittance_id", pl.col("paid_amount"), "total_paid_amount"))
    rem_cols.append(
        _attach_sum(
            rem_pos,
            claims,
            "remittance_id",
            pl.col("patient_responsibility_amount"),
            "total_patient_responsibility_amount",
        )
    )
    rem_cols.append(
        _attach_sum(
            rem_pos,
            provider_adjustments,
            "remittance_id",
            pl.col("adjustment_amount"),
            "provider_adjustment_amount",
        )
    )
    remittances = (
        st.select(
            remittance_id="pos",
            segment_position="pos",
            transaction_set_control_number="e2",
            implementation_convention_reference="e3",
        )
        .with_columns(rem_cols)
        .with_columns(
            payee_npi=pl.when(pl.col("payee_id_qualifier") == "XX").then(pl.col("payee_id")),
            balance_difference_amount=(
                pl.col("payment_amount").fill_null(0)
                - pl.col("total_paid_amount")
                + pl.col("provider_adjustment_amount")
            ),
            source_file_id=sfid,
        )
        .with_columns(is_balanced=pl.col("balance_difference_amount") == 0)
    )

    # ---- per-transaction figures for the summary ----------------------------------------------
    cas_claim = _attach_sum(
        rem_pos, claim_adj, "remittance_id", pl.col("adjustment_amount"), "cas_claim_level_sum"
    )
    cas_line = _attach_sum(
        rem_pos, line_adj, "remittance_id", pl.col("adjustment_amount"), "cas_line_level_sum"
    )
    se = frames.split(SE)
    stats = pl.DataFrame(
        [
            pl.Series("rem", rem_pos, dtype=pl.Int64),
            pl.Series("se_pos", structure.se_idx + 1, dtype=pl.Int64),
            se["e1"].alias("se01"),
            se["e2"].alias("se02"),
            _count_per(rem_pos, claims.filter(pl.col("is_reversal"))["remittance_id"].to_numpy()).alias(
                "reversals"
            ),
            _count_per(rem_pos, cas["rem"].to_numpy()).alias("cas_segments"),
            _count_per(rem_pos, plb["rem"].to_numpy()).alias("plb_segments"),
            cas_claim,
            cas_line,
        ]
    )

    imbalances = _imbalances(remittances, claims, lines)
    nn = (
        pl.concat(non_numeric, how="vertical").sort("pos", maintain_order=True)
        if non_numeric
        else pl.DataFrame(schema={"rem": pl.Int64, "pos": pl.Int64, "label": pl.String})
    )
    tables = {
        "remittances": _conform(remittances, "remittances"),
        "claims": _conform(claims, "claims"),
        "service_lines": _conform(lines, "service_lines"),
        "adjustments": _conform(adjustments.with_columns(source_file_id=sfid), "adjustments"),
        "remark_codes": _conform(remark_codes.with_columns(source_file_id=sfid), "remark_codes"),
        "provider_adjustments": _conform(
            provider_adjustments.with_columns(source_file_id=sfid), "provider_adjustments"
        ),
    }
    return Built(tables=tables, stats=stats, non_numeric=nn, imbalances=imbalances)


def _imbalances(remittances: pl.DataFrame, claims: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Balancing findings: transaction (error), claim and service line (warnings)."""
    txn = remittances.filter(~pl.col("is_balanced")).select(
        rem="remittance_id",
        pos="segment_position",
        segment_id=pl.lit("BPR"),
        code=pl.lit("transaction_unbalanced"),
        message=pl.format(
            "transaction at segment {}: BPR02 {} != sum(CLP04) {} - sum(PLB) {} (difference {})",
            "segment_position",
            pl.col("payment_amount").fill_null(0),
            "total_paid_amount",
            "provider_adjustment_amount",
            "balance_difference_amount",
        ),
    )
    clm = claims.filter(~pl.col("is_balanced")).select(
        rem="remittance_id",
        pos="segment_position",
        segment_id=pl.lit("CLP"),
        code=pl.lit("claim_unbalanced"),
        message=pl.format(
            "claim at segment {}: CLP03 - CLP04 = {} but CAS adjustments total {}",
            "segment_position",
            pl.col("charge_amount").fill_null(0) - pl.col("paid_amount").fill_null(0),
            pl.col("claim_adjustment_amount") + pl.col("line_adjustment_amount"),
        ),
    )
    svc = lines.filter(~pl.col("is_balanced")).select(
        rem="remittance_id",
        pos="segment_position",
        segment_id=pl.lit("SVC"),
        code=pl.lit("service_line_unbalanced"),
        message=pl.format(
            "service line at segment {}: SVC02 - SVC03 = {} but CAS adjustments total {}",
            "segment_position",
            pl.col("charge_amount").fill_null(0) - pl.col("paid_amount").fill_null(0),
            "adjustment_amount",
        ),
    )
    return pl.concat([txn, clm, svc], how="vertical_relaxed")
