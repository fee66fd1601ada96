"""The platform's Dagster-free core: the environment, warehouse access and landing.

The dashboards, the CLI, the notifications and the Dagster code location all import it; it imports neither
Dagster nor Streamlit (tests/mentalspace_platform/test_no_dagster.py keeps it so), so a dashboard process never
loads Dagster and the landing can run (and be tested) without an instance.

- `environment`: the one place that maps the environment to a deployment (dbt target, databases, AdvancedMD).
- `warehouse`: reads and writes of the warehouse, DuckDB's staged builds and their swap.
- `landing/`: what lands in the raw schemas: the operational store's snapshot (`operational`), AdvancedMD's
  records (`advancedmd`), parsed 835 files (`era`). The assets in `orchestration/defs/` decide when.
"""
