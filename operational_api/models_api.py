"""Tables of the HTTP API (issue 13): bearer-token sessions, the token signing key, idempotency keys, and the
scheduling waitlist.

Credentials and replay state never reach the warehouse (`info warehouse=False`); the waitlist does (it is an
operational fact: who waited for which clinician, when they were offered a slot).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from operational_api.models import Base


class ApiSigningKey(Base):
    """The key that signs this store's bearer tokens when `MENTALSPACE_API_SIGNING_KEY` is not set: generated on
    first use, so tokens of one store are never accepted by another."""

    __tablename__ = "api_signing_keys"
    __table_args__ = ({"info": {"warehouse": False}},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApiSession(Base):
    """One sign-in through the API: its refresh token (only the current one is accepted; each refresh rotates it)
    and whether it was revoked (sign-out, or a rotated refresh token presented again)."""

    __tablename__ = "api_sessions"
    __table_args__ = (Index("ix_api_sessions_user_id", "user_id"), {"info": {"warehouse": False}})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    refresh_jti: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class IdempotencyRecord(Base):
    """The response to a POST sent with an `Idempotency-Key`, kept per user and key so a retry gets it back."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"), {"info": {"warehouse": False}})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class WaitlistEntry(Base):
    """A client waiting for a slot with a clinician inside a window; offered the first slot that frees up in it."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("status in ('WAITING','OFFERED','BOOKED','CANCELLED')", name="status_allowed"),
        Index("ix_waitlist_entries_clinician_status", "clinician_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    appointment_type: Mapped[str] = mapped_column(String(30))
    is_telehealth: Mapped[bool] = mapped_column(default=False)
    window_start_at: Mapped[dt.datetime] = mapped_column(DateTime)
    window_end_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="WAITING")
    offered_start_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    offered_end_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    offered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    booked_appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, server_default="1", default=1)

    __mapper_args__ = {"version_id_col": version}
