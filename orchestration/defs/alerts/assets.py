"""Open conditions from the warehouse become (or stop being) alerts staff act on in the store."""

import dagster as dg

from operational_api.alerts import sync_alerts
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

ALERTS_MART = dg.AssetKey(["marts", "fct_compliance_alerts"])


@dg.asset(
    key=["alerts", "store_compliance_alerts"], deps=[ALERTS_MART], group_name="alerts", kinds={"sqlalchemy"}
)
def store_compliance_alerts(
    context: dg.AssetExecutionContext, store: OperationalStoreResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per compliance alert in the operational store, kept in step with fct_compliance_alerts."""
    conditions = warehouse.warehouse().query("select * from marts.fct_compliance_alerts").to_dicts()
    summary = sync_alerts(store.engine(), conditions)
    context.log.info(f"alerts: {summary}")
    return dg.MaterializeResult(metadata={"open_conditions": len(conditions), **summary.__dict__})


defs = dg.Definitions(assets=[store_compliance_alerts])
