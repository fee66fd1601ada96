"""Dagster resources wrapping the plain packages: the operational store and the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import Engine

from operational_api.db import get_engine
from orchestration.lib.environment import current_environment
from orchestration.lib.warehouse import Warehouse, staged_build

# A job tagged so (and run by the in-process executor, one process per run) builds the embedded warehouse
# as one staged copy for the whole run: see WarehouseResource.
STAGED_RUN_TAG = "mentalspace/warehouse"
STAGED_RUN_TAGS = {STAGED_RUN_TAG: "staged"}
# A failed blocking check fails its step after the step has landed everything (an unbalanced 835 lands its
# rows, flagged, and only its posting is stopped): such a run still swaps, as it landed in place before.
_CHECK_FAILED = "DagsterAssetCheckFailedError"


class OperationalStoreResource(dg.ConfigurableResource):
    """The operational store (SQLite file locally, PostgreSQL in production)."""

    database_url: str

    def engine(self) -> Engine:
        return get_engine(self.database_url)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse the dbt project builds (DuckDB file locally, PostgreSQL in production).

    In a run of a job tagged STAGED_RUN_TAGS on DuckDB, the whole run (landing, dbt, the alert sync) writes a
    copy of the file (`staged_build`), swapped in when the run ends if every step it started succeeded:
    dashboards reading meanwhile never block the run nor see a half-built warehouse, and a failed run leaves
    the live file as it was. The copy is per process, hence the in-process executor on those jobs. Runs take
    turns on the writer lock from start to end, so an ERA run that starts during a refresh lands after it.
    """

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        run, env = context.run, current_environment()
        staged = run is not None and run.tags.get(STAGED_RUN_TAG) == STAGED_RUN_TAGS[STAGED_RUN_TAG]
        if (
            not staged or env.warehouse_kind != "duckdb"
        ):  # PostgreSQL's transactions keep its readers consistent
            yield self
            return
        try:
            with staged_build(env):
                yield self
                if not _every_started_step_succeeded(context.instance, run.run_id):
                    raise _RunFailed
        except _RunFailed:
            context.log.warning("a step failed: the warehouse is left as it was before this run")

    def warehouse(self) -> Warehouse:
        return Warehouse(current_environment())


class _RunFailed(Exception):
    pass


def _every_started_step_succeeded(instance: dg.DagsterInstance, run_id: str) -> bool:
    started, succeeded = set(), set()
    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_START:
            started.add(event.step_key)
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS or (
            event.step_failure_data.error is not None
            and event.step_failure_data.error.cls_name == _CHECK_FAILED
        ):
            succeeded.add(event.step_key)
    return started <= succeeded
