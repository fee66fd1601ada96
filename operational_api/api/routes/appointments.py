"""Appointments (book, series, reschedule, cancel, check in, clinician ready, complete, no-show) and the waitlist."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from operational_api.api.context import SCHEDULING, STAFF, Ctx, api_route, reads_phi, register_scope, writes
from operational_api.api.types import UtcDateTime
from operational_api.services import appointments as svc
from operational_api.services.ids import RecordId

router = APIRouter(tags=["appointments"])
register_scope("appointment", svc.visible_appointment)
register_scope("waitlist", svc.get_waitlist_entry)


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    clinician_id: int
    appointment_type: str
    status: str
    start_at: UtcDateTime
    end_at: UtcDateTime
    is_telehealth: bool
    is_booked_online: bool
    is_recurring: bool
    recurrence_rule: str | None
    series_id: int | None
    shared_slot_id: int | None
    rescheduled_from_id: int | None
    cancellation_reason: str | None
    booked_at: UtcDateTime
    arrived_at: UtcDateTime | None
    clinician_ready_at: UtcDateTime | None
    status_changed_at: UtcDateTime | None
    availability_override_by: int | None
    updated_at: UtcDateTime | None
    version: int


class AppointmentList(BaseModel):
    items: list[AppointmentOut]
    next_cursor: str | None


class SeriesOut(BaseModel):
    series_id: int
    items: list[AppointmentOut]


class WaitlistOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    clinician_id: int
    appointment_type: str
    is_telehealth: bool
    window_start_at: UtcDateTime
    window_end_at: UtcDateTime
    status: str
    offered_start_at: UtcDateTime | None
    offered_end_at: UtcDateTime | None
    offered_at: UtcDateTime | None
    booked_appointment_id: int | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int


class WaitlistList(BaseModel):
    items: list[WaitlistOut]
    next_cursor: str | None


def _out(appointment) -> AppointmentOut:
    return AppointmentOut.model_validate(appointment)


@api_route(
    router,
    "POST",
    "/appointments",
    roles=SCHEDULING,
    audit=writes("appointment"),
    status_code=201,
    response_model=AppointmentOut,
)
def book(payload: svc.AppointmentBook, ctx: Ctx):
    """Book one appointment (or a client's place in a group/family slot with `shared_slot_id`)."""
    return ctx.write(lambda s: _out(svc.book_appointment(s, ctx.actor, payload, now=ctx.now)), status=201)


@api_route(
    router,
    "POST",
    "/appointments/series",
    roles=SCHEDULING,
    audit=writes("appointment"),
    status_code=201,
    response_model=SeriesOut,
)
def book_series(payload: svc.SeriesBook, ctx: Ctx):
    """A weekly recurring series, all or nothing."""

    def run(session):
        booked = svc.book_series(session, ctx.actor, payload, now=ctx.now)
        return SeriesOut(series_id=booked[0].id, items=[_out(a) for a in booked])

    return ctx.write(run, status=201)


@api_route(
    router,
    "GET",
    "/appointments",
    roles=STAFF,
    audit=reads_phi("appointment"),
    response_model=AppointmentList,
)
def list_appointments(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    clinician_id: RecordId | None = None,
    client_id: RecordId | None = None,
    status: str | None = None,
    start_from: dt.datetime | None = None,
    start_to: dt.datetime | None = None,
):
    with ctx.session() as session:
        result = svc.list_appointments(
            session,
            ctx.actor,
            limit=limit,
            cursor=cursor,
            updated_since=updated_since,
            clinician_id=clinician_id,
            client_id=client_id,
            status=status,
            start_from=start_from,
            start_to=start_to,
        )
        items = [_out(a) for a in result.items]
        ctx.record_read(session, "appointment", None, client_ids={a.client_id for a in items})
        return ctx.respond(AppointmentList(items=items, next_cursor=result.next_cursor))


@api_route(
    router,
    "GET",
    "/appointments/{appointment_id}",
    roles=STAFF,
    audit=reads_phi("appointment"),
    scope="appointment",
    response_model=AppointmentOut,
)
def get_appointment(appointment_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        appointment = svc.get_appointment(session, ctx.actor, appointment_id)
        ctx.record_read(session, "appointment", appointment.id, client_ids=[appointment.client_id])
        return ctx.respond(_out(appointment))


def _status_route(path: str, action, summary: str):
    @api_route(
        router,
        "POST",
        f"/appointments/{{appointment_id}}/{path}",
        roles=SCHEDULING,
        audit=writes("appointment"),
        scope="appointment",
        response_model=AppointmentOut,
        summary=summary,
    )
    def change(appointment_id: RecordId, ctx: Ctx):
        expected = ctx.expected_version(required=False)
        return ctx.write(
            lambda s: _out(action(s, ctx.actor, appointment_id, expected_version=expected, now=ctx.now))
        )

    change.__name__ = f"appointment_{path.replace('-', '_')}"
    return change


_status_route("confirm", svc.confirm, "Confirm")
_status_route("clinician-ready", svc.clinician_ready, "The clinician is ready (after check-in)")
_status_route("complete", svc.complete, "Complete (needs complete demographics)")
_status_route("no-show", svc.no_show, "Mark a no-show")


@api_route(
    router,
    "POST",
    "/appointments/{appointment_id}/check-in",
    roles=SCHEDULING,
    audit=writes("appointment"),
    scope="appointment",
    response_model=AppointmentOut,
)
def check_in(appointment_id: RecordId, payload: svc.CheckIn, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _out(
            svc.check_in(s, ctx.actor, appointment_id, payload, expected_version=expected, now=ctx.now)
        )
    )


@api_route(
    router,
    "POST",
    "/appointments/{appointment_id}/cancel",
    roles=SCHEDULING,
    audit=writes("appointment"),
    scope="appointment",
    response_model=AppointmentOut,
    summary="Cancel (late: true for a late cancellation)",
)
def cancel(appointment_id: RecordId, payload: svc.Cancel, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _out(
            svc.cancel(s, ctx.actor, appointment_id, payload, expected_version=expected, now=ctx.now)
        )
    )


@api_route(
    router,
    "POST",
    "/appointments/{appointment_id}/reschedule",
    roles=SCHEDULING,
    audit=writes("appointment"),
    scope="appointment",
    status_code=201,
    response_model=AppointmentOut,
    summary="Reschedule: returns the replacement",
)
def reschedule(appointment_id: RecordId, payload: svc.Reschedule, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _out(
            svc.reschedule(s, ctx.actor, appointment_id, payload, expected_version=expected, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router,
    "POST",
    "/waitlist",
    roles=SCHEDULING,
    audit=writes("waitlist_entry"),
    status_code=201,
    response_model=WaitlistOut,
)
def add_to_waitlist(payload: svc.WaitlistCreate, ctx: Ctx):
    return ctx.write(
        lambda s: WaitlistOut.model_validate(svc.add_to_waitlist(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/waitlist",
    roles=SCHEDULING,
    audit=reads_phi("waitlist_entry"),
    response_model=WaitlistList,
)
def list_waitlist(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    clinician_id: RecordId | None = None,
    status: str | None = None,
):
    with ctx.session() as session:
        result = svc.list_waitlist(
            session,
            ctx.actor,
            limit=limit,
            cursor=cursor,
            updated_since=updated_since,
            clinician_id=clinician_id,
            status=status,
        )
        items = [WaitlistOut.model_validate(e) for e in result.items]
        ctx.record_read(session, "waitlist_entry", None, client_ids={e.client_id for e in items})
        return ctx.respond(WaitlistList(items=items, next_cursor=result.next_cursor))


@api_route(
    router,
    "GET",
    "/waitlist/{entry_id}",
    roles=SCHEDULING,
    audit=reads_phi("waitlist_entry"),
    scope="waitlist",
    response_model=WaitlistOut,
)
def get_waitlist_entry(entry_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        entry = svc.get_waitlist_entry(session, ctx.actor, entry_id)
        ctx.record_read(session, "waitlist_entry", entry.id, client_ids=[entry.client_id])
        return ctx.respond(WaitlistOut.model_validate(entry))


@api_route(
    router,
    "POST",
    "/waitlist/{entry_id}/book",
    roles=SCHEDULING,
    audit=writes("appointment"),
    scope="waitlist",
    status_code=201,
    response_model=AppointmentOut,
    summary="Book the slot the entry was offered",
)
def book_offer(entry_id: RecordId, ctx: Ctx):
    return ctx.write(lambda s: _out(svc.book_waitlist_offer(s, ctx.actor, entry_id, now=ctx.now)), status=201)


@api_route(
    router,
    "POST",
    "/waitlist/{entry_id}/cancel",
    roles=SCHEDULING,
    audit=writes("waitlist_entry"),
    scope="waitlist",
    response_model=WaitlistOut,
)
def cancel_waitlist(entry_id: RecordId, ctx: Ctx):
    return ctx.write(
        lambda s: WaitlistOut.model_validate(svc.cancel_waitlist_entry(s, ctx.actor, entry_id, now=ctx.now))
    )
