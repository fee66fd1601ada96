"""Staff: who am I, the staff list and administration (administrators), clinicians' weekly availability and free
slots."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.api.context import (
    ADMIN,
    NO_PHI,
    SCHEDULING,
    STAFF,
    Ctx,
    api_route,
    register_scope,
    writes,
)
from operational_api.api.types import UtcDateTime
from operational_api.services import directory as users_service
from operational_api.services import users as admin
from operational_api.services.availability import LocalTime
from operational_api.services.errors import InvalidInput
from operational_api.services.ids import RecordId

router = APIRouter(tags=["users"])
register_scope("user", users_service.get_user)
register_scope("clinician", users_service.get_clinician)
register_scope("availability", users_service.get_availability)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    first_name: str
    last_name: str
    role: str
    license_type: str | None
    supervisor_id: int | None
    is_active: bool
    hired_date: dt.date | None
    weekly_session_target: int | None


class UserList(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class AvailabilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    clinician_id: int
    weekday: int
    start_time: LocalTime
    end_time: LocalTime
    slot_minutes: int
    effective_from: dt.date
    effective_to: dt.date | None
    version: int


class FreeSlot(BaseModel):
    start_at: UtcDateTime
    end_at: UtcDateTime


@api_route(
    router,
    "GET",
    "/users/me",
    roles=STAFF,
    audit=NO_PHI,
    response_model=UserOut,
    summary="The signed-in user",
)
def me(ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(
            UserOut.model_validate(users_service.get_user(session, ctx.actor, ctx.actor.user_id))
        )


@api_route(router, "GET", "/users", roles=ADMIN, audit=NO_PHI, response_model=UserList, summary="Staff list")
def list_users(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    role: str | None = None,
):
    with ctx.session() as session:
        result = users_service.list_users(
            session, ctx.actor, limit=limit, cursor=cursor, updated_since=updated_since, role=role
        )
        return ctx.respond(
            UserList(items=[UserOut.model_validate(u) for u in result.items], next_cursor=result.next_cursor)
        )


@api_route(router, "GET", "/users/{user_id}", roles=STAFF, audit=NO_PHI, scope="user", response_model=UserOut)
def get_user(user_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(UserOut.model_validate(users_service.get_user(session, ctx.actor, user_id)))


@api_route(
    router,
    "GET",
    "/clinicians/{clinician_id}/availability",
    roles=STAFF,
    audit=NO_PHI,
    scope="clinician",
    response_model=list[AvailabilityOut],
    summary="A clinician's weekly working slots",
)
def availability(clinician_id: RecordId, ctx: Ctx, on: dt.date | None = None):
    with ctx.session() as session:
        rows = users_service.list_availability(session, ctx.actor, clinician_id, on=on)
        return ctx.respond([AvailabilityOut.model_validate(r) for r in rows])


@api_route(
    router,
    "POST",
    "/clinicians/{clinician_id}/availability",
    roles=SCHEDULING,
    audit=writes("clinician_availability"),
    scope="clinician",
    status_code=201,
    response_model=AvailabilityOut,
    summary="Add a weekly working slot",
)
def add_availability(clinician_id: RecordId, payload: users_service.AvailabilityInput, ctx: Ctx):
    """Clinicians set their own, supervisors also their supervisees', the front desk and administrators anyone's;
    a slot overlapping another of the clinician's on that weekday and dates is refused (availability.overlap)."""
    return ctx.write(
        lambda s: AvailabilityOut.model_validate(
            users_service.add_availability(s, ctx.actor, clinician_id, payload, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/availability/{availability_id}",
    roles=STAFF,
    audit=NO_PHI,
    scope="availability",
    response_model=AvailabilityOut,
    summary="One weekly working slot",
)
def get_availability(availability_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(
            AvailabilityOut.model_validate(
                users_service.get_availability(session, ctx.actor, availability_id)
            )
        )


@api_route(
    router,
    "PATCH",
    "/availability/{availability_id}",
    roles=SCHEDULING,
    audit=writes("clinician_availability"),
    scope="availability",
    response_model=AvailabilityOut,
    summary="Change a weekly working slot",
)
def update_availability(availability_id: RecordId, payload: users_service.AvailabilityUpdate, ctx: Ctx):
    """If-Match with the ETag read. Appointments already booked stay as they are (moving one is a reschedule);
    end a slot with `effective_to`."""
    expected = ctx.expected_version()
    return ctx.write(
        lambda s: AvailabilityOut.model_validate(
            users_service.update_availability(
                s, ctx.actor, availability_id, payload, expected_version=expected, now=ctx.now
            )
        )
    )


@api_route(
    router,
    "GET",
    "/clinicians/{clinician_id}/free-slots",
    roles=SCHEDULING,
    audit=NO_PHI,
    scope="clinician",
    response_model=list[FreeSlot],
    summary="Bookable slots between two dates (availability minus bookings)",
)
def free_slots(clinician_id: RecordId, ctx: Ctx, date_from: dt.date, date_to: dt.date):
    with ctx.session() as session:
        slots = users_service.free_slots(session, ctx.actor, clinician_id, date_from, date_to)
        return ctx.respond([FreeSlot(start_at=s, end_at=e) for s, e in slots])


class UserChange(BaseModel):
    """What an administrator changes on a staff account; only the fields sent are applied, in this order. A
    licence or supervisor sent as null clears it; `is_active` can only be set false (deactivation)."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = None
    license_type: str | None = None
    supervisor_id: RecordId | None = None
    is_active: Literal[False] | None = None
    hipaa_training_completed: dt.date | None = None
    hipaa_training_expires: dt.date | None = None


@api_route(
    router,
    "POST",
    "/users",
    roles=ADMIN,
    audit=writes("user"),
    status_code=201,
    response_model=UserOut,
    summary="Add staff",
)
def create_user(payload: admin.NewUser, ctx: Ctx):
    """Without a password the account cannot sign in until one is set; MFA is set up at the first sign-in on
    the dashboards."""
    return ctx.write(
        lambda s: UserOut.model_validate(
            admin.create_user(s, ctx.actor, payload, source=audit.API, now=ctx.now)
        ),
        status=201,
    )


def _apply(session: Session, actor, user_id: int, change: UserChange, now: dt.datetime) -> UserOut:
    sent = change.model_fields_set
    kwargs = {"source": audit.API, "now": now}
    changes = sent & {
        "role",
        "license_type",
        "supervisor_id",
        "hipaa_training_completed",
        "hipaa_training_expires",
    }
    if not changes and change.is_active is not False:
        # Answering 200 to a change of nothing would be a write with no write (and no audit row) behind it.
        raise InvalidInput(
            "user.no_change",
            "send at least one change: role, license_type, supervisor_id, hipaa_training_completed or "
            "is_active: false",
        )
    if "role" in sent:
        if change.role is None:
            raise InvalidInput("user.role_required", "a staff account needs a role", field="role")
        admin.set_role(session, actor, user_id, change.role, **kwargs)
    if "license_type" in sent:
        admin.set_licence(session, actor, user_id, change.license_type, **kwargs)
    if "supervisor_id" in sent:
        admin.link_supervisor(session, actor, user_id, change.supervisor_id, **kwargs)
    if change.hipaa_training_completed is not None:
        admin.record_training(
            session, actor, user_id, change.hipaa_training_completed, change.hipaa_training_expires, **kwargs
        )
    elif change.hipaa_training_expires is not None:
        raise InvalidInput(
            "training.completed_required",
            "an expiry needs the completion date",
            field="hipaa_training_completed",
        )
    if change.is_active is False:
        admin.deactivate_user(session, actor, user_id, **kwargs)
    session.flush()
    return UserOut.model_validate(users_service.get_user(session, actor, user_id))


@api_route(
    router,
    "PATCH",
    "/users/{user_id}",
    roles=ADMIN,
    audit=writes("user"),
    scope="user",
    response_model=UserOut,
    summary="Change staff",
)
def change_user(user_id: RecordId, change: UserChange, ctx: Ctx):
    """Role, licence, supervisor, deactivation and HIPAA training, in one transaction (each change audited)."""
    return ctx.write(lambda s: _apply(s, ctx.actor, user_id, change, ctx.now))
