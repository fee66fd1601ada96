"""The notification outbox and per-user preferences (issue 15).

One outbox row per message, keyed by (kind, recipient, period): a re-run, a backfill or a retry finds the row
already there and never renders or sends a second copy. The recipient is a staff user or, for appointment
reminders, a client (exactly one of the two); `recipient_email` then holds the client's e-mail address or, for
an SMS, their phone number. `last_error` holds the SMTP code and the server's
words or the exception class, never the message itself, so it carries no PHI.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from operational_api.models import Base, _one_of, _utcnow


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its first attempt or for the next one after a temporary failure
    SENT = "sent"
    FAILED_PERMANENT = "failed_permanent"  # the server refused the message itself (5xx): retrying cannot help
    BOUNCED = "bounced"  # the server refused the recipient address (5xx at RCPT)
    # A reminder whose appointment was cancelled, rescheduled or had begun before the reminder could go.
    WITHDRAWN = "withdrawn"


class OutboxMessage(Base):
    """One rendered message to one user (or client) for one period; `period` is a day, week, month, alert key
    or, for a reminder, the appointment id."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("kind", "recipient_user_id", "period"),
        UniqueConstraint("kind", "recipient_client_id", "period"),
        CheckConstraint("(recipient_user_id is null) <> (recipient_client_id is null)", name="one_recipient"),
        _one_of("status", OutboxStatus),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    period: Mapped[str] = mapped_column(String(200))
    recipient_email: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # The whole MIME message (HTML, text alternative, inline chart) as sent, so a retry sends the same bytes.
    mime: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # A sender holds a row while it talks to the server, so two runners (sensor and schedule) never both send it.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class NotificationPreference(Base):
    """A user's choice for one non-critical kind; no row means the kind's default (on)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow, onupdate=_utcnow)
