"""Keyset pagination shared by every list: rows in id order after an opaque cursor, plus `updated_since`."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from operational_api.services.errors import InvalidInput

MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        if kind != "id":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "request.cursor_invalid", "cursor is not one this API returned", field="cursor"
        ) from None


def page(
    session: Session,
    stmt: Select,
    id_column,
    *,
    limit: int,
    cursor: str | None,
    updated_column=None,
    updated_since: dt.datetime | None = None,
) -> Page:
    """One page of `stmt` (an ORM select) ordered by `id_column`; `next_cursor` is None on the last page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("request.limit_invalid", f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if cursor:
        stmt = stmt.where(id_column > decode_cursor(cursor))
    if updated_since is not None:
        if updated_column is None:
            raise InvalidInput(
                "request.updated_since_unsupported",
                "this list has no update time to filter on",
                field="updated_since",
            )
        if updated_since.tzinfo is not None:  # answers carry `Z`; a client may send another offset back
            updated_since = updated_since.astimezone(dt.UTC).replace(tzinfo=None)
        stmt = stmt.where(updated_column >= updated_since)
    rows = session.scalars(stmt.order_by(id_column).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(list(rows), encode_cursor(rows[-1].id) if more and rows else None)


def touch(obj: Any, now: dt.datetime) -> None:
    """Set `updated_at` to the injected clock even when it equals the stored value: otherwise the column's
    `onupdate` (wall-clock time) fills it in and `updated_since` filters see the wrong time."""
    obj.updated_at = now
    flag_modified(obj, "updated_at")
