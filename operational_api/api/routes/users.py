"""Staff: who am I, the staff list (administrators), clinicians' weekly availability and free slots."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from operational_api.api.context import ADMIN, SCHEDULING, STAFF, Ctx, api_route, register_scope
from operational_api.services import directory as users_service

router = APIRouter(tags=["users"])
register_scope("user", users_service.get_user)
register_scope("clinician", users_service.get_clinician)


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
    start_time: dt.time
    end_time: dt.time
    slot_minutes: int
    effective_from: dt.date
    effective_to: dt.date | None


class FreeSlot(BaseModel):
    start_at: dt.datetime
    end_at: dt.datetime


@api_route(router, "GET", "/users/me", roles=STAFF, response_model=UserOut, summary="The signed-in user")
def me(ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(
            UserOut.model_validate(users_service.get_user(session, ctx.actor, ctx.actor.user_id))
        )


@api_route(router, "GET", "/users", roles=ADMIN, response_model=UserList, summary="Staff list")
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


@api_route(router, "GET", "/users/{user_id}", roles=STAFF, scope="user", response_model=UserOut)
def get_user(user_id: int, ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(UserOut.model_validate(users_service.get_user(session, ctx.actor, user_id)))


@api_route(
    router,
    "GET",
    "/clinicians/{clinician_id}/availability",
    roles=STAFF,
    scope="clinician",
    response_model=list[AvailabilityOut],
    summary="A clinician's weekly working slots",
)
def availability(clinician_id: int, ctx: Ctx, on: dt.date | None = None):
    with ctx.session() as session:
        rows = users_service.list_availability(session, ctx.actor, clinician_id, on=on)
        return ctx.respond([AvailabilityOut.model_validate(r) for r in rows])


@api_route(
    router,
    "GET",
    "/clinicians/{clinician_id}/free-slots",
    roles=SCHEDULING,
    scope="clinician",
    response_model=list[FreeSlot],
    summary="Bookable slots between two dates (availability minus bookings)",
)
def free_slots(clinician_id: int, ctx: Ctx, date_from: dt.date, date_to: dt.date):
    with ctx.session() as session:
        slots = users_service.free_slots(session, ctx.actor, clinician_id, date_from, date_to)
        return ctx.respond([FreeSlot(start_at=s, end_at=e) for s, e in slots])
