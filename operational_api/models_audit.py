"""The audit log's bookkeeping next to `audit_events` (operational_api/audit.py): daily exports and purges.

Both are append-only like the events themselves (migration 0011's triggers): an export row is the proof of what
a day's file held, and a purge row is the anchor the chain is verified from once older rows are gone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from operational_api.models import Base


class AuditExport(Base):
    """One day's audit rows written to an append-only file: where, how many, and the hashes that prove it."""

    __tablename__ = "audit_exports"
    __table_args__ = ({"info": {"warehouse": False}},)

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # practice-local day
    location: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[int | None] = mapped_column(BigInteger)
    last_id: Mapped[int | None] = mapped_column(BigInteger)
    # The chain's hash at the day's last row (the previous day's when the day had none): ties the file to the chain.
    chain_hash: Mapped[str] = mapped_column(String(64))
    file_sha256: Mapped[str] = mapped_column(String(64))
    exported_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AuditPurge(Base):
    """Rows up to `through_id` were purged after 7 years; the chain is verified onwards from `through_hash`."""

    __tablename__ = "audit_purges"
    __table_args__ = ({"info": {"warehouse": False}},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    through_id: Mapped[int] = mapped_column(BigInteger)
    through_hash: Mapped[str] = mapped_column(String(64))
    cutoff: Mapped[dt.datetime] = mapped_column(DateTime)
    purged_at: Mapped[dt.datetime] = mapped_column(DateTime)
    row_count: Mapped[int] = mapped_column(Integer)
