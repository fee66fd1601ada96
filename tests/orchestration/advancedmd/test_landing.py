"""Dagster runs against the loopback simulator land exactly the simulator's data in raw_advancedmd
(DuckDB; PostgreSQL too when MENTALSPACE_TEST_PG_URL is set), incrementally, idempotently and without PHI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from ingest.advancedmd.linking import chart_for_client
from ingest.advancedmd.simulator import ChargeSpec, SimPatient
from ingest.advancedmd.simulator.dataset import CHARGE, VISIT
from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing.operational import (
    OPERATIONAL_TABLES,
    Landed,
    land_operational_tables,
)
from mentalspace_platform.warehouse import Warehouse
from operational_api.db import get_engine
from operational_api.models import AdvancedMDPatient, IngestWatermark
from orchestration.defs.advancedmd.assets import advancedmd_eligibility
from tests.mentalspace_platform.conftest import landed_operational_frames
from tests.orchestration.advancedmd.conftest import (
    AS_OF,
    PHI_COLUMNS,
    AmdWorld,
    assert_tables_equal,
    expected_state,
    land_operational,
    landed_visit,
)


def _assert_warehouse_matches(amd: AmdWorld) -> dict[str, dict]:
    expected = expected_state(amd.ds)
    keys = {
        "patients": "patient_id",
        "insurance": "insurance_id",
        "visits": "visit_id",
        "charges": "charge_id",
    }
    for table, key in keys.items():
        assert_tables_equal(amd.table(table, key), expected[table], table)
    return expected


def _links() -> dict[int, tuple[int | None, str]]:
    engine = get_engine()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                AdvancedMDPatient.advancedmd_patient_id,
                AdvancedMDPatient.client_id,
                AdvancedMDPatient.sync_status,
            )
        ).all()
    engine.dispose()
    return {pid: (cid, status) for pid, cid, status in rows}


def _land_incrementally_as_full() -> dict[str, Landed]:
    """Land the store incrementally, then check it equals a full landing: a store write that leaves a changed row
    with its old updated_at is never landed again (issue 17)."""
    env = current_environment()
    engine, warehouse = get_engine(env.database_url), Warehouse(env)

    landed = {
        t.table: t for t in land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=False)
    }
    incremental = landed_operational_frames(warehouse)
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=True)
    full = landed_operational_frames(warehouse)
    engine.dispose()
    assert [n for n in OPERATIONAL_TABLES if not incremental[n].equals(full[n])] == []
    return landed


def _checks(result) -> dict[str, bool]:
    return {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}": e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_initial_sync_lands_exactly_the_simulator_data_and_links_every_patient(amd: AmdWorld):
    result = amd.sync()

    expected = _assert_warehouse_matches(amd)
    assert len(expected["patients"]) == len(amd.ds.live_patients()) > 50
    assert len(expected["visits"]) > 100 and len(expected["charges"]) > 50
    # Every visit status the practice produces reached the warehouse with its AdvancedMD code.
    assert {v["appt_status"] for v in expected["visits"].values()} >= {0, 3, 10, 12}
    # The practice's own procedure codes (its NOSHOW fee) are charges like any other: nothing is quarantined.
    assert any(c["cpt_code"] == "NOSHOW" for c in expected["charges"].values())
    assert amd.quarantine() == []
    # The link table maps every synced patient to the client it came from (chart number MS + client id).
    links = _links()
    assert links == {p.patient_id: (int(p.external_client_id), "LINKED") for p in amd.ds.live_patients()}
    assert all(p.chart == chart_for_client(int(p.external_client_id)) for p in amd.ds.live_patients())
    # Minimum necessary PHI: no names, birth dates, addresses, phones, e-mails or member ids landed.
    assert not set(next(iter(amd.table("patients", "patient_id").values()))) & PHI_COLUMNS
    assert not set(next(iter(amd.table("insurance", "insurance_id").values()))) & PHI_COLUMNS
    # Watermarks per office key and entity, in the store's ingest_watermarks table.
    engine = get_engine()
    with engine.connect() as conn:
        marks = {(r.office_key, r.entity) for r in conn.execute(select(IngestWatermark))}
    engine.dispose()
    assert marks == {(amd.ds.office_key, "patients"), (amd.ds.office_key, "visits")}
    checks = _checks(result)
    assert (
        checks["advancedmd/patients:patients_non_empty"]
        and checks["advancedmd/visit_updates:visits_non_empty"]
    )
    assert checks["advancedmd/patients:patients_quarantine_ratio"]
    metadata = {
        e.event_specific_data.materialization.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.partition is None
    }
    assert metadata["advancedmd/visit_updates"]["mode"].value == "initial"
    assert metadata["advancedmd/visit_updates"]["charges_quarantined"].value == 0


def test_raw_tables_carry_no_phi_columns(amd: AmdWorld):
    from mentalspace_platform.landing.advancedmd import TABLES

    assert not {name for columns in TABLES.values() for name, _ in columns} & PHI_COLUMNS
    amd.run("advancedmd_patients_job")
    row = next(iter(amd.table("patients", "patient_id").values()))
    assert not set(row) & PHI_COLUMNS


def test_incremental_run_lands_new_changed_and_deleted_records(amd: AmdWorld):
    ds = amd.ds
    # A walk-in patient registered by hand in AdvancedMD (no visits): deleted later, so D is exercised.
    walk_in = ds.add_patient(
        SimPatient(
            0,
            "WALKIN1",
            "DOE",
            "JAN",
            None,
            dt.date(1990, 1, 1),
            "F",
            "1 MAIN ST",
            None,
            "ATLANTA",
            "GA",
            "30303",
            "4045550100",
            None,
            None,
            None,
            "SELF",
            [],
        ),
        at=amd.clock.now() - dt.timedelta(hours=1),
    )
    amd.sync()
    land_operational(amd)
    before = expected_state(ds)
    amd.advance(5)

    # N: a new patient with a chart we do not know, and a visit for them next week.
    new = ds.add_patient(
        SimPatient(
            0,
            "WALKIN2",
            "ROE",
            "SAM",
            None,
            dt.date(1985, 5, 5),
            "M",
            "2 MAIN ST",
            None,
            "ATLANTA",
            "GA",
            "30303",
            "4045550101",
            None,
            None,
            None,
            "SELF",
            [],
        )
    )
    template = ds.visits[next(iter(before["visits"]))]
    new_visit = ds.add_visit(
        type(template)(
            0,
            new.patient_id,
            template.provider_id,
            "MAIN",
            "THERAPY",
            template.column_heading,
            AS_OF + dt.timedelta(days=4),
            dt.datetime.combine(AS_OF + dt.timedelta(days=4), dt.time(9)),
            50,
            0,
        )
    )
    # C: a booked visit is cancelled; D: another booked visit is deleted.
    booked = sorted(vid for vid, v in before["visits"].items() if v["appt_status"] == 0)
    ds.update_visit(booked[0], appt_status=10)
    ds.delete_visit(booked[1])
    # Charges re-posted on a seen visit: the old lines are D, the new ones N.
    seen = next(
        vid
        for vid, v in before["visits"].items()
        if v["appt_status"] == 3
        and v["charges_posted"]
        and any(c["visit_id"] == vid for c in before["charges"].values())
    )
    old_charges = {cid for cid, c in before["charges"].items() if c["visit_id"] == seen}
    new_charges = {c.charge_id for c in ds.post_charges(seen, [ChargeSpec("90837", 1, Decimal("175.00"))])}
    # C on a patient, D on the walk-in.
    changed_patient = next(p for p in ds.live_patients() if p.external_client_id)
    ds.update_patient(changed_patient.patient_id, fin_class_code="MCD")
    ds.delete_patient(walk_in.patient_id)
    amd.advance(5)

    result = amd.sync()

    after = _assert_warehouse_matches(amd)
    visits = amd.table("visits", "visit_id")
    assert visits[booked[0]]["appt_status"] == 10 and booked[1] not in visits
    assert visits[new_visit.visit_id] == landed_visit(ds, new_visit.visit_id)
    charges = amd.table("charges", "charge_id")
    assert not old_charges & set(charges) and new_charges <= set(charges)
    assert amd.table("patients", "patient_id")[changed_patient.patient_id]["fin_class_code"] == "MCD"
    assert walk_in.patient_id not in after["patients"] and new.patient_id in after["patients"]
    links = _links()
    assert links[new.patient_id] == (None, "UNMATCHED")
    assert links[walk_in.patient_id][1] == "DELETED"
    assert links[changed_patient.patient_id] == (int(changed_patient.external_client_id), "LINKED")
    # The sync's store writes (a new link, one marked deleted, the changed patient's synced again) land by key as a
    # full landing would.
    landed = _land_incrementally_as_full()
    assert (landed["advancedmd_patients"].mode, landed["advancedmd_patients"].upserted) == ("incremental", 3)
    metadata = {
        e.event_specific_data.materialization.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    visits_md = metadata["advancedmd/visit_updates"]
    assert visits_md["mode"].value == "incremental"
    assert visits_md["visits_deleted"].value == 1
    assert visits_md["charges_deleted"].value == len(old_charges)
    assert metadata["advancedmd/patients"]["patients_deleted"].value == 1
    assert ds.is_live(VISIT, new_visit.visit_id) and not ds.is_live(CHARGE, next(iter(old_charges)))


def test_pandera_rejects_go_to_quarantine_with_the_reason_and_keep_the_landed_version(amd: AmdWorld):
    ds = amd.ds
    amd.sync()
    patient = ds.live_patients()[0]
    visit_id = sorted(vid for vid, v in expected_state(ds)["visits"].items() if v["appt_status"] == 0)[0]
    landed_before = amd.table("visits", "visit_id")[visit_id]
    amd.advance(5)
    ds.update_patient(patient.patient_id, zip_code="ABCDE")
    ds.update_visit(visit_id, duration_minutes=24 * 60 + 30)
    amd.advance(5)

    amd.sync()

    reasons = {(q["entity"], q["record_id"]): q["reason"] for q in amd.quarantine()}
    assert reasons[("patients", patient.patient_id)] == "zip_code: str_matches"
    assert reasons[("visits", visit_id)] == "duration_minutes: less_than_or_equal_to"
    assert amd.table("visits", "visit_id")[visit_id] == landed_before
    assert patient.patient_id in amd.table("patients", "patient_id")


def test_rerunning_a_partition_replaces_the_day_idempotently(amd: AmdWorld):
    ds = amd.ds
    day = max(v.visit_date for v in ds.live_visits() if v.visit_date <= AS_OF and v.appt_status == 3)
    key = day.isoformat()

    amd.run("advancedmd_visit_days_job", partition_key=key)
    first_visits, first_charges = amd.table("visits", "visit_id"), amd.table("charges", "charge_id")
    amd.run("advancedmd_visit_days_job", partition_key=key)

    assert amd.table("visits", "visit_id") == first_visits
    assert amd.table("charges", "charge_id") == first_charges
    expected = expected_state(ds, (day, day))
    assert_tables_equal(first_visits, expected["visits"], "visits")
    assert_tables_equal(first_charges, expected["charges"], "charges")
    # A visit deleted in AdvancedMD disappears (with its charges) when its day is re-read.
    gone = next(vid for vid in first_visits if any(c["visit_id"] == vid for c in first_charges.values()))
    amd.advance(5)
    ds.delete_visit(gone)
    amd.run("advancedmd_visit_days_job", partition_key=key)
    assert gone not in amd.table("visits", "visit_id")
    assert all(c["visit_id"] != gone for c in amd.table("charges", "charge_id").values())


def test_eligibility_is_checked_for_upcoming_visits_primary_coverage(amd: AmdWorld):
    amd.sync()

    result = amd.run(
        "advancedmd_eligibility_job",
        run_config={"ops": {advancedmd_eligibility.op.name: {"config": {"days_ahead": 7}}}},
    )

    rows = amd.table("eligibility", "eligibility_id")
    assert rows
    today = amd.clock.now().astimezone(dt.UTC).date()
    for row in rows.values():
        sim = amd.ds.eligibility[(row["patient_id"], row["coverage_id"])]
        assert row["status"] == ("ACTIVE" if sim.active else "INACTIVE")
        assert row["is_eligible"] is sim.active
    upcoming = {
        v.patient_id
        for v in amd.ds.live_visits()
        if today - dt.timedelta(days=1) <= v.visit_date <= today + dt.timedelta(days=7) and v.appt_status == 0
    }
    assert {r["patient_id"] for r in rows.values()} <= upcoming
    assert _checks(result)["advancedmd/eligibility:eligibility_quarantine_ratio"]
