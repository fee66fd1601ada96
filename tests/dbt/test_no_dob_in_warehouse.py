"""After a build, no table of the warehouse holds a client's date of birth or a date derived from it (issue 12):
every date column of every raw_operational, staging, intermediate and marts table of the shared demo is scanned
against the dates of birth kept in the demo's operational store."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.models import Client
from tests.conftest import DEPLOYMENT_VARS
from tests.operational_api.dob_scan import dob_derived_columns

SCHEMAS = ("raw_operational", "staging", "intermediate", "marts")


@pytest.fixture(scope="module")
def warehouse(built_demo) -> Warehouse:
    mp = pytest.MonkeyPatch()
    for name in DEPLOYMENT_VARS:
        mp.delenv(name, raising=False)
    mp.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    yield Warehouse(current_environment())
    mp.undo()


def test_no_warehouse_table_holds_a_date_of_birth_or_a_date_derived_from_one(built_demo, warehouse):
    store = create_engine(current_environment().database_url)
    with store.connect() as conn:
        dobs = dict(conn.execute(select(Client.id, Client.date_of_birth)).all())
    store.dispose()
    schemas = ", ".join(f"'{s}'" for s in SCHEMAS)
    tables = warehouse.query(
        f"select table_schema, table_name from information_schema.tables where table_schema in ({schemas})"
    ).rows()
    assert {"raw_operational.clients", "marts.dim_clients", "marts.fct_appointments"} <= {
        f"{s}.{t}" for s, t in tables
    }
    with warehouse.held_open(read_only=True):
        frames = {f"{s}.{t}": warehouse.query(f'select * from "{s}"."{t}"') for s, t in tables}
    assert dob_derived_columns(frames, dobs) == []
    assert frames["marts.dim_clients"]["has_date_of_birth"].sum() > 0
