"""The single Dagster code location: merges each domain's Definitions, nothing else."""

import dagster as dg

from mentalspace_platform.environment import current_environment
from orchestration.defs.advancedmd import definitions as advancedmd_domain
from orchestration.defs.alerts import assets as alerts_domain
from orchestration.defs.audit import assets as audit_domain
from orchestration.defs.dbt import assets as dbt_domain
from orchestration.defs.era import definitions as era_domain
from orchestration.defs.notifications import definitions as notifications_domain
from orchestration.defs.operational import assets as operational_domain
from orchestration.defs.reports import definitions as reports_domain
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

defs = dg.Definitions.merge(
    operational_domain.defs,
    dbt_domain.defs,
    alerts_domain.defs,
    era_domain.defs,
    advancedmd_domain.defs,
    audit_domain.defs,
    notifications_domain.defs,
    reports_domain.defs,
    dg.Definitions(
        resources={
            "store": OperationalStoreResource(database_url=current_environment().database_url),
            "warehouse": WarehouseResource(),
        },
        # On DuckDB a run that includes the refresh's last step writes one copy of the file for the whole run,
        # which only one process can do (WarehouseResource); every run, a UI selection's too, is one process.
        # PostgreSQL runs keep Dagster's default, a process per step.
        executor=dg.in_process_executor if current_environment().warehouse_kind == "duckdb" else None,
    ),
)
