"""dbt builds the AdvancedMD staging and int_appointments_unioned before any sync (empty landing tables, as
`mentalspace build` creates them) and after one, with every AdvancedMD visit linked to its client and its
status mapped to ours.

DuckDB only: the PostgreSQL build of the whole project (tests/dbt/test_kept_visit_rate_end_to_end.py) already
compiles, builds and tests these models there, and the landing tests cover PostgreSQL with data."""

from __future__ import annotations

import os
import subprocess

import dagster as dg
import pytest

from tests.orchestration.advancedmd.conftest import AmdWorld

SELECT = ["path:models/staging/advancedmd", "+int_appointments_unioned"]


def _land_operational(amd: AmdWorld) -> None:
    from mentalspace_platform.environment import current_environment
    from orchestration.defs.operational.assets import operational_tables
    from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

    resources = {
        "store": OperationalStoreResource(database_url=current_environment().database_url),
        "warehouse": WarehouseResource(),
    }
    assert dg.materialize([operational_tables], resources=resources, instance=amd.instance).success


def _dbt_build() -> None:
    from mentalspace_platform.environment import DBT_PROJECT_DIR, current_environment
    from orchestration.defs.dbt.project import DBT_EXECUTABLE

    env = {**os.environ, **current_environment().dbt_env()}
    result = subprocess.run(
        [DBT_EXECUTABLE, "build", "--select", *SELECT, "--target", env["DBT_TARGET"]],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, "\n".join(
        line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL" in line
    )[-3000:]


def _query(sql: str) -> list[dict]:
    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.warehouse import Warehouse

    return Warehouse(current_environment()).query(sql).to_dicts()


@pytest.mark.parametrize("amd", ["duckdb"], indirect=True)
def test_staging_and_unioned_appointments_build_before_and_after_the_first_sync(amd: AmdWorld, practice):
    from orchestration.defs.advancedmd.assets import advancedmd_landing_tables
    from orchestration.lib.resources import WarehouseResource

    assert dg.materialize(
        [advancedmd_landing_tables], resources={"warehouse": WarehouseResource()}, instance=amd.instance
    ).success
    _land_operational(amd)
    _dbt_build()
    counts = _query(
        "select source_system, count(*) as n from intermediate.int_appointments_unioned group by 1"
    )
    assert counts == [{"source_system": "operational", "n": len(practice.tables["appointments"].rows)}]

    amd.sync()
    _land_operational(amd)  # the store's patient links reach raw_operational
    _dbt_build()

    rows = _query(
        """
        select amd.source_appointment_id, amd.client_id, amd.appointment_status, amd.source_status,
            ours.appointment_status as operational_status
        from intermediate.int_appointments_unioned as amd
        left join intermediate.int_appointments_unioned as ours
            on ours.source_system = 'operational' and ours.client_id = amd.client_id and ours.start_at = amd.start_at
        where amd.source_system = 'advancedmd'
        """
    )
    visits = amd.table("visits", "visit_id")
    assert len(rows) == len(visits) > 100
    ds = amd.ds
    for row in rows:
        visit = ds.visits[row["source_appointment_id"]]
        assert row["client_id"] == int(ds.patients[visit.patient_id].external_client_id)
        # The same appointment seen from both systems has the same status (CONFIRMED travels as Made).
        expected = {"CONFIRMED": "SCHEDULED"}.get(row["operational_status"], row["operational_status"])
        assert row["appointment_status"] == expected, row
        assert row["source_status"] == str(visit.appt_status)
