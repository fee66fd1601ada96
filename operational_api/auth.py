"""Sign-in against the operational store's users: bcrypt hashes, lockout, and what each role may see.

PRD Module 1: role-based access, lockout after repeated failures, 15-minute idle sign-out. The
dashboards call `authenticate` and keep the returned `SignedInUser`; they never see a hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import bcrypt
from sqlalchemy import Engine, select

from operational_api.db import session_scope
from operational_api.models import HipaaTraining, User

MAX_FAILED_ATTEMPTS = 5
IDLE_TIMEOUT = dt.timedelta(minutes=15)
# bcrypt's cost: ~50 ms a check here; enough to slow guessing, cheap enough for a sign-in page.
BCRYPT_ROUNDS = 10
STAFF_ROLES = ("ADMIN", "CLINICIAN", "SUPERVISOR", "BILLING", "FRONT_DESK")


class SignInError(Exception):
    """Why a sign-in was refused, in words fit to show (never which part was wrong)."""


@dataclass(frozen=True)
class SignedInUser:
    """Who is signed in and the people whose figures they may see."""

    user_id: int
    role: str
    display_name: str
    visible_clinician_ids: frozenset[int] | None  # None = everyone (administrator)

    def can_see_clinician(self, clinician_id: int) -> bool:
        return self.visible_clinician_ids is None or clinician_id in self.visible_clinician_ids


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def set_password(engine: Engine, user_id: int, password: str) -> None:
    """Set a user's password and clear any lockout."""
    hashed = hash_password(password)
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        if user is None:
            raise LookupError(f"no user with id {user_id}")
        user.password_hash = hashed
        user.failed_login_count = 0
        user.locked_at = None


def authenticate(engine: Engine, email: str, password: str, now: dt.datetime | None = None) -> SignedInUser:
    """Check a sign-in; count failures and lock the account at the fifth in a row."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    refused = SignInError("email or password not recognised")
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or user.role not in STAFF_ROLES or not user.is_active:
            raise refused
        if user.locked_at is not None:
            raise SignInError("this account is locked after too many failed sign-ins: ask an administrator")
        if not user.password_hash or not bcrypt.checkpw(password.encode(), user.password_hash.encode()):
            user.failed_login_count = (user.failed_login_count or 0) + 1
            if user.failed_login_count >= MAX_FAILED_ATTEMPTS:
                user.locked_at = now
            session.commit()
            raise refused
        if _hipaa_training_expired(session, user.id, now.date()):
            raise SignInError("access is suspended until your annual HIPAA training is completed")
        user.failed_login_count = 0
        user.last_login_at = now
        return SignedInUser(
            user_id=user.id,
            role=user.role,
            display_name=f"{user.first_name} {user.last_name}",
            visible_clinician_ids=_visible_clinicians(session, user),
        )


def _hipaa_training_expired(session, user_id: int, today: dt.date) -> bool:
    # Georgia rule: system access suspended when the annual training lapses. Users with no record
    # at all (e.g. a brand-new administrator) are not locked out by this rule; the alert covers them.
    latest = session.scalar(select(HipaaTraining.expires_date).where(HipaaTraining.user_id == user_id)
                            .order_by(HipaaTraining.expires_date.desc()).limit(1))
    return latest is not None and latest < today


def _visible_clinicians(session, user: User) -> frozenset[int] | None:
    if user.role in ("ADMIN", "BILLING", "FRONT_DESK"):
        return None
    if user.role == "SUPERVISOR":
        supervisees = session.scalars(select(User.id).where(User.supervisor_id == user.id)).all()
        return frozenset({user.id, *supervisees})
    return frozenset({user.id})
