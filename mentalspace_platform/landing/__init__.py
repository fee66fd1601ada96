"""Landing in the warehouse's raw schemas, one module per source system (plain Python, no Dagster)."""
