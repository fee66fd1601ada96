"""The ERA domain's Definitions."""

import dagster as dg

from orchestration.defs.era.assets import era_landing_tables, era_posted_remittance, era_raw_tables
from orchestration.defs.era.sensors import ERA_FILE_JOB, era_inbox_sensor, warehouse_after_era_sensor

defs = dg.Definitions(
    assets=[era_raw_tables, era_landing_tables, era_posted_remittance],
    jobs=[ERA_FILE_JOB],
    sensors=[era_inbox_sensor, warehouse_after_era_sensor],
)
