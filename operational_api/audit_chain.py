"""Checking and pruning the audit log's hash chain (operational_api/audit.py writes it).

`verify` walks the chain in id order and names the first row that breaks it: a row whose content no longer matches
its hash (altered), an id gap (deleted), a row holding another position's event (reordered / inserted out of order),
or a row whose previous hash is not its predecessor's. It also checks the daily exports' recorded chain hashes
against the rows, which catches the one thing a chain cannot show by itself: its newest rows deleted.

`purge` removes rows past the 7-year retention (PRD HIPAA), never younger ones (the store's triggers refuse them
too), and only rows already exported, leaving an anchor (`audit_purges`) the chain is verified from afterwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from operational_api import audit
from operational_api.audit import GENESIS_HASH, AuditEvent, hashed_content, row_digest
from operational_api.db import session_scope
from operational_api.errors import PlatformError
from operational_api.models_audit import AuditExport, AuditPurge

RETENTION_YEARS = 7
_BATCH = 5_000


class AuditChainBroken(PlatformError):
    """The chain does not verify; `row_id` is the first row that breaks it."""

    def __init__(self, row_id: int, reason: str) -> None:
        self.row_id = row_id
        super().__init__(f"audit chain broken at row {row_id}: {reason}")


@dataclass(frozen=True)
class ChainReport:
    rows: int
    first_id: int | None
    last_id: int | None
    last_hash: str
    exports_checked: int


def _anchor(session) -> tuple[int, str]:
    """Where the chain starts: the last purge's anchor, or the genesis before any purge."""
    last = session.execute(
        select(AuditPurge.through_id, AuditPurge.through_hash).order_by(AuditPurge.through_id.desc()).limit(1)
    ).first()
    return (int(last.through_id), last.through_hash) if last else (0, GENESIS_HASH)


def _moved_from(session, row: AuditEvent) -> int | None:
    """The position this row's event was recorded at, when it sits at another one (rows swapped or moved)."""
    before = session.scalar(select(AuditEvent.id).where(AuditEvent.row_hash == row.prev_hash).limit(1))
    candidates = [before + 1] if before is not None else []
    if row.prev_hash == GENESIS_HASH:
        candidates.append(1)
    for original in candidates:
        content = hashed_content(row) | {"id": original}
        if original != row.id and row_digest(row.prev_hash, content) == row.row_hash:
            return original
    return None


def verify(engine: Engine) -> ChainReport:
    """Walk the whole chain; raise AuditChainBroken naming the first bad row, else say what was checked."""
    with session_scope(engine) as session:
        prev_id, prev_hash = _anchor(session)
        start_id, first_id, rows = prev_id, None, 0
        hash_at: dict[int, str] = {}
        exports = session.execute(
            select(AuditExport.day, AuditExport.last_id, AuditExport.chain_hash).where(
                AuditExport.last_id.is_not(None), AuditExport.last_id > start_id
            )
        ).all()
        wanted = {int(e.last_id) for e in exports}
        # Plain rows, not ORM objects: a quarter of the time per row (hashed_content reads attributes either way).
        table = AuditEvent.__table__
        stream = session.execute(
            select(table)
            .where(table.c.id > start_id)
            .order_by(table.c.id)
            .execution_options(yield_per=_BATCH)
        )
        for row in stream:
            if row.id != prev_id + 1:
                missing = prev_id + 1
                span = f"rows {missing}..{row.id - 1} are" if row.id - 1 > missing else f"row {missing} is"
                raise AuditChainBroken(
                    missing, f"{span} missing (deleted): ids jump from {prev_id} to {row.id}"
                )
            if row_digest(row.prev_hash, hashed_content(row)) != row.row_hash:
                original = _moved_from(session, row)
                if original is not None:
                    raise AuditChainBroken(
                        row.id,
                        f"it holds the event recorded as row {original} (rows reordered or inserted out of order)",
                    )
                raise AuditChainBroken(
                    row.id, "its content was altered after it was recorded (hash mismatch)"
                )
            if row.prev_hash != prev_hash:
                raise AuditChainBroken(
                    row.id,
                    f"its previous-row hash is not row {prev_id}'s (row {row.id} was inserted out of order, "
                    f"or row {prev_id} was rewritten with a new hash)",
                )
            if row.id in wanted:
                hash_at[row.id] = row.row_hash
            first_id = first_id if first_id is not None else row.id
            prev_id, prev_hash, rows = row.id, row.row_hash, rows + 1
        for export in sorted(exports, key=lambda e: e.last_id):
            last_id = int(export.last_id)
            if last_id not in hash_at:
                raise AuditChainBroken(
                    last_id, f"it is missing (deleted), but the export of {export.day} ended with it"
                )
            if hash_at[last_id] != export.chain_hash:
                raise AuditChainBroken(
                    last_id, f"its hash differs from the one recorded when {export.day} was exported"
                )
    return ChainReport(rows, first_id, prev_id if rows else None, prev_hash, len(exports))


def retention_cutoff(now: dt.datetime) -> dt.datetime:
    """The newest moment a purge may reach: 7 years before `now` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - RETENTION_YEARS)
    except ValueError:
        return now.replace(year=now.year - RETENTION_YEARS, day=28)


@dataclass(frozen=True)
class PurgeResult:
    rows: int
    through_id: int | None


def purge(
    engine: Engine, before: dt.datetime, *, now: dt.datetime | None = None, actor: str = "cli"
) -> PurgeResult:
    """Delete audit rows older than `before` (naive UTC), a prefix of the chain, in one transaction.

    Refused when `before` is within the retention period, and limited to rows already exported (their day files
    are the record that outlives them). On PostgreSQL this needs the owner role: the application role has no
    DELETE grant on audit_events.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    latest = retention_cutoff(now)
    if before > latest:
        raise PlatformError(
            f"refusing to purge audit rows from before {before:%Y-%m-%d}: they are kept {RETENTION_YEARS} years, "
            f"so the latest cutoff today is {latest:%Y-%m-%d}"
        )
    with session_scope(engine) as session:
        start_id, _ = _anchor(session)
        first_kept = session.scalar(
            select(func.min(AuditEvent.id)).where(AuditEvent.id > start_id, AuditEvent.occurred_at >= before)
        )
        last_old = session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.id > start_id))
        through = (first_kept - 1) if first_kept is not None else last_old
        exported = session.scalar(select(func.max(AuditExport.last_id))) or 0
        through = min(through or 0, int(exported))
        if through <= start_id:
            return PurgeResult(0, None)
        through_hash = session.scalar(select(AuditEvent.row_hash).where(AuditEvent.id == through))
        # Recorded before the delete, so the chain never empties: the next id continues after the purged ones.
        audit.record(
            session,
            action="audit.purge",
            source=audit.CLI,
            entity="audit_events",
            entity_id=through,
            detail={"through_id": through, "cutoff": before.isoformat(), "by": actor},
            now=now,
        )
        audit.append_pending(session)
        deleted = session.execute(
            AuditEvent.__table__.delete().where(AuditEvent.id > start_id, AuditEvent.id <= through)
        ).rowcount
        session.add(
            AuditPurge(
                through_id=through,
                through_hash=through_hash,
                cutoff=before,
                purged_at=now,
                row_count=deleted,
            )
        )
    return PurgeResult(deleted, through)


# ---- reading the log (the administrators' Audit log page) -------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What an administrator narrows the log to; every field optional. Times are naive UTC, [since, until)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor_user_id: int | None = None
    actions: tuple[str, ...] = ()
    client_id: int | None = None
    outcome: str | None = None


def search(engine: Engine, chosen: AuditFilter, *, limit: int = 5_000) -> list[AuditEvent]:
    """The newest events matching `chosen`, newest first, at most `limit`."""
    from sqlalchemy import or_

    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if chosen.since is not None:
        query = query.where(AuditEvent.occurred_at >= chosen.since)
    if chosen.until is not None:
        query = query.where(AuditEvent.occurred_at < chosen.until)
    if chosen.actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == chosen.actor_user_id)
    if chosen.actions:
        query = query.where(AuditEvent.action.in_(chosen.actions))
    if chosen.outcome:
        query = query.where(AuditEvent.outcome == chosen.outcome)
    if chosen.client_id is not None:
        # client_ids is the JSON text of a sorted list ("[3, 17]"): the id alone, first, last or in between.
        n = int(chosen.client_id)
        query = query.where(
            or_(
                AuditEvent.client_ids == f"[{n}]",
                AuditEvent.client_ids.like(f"[{n}, %"),
                AuditEvent.client_ids.like(f"%, {n}]"),
                AuditEvent.client_ids.like(f"%, {n}, %"),
            )
        )
    with session_scope(engine) as session:
        return list(session.scalars(query).all())


def known_actions(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return sorted(session.scalars(select(AuditEvent.action).distinct()).all())
