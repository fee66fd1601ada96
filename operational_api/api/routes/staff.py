"""Supervision sessions, HIPAA trainings, breach incidents, interdisciplinary case input and performance goals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from operational_api.api.context import ADMIN, CLINICAL, NO_PHI, STAFF, Ctx, api_route, register_scope, writes
from operational_api.api.types import UtcDateTime
from operational_api.services import staff, supervision
from operational_api.services.ids import RecordId

router = APIRouter(tags=["supervision and staff"])
register_scope("supervision_session", supervision.get_supervision_session)
register_scope("breach_incident", staff.get_breach)
register_scope("performance_goal", staff.get_goal)
SESSION_SIGNERS = frozenset({"CLINICIAN", "SUPERVISOR"})
GOAL_SETTERS = frozenset({"ADMIN", "SUPERVISOR"})


class SupervisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    supervisee_id: int
    supervisor_id: int
    session_date: dt.date
    duration_hours: Decimal
    session_type: str
    is_note_signed: bool
    signed_at: UtcDateTime | None


class SupervisionList(BaseModel):
    items: list[SupervisionOut]
    next_cursor: str | None


class TrainingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    completed_date: dt.date
    expires_date: dt.date


class BreachOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reported_by: int | None
    severity: str
    category: str
    detected_at: UtcDateTime
    responded_at: UtcDateTime | None
    resolved_at: UtcDateTime | None


class CaseInputOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    contributor_id: int
    discipline: str
    input_date: dt.date


class GoalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    metric_key: str
    target_value: Decimal
    start_date: dt.date
    end_date: dt.date
    status: str


class GoalStatusInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ACHIEVED", "MISSED"]


@api_route(
    router,
    "POST",
    "/supervision-sessions",
    roles=CLINICAL,
    audit=writes("supervision_session"),
    status_code=201,
    response_model=SupervisionOut,
)
def log_session(payload: supervision.SupervisionSessionInput, ctx: Ctx):
    return ctx.write(
        lambda s: SupervisionOut.model_validate(
            supervision.log_supervision_session(s, ctx.actor, payload, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router, "GET", "/supervision-sessions", roles=CLINICAL, audit=NO_PHI, response_model=SupervisionList
)
def list_sessions(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    supervisee_id: RecordId | None = None,
):
    with ctx.session() as session:
        result = supervision.list_supervision_sessions(
            session, ctx.actor, supervisee_id=supervisee_id, limit=limit, cursor=cursor
        )
        return ctx.respond(
            SupervisionList(
                items=[SupervisionOut.model_validate(r) for r in result.items], next_cursor=result.next_cursor
            )
        )


@api_route(
    router, "POST", "/supervision-sessions/{session_id}/sign", roles=SESSION_SIGNERS, audit=writes("supervision_session"), scope="supervision_session",
    response_model=SupervisionOut,
)  # fmt: skip
def sign_session(session_id: RecordId, ctx: Ctx):
    return ctx.write(
        lambda s: SupervisionOut.model_validate(
            supervision.sign_supervision_note(s, ctx.actor, session_id, now=ctx.now)
        )
    )


@api_route(
    router,
    "POST",
    "/hipaa-trainings",
    roles=STAFF,
    audit=writes("hipaa_training"),
    status_code=201,
    response_model=TrainingOut,
)
def record_training(payload: staff.TrainingInput, ctx: Ctx):
    return ctx.write(
        lambda s: TrainingOut.model_validate(staff.record_hipaa_training(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "POST",
    "/breach-incidents",
    roles=STAFF,
    audit=writes("breach_incident"),
    status_code=201,
    response_model=BreachOut,
)
def report_breach(payload: staff.BreachInput, ctx: Ctx):
    return ctx.write(
        lambda s: BreachOut.model_validate(staff.report_breach(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router, "POST", "/breach-incidents/{incident_id}/respond", roles=ADMIN, audit=writes("breach_incident"), scope="breach_incident",
    response_model=BreachOut,
)  # fmt: skip
def respond_to_breach(incident_id: RecordId, ctx: Ctx):
    return ctx.write(
        lambda s: BreachOut.model_validate(
            staff.advance_breach(s, ctx.actor, incident_id, "respond", now=ctx.now)
        )
    )


@api_route(
    router, "POST", "/breach-incidents/{incident_id}/resolve", roles=ADMIN, audit=writes("breach_incident"), scope="breach_incident",
    response_model=BreachOut,
)  # fmt: skip
def resolve_breach(incident_id: RecordId, ctx: Ctx):
    return ctx.write(
        lambda s: BreachOut.model_validate(
            staff.advance_breach(s, ctx.actor, incident_id, "resolve", now=ctx.now)
        )
    )


@api_route(
    router,
    "POST",
    "/case-inputs",
    roles=CLINICAL,
    audit=writes("case_input"),
    status_code=201,
    response_model=CaseInputOut,
)
def add_case_input(payload: staff.CaseInputInput, ctx: Ctx):
    return ctx.write(
        lambda s: CaseInputOut.model_validate(staff.add_case_input(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "POST",
    "/performance-goals",
    roles=GOAL_SETTERS,
    audit=writes("performance_goal"),
    status_code=201,
    response_model=GoalOut,
)
def create_goal(payload: staff.GoalInput, ctx: Ctx):
    return ctx.write(
        lambda s: GoalOut.model_validate(staff.create_goal(s, ctx.actor, payload, now=ctx.now)), status=201
    )


@api_route(
    router, "POST", "/performance-goals/{goal_id}/status", roles=GOAL_SETTERS, audit=writes("performance_goal"), scope="performance_goal",
    response_model=GoalOut,
)  # fmt: skip
def set_goal_status(goal_id: RecordId, payload: GoalStatusInput, ctx: Ctx):
    return ctx.write(
        lambda s: GoalOut.model_validate(
            staff.set_goal_status(s, ctx.actor, goal_id, payload.status, now=ctx.now)
        )
    )
