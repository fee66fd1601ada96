"""The rate limiter's shared state in the operational store's PostgreSQL (production).

One row per office key in ``advancedmd_rate_limits``; a reservation locks it (``SELECT ... FOR UPDATE``
inside one short transaction), reads the booked instants, books, and writes them back. Every Dagster run
process, on any machine that reaches the store, and the command line queue on that one row, so together
they never exceed a tier. The embedded deployment uses :class:`~ingest.advancedmd.ratelimit.FileRateLimiter`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ingest.advancedmd.clock import Clock
from ingest.advancedmd.ratelimit import LimiterState, RateLimiter

metadata = MetaData()

advancedmd_rate_limits = Table(
    "advancedmd_rate_limits",
    metadata,
    Column("office_key", String(32), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class SqlRateLimiter(RateLimiter):
    """A limiter whose state is a locked row of the store (PostgreSQL; SQLite works for one machine)."""

    def __init__(self, clock: Clock, engine: Engine, **kwargs: object) -> None:
        super().__init__(clock, **kwargs)  # type: ignore[arg-type]
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @contextmanager
    def _state(self, office_key: str) -> Iterator[LimiterState]:
        table = advancedmd_rate_limits
        with self._lock, self._engine.begin() as conn:
            now = datetime.now(UTC)
            conn.execute(
                self._insert(table)
                .values(office_key=office_key, state="", updated_at=now)
                .on_conflict_do_nothing(index_elements=["office_key"])
            )
            text = conn.execute(
                select(table.c.state).where(table.c.office_key == office_key).with_for_update()
            ).scalar_one()
            try:
                state = LimiterState.from_json(text)
            except (ValueError, TypeError):
                state = LimiterState()
            yield state
            conn.execute(
                update(table)
                .where(table.c.office_key == office_key)
                .values(state=state.to_json(), updated_at=now)
            )
