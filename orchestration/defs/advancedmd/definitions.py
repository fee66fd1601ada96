"""The AdvancedMD domain's Definitions (assets, checks, jobs, schedules, the API resource)."""

import dagster as dg

from mentalspace_platform.environment import current_environment
from orchestration.defs.advancedmd.assets import ASSETS
from orchestration.defs.advancedmd.checks import (
    FRESHNESS_CHECKS,
    FRESHNESS_JOB,
    advancedmd_freshness_15min_schedule,
)
from orchestration.defs.advancedmd.resources import AdvancedMDResource, advancedmd_resource
from orchestration.defs.advancedmd.schedules import JOBS, SCHEDULES
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource


def _definitions(resources: dict[str, object]) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=FRESHNESS_CHECKS,
        jobs=[*JOBS, FRESHNESS_JOB],
        schedules=[*SCHEDULES, advancedmd_freshness_15min_schedule],
        resources=resources,
    )


defs = _definitions({"advancedmd": advancedmd_resource()})


def standalone_definitions(advancedmd: AdvancedMDResource | None = None) -> dg.Definitions:
    """This domain alone with the store and warehouse resources: what `mentalspace amd ...` runs.

    The AdvancedMD jobs need neither dbt nor the other domains, so the command line does not pay for
    (or depend on) parsing the dbt project; the runs land in the same Dagster instance and show up in
    the UI under the same asset keys and partitions."""
    env = current_environment()
    return _definitions(
        {
            "advancedmd": advancedmd or advancedmd_resource(),
            "store": OperationalStoreResource(database_url=env.database_url),
            "warehouse": WarehouseResource(),
        }
    )
