"""Quarantine holds one row per bad record version, however often that version is read again."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from tests.orchestration.advancedmd.conftest import WINDOW, AmdWorld


def _rows_per_record(amd: AmdWorld) -> Counter[tuple[str, int]]:
    return Counter((q["entity"], q["record_id"]) for q in amd.quarantine())


def test_rereading_a_bad_record_adds_no_row_and_a_new_bad_version_adds_one(amd: AmdWorld):
    from ingest.advancedmd.simulator.dataset import ChargeSpec

    ds = amd.ds
    # A charge whose procedure code is no code at all, on a visit of the initial window that has none.
    visit = next(
        v
        for v in ds.live_visits()
        if WINDOW[0] <= v.visit_date <= WINDOW[1] and v.appt_status == 0 and not v.charges_posted
    )
    [posted] = ds.post_charges(visit.visit_id, [ChargeSpec(cpt_code="99-213", fee=Decimal("120.00"))])
    amd.advance(1)
    amd.sync()
    first = _rows_per_record(amd)
    bad_charge = next(rid for entity, rid in first if entity == "charges")
    assert bad_charge == posted.charge_id
    day = ds.visits[ds.charges[bad_charge].visit_id].visit_date.isoformat()

    for _ in range(2):  # the nightly re-read of a day, and a repair backfill of it
        amd.run("advancedmd_visit_days_job", partition_key=day)
    amd.advance(5)
    amd.sync()

    assert _rows_per_record(amd) == first
    assert set(first.values()) == {1}

    patient = ds.live_patients()[0].patient_id
    for zip_code in ("ABCDE", "ABCDF"):  # two different bad versions of one patient
        amd.advance(5)
        ds.update_patient(patient, zip_code=zip_code)
        amd.advance(5)
        amd.sync()
        amd.sync()  # nothing changed since: a re-read at most

    after = _rows_per_record(amd)
    assert after[("patients", patient)] == 2
    assert after - Counter({("patients", patient): 2}) == first
    versions = [q["record_version"] for q in amd.quarantine() if q["record_id"] == patient]
    assert len(set(versions)) == 2
