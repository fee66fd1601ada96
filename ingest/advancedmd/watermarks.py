"""Watermarks per office key and entity: the ``servertime`` string to send back as ``datechanged``.

The value is stored verbatim: AdvancedMD says to send ``servertime`` back "without any
timezone adjustment", so parsing and re-formatting it could only introduce drift.
The operational store's Alembic migrations may import :data:`ingest_watermarks` to create the
table; :class:`SqlWatermarkStore` can also create it itself (SQLite, tests).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ingest.advancedmd.clock import Clock, SystemClock

metadata = MetaData()

ingest_watermarks = Table(
    "ingest_watermarks",
    metadata,
    Column("office_key", String(32), primary_key=True),
    Column("entity", String(64), primary_key=True),
    Column("watermark", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@runtime_checkable
class WatermarkStore(Protocol):
    """Where sync keeps how far it has landed, per office key and entity."""

    def get(self, office_key: str, entity: str) -> str | None:
        """The stored watermark, or None before the initial load has finished."""
        ...

    def set(self, office_key: str, entity: str, watermark: str) -> None:
        """Persist ``watermark``; called only after the batch it closes has been landed."""
        ...


class InMemoryWatermarkStore:
    """Process-local store for tests and the benchmark."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.history: list[tuple[str, str, str]] = []

    def get(self, office_key: str, entity: str) -> str | None:
        with self._lock:
            return self._values.get((office_key, entity))

    def set(self, office_key: str, entity: str, watermark: str) -> None:
        with self._lock:
            self._values[(office_key, entity)] = watermark
            self.history.append((office_key, entity, watermark))


class SqlWatermarkStore:
    """SQLAlchemy Core store on the ``ingest_watermarks`` table (SQLite, PostgreSQL, ...)."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None, create: bool = True) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()
        if create:
            metadata.create_all(engine, tables=[ingest_watermarks])

    def get(self, office_key: str, entity: str) -> str | None:
        stmt = select(ingest_watermarks.c.watermark).where(
            ingest_watermarks.c.office_key == office_key, ingest_watermarks.c.entity == entity
        )
        with self._engine.connect() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def set(self, office_key: str, entity: str, watermark: str) -> None:
        now = self._clock.now().astimezone(UTC)
        values = {"watermark": watermark, "updated_at": now}
        # Portable upsert: update, else insert; a concurrent insert makes us retry the update.
        for _ in range(3):
            try:
                with self._engine.begin() as conn:
                    result = conn.execute(
                        update(ingest_watermarks)
                        .where(
                            ingest_watermarks.c.office_key == office_key,
                            ingest_watermarks.c.entity == entity,
                        )
                        .values(**values)
                    )
                    if result.rowcount == 0:
                        conn.execute(
                            ingest_watermarks.insert().values(office_key=office_key, entity=entity, **values)
                        )
                return
            except IntegrityError:
                continue
        raise RuntimeError("could not store watermark after concurrent inserts")

    def updated_at(self, office_key: str, entity: str) -> datetime | None:
        stmt = select(ingest_watermarks.c.updated_at).where(
            ingest_watermarks.c.office_key == office_key, ingest_watermarks.c.entity == entity
        )
        with self._engine.connect() as conn:
            return conn.execute(stmt).scalar_one_or_none()
