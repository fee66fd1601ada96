"""The staff directory (read): users, clinicians and their availability. Administration (create, roles, MFA,
training) is operational_api/services/users.py."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational_api.auth import SignedInUser
from operational_api.models import ClinicianAvailability, User
from operational_api.services import availability
from operational_api.services.errors import Forbidden, InvalidInput, NotFound
from operational_api.services.listing import Page, page


def get_user(session: Session, actor: SignedInUser, user_id: int) -> User:
    """Administrators see everyone; others themselves and the clinicians in their scope."""
    user = session.get(User, user_id)
    if (
        user is None
        or user.role == "CLIENT"
        or (user_id != actor.user_id and not actor.can_see_clinician(user_id))
    ):
        raise NotFound("user.not_found", f"no user {user_id}", field="user_id")
    return user


def list_users(
    session: Session,
    actor: SignedInUser,
    *,
    limit: int = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    role: str | None = None,
) -> Page:
    if actor.role != "ADMIN":
        raise Forbidden("auth.role_forbidden", "only administrators list users")
    stmt = select(User).where(User.role != "CLIENT")
    if role is not None:
        stmt = stmt.where(User.role == role)
    return page(
        session,
        stmt,
        User.id,
        limit=limit,
        cursor=cursor,
        updated_column=User.updated_at,
        updated_since=updated_since,
    )


def get_clinician(session: Session, actor: SignedInUser, clinician_id: int) -> User:
    user = session.get(User, clinician_id)
    if (
        user is None
        or user.role not in ("CLINICIAN", "SUPERVISOR")
        or not actor.can_see_clinician(clinician_id)
    ):
        raise NotFound("clinician.not_found", f"no clinician {clinician_id}", field="clinician_id")
    return user


def list_availability(
    session: Session, actor: SignedInUser, clinician_id: int, *, on: dt.date | None = None
) -> list[ClinicianAvailability]:
    get_clinician(session, actor, clinician_id)
    stmt = select(ClinicianAvailability).where(ClinicianAvailability.clinician_id == clinician_id)
    if on is not None:
        return availability.availability_on(session, clinician_id, on)
    return list(
        session.scalars(stmt.order_by(ClinicianAvailability.weekday, ClinicianAvailability.start_time))
    )


def free_slots(
    session: Session, actor: SignedInUser, clinician_id: int, date_from: dt.date, date_to: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    get_clinician(session, actor, clinician_id)
    if date_to < date_from or (date_to - date_from).days > 62:
        raise InvalidInput(
            "request.date_range_invalid",
            "date_to must be on or after date_from, at most 62 days later",
            field="date_to",
        )
    return availability.free_slots(session, clinician_id, date_from, date_to)
