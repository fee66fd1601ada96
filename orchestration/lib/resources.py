"""Dagster resources wrapping the plain packages: the operational store and the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import Engine

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import SwapError, Warehouse, is_staged, staged_build, swap_pending_build
from operational_api.db import get_engine

# The step of the warehouse refresh that swaps the run's copy in (the asset `warehouse/published`, defined with
# the refresh job in orchestration/defs/dbt/assets.py; its op name).
PUBLISH_STEP = "warehouse__published"


class OperationalStoreResource(dg.ConfigurableResource):
    """The operational store (SQLite file locally, PostgreSQL in production)."""

    database_url: str

    def engine(self) -> Engine:
        return get_engine(self.database_url)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse the dbt project builds (DuckDB file locally, PostgreSQL in production).

    On DuckDB no Dagster run writes the live file: every write goes to a copy (`staged_build`) swapped in whole,
    so dashboards reading meanwhile never block a run nor see a half-built warehouse, and a failed run leaves
    the live file as it was. The swap happens inside a step, so a failed swap (a full disk) fails the run:
    Dagster reports a resource's teardown failing but still calls the run a success.
    - A run that includes the `warehouse/published` step (the refresh job, or a UI selection with it) writes
      one copy for the whole run: opened here when the run starts, swapped by that step, which depends on
      every other step of the refresh, and discarded if it never runs (a step failed). This needs the whole
      run in one process: the Definitions' executor on DuckDB is the in-process one.
    - Any other run (an ERA file, AdvancedMD syncs and backfills, assets materialized from the UI) writes one
      copy per step: each writing step wraps its writes in `writing()`, which swaps at the step's end. A run
      of several steps is then atomic step by step, as its landings were before.
    Writers take turns on the file's lock from copy to swap, so an ERA run that starts during a refresh lands
    after it. PostgreSQL builds in place: its transactions keep its readers consistent.
    """

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        env = current_environment()
        if env.warehouse_kind != "duckdb" or is_staged(env) or not _runs_publish_step(context):
            # PostgreSQL; `mentalspace build`, whose own copy this run writes and which swaps it at its end; or
            # a run that stages step by step.
            yield self
            return
        with staged_build(env, swap_on_exit=False):
            yield self
            if is_staged(env):
                context.log.warning(
                    "the run ended without swapping its copy in: the warehouse is left as it was before it"
                )

    def warehouse(self) -> Warehouse:
        """The warehouse to read (or, inside `writing()` or a staged run, to write)."""
        return Warehouse(current_environment(), live_writes=False)

    @contextmanager
    def writing(self) -> Iterator[Warehouse]:
        """The warehouse to write in this step. On DuckDB outside a run-wide copy, a copy of the file swapped in
        when the block ends, inside the step: a failed swap fails the step with one line naming the file."""
        try:
            with staged_build(current_environment()):
                yield self.warehouse()
        except SwapError as exc:
            raise dg.Failure(description=str(exc)) from None

    def publish(self) -> bool:
        """Swap in the run's copy (the `warehouse/published` step); False when there was none to swap."""
        try:
            return swap_pending_build()
        except SwapError as exc:
            raise dg.Failure(description=str(exc)) from None


def _runs_publish_step(context: dg.InitResourceContext) -> bool:
    run = context.run
    if run is None or run.execution_plan_snapshot_id is None:
        return False
    plan = context.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    return PUBLISH_STEP in plan.step_keys_to_execute
