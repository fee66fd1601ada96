"""Whether an AdvancedMD visit's client was a minor on the visit date lands as a flag, never as the date of birth
(issue 16): derived at landing by the store's rule (``operational_api.export.is_minor_on``), the 18th birthday
itself adult, and re-derived when a corrected date of birth arrives with the patient (AdvancedMD does not report
the visits as changed)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from operational_api.export import is_minor_on
from tests.orchestration.advancedmd.conftest import DATEVISITS_STATUSES, PHI_COLUMNS, WINDOW, AmdWorld


def _minor(dob: dt.date | None, on: dt.date, adult_age_years: int = 18) -> bool | None:
    frame = pl.DataFrame({"dob": [dob], "on": [on]}, schema={"dob": pl.Date, "on": pl.Date})
    return frame.select(is_minor_on(pl.col("dob"), pl.col("on"), adult_age_years)).item()


def test_the_18th_birthday_is_adult_and_an_unknown_date_of_birth_is_unknown():
    dob = dt.date(2007, 3, 6)
    assert _minor(dob, dt.date(2025, 3, 5)) is True
    assert _minor(dob, dt.date(2025, 3, 6)) is False
    # Born on 29 February: the birthday counts from 1 March in other years.
    assert _minor(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) is True
    assert _minor(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) is False
    assert _minor(None, dt.date(2025, 3, 5)) is None
    # The practice's rule, not a constant.
    assert _minor(dob, dt.date(2025, 3, 6), adult_age_years=21) is True


def _flags(amd: AmdWorld) -> dict[int, bool | None]:
    return {vid: row["client_is_minor_on_visit_date"] for vid, row in amd.table("visits", "visit_id").items()}


def test_a_corrected_date_of_birth_re_derives_the_flag_of_visits_already_landed(amd: AmdWorld):
    ds = amd.ds
    amd.sync()
    # A patient with landed visits on two different dates of the window.
    landed = {
        v.visit_id: v
        for v in ds.live_visits()
        if WINDOW[0] <= v.visit_date <= WINDOW[1] and v.appt_status in DATEVISITS_STATUSES
    }
    by_patient: dict[int, list] = {}
    for v in landed.values():
        by_patient.setdefault(v.patient_id, []).append(v)
    patient, visits = next(
        (pid, sorted(vs, key=lambda v: v.visit_date))
        for pid, vs in sorted(by_patient.items())
        if len({v.visit_date for v in vs}) >= 2 and ds.patients[pid].dob.year < 2000
    )
    first, last = visits[0], visits[-1]
    assert first.visit_date < last.visit_date
    flags = _flags(amd)
    assert flags[first.visit_id] is False and flags[last.visit_id] is False  # an adult as generated

    # AdvancedMD corrects the date of birth: 18 on the last visit's date, so a minor at the first.
    eighteenth = last.visit_date
    ds.update_patient(patient, dob=eighteenth.replace(year=eighteenth.year - 18))
    amd.advance(5)
    amd.sync()

    flags = _flags(amd)
    assert flags[first.visit_id] is True
    assert flags[last.visit_id] is False  # the 18th birthday itself: adult
    # Every visit of the patient follows; no other patient's visits moved.
    for v in visits:
        assert flags[v.visit_id] is (v.visit_date < eighteenth)
    # No date of birth in the raw visits: the flag only; no date column of any raw table holds its patient's.
    row = next(iter(amd.table("visits", "visit_id").values()))
    assert not set(row) & PHI_COLUMNS and "patient_dob" not in row
    dobs = {p.patient_id: p.dob for p in ds.live_patients()}
    for table, key in (("patients", "patient_id"), ("insurance", "insurance_id"), ("visits", "visit_id")):
        for landed in amd.table(table, key).values():
            dob = dobs.get(landed["patient_id"])
            held = {v.date() if isinstance(v, dt.datetime) else v for v in landed.values()}
            assert dob is None or dob not in held, f"{table} {landed[key]} holds its patient's date of birth"
