"""Per-file summary in the shape of ``golden.json`` (used by ``era parse --json``).

Field names and meaning follow ``shared/edi835-samples/PROVENANCE.md``. Amounts are exact decimal
sums converted to JSON numbers (two decimals); an amount that is not a number counts as 0 and is
listed in ``non_numeric``. Optional per-transaction keys (``envelope_issues``,
``unknown_segments``, ``non_numeric``) appear only when non-empty. Strings:

* ``envelope_issues``: ``"SE01=17 but counted 16 segments"``, ``"SE02=0002 but ST02=0001"``;
* ``unknown_segments``: ``"<id> at segment <n>"``;
* ``non_numeric``: ``"<element> at segment <n>"`` (e.g. ``"CLP04 at segment 12"``);
* ``anomalies`` (file level): the envelope anomalies of the validation report, e.g.
  ``"UTF-8 BOM at start of file"`` or ``"no ISA envelope; default delimiters * ~ : assumed"``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from edi835.parser import ParseResult

__all__ = ["file_summary"]

_ZERO = Decimal(0)


def _money(value: Decimal | None) -> float:
    return float(round(value if value is not None else _ZERO, 2))


def file_summary(result: ParseResult) -> dict[str, Any]:
    """The golden-shaped dict for one parsed file."""
    rem = result.remittances
    stats = result._built.stats
    issues = result.validation.frame
    per_txn: dict[int, dict[str, list[str]]] = {}
    for row in issues.filter(pl.col("remittance_id").is_not_null()).iter_rows(named=True):
        code = row["code"]
        if code in ("se_count_mismatch", "se_control_mismatch"):
            key, text = "envelope_issues", row["message"]
        elif code == "unknown_segment":
            key, text = "unknown_segments", f"{row['segment_id']} at segment {row['segment_position']}"
        elif code == "non_numeric_amount":
            key, text = "non_numeric", f"{row['element']} at segment {row['segment_position']}"
        else:
            continue
        per_txn.setdefault(row["remittance_id"], {}).setdefault(key, []).append(text)

    transactions = []
    unbalanced = []
    totals = {
        "clp_count": 0, "svc_count": 0, "reversal_count_clp02_22": 0, "plb_count": 0, "cas_segment_count": 0,
        "bpr02": _ZERO, "clp03_sum": _ZERO, "clp04_sum": _ZERO, "clp05_sum": _ZERO, "cas_amount_sum": _ZERO,
        "plb_amount_sum": _ZERO,
    }  # fmt: skip
    for t, (r, s) in enumerate(zip(rem.iter_rows(named=True), stats.iter_rows(named=True), strict=True)):
        bpr02 = r["payment_amount"] or _ZERO
        cas_claim, cas_line = s["cas_claim_level_sum"], s["cas_line_level_sum"]
        entry: dict[str, Any] = {
            "st02": r["transaction_set_control_number"],
            "st03": r["implementation_convention_reference"],
            "gs08": r["version_code"],
            "bpr01": r["transaction_handling_code"],
            "bpr02": _money(bpr02),
            "trn02": r["trace_number"],
            "payer_name": r["payer_name"],
            "payee_name": r["payee_name"],
            "payee_id_qualifier": r["payee_id_qualifier"],
            "payee_id": r["payee_id"],
            "payee_npi": r["payee_npi"],
            "clp_count": r["claim_count"],
            "clp03_sum": _money(r["total_charge_amount"]),
            "clp04_sum": _money(r["total_paid_amount"]),
            "clp05_sum": _money(r["total_patient_responsibility_amount"]),
            "reversal_count_clp02_22": s["reversals"],
            "svc_count": r["service_line_count"],
            "cas_amount_sum": _money(cas_claim + cas_line),
            "cas_claim_level_sum": _money(cas_claim),
            "cas_line_level_sum": _money(cas_line),
            "cas_segment_count": s["cas_segments"],
            "plb_count": s["plb_segments"],
            "plb_amount_sum": _money(r["provider_adjustment_amount"]),
        }
        entry.update(per_txn.get(r["remittance_id"], {}))
        entry["balance_diff_bpr02_minus_clp04_plus_plb"] = _money(r["balance_difference_amount"])
        entry["balanced"] = bool(r["is_balanced"])
        if not entry["balanced"]:
            unbalanced.append(t)
        transactions.append(entry)
        for key in ("clp_count", "svc_count", "reversal_count_clp02_22", "plb_count", "cas_segment_count"):
            totals[key] += entry[key]
        totals["bpr02"] += bpr02
        totals["clp03_sum"] += r["total_charge_amount"] or _ZERO
        totals["clp04_sum"] += r["total_paid_amount"] or _ZERO
        totals["clp05_sum"] += r["total_patient_responsibility_amount"] or _ZERO
        totals["cas_amount_sum"] += (cas_claim or _ZERO) + (cas_line or _ZERO)
        totals["plb_amount_sum"] += r["provider_adjustment_amount"] or _ZERO

    return {
        "isa_count": result.isa_count,
        "delimiters": [
            {"element": d.element, "segment": d.segment, "component": d.component, "repetition": d.repetition}
            for d in result.delimiters
        ],
        "gs_count": result.gs_count,
        "transaction_count": result.transaction_count,
        "transactions": transactions,
        "totals": {k: (_money(v) if isinstance(v, Decimal) else v) for k, v in totals.items()},
        "unbalanced_transactions": unbalanced,
        "anomalies": result.anomalies,
    }
