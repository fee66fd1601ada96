"""How a warehouse refresh runs its `dbt build`s, and the 15-minute refresh's run config."""

import dagster as dg

from orchestration.defs.operational.assets import INCREMENTAL_LANDING

# The two `dbt build`s of a refresh (orchestration/defs/dbt/assets.py).
DBT_OPS = ("warehouse_models", "warehouse_metrics")


class DbtBuildConfig(dg.Config):
    """How a run's `dbt build`s run: with the data tests (the default: the nightly, weekly and monthly runs,
    `mentalspace build`, every run launched by hand) or without them (the 15-minute refresh, REALTIME_REFRESH)."""

    data_tests: bool = True
    # Keep the views and seeds of the last build when nothing they are made from changed (DuckDB only,
    # mentalspace_platform/view_reuse.py): the 15-minute refresh.
    reuse_views: bool = False


class MeasuresBuildConfig(DbtBuildConfig):
    """The measures' build: without partitions it recomputes the periods its inputs' changes touch
    (mentalspace_platform/measure_window.py) unless `every_period` (`mentalspace metrics backfill --full`)."""

    every_period: bool = False


# `mentalspace metrics backfill --full`: every period, whatever changed.
EVERY_PERIOD = {"ops": {"warehouse_metrics": {"config": {"every_period": True}}}}


# The real-time refresh lands only the store's changes, so its measures recompute only the periods they touch
# (mentalspace_platform/measure_window.py), it leaves dbt's data tests to the nightly run, and it keeps the views
# and seeds the last build made when nothing they are made from changed. Every other run
# lands the store whole, recomputes every period and tests: a full rebuild is the job's default run config.
REALTIME_REFRESH = {
    "ops": {
        **INCREMENTAL_LANDING["ops"],
        **{op: {"config": {"data_tests": False, "reuse_views": True}} for op in DBT_OPS},
    }
}
