"""Saved custom reports and report subscriptions. Neither is a fact to measure: both stay out of the warehouse."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from operational_api.models import Base, _one_of, _utcnow


class Cadence(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class SavedReport(Base):
    """A custom report by name: measures, scope (practice or clinicians), grain and the range it covers."""

    __tablename__ = "saved_reports"
    __table_args__ = (UniqueConstraint("owner_user_id", "name"), {"info": {"warehouse": False}})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    # {"metric_keys": [...], "scope": "practice" | "clinicians", "clinician_ids": [...], "grain": "week" | "month",
    #  "date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD"}
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow, onupdate=_utcnow)


class ReportSubscription(Base):
    """One recipient receives one report (a fixed report's name, or `custom:<saved report id>`) at a cadence."""

    __tablename__ = "report_subscriptions"
    __table_args__ = (
        UniqueConstraint("report_name", "recipient_user_id", "cadence"),
        _one_of("cadence", Cadence),
        {"info": {"warehouse": False}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_name: Mapped[str] = mapped_column(String(120))
    recipient_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cadence: Mapped[str] = mapped_column(String(10))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
