"""The shared AdvancedMD session in the operational store (production): ``advancedmd_sessions``.

One row per office key, created on first use and kept (its token emptied on discard) so there is always a row
to lock. A process that must log in locks the row (``SELECT ... FOR UPDATE NOWAIT``, retried until the caller
gives up, so the wait is bounded by the run's deadline), reads it again, logs in and writes the new session in
that same transaction. The table never leaves the store (``info={"warehouse": False}``: the token is a secret).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from ingest.advancedmd.sessions import LOCK_POLL_SECONDS, LockedSession, SessionStore, StoredSession

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's answer to NOWAIT on a locked row

metadata = MetaData()

advancedmd_sessions = Table(
    "advancedmd_sessions",
    metadata,
    Column("office_key", String(32), primary_key=True),
    Column("account", String(64), nullable=True),
    Column("token", Text, nullable=True),
    Column("webserver", Text, nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("refresh_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    info={"warehouse": False},
)


def _aware(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive (stored as UTC by us).
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sqlstate(exc: OperationalError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


class SqlSessionStore(SessionStore):
    """Sessions in ``advancedmd_sessions`` (PostgreSQL; SQLite works for one machine, without row locks)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._row_locks = engine.dialect.name == "postgresql"

    def _read(self, conn: Connection, office_key: str, *, lock: bool = False) -> StoredSession | None:
        from ingest.advancedmd.client import Session

        t = advancedmd_sessions
        query = select(t).where(t.c.office_key == office_key)
        if lock and self._row_locks:
            query = query.with_for_update(nowait=True)
        row = conn.execute(query).mappings().first()
        if row is None or not row["token"] or not row["webserver"] or row["refresh_at"] is None:
            return None
        session = Session(
            row["token"],
            row["webserver"],
            _aware(row["issued_at"]),
            _aware(row["expires_at"]),
            _aware(row["refresh_at"]),
        )
        return StoredSession(row["account"] or "", session)

    def load(self, office_key: str) -> StoredSession | None:
        with self._engine.connect() as conn:
            return self._read(conn, office_key)

    def discard(self, office_key: str, token: str) -> bool:
        t = advancedmd_sessions
        with self._engine.connect() as conn:
            conn.begin()
            if self._row_locks:
                try:
                    conn.execute(
                        select(t.c.office_key)
                        .where(t.c.office_key == office_key)
                        .with_for_update(nowait=True)
                    )
                except OperationalError as exc:
                    conn.rollback()
                    if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
                        raise
                    return False
            result = conn.execute(
                update(t)
                .where(t.c.office_key == office_key, t.c.token == token)
                .values(token=None, webserver=None, updated_at=datetime.now(UTC))
            )
            conn.commit()
            return result.rowcount > 0

    @contextmanager
    def locked(self, office_key: str, give_up: Callable[[], bool]) -> Iterator[LockedSession]:
        t = advancedmd_sessions
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(t)
                .values(office_key=office_key, updated_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=["office_key"])
            )
        while True:
            with self._engine.connect() as conn:
                try:
                    conn.begin()
                    current = self._read(conn, office_key, lock=True)
                except OperationalError as exc:
                    conn.rollback()
                    if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
                        raise
                    # another process holds the row: it is logging in
                    if give_up():
                        yield LockedSession(self.load(office_key), acquired=False)
                        return
                    time.sleep(LOCK_POLL_SECONDS)
                    continue
                view = LockedSession(current)
                yield view
                new = view.replacement
                if new is not None:
                    s = new.session
                    conn.execute(
                        update(t)
                        .where(t.c.office_key == office_key)
                        .values(
                            account=new.account,
                            token=s.token,
                            webserver=s.webserver,
                            issued_at=s.issued_at,
                            expires_at=s.expires_at,
                            refresh_at=s.refresh_at,
                            updated_at=datetime.now(UTC),
                        )
                    )
                conn.commit()
                return


__all__ = ["SqlSessionStore", "advancedmd_sessions"]
