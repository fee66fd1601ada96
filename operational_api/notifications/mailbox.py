"""Reading the outbox for people (the Sent mail page): rows without bodies, and one message's bodies.

A reminder's recipient is listed as `client #<id>`, not the client's address or phone number: the list needs
neither, and showing a message (which greets the client by first name) is what names the client.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, select

from operational_api.db import session_scope
from operational_api.notifications.models import OutboxMessage

_COLUMNS = {
    "id": pl.Int64,
    "kind": pl.String,
    "period": pl.String,
    "recipient": pl.String,
    "subject": pl.String,
    "status": pl.String,
    "attempts": pl.Int64,
    "created_at": pl.Datetime("us"),
    "sent_at": pl.Datetime("us"),
    "next_attempt_at": pl.Datetime("us"),
    "last_error": pl.String,
}


def outbox_rows(engine: Engine, limit: int = 2000) -> pl.DataFrame:
    """The newest `limit` outbox rows (times in UTC), without their bodies."""
    m = OutboxMessage
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                m.id,
                m.kind,
                m.period,
                m.recipient_email,
                m.recipient_client_id,
                m.subject,
                m.status,
                m.attempts,
                m.created_at,
                m.sent_at,
                m.next_attempt_at,
                m.last_error,
            )
            .order_by(m.id.desc())
            .limit(limit)
        ).all()
    listed = [(r[0], r[1], r[2], r[3] if r[4] is None else f"client #{r[4]}", *r[5:]) for r in rows]
    return pl.DataFrame(listed, schema=_COLUMNS, orient="row")


def message_body(engine: Engine, message_id: int) -> tuple[str, str, int | None] | None:
    """One message's HTML and plain text, as rendered, and the client it went to (a reminder), if any."""
    with session_scope(engine) as session:
        row = session.execute(
            select(OutboxMessage.body_html, OutboxMessage.body_text, OutboxMessage.recipient_client_id).where(
                OutboxMessage.id == message_id
            )
        ).first()
    return None if row is None else (row[0], row[1], row[2])
