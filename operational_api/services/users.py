"""User administration: the one write path for staff accounts (dashboards "Users" page, `mentalspace users`, API).

Every function takes the acting user, checks they are an active administrator (read from the store, not from
a sign-in that may be stale), changes what it says inside the caller's transaction, and records one audit row
in it. The command line acts as `CommandLineOperator`: whoever runs it on the server holds the store's
credentials anyway, so it may administer (and bootstrap the first administrator); its audit rows name the
operating-system account.

The last active administrator cannot be deactivated or given another role: a practice must never be left
without someone who can unlock, reset MFA and record training.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from operational_api import audit, passwords
from operational_api.auth import LOCKOUT, STAFF_ROLES, SignedInUser
from operational_api.models import HipaaTraining, LicenseType, User
from operational_api.models_credentials import HipaaTrainingException, MfaRecoveryCode
from operational_api.services.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from operational_api.services.ids import RecordId
from operational_api.services.listing import touch

TRAINING_VALID_FOR = dt.timedelta(days=365)
# An exception bridges a few days until the training is done; longer would be a second, unwritten policy.
MAX_TRAINING_EXCEPTION = dt.timedelta(days=30)
LICENCES = tuple(t.value for t in LicenseType)


@dataclass(frozen=True)
class CommandLineOperator:
    """Whoever runs `mentalspace users ...` on the server (audited by operating-system account)."""

    os_user: str
    role: str = "ADMIN"
    user_id: None = None

    @classmethod
    def current(cls) -> CommandLineOperator:
        try:
            return cls(getpass.getuser())
        except (KeyError, OSError):
            return cls("unknown")


Actor = SignedInUser | CommandLineOperator


class NewUser(BaseModel):
    email: str = Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    role: str
    license_type: str | None = None
    supervisor_id: RecordId | None = None
    password: str | None = None  # without one the user cannot sign in until an administrator sets it


@dataclass(frozen=True)
class UserSummary:
    """One row of the administrators' user list (no hashes, no secrets)."""

    user_id: RecordId
    email: str
    name: str
    role: str
    license_type: str | None
    supervisor_id: RecordId | None
    is_active: bool
    locked: bool
    mfa_enrolled: bool
    training_expires: dt.date | None
    exception_until: dt.datetime | None
    last_login_at: dt.datetime | None


def _require_admin(session: Session, actor: Actor) -> None:
    if isinstance(actor, CommandLineOperator):
        return
    row = session.get(User, actor.user_id)
    if row is None or not row.is_active or row.role != "ADMIN":
        raise Forbidden("users.admin_only", "only an administrator can manage users")


def _audit(
    session: Session, actor: Actor, action: str, user_id: int | None, source: str, now, **detail
) -> None:
    if isinstance(actor, CommandLineOperator):
        detail["os_user"] = actor.os_user
    audit.record(
        session,
        action=action,
        source=source,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity="user",
        entity_id=user_id,
        detail=detail or None,
        now=now,
    )


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES:
        raise NotFound("user.not_found", f"no user with id {user_id} among the staff")
    return user


def user_by_email(session: Session, email: str) -> User:
    address = email.strip().lower()
    user = session.scalar(select(User).where(User.email == address))
    if user is None or user.role not in STAFF_ROLES:
        raise NotFound("user.not_found", f"no user with the e-mail address {address!r} among the staff")
    return user


def _check_role(role: str) -> str:
    role = role.strip().upper().replace("-", "_")
    if role not in STAFF_ROLES:
        raise InvalidInput("user.role_unknown", f"role must be one of {', '.join(STAFF_ROLES)}", field="role")
    return role


def _check_licence(licence: str | None) -> str | None:
    if licence is None or licence == "":
        return None
    licence = licence.strip().upper().replace("-", "_")
    if licence not in LICENCES:
        raise InvalidInput(
            "user.licence_unknown", f"licence must be one of {', '.join(LICENCES)}", field="license_type"
        )
    return licence


def _check_password(password: str) -> str:
    problems = passwords.policy_problems(password)
    if problems:
        raise InvalidInput(
            "user.password_policy", "the password must have " + "; ".join(problems), field="password"
        )
    return passwords.HASHER.hash(password)


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    if user.role != "ADMIN" or not user.is_active:
        return
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "ADMIN", User.is_active.is_(True), User.id != user.id)
    )
    if not others:
        raise RuleViolation(
            "user.last_admin",
            f"user {user.id} is the last active administrator and cannot be {what}; make someone else an "
            "administrator first",
        )


def _check_supervisor(session: Session, user_id: int | None, supervisor_id: int | None) -> None:
    if supervisor_id is None:
        return
    supervisor = session.get(User, supervisor_id)
    if supervisor is None or not supervisor.is_active or supervisor.role not in ("SUPERVISOR", "ADMIN"):
        raise InvalidInput(
            "user.supervisor_invalid",
            f"user {supervisor_id} is not an active supervisor or administrator",
            field="supervisor_id",
        )
    # Walk up from the new supervisor: meeting the user again would make a loop.
    seen, current = set(), supervisor
    while current is not None and current.id not in seen:
        if current.id == user_id:
            raise InvalidInput(
                "user.supervisor_cycle",
                f"user {supervisor_id} is supervised by user {user_id}",
                field="supervisor_id",
            )
        seen.add(current.id)
        current = session.get(User, current.supervisor_id) if current.supervisor_id else None


def create_user(session: Session, actor: Actor, payload: NewUser, *, source: str, now: dt.datetime) -> User:
    _require_admin(session, actor)
    email = payload.email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise RuleViolation(
            "user.email_taken", f"a user with the e-mail address {email!r} already exists", field="email"
        )
    role = _check_role(payload.role)
    _check_supervisor(session, None, payload.supervisor_id)
    user = User(
        email=email,
        first_name=payload.first_name.strip(),
        last_name=payload.last_name.strip(),
        role=role,
        license_type=_check_licence(payload.license_type),
        supervisor_id=payload.supervisor_id,
        is_active=True,
        password_hash=_check_password(payload.password) if payload.password else None,
        failed_login_count=0,
        # The injected clock, not the columns' wall-clock defaults: `GET /users?updated_since=` reads them.
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    _audit(
        session, actor, "user.create", user.id, source, now, role=role, password_set=bool(payload.password)
    )
    return user


def deactivate_user(session: Session, actor: Actor, user_id: int, *, source: str, now: dt.datetime) -> User:
    _require_admin(session, actor)
    user = _user(session, user_id)
    _keep_an_admin(session, user, "deactivated")
    user.is_active = False
    touch(user, now)
    _audit(session, actor, "user.deactivate", user.id, source, now)
    return user


def set_role(
    session: Session, actor: Actor, user_id: int, role: str, *, source: str, now: dt.datetime
) -> User:
    _require_admin(session, actor)
    user = _user(session, user_id)
    role = _check_role(role)
    if role != "ADMIN":
        _keep_an_admin(session, user, f"given the role {role}")
    previous, user.role = user.role, role
    touch(user, now)
    _audit(session, actor, "user.set_role", user.id, source, now, role=role, previous_role=previous)
    return user


def set_licence(
    session: Session, actor: Actor, user_id: int, licence: str | None, *, source: str, now: dt.datetime
) -> User:
    _require_admin(session, actor)
    user = _user(session, user_id)
    user.license_type = _check_licence(licence)
    touch(user, now)
    _audit(session, actor, "user.set_licence", user.id, source, now, license_type=user.license_type)
    return user


def link_supervisor(
    session: Session, actor: Actor, user_id: int, supervisor_id: int | None, *, source: str, now: dt.datetime
) -> User:
    _require_admin(session, actor)
    user = _user(session, user_id)
    _check_supervisor(session, user.id, supervisor_id)
    user.supervisor_id = supervisor_id
    touch(user, now)
    _audit(session, actor, "user.link_supervisor", user.id, source, now, supervisor_id=supervisor_id)
    return user


def unlock_user(session: Session, actor: Actor, user_id: int, *, source: str, now: dt.datetime) -> bool:
    """Clear the lockout and the failure count; whether the account was locked."""
    _require_admin(session, actor)
    user = _user(session, user_id)
    was_locked = user.locked_at is not None
    user.locked_at = None
    user.failed_login_count = 0
    _audit(session, actor, "user.unlock", user.id, source, now, was_locked=was_locked)
    return was_locked


def set_password(
    session: Session, actor: Actor, user_id: int, password: str, *, source: str, now: dt.datetime
) -> User:
    """An administrator sets (or resets) a password; it also lifts a lockout."""
    _require_admin(session, actor)
    user = _user(session, user_id)
    user.password_hash = _check_password(password)
    user.failed_login_count = 0
    user.locked_at = None
    _audit(session, actor, "user.set_password", user.id, source, now)
    return user


def reset_mfa(session: Session, actor: Actor, user_id: int, *, source: str, now: dt.datetime) -> User:
    """Forget the user's TOTP secret and recovery codes: they enrol again at their next sign-in."""
    _require_admin(session, actor)
    user = _user(session, user_id)
    user.mfa_secret = None
    user.mfa_enrolled_at = None
    user.mfa_last_step = None
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    _audit(session, actor, "user.reset_mfa", user.id, source, now)
    return user


def record_training(
    session: Session,
    actor: Actor,
    user_id: int,
    completed: dt.date,
    expires: dt.date | None = None,
    *,
    source: str,
    now: dt.datetime,
) -> HipaaTraining:
    """A completed annual HIPAA training (valid a year unless the certificate says otherwise)."""
    _require_admin(session, actor)
    user = _user(session, user_id)
    expires = expires or completed + TRAINING_VALID_FOR
    if completed > now.date():
        raise InvalidInput(
            "training.completed_in_future", "the completion date is in the future", field="completed"
        )
    if expires <= completed:
        raise InvalidInput(
            "training.expires_before_completed", "expiry must be after completion", field="expires"
        )
    training = HipaaTraining(updated_at=now, user_id=user.id, completed_date=completed, expires_date=expires)
    session.add(training)
    session.flush()
    _audit(
        session,
        actor,
        "user.record_training",
        user.id,
        source,
        now,
        completed=completed.isoformat(),
        expires=expires.isoformat(),
    )
    return training


def grant_training_exception(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    until: dt.datetime,
    reason: str,
    source: str,
    now: dt.datetime,
) -> HipaaTrainingException:
    """Let a user sign in without current HIPAA training until `until` (at most 30 days ahead), with a reason."""
    _require_admin(session, actor)
    user = _user(session, user_id)
    until = until.astimezone(dt.UTC).replace(tzinfo=None) if until.tzinfo else until
    if until <= now:
        raise InvalidInput(
            "training_exception.in_past", "the exception must end in the future", field="until"
        )
    if until - now > MAX_TRAINING_EXCEPTION:
        raise InvalidInput(
            "training_exception.too_long",
            f"an exception lasts at most {MAX_TRAINING_EXCEPTION.days} days",
            field="until",
        )
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "training_exception.reason_missing", "say why the exception is granted", field="reason"
        )
    granted = HipaaTrainingException(
        user_id=user.id, granted_by=actor.user_id, reason=reason[:500], granted_at=now, expires_at=until
    )
    session.add(granted)
    session.flush()
    # The reason is the administrator's words about a staff member (no client PHI); the audit keeps it whole.
    _audit(
        session,
        actor,
        "user.training_exception",
        user.id,
        source,
        now,
        until=until.isoformat(),
        reason=reason[:500],
    )
    return granted


def list_users(session: Session, actor: Actor, *, now: dt.datetime) -> list[UserSummary]:
    _require_admin(session, actor)
    training = (
        select(HipaaTraining.user_id, func.max(HipaaTraining.expires_date).label("expires"))
        .group_by(HipaaTraining.user_id)
        .subquery()
    )
    exception = (
        select(HipaaTrainingException.user_id, func.max(HipaaTrainingException.expires_at).label("until"))
        .where(HipaaTrainingException.expires_at > now, HipaaTrainingException.granted_at <= now)
        .group_by(HipaaTrainingException.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User, training.c.expires, exception.c.until)
        .outerjoin(training, training.c.user_id == User.id)
        .outerjoin(exception, exception.c.user_id == User.id)
        .where(User.role.in_(STAFF_ROLES))
        .order_by(User.id)
    ).all()
    return [
        UserSummary(
            user_id=u.id,
            email=u.email,
            name=f"{u.first_name} {u.last_name}",
            role=u.role,
            license_type=u.license_type,
            supervisor_id=u.supervisor_id,
            is_active=bool(u.is_active),
            locked=u.locked_at is not None and now - u.locked_at < LOCKOUT,
            mfa_enrolled=u.mfa_enrolled_at is not None,
            training_expires=expires,
            exception_until=until,
            last_login_at=u.last_login_at,
        )
        for u, expires, until in rows
    ]


def record_refusal(
    session: Session, actor: Actor, action: str, error: Exception, *, source: str, now
) -> None:
    """The audit row of a refused administration request (its own transaction: the change rolled back)."""
    detail = {"rule": getattr(error, "rule", type(error).__name__)}
    if isinstance(actor, CommandLineOperator):
        detail["os_user"] = actor.os_user
    audit.record(
        session,
        action=action,
        source=source,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity="user",
        outcome="refused",
        detail=detail,
        now=now,
    )
