"""Sign-in against the operational store's users: bcrypt hashes, lockout, and what each role may see.

PRD Module 1: role-based access, lockout after repeated failures, 15-minute idle sign-out. The
dashboards call `authenticate` and keep the returned `SignedInUser`; they never see a hash.

A refused sign-in never says why (unknown address, wrong password and locked account read the same),
so the page cannot be used to find out which addresses exist. A lockout lasts 30 minutes (or until an
administrator unlocks), so guessing at predictable addresses locks nobody out for good, and a source
that keeps failing is slowed down (`SignInThrottle`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import bcrypt
from sqlalchemy import Engine, select

from operational_api.db import session_scope
from operational_api.models import HipaaTraining, User

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=30)
IDLE_TIMEOUT = dt.timedelta(minutes=15)
# The one answer to every refused sign-in: it must not tell an unknown address from a locked account.
REFUSED = "Email or password not recognised. After 5 failed attempts an account is locked for 30 minutes."
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


def unlock(engine: Engine, email: str) -> bool:
    """An administrator's unlock: clear the lockout and the failure count. False when it was not locked."""
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise LookupError(f"no user with the e-mail address {email.strip().lower()!r}")
        was_locked = user.locked_at is not None
        user.locked_at = None
        user.failed_login_count = 0
        return was_locked


# Checked when the address is unknown, so an unknown address costs the same bcrypt time as a known one.
_DUMMY_HASH = bcrypt.hashpw(b"not a password anyone has", bcrypt.gensalt(rounds=BCRYPT_ROUNDS))


def authenticate(engine: Engine, email: str, password: str, now: dt.datetime | None = None) -> SignedInUser:
    """Check a sign-in; count failures, lock the account for 30 minutes at the fifth in a row."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    refused = SignInError(REFUSED)
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or user.role not in STAFF_ROLES or not user.is_active or not user.password_hash:
            bcrypt.checkpw(password.encode(), _DUMMY_HASH)
            raise refused
        if user.locked_at is not None and now - user.locked_at < LOCKOUT:
            bcrypt.checkpw(password.encode(), _DUMMY_HASH)
            raise refused
        if user.locked_at is not None:  # the lockout has run out: a fresh start
            user.locked_at = None
            user.failed_login_count = 0
        if not bcrypt.checkpw(password.encode(), user.password_hash.encode()):
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
    latest = session.scalar(
        select(HipaaTraining.expires_date)
        .where(HipaaTraining.user_id == user_id)
        .order_by(HipaaTraining.expires_date.desc())
        .limit(1)
    )
    return latest is not None and latest < today


def _visible_clinicians(session, user: User) -> frozenset[int] | None:
    if user.role in ("ADMIN", "BILLING", "FRONT_DESK"):
        return None
    if user.role == "SUPERVISOR":
        supervisees = session.scalars(select(User.id).where(User.supervisor_id == user.id)).all()
        return frozenset({user.id, *supervisees})
    return frozenset({user.id})


@dataclass
class SignInThrottle:
    """Slows down one source (a browser session or an address) that keeps failing to sign in.

    The first `free_failures` failures within `window` cost nothing; each further one doubles the wait
    before that source's next attempt is checked (1 s, 2 s, 4 s ... up to `max_delay`). Per process: the
    dashboards run as one server process. `clock` and `sleep` are injectable so tests need not wait.
    """

    free_failures: int = 3
    window: dt.timedelta = dt.timedelta(minutes=15)
    max_delay: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delay(self, source: str) -> float:
        """Seconds the next attempt from `source` waits."""
        with self._lock:
            recent = self._recent(source)
        extra = len(recent) - self.free_failures
        return 0.0 if extra < 0 else min(float(2**extra), self.max_delay)

    def failed(self, source: str) -> None:
        with self._lock:
            self._failures[source] = [*self._recent(source), self.clock()]

    def _recent(self, source: str) -> list[float]:
        # Drops what fell out of the window, so sources that stop failing take no memory.
        horizon = self.clock() - self.window.total_seconds()
        recent = [t for t in self._failures.pop(source, ()) if t > horizon]
        if recent:
            self._failures[source] = recent
        return recent

    def authenticate(
        self, engine: Engine, source: str, email: str, password: str, now: dt.datetime | None = None
    ) -> SignedInUser:
        """`authenticate`, after this source's wait; a refusal counts against the source."""
        wait = self.delay(source)
        if wait:
            self.sleep(wait)
        try:
            return authenticate(engine, email, password, now)
        except SignInError:
            self.failed(source)
            raise
