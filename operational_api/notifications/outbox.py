"""The outbox: messages are written here first, then delivered; nothing is sent that is not a row here.

- `enqueue` adds rows that are not there yet (unique (kind, recipient, period)): a second run of the same day,
  a backfill or a concurrent runner finds the row and adds nothing.
- `deliver` sends what is due. A sender claims each row for a while before talking to the server, so two
  runners never send the same row; a sent row is marked at once. A temporary failure (server down, 4xx) keeps
  the row queued and tries again after 1, 2, 4 ... 60 minutes, without end: nothing is lost while the server is
  down. A 5xx is permanent and recorded: `bounced` when the server refused the recipient, `failed_permanent`
  when it refused the message or the sender.

The one case that can still send twice is a crash between the server's "250 OK" and our commit; each message
carries a Message-ID made from its outbox key, so the receiving side can recognise the copy.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from operational_api.db import session_scope
from operational_api.notifications.kinds import SMS_KINDS
from operational_api.notifications.models import OutboxMessage, OutboxStatus
from operational_api.notifications.smtp import SmtpSettings

log = logging.getLogger(__name__)

BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(minutes=60)
CLAIM_FOR = dt.timedelta(minutes=5)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Draft:
    """A rendered message waiting to become an outbox row."""

    kind: str
    recipient_user_id: int | None
    recipient_email: str  # an e-mail address, or a phone number for an SMS
    period: str
    subject: str
    body_text: str
    body_html: str
    mime: str
    recipient_client_id: int | None = None  # set (and recipient_user_id None) for a message to a client


@dataclass(frozen=True)
class DeliverySummary:
    sent: int = 0
    retrying: int = 0
    failed_permanent: int = 0
    bounced: int = 0
    server_unreachable: bool = False


def existing_keys(engine: Engine, kind: str, periods: Iterable[str]) -> set[tuple[int, str]]:
    """(recipient, period) pairs of this kind already in the outbox, whatever their status."""
    periods = sorted(set(periods))
    found: set[tuple[int, str]] = set()
    with session_scope(engine) as session:
        for start in range(0, len(periods), 500):
            chunk = periods[start : start + 500]
            rows = session.execute(
                select(OutboxMessage.recipient_user_id, OutboxMessage.period).where(
                    OutboxMessage.kind == kind, OutboxMessage.period.in_(chunk)
                )
            )
            found.update((r, p) for r, p in rows)
    return found


def enqueue(engine: Engine, drafts: Iterable[Draft], now: dt.datetime | None = None) -> int:
    """Add the drafts whose (kind, recipient, period) is not in the outbox yet; returns how many were added."""
    now = now or utcnow()
    drafts = list(drafts)
    if not drafts:
        return 0

    def row(d: Draft) -> OutboxMessage:
        return OutboxMessage(
            **d.__dict__, status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now, created_at=now
        )

    try:
        with session_scope(engine) as session:
            session.add_all(row(d) for d in drafts)
        return len(drafts)
    except IntegrityError:
        pass  # another runner added some of them meanwhile: add the rest one by one
    added = 0
    for d in drafts:
        try:
            with session_scope(engine) as session:
                session.add(row(d))
            added += 1
        except IntegrityError:
            continue
    return added


def _backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _error_text(exc: BaseException) -> str:
    """What went wrong, without the message: the SMTP code and the server's reply, or the exception class."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"[:300]
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"{exc.smtp_code} {reply}"[:300]
    return f"{type(exc).__name__}: server not reachable"[:300]


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return OutboxStatus.BOUNCED if codes and all(c >= 500 for c in codes) else OutboxStatus.QUEUED
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
        return OutboxStatus.FAILED_PERMANENT
    return OutboxStatus.QUEUED


def deliver(
    engine: Engine,
    settings: SmtpSettings,
    now: dt.datetime | None = None,
    limit: int | None = None,
    kinds: Iterable[str] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> DeliverySummary:
    """Send the queued e-mail that is due (oldest first), on one connection; see the module docstring.

    `now` decides what is due; `clock` stamps each send (defaults to `now`, for tests with an injected clock).
    """
    now = now or utcnow()
    clock = clock or (lambda: now)
    with session_scope(engine) as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.QUEUED,
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.id)
        )
        # SMS rows go through the SMS provider (notifications.sms), never through the mail server.
        query = query.where(OutboxMessage.kind.not_in(list(SMS_KINDS)))
        if kinds is not None:
            query = query.where(OutboxMessage.kind.in_(list(kinds)))
        if limit:
            query = query.limit(limit)
        due = list(session.scalars(query))
    counts = dict(sent=0, retrying=0, failed_permanent=0, bounced=0)
    if not due:
        return DeliverySummary()
    conn: smtplib.SMTP | None = None
    try:
        for message_id in due:
            message = claim(engine, message_id, now)
            if message is None:
                continue  # another runner has it
            try:
                if conn is None:
                    conn = settings.connect()
                conn.sendmail(settings.sender, [message.recipient_email], message.mime.encode("ascii"))
            except (smtplib.SMTPException, OSError) as exc:
                status = _outcome(exc)
                attempts = message.attempts + 1
                _record(engine, message_id, status, attempts, now + _backoff(attempts), _error_text(exc))
                if status == OutboxStatus.QUEUED:
                    counts["retrying"] += 1
                    if not isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                        # The server is gone: the rest stay queued, untouched, for the next run.
                        log.warning(
                            "mail server %s not reachable; %d message(s) wait", settings.display, len(due)
                        )
                        _close(conn)
                        return DeliverySummary(**counts, server_unreachable=True)
                else:
                    counts[status] += 1
                    log.warning("outbox message %d refused permanently: %s", message_id, _error_text(exc))
                    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421:
                        _close(conn)
                        conn = None
                continue
            _record(engine, message_id, OutboxStatus.SENT, message.attempts + 1, None, None, sent_at=clock())
            counts["sent"] += 1
    finally:
        _close(conn)
    return DeliverySummary(**counts)


def due_ids(engine: Engine, kinds: Iterable[str], now: dt.datetime, limit: int | None = None) -> list[int]:
    """Queued rows of these kinds whose next attempt is due and that no runner holds, oldest first."""
    with session_scope(engine) as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.kind.in_(list(kinds)),
                OutboxMessage.status == OutboxStatus.QUEUED,
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.id)
        )
        if limit:
            query = query.limit(limit)
        return list(session.scalars(query))


def claim(engine: Engine, message_id: int, now: dt.datetime) -> OutboxMessage | None:
    """Hold a queued row for CLAIM_FOR and return it (detached); None when another runner has it or it went."""
    with session_scope(engine) as session:
        claimed = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.QUEUED,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(claimed_until=now + CLAIM_FOR)
        ).rowcount
        return session.get(OutboxMessage, message_id) if claimed else None


def backoff(attempts: int) -> dt.timedelta:
    """How long a row waits after its `attempts`-th temporary failure."""
    return _backoff(attempts)


def record(
    engine: Engine,
    message_id: int,
    status: str,
    attempts: int,
    next_attempt_at: dt.datetime | None,
    error: str | None,
    sent_at: dt.datetime | None = None,
) -> None:
    """Write one attempt's outcome and release the claim."""
    _record(engine, message_id, status, attempts, next_attempt_at, error, sent_at)


def _record(
    engine: Engine,
    message_id: int,
    status: str,
    attempts: int,
    next_attempt_at: dt.datetime | None,
    error: str | None,
    sent_at: dt.datetime | None = None,
) -> None:
    values: dict = dict(status=status, attempts=attempts, claimed_until=None, last_error=error)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if sent_at is not None:
        values["sent_at"] = sent_at
    with session_scope(engine) as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


__all__ = [
    "DeliverySummary",
    "Draft",
    "backoff",
    "claim",
    "deliver",
    "due_ids",
    "enqueue",
    "existing_keys",
    "record",
]
