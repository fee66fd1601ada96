"""The linted target: DuckDB (the `dev` profile target), so PostgreSQL-only hooks render nothing."""

type = "duckdb"
schema = "main"
name = "dev"
