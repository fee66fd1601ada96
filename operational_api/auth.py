"""Sign-in against the operational store's users: password, TOTP code, lockout, HIPAA suspension, scope.

One implementation for every surface (the dashboards and the HTTP API call these functions). PRD HIPAA
section: MFA for all users, 12-character passwords with complexity (passwords.py), lockout after 5 failed
attempts for 30 minutes, 15-minute idle sign-out, and system access suspended while HIPAA training is
missing or expired.

A sign-in is two steps, so a page can ask for the code after the password:
`check_password` -> `PasswordAccepted` (a short-lived ticket, kept server-side), then `complete_sign_in`
with a TOTP or recovery code (or `confirm_enrolment` for a user who has no MFA yet). `authenticate` does
both in one call, for the API.

Refusals never say which part was wrong: unknown address, wrong password, wrong code and locked account
all read `REFUSED`, and each failure of password or code counts towards the lockout. The one refusal that
says more is the training suspension, and only after the password is right: it is no secret, and the
person has to know what to do. Every attempt is recorded in the audit log (operational_api/audit.py).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from operational_api import audit, mfa, passwords
from operational_api.db import session_scope
from operational_api.models import User
from operational_api.models_credentials import HipaaTrainingException, MfaRecoveryCode
from operational_api.services import rules

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=30)
IDLE_TIMEOUT = dt.timedelta(minutes=15)
# How long the password step's ticket waits for the code: long enough to open an app, short enough to go stale.
PENDING_SIGN_IN = dt.timedelta(minutes=5)
# The one answer to every refused sign-in: it must not tell an unknown address from a locked account.
REFUSED = (
    "Email, password or code not recognised. After 5 failed attempts an account is locked for 30 minutes."
)
TRAINING_SUSPENDED = (
    "Access is suspended until your annual HIPAA training is renewed: complete the training and ask an "
    "administrator to record it."
)
ENROLMENT_REQUIRED = (
    "Multi-factor sign-in is not set up for this account yet: set it up on the dashboards' sign-in page."
)
# The audit reason of the one refusal that follows a right password (AccessSuspended): not counted by the throttle.
TRAINING_REFUSAL_REASON = "HIPAA training not current"
# The audit actions of the sign-in steps a throttle counts refusals of (password, then code).
SIGN_IN_STEPS = ("auth.sign_in", "auth.mfa")
STAFF_ROLES = ("ADMIN", "CLINICIAN", "SUPERVISOR", "BILLING", "FRONT_DESK")


class SignInError(Exception):
    """Why a sign-in was refused, in words fit to show (never which part was wrong)."""


class AccessSuspended(SignInError):
    """Right password, but HIPAA training is missing or expired and no exception is active."""


class EnrolmentRequired(SignInError):
    """Right password, but the account has no MFA yet (the dashboards' sign-in sets it up)."""


@dataclass(frozen=True)
class SignedInUser:
    """Who is signed in and the people whose figures they may see."""

    user_id: int
    role: str
    display_name: str
    visible_clinician_ids: frozenset[int] | None  # None = everyone (administrator)

    def can_see_clinician(self, clinician_id: int) -> bool:
        return self.visible_clinician_ids is None or clinician_id in self.visible_clinician_ids


@dataclass(frozen=True)
class PasswordAccepted:
    """The password step passed; the code step must follow within `PENDING_SIGN_IN`. Server-side only."""

    user_id: int
    email: str
    needs_enrolment: bool
    source: str
    checked_at: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return _utcnow()
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def _audit(
    session: Session,
    action: str,
    source: str,
    now: dt.datetime,
    user: User | None,
    outcome: str = "ok",
    **detail: object,
) -> None:
    surface, where = _split_source(source)
    if where:
        detail["from"] = where
    audit.record(
        session,
        action=action,
        source=surface,
        actor_user_id=user.id if user is not None else None,
        actor_role=user.role if user is not None else None,
        entity="user" if user is not None else None,
        entity_id=user.id if user is not None else None,
        outcome=outcome,
        detail=detail or None,
        now=now,
    )


def _split_source(source: str) -> tuple[str, str]:
    """("api", "10.0.0.7") from "api:10.0.0.7": the surface is the audit row's source, the address its detail."""
    surface, _, where = source.partition(":")
    return surface[:20], where[:64]


def _find(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def _refuse(session: Session, action: str, source: str, now: dt.datetime, user: User | None, why: str):
    _audit(session, action, source, now, user, "refused", reason=why)
    session.commit()
    return SignInError(REFUSED)


def _count_failure(session: Session, user: User, now: dt.datetime) -> bool:
    """One more failure; True when it is the one that locks the account."""
    user.failed_login_count = (user.failed_login_count or 0) + 1
    if user.failed_login_count >= MAX_FAILED_ATTEMPTS:
        user.locked_at = now
        return True
    return False


def _is_locked(user: User, now: dt.datetime) -> bool:
    if user.locked_at is None:
        return False
    if now - user.locked_at < LOCKOUT:
        return True
    # The lockout has run out: a fresh start.
    user.locked_at = None
    user.failed_login_count = 0
    return False


def check_password(
    engine: Engine, email: str, password: str, *, source: str, now: dt.datetime | None = None
) -> PasswordAccepted:
    """The password step: counts a failure (locking at the fifth), refuses a suspended user. No sign-in yet.

    A correct password does not reset the failure count: only a complete sign-in does, so a thief with the
    password still gets 5 guesses at the code in all, not 5 per password entry.
    """
    now = _naive(now)
    with session_scope(engine) as session:
        user = _find(session, email)
        if user is None or user.role not in STAFF_ROLES or not user.is_active or not user.password_hash:
            passwords.burn_time(password)
            # The typed address is not recorded: people type passwords into the wrong field.
            raise _refuse(session, "auth.sign_in", source, now, None, "unknown or inactive account")
        if _is_locked(user, now):
            passwords.burn_time(password)
            raise _refuse(session, "auth.sign_in", source, now, user, "account locked")
        ok, rehash = passwords.verify(user.password_hash, password)
        if not ok:
            locked = _count_failure(session, user, now)
            raise _refuse(
                session,
                "auth.sign_in",
                source,
                now,
                user,
                "wrong password" + (", now locked" if locked else ""),
            )
        if rehash:
            # bcrypt (or older argon2 parameters) -> argon2id, now that we hold the password that matches.
            user.password_hash = passwords.HASHER.hash(password)
        if not training_allows(session, user.id, now):
            _audit(session, "auth.sign_in", source, now, user, "refused", reason=TRAINING_REFUSAL_REASON)
            session.commit()
            raise AccessSuspended(TRAINING_SUSPENDED)
        return PasswordAccepted(
            user_id=user.id,
            email=user.email,
            needs_enrolment=user.mfa_enrolled_at is None or not user.mfa_secret,
            source=source,
            checked_at=now,
        )


def _pending_user(session: Session, accepted: PasswordAccepted, now: dt.datetime, action: str) -> User:
    user = session.get(User, accepted.user_id)
    if user is None or not user.is_active:
        raise _refuse(session, action, accepted.source, now, None, "account gone since the password step")
    if now - accepted.checked_at > PENDING_SIGN_IN or now < accepted.checked_at:
        raise _refuse(session, action, accepted.source, now, user, "password step expired")
    if _is_locked(user, now):
        raise _refuse(session, action, accepted.source, now, user, "account locked")
    return user


def _use_recovery_code(session: Session, user: User, code: str, now: dt.datetime) -> bool:
    if not mfa.looks_like_recovery_code(code):
        return False
    # One UPDATE marks the code used only if it still was not: two sessions cannot both spend it.
    spent = session.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == mfa.recovery_code_hash(code),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return spent == 1


def complete_sign_in(
    engine: Engine, accepted: PasswordAccepted, code: str, *, now: dt.datetime | None = None
) -> SignedInUser:
    """The code step: a TOTP code (each good once) or an unused recovery code. A wrong one counts a failure."""
    now = _naive(now)
    with session_scope(engine) as session:
        user = _pending_user(session, accepted, now, "auth.mfa")
        if user.mfa_enrolled_at is None or not user.mfa_secret:
            raise EnrolmentRequired(ENROLMENT_REQUIRED)
        step = mfa.matching_step(user.mfa_secret, code, now, user.mfa_last_step)
        if step is not None:
            user.mfa_last_step = step
            method = "totp"
        elif _use_recovery_code(session, user, code, now):
            method = "recovery_code"
            left = session.scalar(
                select(func.count())
                .select_from(MfaRecoveryCode)
                .where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
            )
            _audit(session, "auth.mfa_recovery_code_used", accepted.source, now, user, codes_left=left)
        else:
            locked = _count_failure(session, user, now)
            raise _refuse(
                session,
                "auth.mfa",
                accepted.source,
                now,
                user,
                "wrong code" + (", now locked" if locked else ""),
            )
        return _signed_in(session, user, accepted.source, now, method)


def _signed_in(session: Session, user: User, source: str, now: dt.datetime, method: str) -> SignedInUser:
    user.failed_login_count = 0
    user.last_login_at = now
    _audit(session, "auth.sign_in", source, now, user, mfa=method)
    return SignedInUser(
        user_id=user.id,
        role=user.role,
        display_name=f"{user.first_name} {user.last_name}",
        visible_clinician_ids=_visible_clinicians(session, user),
    )


def begin_enrolment(accepted: PasswordAccepted) -> mfa.Enrolment:
    """A fresh secret for a user without MFA, to show as a QR code; nothing is stored until it is confirmed."""
    if not accepted.needs_enrolment:
        raise SignInError(REFUSED)
    return mfa.enrolment_for(accepted.email, mfa.new_secret())


def confirm_enrolment(
    engine: Engine,
    accepted: PasswordAccepted,
    enrolment: mfa.Enrolment,
    code: str,
    *,
    now: dt.datetime | None = None,
) -> tuple[SignedInUser, list[str]]:
    """Store the secret once the app shows a matching code; sign in; return the 10 recovery codes (shown once)."""
    now = _naive(now)
    with session_scope(engine) as session:
        user = _pending_user(session, accepted, now, "auth.mfa_enrol")
        if user.mfa_enrolled_at is not None and user.mfa_secret:
            raise _refuse(session, "auth.mfa_enrol", accepted.source, now, user, "already enrolled")
        step = mfa.matching_step(enrolment.secret, code, now, None)
        if step is None:
            locked = _count_failure(session, user, now)
            raise _refuse(
                session,
                "auth.mfa_enrol",
                accepted.source,
                now,
                user,
                "wrong code" + (", now locked" if locked else ""),
            )
        user.mfa_secret = enrolment.secret
        user.mfa_enrolled_at = now
        user.mfa_last_step = step
        codes = replace_recovery_codes(session, user.id, now)
        _audit(session, "auth.mfa_enrol", accepted.source, now, user)
        return _signed_in(session, user, accepted.source, now, "totp"), codes


def replace_recovery_codes(session: Session, user_id: int, now: dt.datetime) -> list[str]:
    """A new set of 10 recovery codes for the user (the old ones stop working); the plain codes, shown once."""
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = mfa.new_recovery_codes()
    session.add_all(
        MfaRecoveryCode(user_id=user_id, code_hash=mfa.recovery_code_hash(c), created_at=now) for c in codes
    )
    return [mfa.display_recovery_code(c) for c in codes]


def authenticate(
    engine: Engine,
    email: str,
    password: str,
    totp_code: str | None = None,
    *,
    source: str,
    now: dt.datetime | None = None,
) -> SignedInUser:
    """Both steps in one call (the API): password, then the TOTP or recovery code. A missing code is a wrong one."""
    accepted = check_password(engine, email, password, source=source, now=now)
    if accepted.needs_enrolment:
        raise EnrolmentRequired(ENROLMENT_REQUIRED)
    return complete_sign_in(engine, accepted, totp_code or "", now=now)


def record_sign_out(
    engine: Engine, user: SignedInUser, *, source: str, timed_out: bool, now: dt.datetime | None = None
) -> None:
    """The audit row of a sign-out: by the user, or by the 15-minute idle timeout."""
    now = _naive(now)
    surface, where = _split_source(source)
    with session_scope(engine) as session:
        audit.record(
            session,
            action="auth.timeout" if timed_out else "auth.sign_out",
            source=surface,
            detail={"from": where} if where else None,
            actor_user_id=user.user_id,
            actor_role=user.role,
            entity="user",
            entity_id=user.user_id,
            now=now,
        )


def training_allows(session: Session, user_id: int, now: dt.datetime) -> bool:
    """Georgia rule 7, the one gate for every surface (sign-in here, each API request in api/context.py):
    current HIPAA training, or an administrator's exception active at `now`.

    "Current" is the warehouse's definition (`rules.training_current_on`, checked against the dbt model): on the
    practice-local date, completed by then and before the earlier of its expiry and completion + the rule's
    validity, so access is suspended ON the expiry date, the day the dashboards first count it as expired. No
    record at all suspends too: a new hire completes the training (or is granted an exception) first.
    """
    return training_allows_until(session, user_id, now) is not None


def training_allows_until(session: Session, user_id: int, now: dt.datetime) -> dt.datetime | None:
    """When rule 7 stops letting the user in (naive UTC; the later of the current training's expiry, at the start
    of that practice-local day, and the latest active exception), or None when it does not now. Only time takes
    access away (trainings and exceptions are added, never removed), so a caller may keep the answer until then."""
    ends: list[dt.datetime] = []
    trained_until = rules.training_current_until(session, user_id, rules.local_today(now))
    if trained_until is not None:
        ends.append(rules.local_day_start(trained_until))
    excepted_until = session.scalar(
        select(func.max(HipaaTrainingException.expires_at)).where(
            HipaaTrainingException.user_id == user_id,
            HipaaTrainingException.granted_at <= now,
            HipaaTrainingException.expires_at > now,
        )
    )
    if excepted_until is not None:
        ends.append(excepted_until)
    return max(ends) if ends else None


def _visible_clinicians(session: Session, user: User) -> frozenset[int] | None:
    if user.role in ("ADMIN", "BILLING", "FRONT_DESK"):
        return None
    if user.role == "SUPERVISOR":
        supervisees = session.scalars(select(User.id).where(User.supervisor_id == user.id)).all()
        return frozenset({user.id, *supervisees})
    return frozenset({user.id})


T = TypeVar("T")


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
        return self._wait_after(len(recent))

    def _wait_after(self, failures: int) -> float:
        extra = failures - self.free_failures
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

    def attempt(self, source: str, step: Callable[[], T]) -> T:
        """Run one sign-in step (password or code) after this source's wait; a plain refusal counts against it."""
        wait = self.delay(source)
        if wait:
            self.sleep(wait)
        try:
            return step()
        except (AccessSuspended, EnrolmentRequired):
            raise  # the password was right: nothing to slow down
        except SignInError:
            self.failed(source)
            raise


@dataclass
class StoredSignInThrottle(SignInThrottle):
    """SignInThrottle's rule with the failures counted from the store: the audit rows of refused sign-in steps
    from the same source within `window` of `now`. The API runs as several processes (uvicorn workers), each with
    its own memory; a source failing on one worker must wait on all of them. Every refusal is already audited
    (with the address in `detail.from`), so the audit log is the one record of the failures: nothing to add."""

    engine: Engine | None = None

    def delay_at(self, source: str, now: dt.datetime) -> float:
        surface, where = _split_source(source)
        event = audit.AuditEvent
        with session_scope(self.engine) as session:
            failures = session.scalar(
                select(func.count())
                .select_from(event)
                .where(
                    event.occurred_at > now - self.window,
                    event.occurred_at <= now,
                    event.action.in_(SIGN_IN_STEPS),
                    event.outcome == "refused",
                    event.source == surface,
                    event.detail["from"].as_string() == where,
                    # A right password refused for training is not a guess (SignInThrottle.attempt).
                    func.coalesce(event.detail["reason"].as_string(), "") != TRAINING_REFUSAL_REASON,
                )
            )
        return self._wait_after(failures or 0)

    def attempt_at(self, source: str, now: dt.datetime, step: Callable[[], T]) -> T:
        """Run one sign-in step after this source's wait; its refusal is audited by the step itself."""
        wait = self.delay_at(source, now)
        if wait:
            self.sleep(wait)
        return step()
