"""Land the operational store in the warehouse's `raw_operational` schema, without PHI."""

import dagster as dg

from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing.operational import OPERATIONAL_TABLES, RAW_SCHEMA, land_operational_tables
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource


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
    context: dg.AssetExecutionContext, store: OperationalStoreResource, warehouse: WarehouseResource
):
    """Copy each selected operational table into raw_operational, replacing the previous copy atomically."""
    names = [key.path[-1] for key in context.selected_asset_keys]
    with warehouse.writing() as wh:
        landed = land_operational_tables(store.engine(), wh, current_environment(), names)
    # Reported once swapped in (or, in a refresh, written to the run's copy).
    for name, rows in landed:
        yield dg.MaterializeResult(
            asset_key=["operational", name], metadata={"rows": rows, "table": f"{RAW_SCHEMA}.{name}"}
        )


defs = dg.Definitions(assets=[operational_tables])
