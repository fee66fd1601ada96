"""Store tables of the AdvancedMD integration beyond migration 0004 (migration 0010_advancedmd_source).

- ``advancedmd_rate_limits``: the rate limiter's shared state per office key (``ingest.advancedmd.ratelimit_sql``).
- ``advancedmd_charge_submissions``: one row per store charge sent (or refused) through savecharges, with the
  ids AdvancedMD returned, so a retried submission never creates a second charge.
Neither leaves the store (``operational_api.export.NOT_EXPORTED``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ingest.advancedmd.ratelimit_sql import advancedmd_rate_limits as _rate_limits
from operational_api.models import Base

AdvancedMDRateLimit = _rate_limits.to_metadata(Base.metadata)

SUBMISSION_STATUSES = ("SUBMITTED", "REFUSED")


class AdvancedMDChargeSubmission(Base):
    """A store charge's submission to AdvancedMD (savecharges): what came back, or why it was refused."""

    __tablename__ = "advancedmd_charge_submissions"
    __table_args__ = (
        UniqueConstraint("charge_id"),
        CheckConstraint("status in ('SUBMITTED', 'REFUSED')", name="status_allowed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"))
    office_key: Mapped[str] = mapped_column(String(32))
    advancedmd_visit_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    advancedmd_charge_ids: Mapped[str | None] = mapped_column(String(200))  # comma-separated, as returned
    refused_field: Mapped[str | None] = mapped_column(String(100))
    refused_reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
