"""No date of birth, nor any date derived from it, leaves the operational store (issue 12): the export
carries whether the client was a minor on each appointment's date and an age band instead."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import select, update

from operational_api.bulk import load_tables
from operational_api.db import get_engine, migrate, session_scope
from operational_api.errors import PlatformError
from operational_api.export import exported_tables, read_table
from operational_api.models import Appointment, Client, ComplianceRule, User
from operational_api.synthetic import PracticeSpec, generate
from tests.operational_api.dob_scan import dob_derived_columns

SPEC = PracticeSpec(clinicians=3, months=2, seed=11, as_of=dt.date(2026, 11, 25))
TZ = "America/New_York"
D = dt.date.fromisoformat


def _export(engine) -> dict[str, pl.DataFrame]:
    return {t.name: pl.concat(list(read_table(engine, t))) for t in exported_tables()}


def test_no_exported_column_is_a_date_of_birth_or_a_fixed_offset_of_one(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    load_tables(engine, {n: (t.columns, t.rows) for n, t in generate(SPEC).tables.items()})
    with engine.connect() as conn:
        dobs = dict(conn.execute(select(Client.id, Client.date_of_birth)).all())
    assert sum(d is not None for d in dobs.values()) > 50
    exported = _export(engine)
    assert dob_derived_columns(exported, dobs) == []
    clients = exported["clients"]
    assert set(clients["age_band"]) <= {"0-12", "13-17", "18-25", "26-64", "65+", "unknown"}
    assert (clients["age_band"] == "unknown").to_list() == (~clients["has_date_of_birth"]).to_list()
    assert exported["appointments"]["is_minor_on_date"].any()


def test_the_scan_finds_a_date_derived_from_the_birth_date():
    # The detector itself: the date a client turns 18 (what the export used to carry) is caught.
    dobs = {i: D("2000-01-01") + dt.timedelta(days=397 * i) for i in range(1, 9)}
    dobs[8] = D("2004-02-29")
    eighteenth = [
        d.replace(year=d.year + 18, day=28 if (d.month, d.day) == (2, 29) else d.day) for d in dobs.values()
    ]
    clients = pl.DataFrame({"id": list(dobs), "adult_on": eighteenth, "intake_date": [D("2026-01-01")] * 8})
    visits = pl.DataFrame(
        {"client_id": list(dobs), "start_at": [dt.datetime(2026, 1, i) for i in range(1, 9)]}
    )
    assert dob_derived_columns(
        {"clients": clients.rename({"adult_on": "turns_grown"}), "appointments": visits}, dobs
    ) == ["clients.turns_grown"]


def _store_with_minors(tmp_path):
    """Clients born on known days, each seen around a birthday, in New York time."""
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    tz = ZoneInfo(TZ)
    with session_scope(engine) as s:
        s.add(
            User(
                id=1,
                email="c@x.example",
                first_name="Cl",
                last_name="In",
                role="CLINICIAN",
                license_type="LPC",
            )
        )
        s.flush()
        for cid, dob in (
            (1, D("2008-11-25")),
            (2, D("2008-02-29")),
            (3, None),
            (4, D("1950-06-01")),
            (5, D("2015-01-01")),
        ):
            s.add(
                Client(
                    id=cid,
                    first_name=f"C{cid}",
                    last_name="Synthetic",
                    date_of_birth=dob,
                    primary_clinician_id=1,
                )
            )
        s.flush()
        visits = [
            (1, "2026-11-24 09:00"),  # the day before the 18th birthday: a minor
            (1, "2026-11-25 09:00"),  # the 18th birthday: an adult
            (1, "2026-11-24 22:30"),  # 03:30 UTC on the birthday, still the 24th in New York: a minor
            (2, "2026-02-28 09:00"),  # born 29 February: still a minor on the 28th
            (2, "2026-03-01 09:00"),  # an adult on 1 March
            (3, "2026-11-24 10:00"),  # unknown date of birth: unknown (one clinician: one client an hour)
            (4, "2026-11-24 11:00"),
            (5, "2026-11-24 12:00"),
        ]
        for aid, (cid, local) in enumerate(visits, start=1):
            start = (
                dt.datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)
            )
            s.add(
                Appointment(
                    id=aid,
                    client_id=cid,
                    clinician_id=1,
                    appointment_type="THERAPY_SESSION",
                    status="COMPLETED",
                    start_at=start,
                    end_at=start + dt.timedelta(minutes=50),
                    booked_at=start - dt.timedelta(days=7),
                )
            )
    return engine


def test_minor_on_the_appointment_date_counts_the_birthday_in_practice_time(tmp_path):
    engine = _store_with_minors(tmp_path)
    appointments = pl.concat(list(read_table(engine, Appointment.__table__, timezone=TZ)))
    assert "_dob" not in appointments.columns
    assert appointments.sort("id")["is_minor_on_date"].to_list() == [
        True,
        False,
        True,
        True,
        False,
        None,
        False,
        True,
    ]
    clients = pl.concat(list(read_table(engine, Client.__table__, today=D("2026-11-25"))))
    assert dict(clients.select("id", "age_band").iter_rows()) == {
        1: "18-25",
        2: "18-25",
        3: "unknown",
        4: "65+",
        5: "0-12",
    }
    assert (
        dict(
            pl.concat(list(read_table(engine, Client.__table__, today=D("2026-11-24"))))
            .select("id", "age_band")
            .iter_rows()
        )[1]
        == "13-17"
    )


def test_the_adult_age_is_the_stores_rule(tmp_path):
    engine = _store_with_minors(tmp_path)
    rule = ComplianceRule.__table__
    is_adult_age = (rule.c.rule_type == "MINOR_CONSENT") & (rule.c.parameter == "adult_age_years")
    with engine.begin() as conn:
        conn.execute(update(rule).where(is_adult_age).values(value=21))
    appointments = pl.concat(list(read_table(engine, Appointment.__table__, timezone=TZ)))
    assert appointments.sort("id")["is_minor_on_date"].to_list() == [
        True,
        True,
        True,
        True,
        True,
        None,
        False,
        True,
    ]
    with engine.begin() as conn:
        conn.execute(update(rule).where(is_adult_age).values(is_active=False))
    with pytest.raises(PlatformError, match="MINOR_CONSENT.adult_age_years is not set"):
        list(read_table(engine, Appointment.__table__, timezone=TZ))
