"""Land the operational store in the warehouse's `raw_operational` schema, without PHI."""

import datetime as dt

import dagster as dg

from operational_api.export import exported_tables, read_table, store_snapshot
from orchestration.lib.environment import current_environment
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

RAW_SCHEMA = "raw_operational"
OPERATIONAL_TABLES = [t.name for t in exported_tables()]


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
    engine = store.engine()
    tables = {t.name: t for t in exported_tables()}
    env = current_environment()
    # Appointment dates in the practice's time zone, age bands as of the practice's (possibly pinned) today,
    # as the warehouse cuts its periods.
    today = dt.date.fromisoformat(env.as_of_date) if env.as_of_date else None
    landed = []
    # Every table from one point in time of the store.
    with store_snapshot(engine) as source, warehouse.writing() as wh, wh.held_open():
        for key in context.selected_asset_keys:
            name = key.path[-1]
            rows = wh.replace_table(
                RAW_SCHEMA,
                name,
                read_table(source, tables[name], timezone=env.practice_timezone, today=today),
            )
            landed.append((key, rows))
    # Reported once swapped in (or, in a refresh, written to the run's copy).
    for key, rows in landed:
        yield dg.MaterializeResult(
            asset_key=key, metadata={"rows": rows, "table": f"{RAW_SCHEMA}.{key.path[-1]}"}
        )


defs = dg.Definitions(assets=[operational_tables])
