"""The dashboards' only way into the warehouse: read-only queries against the marts."""

from __future__ import annotations

import time

import duckdb
import polars as pl

from orchestration.lib.environment import current_environment
from orchestration.lib.warehouse import Warehouse

NOT_BUILT = "The warehouse has not been built yet: run `make build` (or `mentalspace build`), then reload."


class WarehouseNotReady(Exception):
    """The warehouse has not been built yet, or is being rebuilt right now."""


def query(sql: str, params: list | None = None, attempts: int = 5) -> pl.DataFrame:
    """Run a read query; waits briefly while a build holds the DuckDB file, then says so plainly."""
    warehouse = Warehouse(current_environment())
    if warehouse.kind == "duckdb" and not warehouse.env.duckdb_path.exists():
        raise WarehouseNotReady(NOT_BUILT)
    for attempt in range(attempts):
        try:
            return warehouse.query(sql, params)
        except duckdb.IOException as exc:
            # DuckDB lets one process write; a build in progress holds the file for a few seconds.
            if attempt == attempts - 1:
                raise WarehouseNotReady("the warehouse is being rebuilt; try again in a moment") from exc
            time.sleep(0.5 * (attempt + 1))
        except duckdb.CatalogException as exc:
            raise WarehouseNotReady(NOT_BUILT) from exc
    raise AssertionError("unreachable")
