"""Land parsed 835 files in the warehouse's `raw_era` schema, keeping the 835 loop structure."""

from __future__ import annotations

import polars as pl

import edi835
from mentalspace_platform.warehouse import Warehouse

RAW_SCHEMA = "raw_era"
# Parser table -> raw table (STYLE: claim payments are the CLP loop).
RAW_TABLES = {
    "remittances": "remittances",
    "claims": "claim_payments",
    "service_lines": "service_lines",
    "adjustments": "adjustments",
    "remark_codes": "remark_codes",
    "provider_adjustments": "provider_adjustments",
}


def _landable(frame: pl.DataFrame) -> pl.DataFrame:
    # Lists (SVC modifiers) travel as a colon-joined string, the way they appear in the 835.
    return frame.with_columns(
        [pl.col(name).list.join(":") for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    )


def land_remittance(warehouse: Warehouse, file_hash: str, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replace one 835 file's rows (`source_file_id` = its hash) in every raw_era table; rows per raw table.

    Re-landing the same file lands the same rows."""
    return {
        raw: warehouse.replace_partition(
            RAW_SCHEMA, raw, "source_file_id", file_hash, [_landable(tables[table])]
        )
        for table, raw in RAW_TABLES.items()
    }


def ensure_era_tables(warehouse: Warehouse) -> int:
    """Create the empty raw_era tables with the parser's schema where missing; how many were created."""
    return sum(
        warehouse.ensure_table(RAW_SCHEMA, raw, _landable(pl.DataFrame(schema=edi835.TABLE_SCHEMAS[table])))
        for table, raw in RAW_TABLES.items()
    )
