"""The simulator's view of the synthetic practice: same clients, appointments, charges and policies."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from ingest.advancedmd.linking import chart_for_client, client_id_from_chart
from ingest.advancedmd.simulator import APPT_STATUS_TO_AMD, dataset_from_practice, simulator_clock_start
from ingest.advancedmd.simulator.dataset import CHARGE, PATIENT, VISIT
from operational_api.synthetic import PracticeSpec, generate

SPEC = PracticeSpec(clinicians=2, months=1, seed=11, as_of=dt.date(2025, 3, 7))


@pytest.fixture(scope="module")
def practice():
    return generate(SPEC)


def _rows(practice, name):
    table = practice.tables[name]
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_every_client_is_one_patient_linked_by_chart_number(practice):
    ds = dataset_from_practice(practice)
    clients = {c["id"]: c for c in _rows(practice, "clients")}
    patients = ds.live_patients()
    assert sorted(int(p.external_client_id) for p in patients) == sorted(clients)
    for p in patients:
        client = clients[int(p.external_client_id)]
        assert client_id_from_chart(p.chart) == client["id"]
        assert (p.last_name, p.first_name, p.dob) == (
            client["last_name"],
            client["first_name"],
            client["date_of_birth"],
        )
        assert p.sex == {"F": "F", "M": "M"}.get(client["gender"], "U")


def test_every_appointment_is_a_visit_with_its_mapped_status_local_date_and_start(practice):
    ds = dataset_from_practice(practice)
    tz = SPEC.timezone
    from zoneinfo import ZoneInfo

    appointments = {a["id"]: a for a in _rows(practice, "appointments")}
    visits = {int(v.external_appointment_id): v for v in ds.live_visits()}
    assert visits.keys() == appointments.keys()
    patient_of_client = {int(p.external_client_id): p.patient_id for p in ds.live_patients()}
    for aid, appt in appointments.items():
        v = visits[aid]
        local = appt["start_at"].replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)
        assert v.appt_status == APPT_STATUS_TO_AMD[appt["status"]]
        assert (v.visit_date, v.start, v.patient_id) == (
            local.date(),
            local,
            patient_of_client[appt["client_id"]],
        )
        assert v.duration_minutes == (appt["end_at"] - appt["start_at"]).total_seconds() // 60
    # The practice produces these AdvancedMD codes (2 Other and 11 Deleted have no operational counterpart).
    assert {v.appt_status for v in visits.values()} >= {0, 3, 5, 10, 12}


def test_charges_are_posted_on_their_appointments_visit_and_policies_become_coverages(practice):
    ds = dataset_from_practice(practice)
    ours = [c for c in _rows(practice, "charges") if c["appointment_id"] is not None]
    visit_of_appt = {int(v.external_appointment_id): v.visit_id for v in ds.live_visits()}
    theirs = Counter((c.visit_id, c.cpt_code, c.fee, c.units) for c in ds.live_charges())
    assert theirs == Counter(
        (visit_of_appt[c["appointment_id"]], c["cpt_code"], c["charge_amount"], c["units"]) for c in ours
    )
    assert all(ds.visits[c.visit_id].charges_posted for c in ds.live_charges())
    policies = Counter((p["client_id"], p["rank"]) for p in _rows(practice, "insurance_policies"))
    coverages = Counter(
        (int(p.external_client_id), i.sequence) for p in ds.live_patients() for i in p.insurances
    )
    assert coverages == policies
    assert len(ds.eligibility) == sum(policies.values())


def test_the_dataset_is_deterministic_and_settled_before_the_simulator_starts(practice):
    first, second = dataset_from_practice(practice), dataset_from_practice(generate(SPEC))
    assert [(p.patient_id, p.chart) for p in first.live_patients()] == [
        (p.patient_id, p.chart) for p in second.live_patients()
    ]
    assert [(v.visit_id, v.appt_status) for v in first.live_visits()] == [
        (v.visit_id, v.appt_status) for v in second.live_visits()
    ]
    start = simulator_clock_start(SPEC.as_of)
    assert start.hour == 2 and str(start.tzinfo) == "America/Denver"
    assert max(e.at for e in first.change_log) < start
    # Nothing changes inside the first incremental window: N/C/D come only from later activity.
    for entity in (PATIENT, VISIT, CHARGE):
        assert first.window_changes(entity, start, start + dt.timedelta(hours=1)) == []


def test_chart_numbers_round_trip_and_reject_foreign_charts():
    assert chart_for_client(123) == "MS000123"
    assert client_id_from_chart("ms000123 ") == 123
    assert client_id_from_chart("C100001") is None and client_id_from_chart(None) is None
    with pytest.raises(ValueError):
        chart_for_client(0)
