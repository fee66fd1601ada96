"""The demo practice built once per run (shared with the dashboards' tests)."""

from tests.dashboards.conftest import built_demo, demo_env  # noqa: F401  (fixtures)
