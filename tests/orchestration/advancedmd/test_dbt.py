"""dbt builds the AdvancedMD staging and int_appointments_unioned before any sync (empty landing tables, as
`mentalspace build` creates them) and after one, with every AdvancedMD visit linked to its client and its
status mapped to ours.

DuckDB only: the PostgreSQL build of the whole project (tests/dbt/test_kept_visit_rate_end_to_end.py) already
compiles, builds and tests these models there, and the landing tests cover PostgreSQL with data."""

from __future__ import annotations

import pytest

from tests.orchestration.advancedmd.conftest import (
    UNIONED_APPOINTMENTS,
    AmdWorld,
    create_advancedmd_landing_tables,
    dbt,
    land_operational,
    warehouse_rows,
)


@pytest.mark.parametrize("amd", ["duckdb"], indirect=True)
def test_staging_and_unioned_appointments_build_before_and_after_the_first_sync(amd: AmdWorld, practice):
    create_advancedmd_landing_tables(amd)
    land_operational(amd)
    dbt("build", UNIONED_APPOINTMENTS)
    counts = warehouse_rows(
        "select source_system, count(*) as n from intermediate.int_appointments_unioned group by 1"
    )
    assert counts == [{"source_system": "operational", "n": len(practice.tables["appointments"].rows)}]

    amd.sync()
    land_operational(amd)  # the store's patient links reach raw_operational
    dbt("build", UNIONED_APPOINTMENTS)

    rows = warehouse_rows(
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
