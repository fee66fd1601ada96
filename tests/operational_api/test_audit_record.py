"""Audit rows chain onto each other and commit or roll back with the change they describe."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from sqlalchemy import func, select, text

from operational_api import audit
from operational_api.audit import GENESIS_HASH, AuditEvent, hashed_content, row_digest
from operational_api.db import get_engine, migrate, session_scope


def _store(url):
    engine = get_engine(url)
    migrate(engine)
    return engine


def _check(engine) -> None:
    with session_scope(engine) as session:
        audit.record(
            session, action="auth.sign_in", source=audit.DASHBOARDS, actor_user_id=7, actor_role="CLINICIAN"
        )
        audit.record(
            session, action="page.view", source=audit.DASHBOARDS, actor_user_id=7, client_ids=[3, 1, 3]
        )
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        audit.record(session, action="api.write", source=audit.API, entity="appointment", entity_id=5)
        raise RuntimeError("the change failed, so its audit row must not stay")
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 2
    assert [r.id for r in rows] == [1, 2]
    assert rows[1].client_ids == "[1, 3]"
    prev = GENESIS_HASH
    for row in rows:
        assert row.prev_hash == prev
        assert row.row_hash == row_digest(prev, hashed_content(row))
        prev = row.row_hash


def test_audit_rows_chain_and_roll_back_on_sqlite(tmp_path):
    _check(_store(f"sqlite:///{tmp_path / 'store.db'}"))


@pytest.mark.postgres
def test_audit_rows_chain_and_roll_back_on_postgres(pg_database):
    _check(_store(pg_database))


# ---- appended at commit: the chain lock is held for the commit, not for the request ---------------------------


def _setting(session, key: str) -> None:
    from operational_api.models import PracticeSetting

    session.add(PracticeSetting(key=key, value="1"))


def _settings(engine) -> set[str]:
    from operational_api.models import PracticeSetting

    with session_scope(engine) as session:
        return set(session.scalars(select(PracticeSetting.key)).all())


def _events(engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all())


def _commits_in_every_way(engine) -> None:
    """Whoever commits the session, its events are appended; whatever undoes the change, drops them."""
    from sqlalchemy.orm import Session

    from operational_api.audit_chain import verify

    with Session(engine) as session, session.begin():  # committed by the context manager, not by our helpers
        _setting(session, "begin")
        audit.record(session, action="api.write", source=audit.API, entity="setting", entity_id="begin")
    with Session(engine) as session:
        _setting(session, "plain")
        audit.record(session, action="api.write", source=audit.API, entity="setting", entity_id="plain")
        session.commit()
        # The same session's next transaction starts empty: closing it uncommitted drops this one event only.
        _setting(session, "closed")
        audit.record(session, action="api.write", source=audit.API, entity="setting", entity_id="closed")
    with Session(engine) as session:
        _setting(session, "kept")
        audit.record(session, action="api.write", source=audit.API, entity="setting", entity_id="kept")
        savepoint = session.begin_nested()
        _setting(session, "undone")
        audit.record(session, action="api.write", source=audit.API, entity="setting", entity_id="undone")
        savepoint.rollback()
        session.commit()
    # A session on a caller's connection (ERA posting's way): the connection's transaction decides.
    for key, fails in (("on_connection", False), ("connection_rolled_back", True)):
        with pytest.raises(LookupError) if fails else nullcontext(), engine.begin() as conn:
            with Session(bind=conn) as session:
                _setting(session, key)
                audit.record(session, action="api.write", source=audit.API, entity="setting", entity_id=key)
                session.flush()
            if fails:
                raise LookupError("the connection's transaction rolls back")
    assert _settings(engine) == {"begin", "plain", "kept", "on_connection"}
    assert [e.entity_id for e in _events(engine)] == ["begin", "plain", "kept", "on_connection"]
    assert verify(engine).rows == 4


def test_events_follow_their_transaction_however_it_ends_on_sqlite(tmp_path):
    _commits_in_every_way(_store(f"sqlite:///{tmp_path / 'store.db'}"))


@pytest.mark.postgres
def test_events_follow_their_transaction_however_it_ends_on_postgres(pg_database):
    _commits_in_every_way(_store(pg_database))


@pytest.mark.postgres
def test_an_open_transaction_with_an_event_does_not_hold_the_chain_on_postgres(pg_database):
    """A request that recorded its read and is still building its answer must not make other writers wait."""
    from sqlalchemy.orm import Session

    engine = _store(pg_database)
    with Session(engine) as slow:
        audit.record(slow, action="api.read", source=audit.API, entity="appointment")
        slow.connection()  # its transaction is open, as a list route's is while it renders
        with Session(engine) as quick:
            # Waiting on the chain lock would fail here within a second instead of hanging.
            quick.execute(text("set local lock_timeout = '1s'"))
            audit.record(quick, action="api.write", source=audit.API, entity="appointment", entity_id=1)
            quick.commit()
        slow.commit()
    assert [e.action for e in _events(engine)] == ["api.write", "api.read"]


@pytest.mark.postgres
def test_many_concurrent_writers_keep_every_event_with_its_change_on_postgres(pg_database):
    """Many writers at once, each a business row and its events in one transaction, a tenth of them rolled back:
    every committed change has its events, no rolled-back one has any, and the chain verifies."""
    from concurrent.futures import ThreadPoolExecutor

    from operational_api.audit_chain import verify

    engine = _store(pg_database)
    writers, per_writer = 12, 15

    def write(worker: int) -> list[str]:
        committed = []
        for i in range(per_writer):
            key = f"w{worker}-{i}"
            try:
                with session_scope(engine) as session:
                    audit.record(
                        session, action="api.read", source=audit.API, entity="setting", entity_id=key
                    )
                    _setting(session, key)
                    audit.record(
                        session, action="api.write", source=audit.API, entity="setting", entity_id=key
                    )
                    if i % 10 == 3:
                        raise LookupError("refused after recording")
                committed.append(key)
            except LookupError:
                pass
        return committed

    with ThreadPoolExecutor(writers) as pool:
        committed = {key for keys in pool.map(write, range(writers)) for key in keys}
    assert len(committed) == writers * (per_writer - 2)
    assert _settings(engine) == committed
    events = _events(engine)
    assert sorted(e.entity_id for e in events if e.action == "api.write") == sorted(committed)
    assert sorted(e.entity_id for e in events if e.action == "api.read") == sorted(committed)
    assert verify(engine).rows == 2 * len(committed)


def _awkward_details(engine) -> None:
    """Details that could confuse the database-side append: the id placeholder itself, non-ASCII text, nesting."""
    from operational_api.audit_chain import verify

    awkward = [
        {"id": audit._ID_PLACEHOLDER, "note": f'"id":{audit._ID_PLACEHOLDER},'},
        {"page": "Café — résumé", "n": 1.5, "nested": {"list": [1, None, "x"]}},
        None,
    ]
    with session_scope(engine) as session:
        for detail in awkward:
            audit.record(
                session, action="page.view", source=audit.DASHBOARDS, detail=detail, client_ids=[2, 1]
            )
    assert [e.detail for e in _events(engine)] == awkward
    assert verify(engine).rows == len(awkward)


def test_awkward_details_chain_on_sqlite(tmp_path):
    _awkward_details(_store(f"sqlite:///{tmp_path / 'store.db'}"))


@pytest.mark.postgres
def test_awkward_details_chain_on_postgres(pg_database):
    _awkward_details(_store(pg_database))
