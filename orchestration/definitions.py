"""The single Dagster code location: merges each domain's Definitions, nothing else."""

import dagster as dg

from orchestration.defs.dbt.assets import defs as dbt_defs
from orchestration.defs.operational.assets import defs as operational_defs
from orchestration.lib.environment import current_environment
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

defs = dg.Definitions.merge(
    operational_defs,
    dbt_defs,
    dg.Definitions(
        resources={
            "store": OperationalStoreResource(database_url=current_environment().database_url),
            "warehouse": WarehouseResource(),
        }
    ),
)
