"""The audit log is append-only and tamper-evident, on SQLite and PostgreSQL.

The store refuses UPDATE and DELETE of audit rows (triggers; on PostgreSQL the application role also lacks the
grants). The tampering tests act as the owner with the triggers switched off, as an attacker with the owner's
rights would, and `mentalspace audit verify` must name the exact row they touched.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import uuid
from contextlib import ExitStack, contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from operational_api import audit
from operational_api.audit_chain import AuditChainBroken, purge, retention_cutoff, verify
from operational_api.audit_export import export_day
from operational_api.db import _normalise_url, get_engine, migrate, session_scope
from operational_api.errors import PlatformError
from operational_api.pg_roles import grant_app_role
from tests.conftest import PG_ADMIN_URL, new_pg_database, run_cli

ROWS = 8
T0 = dt.datetime(2026, 11, 30, 15, 0)
NOW = dt.datetime(2026, 12, 4, 12, 0)
TZ = "America/New_York"


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Migrated empty stores to copy from: a SQLite file, and a PostgreSQL template database once asked for."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    engine = get_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    found = {"sqlite": path}
    with ExitStack() as stack:

        def postgres() -> str:
            if "postgres" not in found:
                url = stack.enter_context(new_pg_database())
                pg = get_engine(url)
                migrate(pg)
                pg.dispose()
                found["postgres"] = url
            return found["postgres"]

        found["postgres_factory"] = postgres
        yield found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_store(request, tmp_path, templates):
    """A migrated, empty store (a copy of the module's template: SQLite file or PostgreSQL database), and its URL."""
    if request.param == "sqlite":
        shutil.copy(templates["sqlite"], tmp_path / "s.db")
        url = f"sqlite:///{tmp_path}/s.db"
        engine = get_engine(url)
        yield engine, url
        engine.dispose()
        return
    template = templates["postgres_factory"]().rpartition("/")[2]
    import psycopg

    name = f"ms_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
        con.execute(f'create database "{name}" template "{template}"')
    url = f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    engine = get_engine(url)
    try:
        yield engine, url
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            con.execute(f'drop database if exists "{name}" with (force)')


def _record(engine, times) -> None:
    with session_scope(engine) as session:
        for i, when in enumerate(times):
            audit.record(
                session,
                action="page.view",
                source=audit.DASHBOARDS,
                actor_user_id=1 + i % 3,
                actor_role="CLINICIAN",
                entity="page",
                entity_id="my_practice",
                client_ids=[10 + i],
                detail={"page": "my_practice"},
                now=when,
            )


@pytest.fixture
def store(empty_store):
    """The store holding ROWS audit events (ids 1..ROWS)."""
    _record(empty_store[0], [T0 + dt.timedelta(minutes=i) for i in range(ROWS)])
    return empty_store


@contextmanager
def triggers_off(engine):
    """The owner switching the append-only triggers off (and back on), as a tamperer with its rights could."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        else:
            saved = (
                conn.exec_driver_sql(
                    "select sql from sqlite_master where type = 'trigger' and tbl_name = 'audit_events'"
                )
                .scalars()
                .all()
            )
            for name in ("audit_events_no_update", "audit_events_no_delete"):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
    try:
        yield
    finally:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")
            else:
                for sql in saved:
                    conn.exec_driver_sql(sql)


def _tamper(engine, *statements: str) -> None:
    with triggers_off(engine), engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _broken_at(engine) -> AuditChainBroken:
    with pytest.raises(AuditChainBroken) as caught:
        verify(engine)
    return caught.value


def test_the_store_refuses_to_update_or_delete_audit_rows(store, tmp_path):
    engine, _ = store
    export_day(engine, T0.date(), timezone=TZ, directory=tmp_path, now=NOW)
    for statement in (
        "update audit_events set action = 'nothing.happened' where id = 3",
        "delete from audit_events where id = 3",
        "update audit_exports set row_count = 0",
        "delete from audit_exports",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("truncate audit_events")
    assert verify(engine).rows == ROWS + 1  # and the export's own row


def test_verify_passes_an_untouched_store_from_the_command_line(store, tmp_path):
    engine, url = store
    report = verify(engine)
    assert (report.rows, report.first_id, report.last_id) == (ROWS, 1, ROWS)
    result = run_cli("audit", "verify", env={"DATABASE_URL": url, "MENTALSPACE_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert f"audit chain intact: {ROWS} rows (ids 1..{ROWS})" in result.stdout


def test_verify_names_an_altered_row(store, tmp_path):
    engine, url = store
    _tamper(engine, "update audit_events set client_ids = '[99]' where id = 5")
    broken = _broken_at(engine)
    assert broken.row_id == 5 and "altered" in str(broken)
    result = run_cli("audit", "verify", env={"DATABASE_URL": url, "MENTALSPACE_VAR_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: audit chain broken at row 5: its content was altered after it was recorded (hash mismatch)"
    ]


def test_verify_names_an_altered_row_whose_hash_was_recomputed(store):
    engine, _ = store
    with session_scope(engine) as session:
        row = session.get(audit.AuditEvent, 4)
        session.expunge(row)
        row.actor_user_id = 77
        new_hash = audit.row_digest(row.prev_hash, audit.hashed_content(row))
    _tamper(engine, f"update audit_events set actor_user_id = 77, row_hash = '{new_hash}' where id = 4")
    broken = _broken_at(engine)
    # Row 4 now checks out on its own; the chain shows it at the next link.
    assert broken.row_id == 5 and "row 4 was rewritten" in str(broken)


def test_verify_names_a_deleted_row(store):
    engine, _ = store
    _tamper(engine, "delete from audit_events where id = 3")
    broken = _broken_at(engine)
    assert broken.row_id == 3
    assert str(broken) == "audit chain broken at row 3: row 3 is missing (deleted): ids jump from 2 to 4"


def test_verify_names_swapped_rows(store):
    engine, _ = store
    _tamper(
        engine,
        "update audit_events set id = 1000 where id = 2",
        "update audit_events set id = 2 where id = 6",
        "update audit_events set id = 6 where id = 1000",
    )
    broken = _broken_at(engine)
    assert broken.row_id == 2
    assert "it holds the event recorded as row 6" in str(broken)


def test_an_exported_day_catches_its_newest_rows_deleted(store, tmp_path):
    engine, _ = store
    done = export_day(engine, T0.date(), timezone=TZ, directory=tmp_path / "audit", now=NOW)
    assert done.rows == ROWS and done.written
    # The export recorded itself as row ROWS + 1; delete the day's newest rows, the chain alone still links.
    _tamper(engine, f"delete from audit_events where id >= {ROWS - 1}")
    broken = _broken_at(engine)
    assert broken.row_id == ROWS and "the export of 2026-11-30 ended with it" in str(broken)


def test_purge_keeps_seven_years_and_the_chain_verifies_after_it(empty_store, tmp_path):
    engine, _ = empty_store
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    eight_years_ago = now - dt.timedelta(days=365 * 8)
    _record(engine, [eight_years_ago + dt.timedelta(minutes=i) for i in range(3)] + [now, now])
    # Nothing recorded in the last 7 years may go, whatever the command line says...
    with pytest.raises(PlatformError, match="kept 7 years, so the latest cutoff today is"):
        purge(engine, now - dt.timedelta(days=365 * 7 - 2), now=now)
    # ...and the store itself refuses it too, even to the owner.
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("delete from audit_events where id = 4")
    # Not exported yet: nothing goes (the day files are the record that outlives the rows).
    assert purge(engine, retention_cutoff(now), now=now).rows == 0
    for offset in range(-1, 2):
        day = eight_years_ago.date() + dt.timedelta(days=offset)
        export_day(engine, day, timezone=TZ, directory=tmp_path / "audit", now=now)
    result = purge(engine, retention_cutoff(now), now=now)
    assert (result.rows, result.through_id) == (3, 3)
    report = verify(engine)  # from the purge's anchor on
    assert report.first_id == 4 and report.rows == 2 + 3 + 1  # two of now, three exports, the purge
    with session_scope(engine) as session:
        assert session.get(audit.AuditEvent, 1) is None
        assert session.get(audit.AuditEvent, report.last_id).action == "audit.purge"


@pytest.mark.postgres
def test_the_application_role_cannot_update_or_delete_audit_rows(pg_database, tmp_path):
    owner = get_engine(pg_database)
    migrate(owner)
    role = f"ms_app_{uuid.uuid4().hex[:8]}"
    try:
        assert grant_app_role(owner, role) is True
        assert grant_app_role(owner, role) is False  # idempotent
        base, _, database = pg_database.rpartition("/")
        app = create_engine(_normalise_url(f"postgresql://{role}@{base.rpartition('@')[2]}/{database}"))
        try:
            with session_scope(app) as session:
                audit.record(session, action="auth.sign_in", source=audit.DASHBOARDS, actor_user_id=1, now=T0)
                assert session.execute(text("select current_user")).scalar() == role
            # What the application itself runs on the log: the daily export (Dagster) and verification.
            done = export_day(app, T0.date(), timezone=TZ, directory=tmp_path, now=NOW)
            assert (done.rows, done.written) == (1, True)
            assert verify(app).rows == 2  # the sign-in and the export's own row
            for statement in (
                "update audit_events set action = 'x'",
                "delete from audit_events",
                "truncate audit_events",
                "update audit_exports set row_count = 0",
                "delete from audit_exports",
                "truncate audit_exports",
                "update audit_purges set row_count = 0",
                "delete from audit_purges",
            ):
                with pytest.raises(DBAPIError, match="permission denied"), app.begin() as conn:
                    conn.exec_driver_sql(statement)
            # The 7-year purge is the owner's: as the application it is refused, and leaves nothing behind.
            with pytest.raises(DBAPIError, match="permission denied"):
                purge(app, T0 + dt.timedelta(days=1), now=T0.replace(year=2034))
            with app.begin() as conn:  # the rest of the store is the application's to write
                conn.exec_driver_sql("update practice_settings set value = value")
        finally:
            app.dispose()
        assert verify(owner).rows == 2
        with pytest.raises(PlatformError, match="owns the store.s tables"):
            grant_app_role(owner, "postgres")
    finally:
        with owner.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        owner.dispose()


def test_concurrent_writers_append_one_linear_chain(empty_store):
    engine, _ = empty_store
    failures: list[str] = []

    def write(worker: int) -> None:
        for i in range(25):
            try:
                with session_scope(engine) as session:
                    audit.record(session, action="page.view", source=audit.DASHBOARDS, client_ids=[worker, i])
            except Exception as exc:  # noqa: BLE001 - any failure is what the test reports
                failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert verify(engine).rows == 100


def test_audit_rows_do_not_make_a_synthetic_store_look_like_a_practices_own(tmp_path):
    from operational_api.db import mark_generated, store_origin
    from operational_api.models import PracticeSetting

    engine = get_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate(engine)
    with session_scope(engine) as session:
        session.add(PracticeSetting(key="made_by_the_generator", value="1"))
    mark_generated(engine, seed=1)
    _record(engine, [T0])  # someone used the demo's dashboards
    assert store_origin(engine).generated, "`make build` may still replace the demo"
    engine.dispose()
