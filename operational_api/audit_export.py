"""The audit log's daily export: one append-only JSON-lines file per practice-local day, written once.

A day's file holds every audit row recorded that day (all columns, hashes included), so it can be verified
against the chain on its own. It is created next to a temporary file and linked into place (never replacing an
existing file), made read-only, and its SHA-256 plus the chain's hash at the day's last row are recorded in
`audit_exports`. Running the export of a day again verifies the file and the rows against that record instead of
writing anything: a changed file or a changed row is an error naming the day.

The demo writes under var/audit/; production points `MENTALSPACE_AUDIT_EXPORT_DIR` at a mounted object store
bucket with a retention lock (README, "Audit log").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from operational_api import audit
from operational_api.audit import GENESIS_HASH, AuditEvent, hashed_content
from operational_api.db import session_scope
from operational_api.errors import PlatformError
from operational_api.models_audit import AuditExport
from operational_api.settings import var_dir


def export_dir() -> Path:
    """Where day files go: `MENTALSPACE_AUDIT_EXPORT_DIR`, else var/audit/."""
    return Path(os.environ.get("MENTALSPACE_AUDIT_EXPORT_DIR") or var_dir() / "audit")


@dataclass(frozen=True)
class DayExport:
    day: dt.date
    path: Path
    rows: int
    file_sha256: str
    chain_hash: str
    written: bool  # False: the file existed and was verified


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The practice-local day as naive UTC [start, end), the form occurred_at is stored in."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return tuple(t.astimezone(dt.UTC).replace(tzinfo=None) for t in (start, end))


def _line(event: AuditEvent) -> str:
    return json.dumps(
        hashed_content(event) | {"prev_hash": event.prev_hash, "row_hash": event.row_hash},
        sort_keys=True,
        separators=(",", ":"),
    )


def _render(session, day: dt.date, timezone: str) -> tuple[bytes, list[AuditEvent], str]:
    start, end = day_bounds(day, timezone)
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
        .order_by(AuditEvent.id)
    ).all()
    if rows:
        chain_hash = rows[-1].row_hash
    else:
        chain_hash = (
            session.scalar(
                select(AuditEvent.row_hash)
                .where(AuditEvent.occurred_at < start)
                .order_by(AuditEvent.id.desc())
                .limit(1)
            )
            or GENESIS_HASH
        )
    body = "".join(_line(r) + "\n" for r in rows).encode()
    return body, list(rows), chain_hash


def _relative(day: dt.date) -> Path:
    return Path(f"{day:%Y}") / f"{day:%m}" / f"audit-{day.isoformat()}.jsonl"


def export_day(
    engine: Engine,
    day: dt.date,
    *,
    timezone: str,
    directory: Path | None = None,
    now: dt.datetime | None = None,
    source: str = audit.DAGSTER,
) -> DayExport:
    """Write `day`'s file once (or verify the one written before); refuse a day that has not ended yet."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    directory = directory or export_dir()
    _, end = day_bounds(day, timezone)
    if end > now:
        raise PlatformError(f"audit export of {day}: the day has not ended yet in {timezone}")
    path = directory / _relative(day)
    with session_scope(engine) as session:
        body, rows, chain_hash = _render(session, day, timezone)
        digest = hashlib.sha256(body).hexdigest()
        done = session.get(AuditExport, day)
        if done is not None:
            _check_existing(day, path, done.file_sha256, digest)
            return DayExport(day, path, done.row_count, done.file_sha256, done.chain_hash, written=False)
        if path.exists():
            # A run that wrote the file but died before committing its record: keep the file if it is the same.
            _check_existing(day, path, digest, digest)
            written = False
        else:
            _write_once(path, body)
            written = True
        session.add(
            AuditExport(
                day=day,
                location=str(path),
                row_count=len(rows),
                first_id=rows[0].id if rows else None,
                last_id=rows[-1].id if rows else None,
                chain_hash=chain_hash,
                file_sha256=digest,
                exported_at=now,
            )
        )
        session.flush()
        audit.record(
            session,
            action="audit.export",
            source=source,
            entity="audit_day",
            entity_id=day.isoformat(),
            detail={"rows": len(rows), "sha256": digest},
            now=now,
        )
    return DayExport(day, path, len(rows), digest, chain_hash, written)


def _check_existing(day: dt.date, path: Path, recorded: str, rendered: str) -> None:
    if not path.exists():
        raise PlatformError(f"audit export of {day}: the file {path} recorded for it is missing")
    on_disk = hashlib.sha256(path.read_bytes()).hexdigest()
    if on_disk != recorded:
        raise PlatformError(
            f"audit export of {day}: {path} was changed since it was written (SHA-256 differs)"
        )
    if rendered != recorded:
        raise PlatformError(
            f"audit export of {day}: the store's rows of that day no longer match its file {path} "
            f"(run `mentalspace audit verify`)"
        )


def _write_once(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, 0o444)
    try:
        # A hard link never replaces an existing name (unlike rename): a concurrent run loses, not the file.
        os.link(temporary, path)
    except FileExistsError:
        raise PlatformError(f"audit export: {path} appeared meanwhile; it is never overwritten") from None
    finally:
        temporary.unlink()
