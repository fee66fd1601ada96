"""Audit rows chain onto each other and commit or roll back with the change they describe."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

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
