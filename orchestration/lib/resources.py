"""Dagster resources wrapping the plain packages: the operational store and the warehouse."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine

from operational_api.db import get_engine
from orchestration.lib.environment import current_environment
from orchestration.lib.warehouse import Warehouse


class OperationalStoreResource(dg.ConfigurableResource):
    """The operational store (SQLite file locally, PostgreSQL in production)."""

    database_url: str

    def engine(self) -> Engine:
        return get_engine(self.database_url)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse the dbt project builds (DuckDB file locally, PostgreSQL in production)."""

    def warehouse(self) -> Warehouse:
        return Warehouse(current_environment())
