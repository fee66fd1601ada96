"""Land the operational store in the warehouse's `raw_operational` schema, without PHI."""

import dagster as dg

from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing.operational import OPERATIONAL_TABLES, RAW_SCHEMA, land_operational_tables
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource


class LandingConfig(dg.Config):
    """How the store lands: whole (the default: `mentalspace build`, the nightly and every run launched by hand)
    or only what changed since the last landing (the 15-minute refresh)."""

    full: bool = True


# The 15-minute refresh's run config (orchestration/defs/dbt/assets.py).
INCREMENTAL_LANDING = {"ops": {"operational_tables": {"config": {"full": False}}}}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["operational", name],
            group_name="operational",
            description=f"One row per row of the store's `{name}` table (PHI columns removed).",
            kinds={"sqlalchemy"},
        )
        for name in OPERATIONAL_TABLES
    ],
    can_subset=True,
)
def operational_tables(
    context: dg.AssetExecutionContext,
    config: LandingConfig,
    store: OperationalStoreResource,
    warehouse: WarehouseResource,
):
    """Land each selected operational table in raw_operational, all in one transaction: whole, or (incremental)
    its changed rows upserted and its deleted rows removed (mentalspace_platform/landing/operational.py)."""
    names = [key.path[-1] for key in context.selected_asset_keys]
    with warehouse.writing() as wh:
        landed = land_operational_tables(store.engine(), wh, current_environment(), names, full=config.full)
    # Reported once swapped in (or, in a refresh, written to the run's copy).
    for table in landed:
        metadata = {
            "rows": table.rows,
            "table": f"{RAW_SCHEMA}.{table.table}",
            "mode": table.mode,
            "rows_upserted": table.upserted,
            "rows_deleted": table.deleted,
        }
        if table.reason:
            metadata["full_because"] = table.reason
        yield dg.MaterializeResult(asset_key=["operational", table.table], metadata=metadata)


defs = dg.Definitions(assets=[operational_tables])
