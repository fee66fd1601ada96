"""The audit log: one append-only, hash-chained row per event (PRD HIPAA: every access to PHI, kept 7 years).

Every surface records through `record` inside the same transaction as the change it describes, so a write and its
audit row commit or roll back together (a refused request is recorded in its own transaction by the caller).

A row never carries PHI itself: the actor, what was done (`action`), to which entity and id, and the ids of the
clients whose data was shown or changed. `detail` is for non-PHI facts (a rule id, a page name, a row count).

Each row's `row_hash` covers its own content and the previous row's hash, so altering, deleting or reordering a row
breaks the chain from that row on. Appending is serialised (an advisory lock on PostgreSQL; SQLite has one writer),
which keeps the chain linear under concurrent writers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from operational_api.models import Base

GENESIS_HASH = "0" * 64
# Any constant works; it names the one lock that orders appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 0x4D534155  # "MSAU"

# Sources (which surface the event came through).
DASHBOARDS, API, CLI, DAGSTER, SYSTEM = "dashboards", "api", "cli", "dagster", "system"


class AuditEvent(Base):
    """One audited event. Never updated or deleted (triggers refuse it); exported daily to an append-only file."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        {"info": {"warehouse": False}},
    )

    # BigInteger on PostgreSQL (seven years of page views); SQLite needs INTEGER for its rowid alias.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    # A JSON list of client ids, sorted; "which client's data was shown or changed".
    client_ids: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def row_digest(prev_hash: str, content: Mapping[str, object]) -> str:
    """The chain hash of one row: sha256 over the previous hash and the row's canonical JSON content."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def hashed_content(event: AuditEvent) -> dict[str, object]:
    """The columns the hash covers (everything but the two hashes), in a form that reads back identically."""
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_user_id": event.actor_user_id,
        "actor_role": event.actor_role,
        "source": event.source,
        "action": event.action,
        "outcome": event.outcome,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "client_ids": event.client_ids,
        "detail": event.detail,
    }


def record(
    session: Session,
    *,
    action: str,
    source: str,
    actor_user_id: int | None = None,
    actor_role: str | None = None,
    entity: str | None = None,
    entity_id: object | None = None,
    client_ids: Iterable[int] = (),
    outcome: str = "ok",
    detail: Mapping[str, object] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in `session`'s transaction (it commits with the caller's change).

    `action` is a dotted name ("auth.sign_in", "page.view", "api.write", "csv.download", "era.post" ...);
    `outcome` is "ok", "refused" or "failed".
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.id, AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    prev_id, prev_hash = (last.id, last.row_hash) if last else (0, GENESIS_HASH)
    event = AuditEvent(
        id=prev_id + 1,
        occurred_at=(now or _utcnow()).replace(tzinfo=None),
        actor_user_id=actor_user_id,
        actor_role=actor_role,
        source=source,
        action=action,
        outcome=outcome,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        client_ids=json.dumps(sorted({int(c) for c in client_ids})),
        detail=dict(detail) if detail else None,
        prev_hash=prev_hash,
    )
    event.row_hash = row_digest(prev_hash, hashed_content(event))
    session.add(event)
    session.flush()
    return event
