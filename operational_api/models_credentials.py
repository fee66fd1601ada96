"""Credential records besides the users table: MFA recovery codes and HIPAA training exceptions.

Neither leaves the store (`info warehouse=False`): recovery codes are secrets even hashed, and an exception
is an administrator's decision about one person, not a measure.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from operational_api.models import Base


class MfaRecoveryCode(Base):
    """One of a user's 10 one-time recovery codes, stored as a SHA-256 digest (see mfa.py for why not argon2)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = ({"info": {"warehouse": False}},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class HipaaTrainingException(Base):
    """An administrator's time-boxed permission to sign in while HIPAA training is missing or expired."""

    __tablename__ = "hipaa_training_exceptions"
    __table_args__ = (
        CheckConstraint("expires_at > granted_at", name="expires_after_granted"),
        {"info": {"warehouse": False}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Null when granted from the command line by the operator (who has the store itself, not a user).
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
