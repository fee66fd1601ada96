"""Store tables of the AdvancedMD integration beyond migration 0004 (migration 0010_advancedmd_source).

- ``advancedmd_rate_limits``: the rate limiter's shared state per office key (``ingest.advancedmd.ratelimit_sql``).
- ``advancedmd_sessions``: the AdvancedMD session (token) every process shares per office key
  (``ingest.advancedmd.sessions_sql``, migration 0018); a secret, declared not for the warehouse.
- ``advancedmd_charge_submissions``: one row per store charge sent (or refused) through savecharges, with the
  ids AdvancedMD returned, so a retried submission never creates a second charge.
- ``advancedmd_provider_links``: one row per AdvancedMD provider profile (office key + profile code) and the
  clinician it is, by NPI (``users.npi``) or set by an administrator (``mentalspace amd link-provider``).
- ``advancedmd_demographic_sync``: per linked client, what the demographics push last agreed with AdvancedMD
  (one-way digests of the pushed fields, AdvancedMD's ``changedat``) and open conflicts for a person to resolve
  (``ingest.advancedmd.demographics``).
The first two and the demographic sync never leave the store (``operational_api.export.NOT_EXPORTED``); the provider links go to the
warehouse, where visits get their clinician and unmatched providers become data-quality alerts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ingest.advancedmd.ratelimit_sql import advancedmd_rate_limits as _rate_limits
from ingest.advancedmd.sessions_sql import advancedmd_sessions as _sessions
from operational_api.models import Base

AdvancedMDRateLimit = _rate_limits.to_metadata(Base.metadata)
AdvancedMDSession = _sessions.to_metadata(Base.metadata)

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


PROVIDER_LINK_SOURCES = ("NPI", "ADMIN")


class AdvancedMDProviderLink(Base):
    """An AdvancedMD provider profile and our clinician: LINKED (by NPI or by an administrator) or UNMATCHED."""

    __tablename__ = "advancedmd_provider_links"
    __table_args__ = (
        UniqueConstraint("office_key", "provider_code"),
        CheckConstraint("sync_status in ('LINKED', 'UNMATCHED')", name="sync_status_allowed"),
        CheckConstraint("link_source is null or link_source in ('NPI', 'ADMIN')", name="link_source_allowed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_key: Mapped[str] = mapped_column(String(32))
    provider_code: Mapped[str] = mapped_column(String(40))
    advancedmd_provider_id: Mapped[int | None] = mapped_column(Integer)
    npi: Mapped[str | None] = mapped_column(String(10))
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    link_source: Mapped[str | None] = mapped_column(String(10))
    sync_status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


DEMOGRAPHIC_SYNC_STATUSES = ("IN_SYNC", "CONFLICT")


class AdvancedMDDemographicSync(Base):
    """A linked client's demographics as last agreed with AdvancedMD, or the conflict a person must resolve.

    ``field_digests`` is JSON {field: one-way digest} of the values last pushed (or accepted at the first
    run): never the values. ``conflict_fields`` names fields, never their contents."""

    __tablename__ = "advancedmd_demographic_sync"
    __table_args__ = (
        UniqueConstraint("office_key", "client_id"),
        CheckConstraint("status in ('IN_SYNC', 'CONFLICT')", name="status_allowed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_key: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    advancedmd_patient_id: Mapped[int] = mapped_column(BigInteger)
    field_digests: Mapped[str] = mapped_column(Text)
    advancedmd_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    status: Mapped[str] = mapped_column(String(20))
    conflict_fields: Mapped[str | None] = mapped_column(String(300))
    conflict_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    pushes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
