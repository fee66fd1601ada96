"""835 files -> raw_era tables (one partition per file), keeping the 835 loop structure."""

import dagster as dg
import polars as pl

import edi835
from mentalspace_platform.landing.era import RAW_TABLES, ensure_era_tables, land_remittance
from operational_api import audit
from operational_api.era.posting import PostingError, post_remittance
from operational_api.era_inbox import archived_path, original_name
from orchestration.defs.era.partitions import ERA_FILES
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["era", raw],
            group_name="era",
            description=f"One row per {raw} record of each landed 835 file.",
        )
        for raw in RAW_TABLES.values()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "transactions_balance",
            asset=["era", "remittances"],
            blocking=True,
            description="BPR02 = sum of CLP04 - sum of PLB for every transaction; an unbalanced file is not posted.",
        )
    ],
    partitions_def=ERA_FILES,
)
def era_raw_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Parse one 835 file and replace its rows in every raw_era table (re-running lands the same rows)."""
    file_hash = context.partition_key
    path = archived_path(file_hash)
    if not path.exists():
        raise dg.Failure(f"835 file {file_hash[:12]} is not in the archive; upload it again")
    try:
        result = edi835.parse_file(path)
    except edi835.Edi835Error as exc:
        raise dg.Failure(f"{original_name(file_hash)}: {exc}") from None
    # Swapped in at the block's end, before the balance check below can fail the step: an unbalanced file's
    # rows land (flagged by `is_balanced`) and only its posting is stopped.
    with warehouse.writing() as wh:
        landed = land_remittance(wh, file_hash, result.tables)
    for raw, rows in landed.items():
        yield dg.MaterializeResult(
            asset_key=["era", raw],
            metadata={"rows": rows, "file_name": original_name(file_hash), "file_hash": file_hash},
        )
    remittances = result.tables["remittances"]
    unbalanced = remittances.filter(~pl.col("is_balanced")).height
    yield dg.AssetCheckResult(
        asset_key=["era", "remittances"],
        check_name="transactions_balance",
        passed=unbalanced == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "transactions": remittances.height,
            "unbalanced": unbalanced,
            "errors": len(result.validation.errors),
            "warnings": len(result.validation.warnings),
        },
    )


@dg.asset(key=["era", "landing_tables"], group_name="era_setup")
def era_landing_tables(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Empty raw_era tables with the parser's schema, so the warehouse builds before the first upload."""
    with warehouse.writing() as wh:
        created = ensure_era_tables(wh)
    return dg.MaterializeResult(metadata={"tables_created": created})


@dg.asset(
    key=["era", "posted_remittance"],
    deps=[dg.AssetKey(["era", "claim_payments"])],
    partitions_def=ERA_FILES,
    group_name="era",
    kinds={"sqlalchemy"},
)
def era_posted_remittance(
    context: dg.AssetExecutionContext, store: OperationalStoreResource
) -> dg.MaterializeResult:
    """One posted remittance per 835 file: claims matched to charges (5 levels), payments and adjustments
    posted in one transaction; a file posted before (same hash or ISA13 + TRN02) posts nothing again."""
    file_hash = context.partition_key
    try:
        result = post_remittance(store.engine(), archived_path(file_hash), audit_source=audit.DAGSTER)
    except PostingError as exc:
        raise dg.Failure(str(exc)) from None
    for line in result.summary_lines():
        context.log.info(line)
    return dg.MaterializeResult(
        metadata={
            "file_name": original_name(file_hash),
            "already_posted": result.already_posted,
            "claim_payments": result.claim_count,
            "auto_posted": result.auto_posted,
            "manual_review": result.review_count,
            "auto_match_rate": round(result.auto_match_rate, 4),
            **{f"matched_by_{method}": count for method, count in result.level_counts.items()},
        }
    )
