"""Message kinds, which of them are critical (no switch), and each user's preferences."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational_api.notifications.models import NotificationPreference

DAILY_DIGEST = "daily_digest"
MONDAY_REPORT = "monday_report"
SUPERVISION_REPORT = "supervision_report"
CRITICAL_ALERT = "critical_alert"

KINDS = (DAILY_DIGEST, MONDAY_REPORT, SUPERVISION_REPORT, CRITICAL_ALERT)
# Staff choose which messages they get; critical alerts cannot be switched off (PRD). Display names for the page.
KIND_LABELS = {
    DAILY_DIGEST: "Daily digest (07:00 on working days)",
    MONDAY_REPORT: "Monday report (the week just ended)",
    SUPERVISION_REPORT: "Supervision-hours report (the 1st of the month)",
    CRITICAL_ALERT: "Critical compliance alerts",
}

# Appointment reminders go to clients, not staff (recipient = the client, period = the appointment id): the
# client's contact consent decides, not a staff preference. SMS rows travel through the SMS provider, never SMTP.
REMINDER_EMAIL = "reminder_email"
REMINDER_SMS = "reminder_sms"
REMINDER_KINDS = (REMINDER_EMAIL, REMINDER_SMS)
SMS_KINDS = frozenset({REMINDER_SMS})
# Critical alerts cannot be switched off (PRD): a preference row for them is ignored.
CRITICAL_KINDS = frozenset({CRITICAL_ALERT})
OPTIONAL_KINDS = tuple(k for k in KINDS if k not in CRITICAL_KINDS)

# The store's alert types that are mailed the moment they reach the store (issue 15): a note approaching the
# 7-day deadline (from day 5; its supervisor is added on day 7 and is told then), a missing safety plan for a
# high-risk client, an unsigned supervision note, HIPAA training running out.
CRITICAL_ALERT_TYPES = (
    "UNSIGNED_NOTE_REMINDER",
    "SAFETY_PLAN_MISSING",
    "SUPERVISION_NOTE_UNSIGNED",
    "HIPAA_TRAINING_EXPIRING",
)


class PreferenceError(ValueError):
    """A preference that cannot be set (an unknown kind, or switching a critical kind off)."""


def opted_out(session: Session, kind: str) -> set[int]:
    """Users who switched this kind off; always empty for a critical kind."""
    if kind in CRITICAL_KINDS:
        return set()
    return set(
        session.scalars(
            select(NotificationPreference.user_id).where(
                NotificationPreference.kind == kind, NotificationPreference.enabled.is_(False)
            )
        )
    )


def set_preference(session: Session, user_id: int, kind: str, enabled: bool) -> None:
    """Switch a non-critical kind on or off for one user."""
    if kind not in KINDS:
        raise PreferenceError(f"unknown message kind '{kind}': choose one of {', '.join(OPTIONAL_KINDS)}")
    if kind in CRITICAL_KINDS and not enabled:
        raise PreferenceError(f"'{kind}' messages are critical and cannot be switched off")
    row = session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == kind
        )
    )
    if row is None:
        session.add(NotificationPreference(user_id=user_id, kind=kind, enabled=enabled))
    else:
        row.enabled = enabled


def preferences(session: Session, user_id: int) -> dict[str, bool]:
    """Every staff kind and whether this user gets it (critical kinds: always)."""
    off = set(
        session.scalars(
            select(NotificationPreference.kind).where(
                NotificationPreference.user_id == user_id, NotificationPreference.enabled.is_(False)
            )
        )
    )
    return {kind: kind in CRITICAL_KINDS or kind not in off for kind in KINDS}


def save_preferences(session: Session, user_id: int, choices: dict[str, bool]) -> None:
    """Set several kinds at once; nothing is written if any choice is refused (a critical kind switched off)."""
    refused = [k for k, on in choices.items() if k not in KINDS or (k in CRITICAL_KINDS and not on)]
    if refused:
        raise PreferenceError(
            "; ".join(
                f"'{k}' messages are critical and cannot be switched off"
                if k in CRITICAL_KINDS
                else f"unknown message kind '{k}'"
                for k in refused
            )
        )
    for kind, enabled in choices.items():
        if kind not in CRITICAL_KINDS:
            set_preference(session, user_id, kind, enabled)
