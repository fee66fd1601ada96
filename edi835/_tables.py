"""Flat tables built column-wise from the segment store (no per-segment Python, no joins).

The loop context gives every child segment (DTM, REF, AMT, NM1, CAS ...) the row number of its
parent (remittance, claim, service line); children and parents are both in file order, so "first
child per parent" is a run-start scan and sums per parent are one ``bincount`` over int64 cents.
Qualifiers are compared as packed integers and CCYYMMDD dates are decoded in numpy, so only
values that end up in a table become strings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

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
    SCOPE_CLAIM,
    SCOPE_HEADER,
    SCOPE_PAYEE,
    SCOPE_PAYER,
    SE,
    ST,
    SVC,
    TRN,
    Frames,
    Segments,
    packed,
)
from edi835._lexer import Lexed, masked_series
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


def _nullable(index: np.ndarray) -> pl.Series:
    return masked_series(index.astype(np.int64), index >= 0, pa.int64())


def _cents(money: pl.Series) -> np.ndarray:
    """A Decimal(12, 2) column as int64 cents (null counts as 0)."""
    return money.to_physical().cast(pl.Int64).fill_null(0).to_numpy()


def _decimal(cents: np.ndarray, name: str) -> pl.Series:
    """int64 cents as a Decimal(12, 2) column (Arrow decimal128 buffers: no per-value work)."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # two's-complement sign extension to 128 bits
    array = pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words)])
    return pl.Series(name, array)


def _nonempty(series: pl.Series) -> pl.Series:
    return pl.select(pl.when(series != "").then(series)).to_series().alias(series.name)


def _ids(pos: np.ndarray, rows: np.ndarray, name: str) -> pl.Series:
    """Segment ordinals of the parent rows (null where a row is -1)."""
    values = pos[np.maximum(rows, 0)] if len(pos) else np.zeros(len(rows), np.int64)
    return masked_series(values.astype(np.int64), rows >= 0, pa.int64(), name)


def _first_per(n_parents: int, parent_rows: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """For each parent, the row of its first child (-1 if none).

    Children are in file order, so their parent rows never decrease.
    """
    ok = parent_rows >= 0 if mask is None else (parent_rows >= 0) & mask
    rows = np.flatnonzero(ok)
    out = np.full(n_parents, -1, dtype=np.int64)
    if len(rows):
        parents = parent_rows[rows]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = parents[1:] != parents[:-1]
        out[parents[first]] = rows[first]
    return out


def _expand(values: pl.Series, index: np.ndarray) -> pl.Series:
    """``values`` holds one entry per ``index >= 0`` (in order); spread it, null elsewhere."""
    valid = index >= 0
    if valid.all():
        return values
    return values.gather(_nullable(np.where(valid, np.cumsum(valid) - 1, -1)))


def _pick(segs: Segments, k: int, index: np.ndarray, name: str) -> pl.Series:
    """Element ``k`` of the child rows in ``index`` (-1 = null) as a String column."""
    return _expand(segs.element(k, index[index >= 0]), index).alias(name)


def _pick_date(segs: Segments, k: int, index: np.ndarray, name: str) -> pl.Series:
    return _expand(segs.date(k, index[index >= 0]), index).alias(name)


def _money(series: pl.Series) -> pl.Series:
    return series.cast(MONEY, strict=False)


def _float(series: pl.Series) -> pl.Series:
    return series.cast(pl.Float64, strict=False)


def _sum_per(n_parents: int, parent_rows: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """Exact per-parent sum of int64 cents (0 for parents without children; rows < 0 ignored)."""
    ok = parent_rows >= 0
    if not ok.all():
        parent_rows, cents = parent_rows[ok], cents[ok]
    if len(cents) == 0:
        return np.zeros(n_parents, dtype=np.int64)
    if int(np.abs(cents).sum()) < 2**52:
        # float64 accumulation is exact for integers below 2**53; bincount is one C pass.
        return np.rint(np.bincount(parent_rows, weights=cents, minlength=n_parents)).astype(np.int64)
    out = np.zeros(n_parents, dtype=np.int64)
    np.add.at(out, parent_rows, cents)
    return out


def _count_per(n_parents: int, parent_rows: np.ndarray) -> np.ndarray:
    rows = parent_rows[parent_rows >= 0]
    return np.bincount(rows, minlength=n_parents).astype(np.int64)


def _conform(columns: dict[str, pl.Series | np.ndarray], name: str, height: int) -> pl.DataFrame:
    """The table with exactly the schema's columns, in order (missing ones all null)."""
    out = []
    for c, dtype in TABLE_SCHEMAS[name].items():
        value = columns.get(c)
        if value is None:
            out.append(pl.repeat(None, height, dtype=dtype, eager=True).alias(c))
        else:
            series = value if isinstance(value, pl.Series) else pl.Series(c, value)
            out.append(series.alias(c).cast(dtype, strict=False))
    return pl.DataFrame(out)


@dataclass(slots=True)
class Built:
    """Flat tables plus the per-transaction figures and data-quality findings behind them."""

    tables: dict[str, pl.DataFrame]
    stats: pl.DataFrame  # one row per transaction: summary figures not in the public tables
    non_numeric: pl.DataFrame  # rem (ST ordinal), pos, label
    imbalances: pl.DataFrame  # rem, pos, segment_id, code, message


class _Checker:
    """Collects money elements that are present but not numbers."""

    def __init__(self, rem_pos: np.ndarray) -> None:
        self.rem_pos = rem_pos
        self.found: list[pl.DataFrame] = []

    def money(self, raw: pl.Series, segs: Segments, rows: np.ndarray | None, label: str) -> pl.Series:
        parsed = _money(raw)
        if parsed.null_count() != raw.null_count():
            bad = (raw.is_not_null() & parsed.is_null()).to_numpy()
            sel = np.flatnonzero(bad) if rows is None else rows[bad]
            self.found.append(
                pl.DataFrame(
                    {
                        "rem": self.rem_pos[segs.rem[sel]],
                        "pos": segs.pos[sel],
                        "label": pl.repeat(label, len(sel), eager=True),
                    },
                    schema={"rem": pl.Int64, "pos": pl.Int64, "label": pl.String},
                )
            )
        return parsed

    def frame(self) -> pl.DataFrame:
        if not self.found:
            return pl.DataFrame(schema={"rem": pl.Int64, "pos": pl.Int64, "label": pl.String})
        return pl.concat(self.found).sort("pos", maintain_order=True)


def build_tables(lexed: Lexed, frames: Frames, structure: Structure) -> Built:
    """Build every flat table for one file."""
    sfid = lexed.source_file_id
    st, clp, svc = frames.of(ST), frames.of(CLP), frames.of(SVC)
    rem_pos, claim_pos, svc_pos = st.pos, clp.pos, svc.pos
    n_rem, n_clm, n_svc = len(st), len(clp), len(svc)
    check = _Checker(rem_pos)

    # ---- claims -------------------------------------------------------------------------
    claims: dict[str, pl.Series | np.ndarray] = {
        "claim_id": claim_pos,
        "remittance_id": rem_pos[clp.rem],
        "segment_position": claim_pos,
    }
    for k, name in (
        (1, "patient_control_number"),
        (2, "claim_status_code"),
        (6, "claim_filing_indicator_code"),
        (7, "payer_claim_control_number"),
        (8, "facility_type_code"),
        (9, "claim_frequency_code"),
        (10, "patient_status_code"),
        (11, "drg_code"),
    ):
        claims[name] = clp.element(k)
    for k, name in ((3, "charge_amount"), (4, "paid_amount"), (5, "patient_responsibility_amount")):
        claims[name] = check.money(clp.element(k), clp, None, f"CLP{k:02d}")
    claims["drg_weight"] = _float(clp.element(12))
    claims["discharge_fraction"] = _float(clp.element(13))
    lx = frames.of(LX)
    lx_rows = np.where(structure.lx_of_claim > 0, np.searchsorted(lx.idx, structure.lx_of_claim - 1), -1)
    claims["header_number"] = _pick(lx, 1, lx_rows, "header_number")

    nm1 = frames.of(NM1)
    in_claim = nm1.scope == SCOPE_CLAIM
    entity = nm1.packed(1)
    first = _first_per(n_clm, nm1.clm, in_claim & (entity == packed("82")))
    qualifier, identifier = nm1.elements_of_rows(first[first >= 0], range(8, 10))
    claims["rendering_provider_id_qualifier"] = _expand(qualifier, first)
    claims["rendering_provider_id"] = _expand(identifier, first)
    claims["rendering_provider_npi"] = pl.select(
        pl.when(claims["rendering_provider_id_qualifier"] == "XX").then(claims["rendering_provider_id"])
    ).to_series()
    for code, name in (("TT", "crossover_carrier_name"), ("PR", "corrected_priority_payer_name")):
        claims[name] = _pick(nm1, 3, _first_per(n_clm, nm1.clm, in_claim & (entity == packed(code))), name)

    ref = frames.of(REF)
    ref_q = ref.packed(1)
    ref_claim = ref.scope == SCOPE_CLAIM
    for code, name in (("F8", "original_reference_number"), ("G1", "prior_authorization_number")):
        claims[name] = _pick(ref, 2, _first_per(n_clm, ref.clm, ref_claim & (ref_q == packed(code))), name)

    dtm = frames.of(DTM)
    dtm_q = dtm.packed(1)
    dtm_claim = dtm.scope == SCOPE_CLAIM
    for code, name in (
        ("232", "statement_from_date"),
        ("233", "statement_to_date"),
        ("050", "claim_received_date"),
        ("036", "coverage_expiration_date"),
    ):
        claims[name] = _pick_date(
            dtm, 2, _first_per(n_clm, dtm.clm, dtm_claim & (dtm_q == packed(code))), name
        )

    amt = frames.of(AMT)
    amt_q = amt.packed(1)
    amt_claim = amt.scope == SCOPE_CLAIM
    for code, name in (
        ("AU", "coverage_amount"),
        ("I", "interest_amount"),
        ("D8", "prompt_pay_discount_amount"),
    ):
        claims[name] = _money(
            _pick(amt, 2, _first_per(n_clm, amt.clm, amt_claim & (amt_q == packed(code))), name)
        )

    clp.release()
    nm1.release()

    # ---- adjustments (one row per CAS triplet) --------------------------------------------
    cas = frames.of(CAS)
    group = cas.element(1)
    parts = []
    for k in range(6):
        rows = None if k == 0 else np.flatnonzero(cas.count > 2 + 3 * k)
        if rows is not None and len(rows) == 0:
            break
        sel = np.arange(len(cas)) if rows is None else rows
        reason = cas.element(2 + 3 * k, rows)
        amount = check.money(cas.element(3 + 3 * k, rows), cas, rows, f"CAS{3 + 3 * k:02d}")
        frame = pl.DataFrame(
            {
                "_rem": cas.rem[sel],
                "_clm": cas.clm[sel],
                "_svc": cas.svc[sel],
                "segment_position": cas.pos[sel],
                "adjustment_sequence": np.full(len(sel), k + 1, dtype=np.int64),
                "group_code": group if rows is None else group.gather(rows),
                "carc_code": reason,
                "adjustment_amount": amount,
                "adjustment_quantity": _float(cas.element(4 + 3 * k, rows)),
            }
        )
        if k:
            frame = frame.filter(
                pl.col("carc_code").is_not_null() | pl.col("adjustment_amount").is_not_null()
            )
        parts.append(frame)
    adjustments = pl.concat(parts)
    if len(parts) > 1:
        adjustments = adjustments.sort(["segment_position", "adjustment_sequence"])
    adj_clm = adjustments["_clm"].to_numpy()
    adj_svc = adjustments["_svc"].to_numpy()
    adj_rem = adjustments["_rem"].to_numpy()
    adj_cents = _cents(adjustments["adjustment_amount"])
    line_level = adj_svc >= 0
    claim_adj = _sum_per(n_clm, np.where(line_level, -1, adj_clm), adj_cents)
    line_adj = _sum_per(n_clm, np.where(line_level, adj_clm, -1), adj_cents)
    claims["claim_adjustment_amount"] = _decimal(claim_adj, "claim_adjustment_amount")
    claims["line_adjustment_amount"] = _decimal(line_adj, "line_adjustment_amount")

    cas.release()

    # ---- service lines --------------------------------------------------------------------
    lines: dict[str, pl.Series | np.ndarray] = {
        "service_line_id": svc_pos,
        "claim_id": _ids(claim_pos, svc.clm, "claim_id"),
        "remittance_id": rem_pos[svc.rem],
        "segment_position": svc_pos,
        "revenue_code": svc.element(4),
        "charge_amount": check.money(svc.element(2), svc, None, "SVC02"),
        "paid_amount": check.money(svc.element(3), svc, None, "SVC03"),
        "units_paid": _float(svc.element(5)),
        "original_units": _float(svc.element(7)),
    }
    composite = svc.element(1).str.split(lexed.component)
    modifiers = composite.list.slice(2, 4)
    if modifiers.list.contains("").any():
        modifiers = modifiers.list.eval(pl.element().filter(pl.element() != ""))
    lines["product_qualifier"] = _nonempty(composite.list.get(0, null_on_oob=True))
    lines["cpt_code"] = _nonempty(composite.list.get(1, null_on_oob=True))
    lines["modifiers"] = modifiers.fill_null(pl.Series([[]], dtype=pl.List(pl.String)))
    lines["procedure_description"] = _nonempty(composite.list.get(6, null_on_oob=True))
    if svc.has(6):
        original = svc.element(6).str.split(lexed.component)
        lines["original_product_qualifier"] = _nonempty(original.list.get(0, null_on_oob=True))
        lines["original_cpt_code"] = _nonempty(original.list.get(1, null_on_oob=True))
    dtm_line = dtm.svc >= 0
    dates = {
        code: _pick_date(dtm, 2, _first_per(n_svc, dtm.svc, dtm_line & (dtm_q == packed(code))), code)
        for code in ("472", "150", "151")
    }
    lines["service_date"] = pl.select(pl.coalesce(dates["472"], dates["150"])).to_series()
    lines["service_start_date"] = pl.select(pl.coalesce(dates["150"], dates["472"])).to_series()
    lines["service_end_date"] = pl.select(pl.coalesce(dates["151"], dates["472"])).to_series()
    lines["line_item_control_number"] = _pick(
        ref, 2, _first_per(n_svc, ref.svc, (ref.svc >= 0) & (ref_q == packed("6R"))), "lic"
    )
    lines["allowed_amount"] = _money(
        _pick(amt, 2, _first_per(n_svc, amt.svc, (amt.svc >= 0) & (amt_q == packed("B6"))), "allowed")
    )
    svc_adj = _sum_per(n_svc, adj_svc, adj_cents)
    lines["adjustment_amount"] = _decimal(svc_adj, "adjustment_amount")
    is_pr = (adjustments["group_code"] == "PR").fill_null(False).to_numpy()
    lines["patient_responsibility_amount"] = _decimal(
        _sum_per(n_svc, np.where(is_pr, adj_svc, -1), adj_cents), "patient_responsibility_amount"
    )
    svc_charge, svc_paid = lines["charge_amount"], lines["paid_amount"]
    assert isinstance(svc_charge, pl.Series) and isinstance(svc_paid, pl.Series)
    lines["is_balanced"] = _cents(svc_charge) - _cents(svc_paid) == svc_adj
    lines["source_file_id"] = pl.Series([sfid]).gather(np.zeros(n_svc, dtype=np.int64))

    claims["service_line_count"] = _count_per(n_clm, svc.clm)
    status = claims["claim_status_code"]
    assert isinstance(status, pl.Series)
    claims["is_reversal"] = (status == "22").fill_null(False)
    claims["is_denied"] = (status == "4").fill_null(False)
    charge, paid = claims["charge_amount"], claims["paid_amount"]
    assert isinstance(charge, pl.Series) and isinstance(paid, pl.Series)
    paid_cents = _cents(paid)
    claims["is_balanced"] = _cents(charge) - paid_cents == claim_adj + line_adj
    claims["source_file_id"] = pl.Series([sfid]).gather(np.zeros(n_clm, dtype=np.int64))

    # Header-level REF/DTM values for the remittances, taken now so the REF/DTM/AMT columns can be
    # released before the remaining tables are built (keeps peak memory down).
    header_refs: dict[str, pl.Series | np.ndarray] = {}
    for code, scope, name in (
        ("EV", SCOPE_HEADER, "receiver_id"),
        ("2U", SCOPE_PAYER, "payer_reference_id"),
        ("TJ", SCOPE_PAYEE, "payee_tax_id"),
    ):
        first = _first_per(n_rem, ref.rem, (ref.scope == scope) & (ref_q == packed(code)))
        header_refs[name] = _pick(ref, 2, first, name)
    first = _first_per(n_rem, dtm.rem, (dtm.scope == SCOPE_HEADER) & (dtm_q == packed("405")))
    header_refs["production_date"] = _pick_date(dtm, 2, first, "production_date")
    for segs in (svc, ref, dtm, amt):
        segs.release()

    # ---- remark codes -----------------------------------------------------------------------
    remarks = []

    def remark(
        segs: Segments, rows: np.ndarray, k: int, seg: str, level: str, qualifier: pl.Series | str
    ) -> None:
        codes = segs.element(k, rows)
        keep = codes.is_not_null().to_numpy()
        rows = rows[keep]
        remarks.append(
            pl.DataFrame(
                {
                    "remittance_id": rem_pos[segs.rem[rows]],
                    "claim_id": _ids(claim_pos, segs.clm[rows], "claim_id"),
                    "service_line_id": _ids(svc_pos, segs.svc[rows], "service_line_id"),
                    "segment_position": segs.pos[rows],
                    "remark_level": pl.repeat(level, len(rows), eager=True),
                    "source_segment": pl.repeat(seg, len(rows), eager=True),
                    "source_element": pl.repeat(f"{seg}{k:02d}", len(rows), eager=True),
                    "code_list_qualifier": qualifier.filter(pl.Series(keep))
                    if isinstance(qualifier, pl.Series)
                    else pl.repeat(qualifier, len(rows), eager=True),
                    "rarc_code": codes.filter(pl.Series(keep)),
                },
                schema_overrides={
                    "remark_level": pl.String,
                    "source_segment": pl.String,
                    "source_element": pl.String,
                },
            )
        )

    lq = frames.of(LQ)
    lq_rows = np.flatnonzero(lq.svc >= 0)
    remark(lq, lq_rows, 2, "LQ", "service_line", lq.element(1, lq_rows))
    for code, seg, elements in ((MOA, "MOA", (3, 4, 5, 6, 7)), (MIA, "MIA", (5, 20, 21, 22, 23))):
        segs = frames.of(code)
        rows = np.flatnonzero(segs.scope == SCOPE_CLAIM)
        for k in elements:
            if segs.has(k):
                remark(segs, rows, k, seg, "claim", "HE")
    remark_codes = pl.concat(remarks, how="vertical_relaxed").sort("segment_position", maintain_order=True)

    # ---- provider adjustments (one row per PLB reason/amount pair) ----------------------------
    plb = frames.of(PLB)
    pairs = []
    for k in range(6):
        reason, amount = plb.element(3 + 2 * k), plb.element(4 + 2 * k)
        keep = (reason.is_not_null() | amount.is_not_null()).to_numpy()
        rows = np.flatnonzero(keep)
        if len(rows) == 0:
            continue
        composite = reason.filter(pl.Series(keep)).str.split(lexed.component)
        pairs.append(
            pl.DataFrame(
                {
                    "_rem": plb.rem[rows],
                    "segment_position": plb.pos[rows],
                    "adjustment_sequence": np.full(len(rows), k + 1, dtype=np.int64),
                    "provider_id": plb.element(1, rows),
                    "reason_code": _nonempty(composite.list.get(0, null_on_oob=True)),
                    "reference_id": _nonempty(composite.list.get(1, null_on_oob=True)),
                    "adjustment_amount": check.money(
                        amount.filter(pl.Series(keep)), plb, rows, f"PLB{4 + 2 * k:02d}"
                    ),
                    "fiscal_period_date": plb.date(2, rows),
                }
            )
        )
    provider_adjustments = (
        pl.concat(pairs).sort(["segment_position", "adjustment_sequence"])
        if pairs
        else pl.DataFrame(schema={"_rem": pl.Int64} | TABLE_SCHEMAS["provider_adjustments"])
    )

    # ---- remittances ----------------------------------------------------------------------------
    rem: dict[str, pl.Series | np.ndarray] = {
        "remittance_id": rem_pos,
        "segment_position": rem_pos,
        "transaction_set_control_number": st.element(2),
        "implementation_convention_reference": st.element(3),
    }
    group = structure.txn_group
    gs = frames.of(GS)
    rem["group_control_number"] = _pick(gs, 6, group, "g6")
    rem["version_code"] = _pick(gs, 8, group, "g8")
    isa = frames.of(ISA)
    isa_of_txn = (
        np.where(group >= 0, structure.group_isa[np.maximum(group, 0)], -1)
        if len(structure.group_isa)
        else group
    )
    rem["interchange_control_number"] = _pick(isa, 13, isa_of_txn, "i13")
    rem["interchange_sender_id"] = _pick(isa, 6, isa_of_txn, "i6").str.strip_chars_end()
    rem["interchange_receiver_id"] = _pick(isa, 8, isa_of_txn, "i8").str.strip_chars_end()

    bpr = frames.of(BPR)
    first = _first_per(n_rem, bpr.rem)
    for k, name in (
        (1, "transaction_handling_code"),
        (3, "credit_debit_flag"),
        (4, "payment_method_code"),
        (5, "payment_format_code"),
    ):
        rem[name] = _pick(bpr, k, first, name)
    bpr_rows = first[first >= 0]
    rem["payment_amount"] = _expand(check.money(bpr.element(2, bpr_rows), bpr, bpr_rows, "BPR02"), first)
    rem["payment_date"] = _pick_date(bpr, 16, first, "payment_date")
    trn = frames.of(TRN)
    first = _first_per(n_rem, trn.rem, trn.scope == SCOPE_HEADER)
    for k, name in ((1, "trace_type_code"), (2, "trace_number"), (3, "payer_originating_company_id")):
        rem[name] = _pick(trn, k, first, name)
    cur = frames.of(CUR)
    rem["currency_code"] = _pick(cur, 2, _first_per(n_rem, cur.rem, cur.scope == SCOPE_HEADER), "cur")
    rem.update(header_refs)
    n1, n3, n4 = frames.of(N1), frames.of(N3), frames.of(N4)
    n1_entity = n1.packed(1)
    for who, scope, entity in (("payer", SCOPE_PAYER, "PR"), ("payee", SCOPE_PAYEE, "PE")):
        first = _first_per(n_rem, n1.rem, n1_entity == packed(entity))
        for k, suffix in ((2, "name"), (3, "id_qualifier"), (4, "id")):
            rem[f"{who}_{suffix}"] = _pick(n1, k, first, suffix)
        rem[f"{who}_address_line"] = _pick(n3, 1, _first_per(n_rem, n3.rem, n3.scope == scope), "a")
        first = _first_per(n_rem, n4.rem, n4.scope == scope)
        for k, suffix in ((1, "city"), (2, "state"), (3, "postal_code")):
            rem[f"{who}_{suffix}"] = _pick(n4, k, first, suffix)
    payee_q = rem["payee_id_qualifier"]
    assert isinstance(payee_q, pl.Series)
    rem["payee_npi"] = pl.select(pl.when(payee_q == "XX").then(rem["payee_id"])).to_series()

    rem["claim_count"] = _count_per(n_rem, clp.rem)
    rem["service_line_count"] = _count_per(n_rem, svc.rem)
    for source, name in (
        ("charge_amount", "total_charge_amount"),
        ("patient_responsibility_amount", "total_patient_responsibility_amount"),
    ):
        values = claims[source]
        assert isinstance(values, pl.Series)
        rem[name] = _decimal(_sum_per(n_rem, clp.rem, _cents(values)), name)
    total_paid = _sum_per(n_rem, clp.rem, paid_cents)
    rem["total_paid_amount"] = _decimal(total_paid, "total_paid_amount")
    plb_rem = provider_adjustments["_rem"].to_numpy()
    plb_total = _sum_per(n_rem, plb_rem, _cents(provider_adjustments["adjustment_amount"]))
    rem["provider_adjustment_amount"] = _decimal(plb_total, "provider_adjustment_amount")
    payment = rem["payment_amount"]
    assert isinstance(payment, pl.Series)
    difference = _cents(payment) - total_paid + plb_total
    rem["balance_difference_amount"] = _decimal(difference, "balance_difference_amount")
    rem["is_balanced"] = difference == 0
    rem["source_file_id"] = pl.Series([sfid]).gather(np.zeros(n_rem, dtype=np.int64))

    # ---- per-transaction figures for the summary ----------------------------------------------
    se = frames.of(SE)
    is_reversal = claims["is_reversal"]
    assert isinstance(is_reversal, pl.Series)
    stats = pl.DataFrame(
        {
            "rem": rem_pos,
            "se_pos": structure.se_idx.astype(np.int64) + 1,
            "se01": se.element(1),
            "se02": se.element(2),
            "reversals": _count_per(n_rem, np.where(is_reversal.to_numpy(), clp.rem, -1)),
            "cas_segments": _count_per(n_rem, cas.rem),
            "plb_segments": _count_per(n_rem, plb.rem),
            "cas_claim_level_sum": _decimal(
                _sum_per(n_rem, np.where(line_level, -1, adj_rem), adj_cents), "c"
            ),
            "cas_line_level_sum": _decimal(
                _sum_per(n_rem, np.where(line_level, adj_rem, -1), adj_cents), "l"
            ),
        }
    )

    adjustments = adjustments.with_columns(
        remittance_id=pl.Series(rem_pos[adj_rem]),
        claim_id=_ids(claim_pos, adj_clm, "claim_id"),
        service_line_id=_ids(svc_pos, adj_svc, "service_line_id"),
        adjustment_level=pl.when(pl.Series(line_level))
        .then(pl.lit("service_line"))
        .otherwise(pl.lit("claim")),
        source_file_id=pl.lit(sfid),
    )
    provider_adjustments = provider_adjustments.with_columns(
        remittance_id=pl.Series(rem_pos[plb_rem], dtype=pl.Int64), source_file_id=pl.lit(sfid)
    )
    remittances = _conform(rem, "remittances", n_rem)
    claims_table = _conform(claims, "claims", n_clm)
    lines_table = _conform(lines, "service_lines", n_svc)
    tables = {
        "remittances": remittances,
        "claims": claims_table,
        "service_lines": lines_table,
        "adjustments": _conform(dict(adjustments.to_dict()), "adjustments", adjustments.height),
        "remark_codes": _conform(
            dict(remark_codes.with_columns(source_file_id=pl.lit(sfid)).to_dict()),
            "remark_codes",
            remark_codes.height,
        ),
        "provider_adjustments": _conform(
            dict(provider_adjustments.to_dict()), "provider_adjustments", provider_adjustments.height
        ),
    }
    imbalances = _imbalances(remittances, claims_table, lines_table)
    return Built(tables=tables, stats=stats, non_numeric=check.frame(), imbalances=imbalances)


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
