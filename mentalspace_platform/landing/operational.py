"""Land the operational store in the warehouse's `raw_operational` schema, without PHI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine

from mentalspace_platform.environment import Environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.export import exported_tables, read_table, store_snapshot

RAW_SCHEMA = "raw_operational"
OPERATIONAL_TABLES = [t.name for t in exported_tables()]


def land_operational_tables(
    engine: Engine, warehouse: Warehouse, env: Environment, names: Iterable[str]
) -> list[tuple[str, int]]:
    """Copy each named store table into raw_operational, replacing its previous copy atomically.

    Returns (table, rows landed) in the order given. Every table is read from one point in time of the store.
    """
    tables = {t.name: t for t in exported_tables()}
    # Appointment dates in the practice's time zone, age bands as of the practice's (possibly pinned) today,
    # as the warehouse cuts its periods.
    today = dt.date.fromisoformat(env.as_of_date) if env.as_of_date else None
    landed = []
    with store_snapshot(engine) as source, warehouse.held_open():
        for name in names:
            rows = warehouse.replace_table(
                RAW_SCHEMA,
                name,
                read_table(source, tables[name], timezone=env.practice_timezone, today=today),
            )
            landed.append((name, rows))
    return landed
