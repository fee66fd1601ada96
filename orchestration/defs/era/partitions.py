"""One dynamic partition per 835 file, keyed by the SHA-256 of its bytes."""

import dagster as dg

ERA_FILES = dg.DynamicPartitionsDefinition(name="era_files")
