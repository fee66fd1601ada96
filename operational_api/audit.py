"""The audit log: one append-only, hash-chained row per event (PRD HIPAA: every access to PHI, kept 7 years).

Every surface records through `record` inside the same transaction as the change it describes, so a write and its
audit row commit or roll back together (a refused request is recorded in its own transaction by the caller).

A row never carries PHI itself: the actor, what was done (`action`), to which entity and id, and the ids of the
clients whose data was shown or changed. `detail` is for non-PHI facts (a rule id, a page name, a row count).

Each row's `row_hash` covers its own content and the previous row's hash, so altering, deleting or reordering a row
breaks the chain from that row on. Appending is serialised (an advisory lock on PostgreSQL, the write lock on SQLite),
which keeps the chain linear under concurrent writers.

`record` only queues the event on the session; a `before_commit` hook on every Session chains and inserts the
queued events as the transaction's last statements (`append_pending`). So the chain lock, which every writer in
the practice waits on, is held from the moment the events are appended to the commit (milliseconds), not for the
whole request: a list route that records its read first and builds its answer afterwards no longer makes every
other request queue behind it. The events still commit in the business change's transaction or not at all (a
rollback, of the transaction or of the savepoint they were recorded in, drops them), and a session committed by
any caller gets its events appended, not only the services' (`session.commit()`, `session_scope`, `with
session.begin()` all go through the hook). A caller that must see its own event in the table before it commits
(the purge, which deletes rows after recording) calls `append_pending` itself; a session opened on a caller's
connection (whose commit it never sees) appends at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping

from sqlalchemy import JSON, BigInteger, Connection, DateTime, Index, Integer, String, Text, select, text
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from operational_api.models import Base

GENESIS_HASH = "0" * 64
# Any constant works; it names the one lock that orders appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 0x4D534155  # "MSAU"
# session.info key: the events recorded in this session's open transaction, not yet chained, each with the
# (possibly nested) transaction it was recorded in.
_PENDING = "audit_events_pending"

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


def _canonical(content: Mapping[str, object]) -> str:
    # ASCII only (json.dumps escapes the rest), so the database's UTF-8 bytes of it are these bytes.
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def row_digest(prev_hash: str, content: Mapping[str, object]) -> str:
    """The chain hash of one row: sha256 over the previous hash and the row's canonical JSON content."""
    return hashlib.sha256(f"{prev_hash}\n{_canonical(content)}".encode()).hexdigest()


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
    """Record one event in `session`'s transaction: it is chained and written when that transaction commits, with
    the caller's change (and dropped with it on rollback). The returned row gets its id and hashes then.

    `action` is a dotted name ("auth.sign_in", "page.view", "api.write", "csv.download", "era.post" ...);
    `outcome` is "ok", "refused" or "failed".
    """
    event = AuditEvent(
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
    )
    # The savepoint it was recorded in, if any (None: the transaction itself), so rolling that back drops it.
    session.info.setdefault(_PENDING, []).append((session.get_nested_transaction(), event))
    if isinstance(session.get_bind(), Connection):
        # A session opened on a caller's connection (ERA posting) never sees that transaction's commit, which the
        # caller makes on the connection: chain the event now, inside it, or it would be dropped with the session.
        append_pending(session)
    return event


def _chain_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    else:
        # SQLite has one writer, but the read below would otherwise run before this transaction holds the write
        # lock, so two writers could read the same last row (and one fail on the id). A write that changes
        # nothing takes the lock first (waiting on the busy timeout); the append-only triggers see no row.
        session.execute(text("update audit_events set id = id where 0 = 1"))


def append_pending(session: Session) -> None:
    """Chain and insert the events `session` has recorded and not yet written (in its transaction; the lock it
    takes is released at commit). Called by the commit hook; a caller may call it earlier to see them."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # The business change first: its statements may wait on row locks or constraints, and must not do so while
    # this transaction holds the chain lock every other writer needs.
    session.flush()
    events = [event for _, event in pending]
    if session.get_bind().dialect.name == "postgresql":
        _append_in_database(session, events)
    else:
        _append_in_process(session, events)


def _append_in_process(session: Session, events: list[AuditEvent]) -> None:
    """Lock, read the last row, hash and insert from here (SQLite; three round trips under the lock)."""
    _chain_lock(session)
    last = session.execute(
        select(AuditEvent.id, AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    prev_id, prev_hash = (last.id, last.row_hash) if last else (0, GENESIS_HASH)
    for event in events:
        event.id, event.prev_hash = prev_id + 1, prev_hash
        event.row_hash = row_digest(prev_hash, hashed_content(event))
        prev_id, prev_hash = event.id, event.row_hash
        session.add(event)
    session.flush()


# Stands in for the id in the canonical JSON sent to the database (ids are positive: this never occurs).
_ID_PLACEHOLDER = -7_316_051_985_573


def _append_in_database(session: Session, events: list[AuditEvent]) -> None:
    """PostgreSQL: lock, read the last row, hash and insert in one call of `audit_append` (migration 0016), so
    no client round trip happens while the chain lock is held. Each event's canonical JSON goes split around its
    id (known only under the lock); the database completes the same digest as `row_digest`."""
    payload = []
    for event in events:
        event.id = _ID_PLACEHOLDER
        content = hashed_content(event)
        # The last occurrence is the row's own id: only occurred_at, outcome and source (timestamps and constants)
        # follow it in key order, while `detail` before it could hold anything.
        head, _, tail = _canonical(content).rpartition(f'"id":{_ID_PLACEHOLDER},')
        columns = {name: value for name, value in content.items() if name != "id"}
        payload.append({"head": head + '"id":', "tail": "," + tail, **columns})
    rows = session.execute(
        text(
            "select event_id, event_prev_hash, event_row_hash from audit_append(:key, cast(:events as jsonb))"
        ),
        {"key": _CHAIN_LOCK_KEY, "events": json.dumps(payload)},
    ).all()
    for event, row in zip(events, rows, strict=True):
        event.id, event.prev_hash, event.row_hash = row.event_id, row.event_prev_hash, row.event_row_hash


@orm_events.listens_for(Session, "before_commit")
def _append_on_commit(session: Session) -> None:
    # Releasing a savepoint is not the commit: its events wait for the transaction's (or its own rollback).
    if session.get_nested_transaction() is None:
        append_pending(session)


@orm_events.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # The transaction ended without its commit appending them (rolled back, or the session closed): the change
    # they describe is gone too. (`session.info` outlives the transaction; the next one must not inherit them.)
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@orm_events.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending or not previous_transaction.nested:
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    session.info[_PENDING] = [(t, e) for t, e in pending if not inside(t)]
