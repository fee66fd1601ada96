"""Bulk loading is all-or-nothing and the warehouse export carries no PHI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from operational_api.bulk import load_tables
from operational_api.db import get_engine, migrate, session_scope
from operational_api.export import exported_tables, read_table
from operational_api.models import PHI_COLUMNS, Appointment, Client, User
from operational_api.synthetic import PracticeSpec, generate

SPEC = PracticeSpec(clinicians=3, months=2, seed=11, as_of=dt.date(2026, 11, 25))


def _load(url: str):
    engine = get_engine(url)
    migrate(engine)
    practice = generate(SPEC)
    load_tables(engine, {n: (t.columns, t.rows) for n, t in practice.tables.items()})
    return engine, practice


def _check_loaded(engine, practice) -> None:
    with session_scope(engine) as s:
        assert s.scalar(select(func.count(Appointment.id))) == len(practice.tables["appointments"].rows)
        first = s.get(Appointment, 1)
        assert isinstance(first.start_at, dt.datetime)
        # The ORM can add rows after a bulk load with explicit ids (sequences moved on).
        s.add(User(email="new@practice.example", first_name="New", last_name="Staff", role="ADMIN"))
    for table in exported_tables():
        frame = next(read_table(engine, table))
        for phi in PHI_COLUMNS.get(table.name, ()):
            assert phi not in frame.columns, f"{table.name}.{phi} reached the warehouse export"
    users = next(read_table(engine, User.__table__))
    portal = users.filter(users["role"] == "CLIENT")
    assert portal.height > 0 and portal["first_name"].is_null().all() and portal["email"].is_null().all()
    assert users.filter(users["role"] == "CLINICIAN")["last_name"].is_not_null().all()
    clients = next(read_table(engine, Client.__table__))
    assert clients["display_name"].str.contains(r"^\S+ \S\.$").all()
    assert {"has_phone", "has_address", "has_emergency_contact", "has_date_of_birth", "age_band"} <= set(
        clients.columns
    )
    assert "adult_on_date" not in clients.columns
    appointments = next(read_table(engine, Appointment.__table__))
    # One home for the date of birth: the store. The hidden column the minor flag is computed from stays there.
    assert "_dob" not in appointments.columns and appointments["is_minor_on_date"].any()


def test_bulk_load_and_export_on_sqlite(tmp_path):
    engine, practice = _load(f"sqlite:///{tmp_path / 'store.db'}")
    _check_loaded(engine, practice)


@pytest.mark.postgres
def test_bulk_load_and_export_on_postgres(pg_database):
    engine, practice = _load(pg_database)
    _check_loaded(engine, practice)


def test_a_failing_bulk_load_leaves_nothing_behind(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    practice = generate(SPEC)
    tables = {n: (t.columns, t.rows) for n, t in practice.tables.items()}
    cols, rows = tables["appointments"]
    tables["appointments"] = (cols, rows + [rows[0]])  # duplicate primary key, late in the load
    # The double-booking trigger (migration 0007) sees the same slot before the key is checked.
    with pytest.raises(Exception, match="UNIQUE|appointment.double_booked"):
        load_tables(engine, tables)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count(User.id))) == 0


def test_sqlite_export_through_adbc_equals_the_row_by_row_read(tmp_path, monkeypatch):
    import polars as pl

    from operational_api import export

    engine, _ = _load(f"sqlite:///{tmp_path / 'store.db'}")
    # The same SELECT through SQLAlchemy's row-by-row path (what PostgreSQL and in-memory stores use).
    row_by_row = {}
    with monkeypatch.context() as m:
        m.setattr(
            export,
            "_read_sqlite",
            lambda eng, stmt, schema, _name, n: export._read_rows(eng, stmt, schema, n),
        )
        for table in exported_tables():
            row_by_row[table.name] = pl.concat(list(read_table(engine, table)))
    for batch_rows in (export._ADBC_BATCH_ROWS, 1):  # 1: columns NULL in the first row make ADBC fall back
        monkeypatch.setattr(export, "_ADBC_BATCH_ROWS", batch_rows)
        for table in exported_tables():
            arrow = pl.concat(list(read_table(engine, table)))
            assert arrow.schema == row_by_row[table.name].schema, table.name
            assert arrow.equals(row_by_row[table.name]), table.name


def test_a_stored_value_of_the_wrong_type_stops_the_export_without_quoting_it(tmp_path):
    from operational_api.errors import PlatformError

    engine, _ = _load(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:  # SQLite stores whatever it is given: simulate a corrupted row
        conn.exec_driver_sql("update appointments set start_at = 'Jane Doe' where id = 1")
    with pytest.raises(PlatformError, match="cannot export table appointments") as failure:
        list(read_table(engine, Appointment.__table__))
    assert "Jane" not in str(failure.value)


def test_exporting_beside_open_store_connections_leaves_them_writing(tmp_path):
    # The landing step reads through ADBC (its own copy of SQLite) while this process holds pooled connections
    # to the store. Reading the live file, ADBC's closing deleted the WAL under those connections: their next
    # commits went to an unlinked file, invisible to every other process (and then "disk I/O error").
    store = tmp_path / "store.db"
    engine, _ = _load(f"sqlite:///{store}")
    with engine.connect() as held:  # stays open across the export, as a pooled connection of a run does
        held.exec_driver_sql("select count(*) from users").scalar()
        for table in exported_tables():
            list(read_table(engine, table))
        held.exec_driver_sql("update users set is_active = 0 where id = 1")
        held.commit()
        seen = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys; "
                "print(sqlite3.connect(sys.argv[1]).execute('select is_active from users where id = 1').fetchone()[0])",
                str(store),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert seen.stdout.strip() == "0"  # another process sees the commit
    assert not list(tmp_path.glob(".export-snapshot-*"))


def _store_rows(engine, practice) -> dict[str, list[tuple]]:
    """Every generated table as the ORM reads it back, in id order."""
    from operational_api.models import Base

    with engine.connect() as conn:
        return {
            name: [
                tuple(r)
                for r in conn.execute(
                    select(*[Base.metadata.tables[name].c[c] for c in t.columns]).order_by(
                        Base.metadata.tables[name].c.id
                    )
                )
            ]
            for name, t in practice.tables.items()
        }


def _streamed_equals_loaded(streamed_url: str, loaded_url: str) -> None:
    from operational_api.synthetic import generate_into_store

    loaded, practice = _load(loaded_url)
    streamed = get_engine(streamed_url)
    migrate(streamed)
    seen = []
    # Chunks far smaller than one clinician's caseload: clients, their charges and the shared insurance
    # payments all straddle chunks.
    counts = generate_into_store(streamed, SPEC, chunk_rows=500, on_chunk=seen.append)
    assert len(seen) > 10 and counts == {n: len(t.rows) for n, t in practice.tables.items() if t.rows}
    assert _store_rows(streamed, practice) == _store_rows(loaded, practice)
    with session_scope(streamed) as s:  # sequences moved on past the streamed ids
        s.add(User(email="new@practice.example", first_name="New", last_name="Staff", role="ADMIN"))


def test_a_streamed_practice_equals_the_generated_one_on_sqlite(tmp_path):
    _streamed_equals_loaded(f"sqlite:///{tmp_path / 'streamed.db'}", f"sqlite:///{tmp_path / 'loaded.db'}")


@pytest.mark.postgres
def test_a_streamed_practice_equals_the_generated_one_on_postgres(pg_database):
    from tests.conftest import new_pg_database

    with new_pg_database() as other:
        _streamed_equals_loaded(pg_database, other)


def test_a_streamed_practice_that_fails_late_leaves_nothing_behind(tmp_path, monkeypatch):
    from operational_api import synthetic

    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    original = synthetic._Generator.goals

    def failing_goals(self):  # after every client's rows have been written in earlier chunks
        original(self)
        raise RuntimeError("disk full")

    monkeypatch.setattr(synthetic._Generator, "goals", failing_goals)
    with pytest.raises(RuntimeError, match="disk full"):
        synthetic.generate_into_store(engine, SPEC, chunk_rows=500)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count(User.id))) == 0
        assert s.scalar(select(func.count(Appointment.id))) == 0
