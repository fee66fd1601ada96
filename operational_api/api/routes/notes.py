"""Clinical notes (draft, update, submit, sign, co-sign, amendments, bulk sign) and treatment / safety plans.

Front desk and billing read a note's facts without its text: their answers carry no `content` key at all
(`services.notes.note_view`). Reads that show note text are audited with the client's id.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from operational_api.api.context import CLINICAL, STAFF, Ctx, api_route, register_scope
from operational_api.api.types import UtcDateTime
from operational_api.services import notes, plans
from operational_api.services.clinical_common import can_read_note_text
from operational_api.services.ids import RecordId

router = APIRouter(tags=["clinical notes and plans"])
AUTHORS = frozenset({"CLINICIAN", "SUPERVISOR"})
register_scope("note", notes.get_note)
register_scope("treatment_plan", plans.get_treatment_plan)


class NoteOut(BaseModel):
    """A note; `content` is present only for roles that may read note text."""

    id: int
    client_id: int
    clinician_id: int
    appointment_id: int | None
    note_type: str
    status: str
    icd10_codes: str | None
    requires_cosign: bool
    signed_by: int | None
    signed_at: UtcDateTime | None
    cosigned_by: int | None
    cosigned_at: UtcDateTime | None
    created_at: UtcDateTime | None
    updated_at: UtcDateTime | None
    version: int
    content: str | None = None


class NoteList(BaseModel):
    items: list[NoteOut]
    next_cursor: str | None


class AmendmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    note_id: int
    kind: str
    content: str | None
    created_by: int
    created_at: UtcDateTime
    signed_at: UtcDateTime | None


class BulkSignInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note_ids: list[int] = Field(min_length=1, max_length=500)


class BulkSignOut(BaseModel):
    signed: list[int]
    refused: list[dict]


class TreatmentPlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    clinician_id: int
    note_id: int | None
    effective_date: dt.date
    review_due_date: dt.date
    reviewed_date: dt.date | None
    superseded_date: dt.date | None
    version: int


class SafetyPlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    client_id: int
    clinician_id: int
    note_id: int | None
    effective_date: dt.date
    review_due_date: dt.date
    superseded_date: dt.date | None


class CurrentPlansOut(BaseModel):
    treatment_plan: TreatmentPlanOut | None
    safety_plan: SafetyPlanOut | None


def _view(ctx: Ctx, note) -> dict:
    """The note as this actor may see it, in the wire shape: through NoteOut (instants as RFC 3339), and without
    `content` at all for a role that may not read note text (not even as null)."""
    return NoteOut.model_validate(notes.note_view(note, ctx.actor)).model_dump(
        mode="json", exclude_unset=True
    )


def _shown(ctx: Ctx, session, note) -> dict:
    """The note as this actor may see it; a read of its text is audited."""
    if can_read_note_text(ctx.actor):
        ctx.record_read(session, "clinical_note", note.id, client_ids=[note.client_id])
    return _view(ctx, note)


def _write_view(ctx: Ctx, note) -> dict:
    return _view(ctx, note)


@api_route(router, "POST", "/notes", roles=AUTHORS, status_code=201, response_model=NoteOut)
def create_note(payload: notes.NoteDraftInput, ctx: Ctx):
    return ctx.write(
        lambda s: _write_view(ctx, notes.create_note_draft(s, ctx.actor, payload, now=ctx.now)), status=201
    )


@api_route(router, "GET", "/notes", roles=STAFF, response_model=NoteList)
def list_notes(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    client_id: RecordId | None = None,
    clinician_id: RecordId | None = None,
    status: str | None = None,
):
    with ctx.session() as session:
        result = notes.list_notes(
            session, ctx.actor, client_id=client_id, clinician_id=clinician_id, status=status,
            updated_since=updated_since, limit=limit, cursor=cursor,
        )  # fmt: skip
        if can_read_note_text(ctx.actor) and result.items:
            ctx.record_read(session, "clinical_note", None, client_ids={n.client_id for n in result.items})
        items = [_view(ctx, n) for n in result.items]
        return ctx.respond({"items": items, "next_cursor": result.next_cursor})


@api_route(router, "GET", "/notes/cosign-queue", roles=AUTHORS, response_model=NoteList)
def cosign_queue(ctx: Ctx):
    with ctx.session() as session:
        queue = notes.cosign_queue(session, ctx.actor)
        if queue:
            ctx.record_read(session, "clinical_note", None, client_ids={n.client_id for n in queue})
        return ctx.respond({"items": [_view(ctx, n) for n in queue], "next_cursor": None})


@api_route(router, "POST", "/notes/bulk-sign", roles=AUTHORS, response_model=BulkSignOut)
def bulk_sign(payload: BulkSignInput, ctx: Ctx):
    def run(s):
        result = notes.bulk_sign_notes(s, ctx.actor, payload.note_ids, now=ctx.now)
        return {"signed": result.signed, "refused": result.refused}

    return ctx.write(run)


@api_route(router, "GET", "/notes/{note_id}", roles=STAFF, scope="note", response_model=NoteOut)
def get_note(note_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(_shown(ctx, session, notes.get_note(session, ctx.actor, note_id)))


@api_route(router, "PATCH", "/notes/{note_id}", roles=AUTHORS, scope="note", response_model=NoteOut)
def update_note(note_id: RecordId, payload: notes.NoteUpdateInput, ctx: Ctx):
    expected = ctx.expected_version()
    return ctx.write(
        lambda s: _write_view(
            ctx,
            notes.update_note_draft(s, ctx.actor, note_id, payload, expected_version=expected, now=ctx.now),
        )
    )


@api_route(router, "POST", "/notes/{note_id}/submit", roles=AUTHORS, scope="note", response_model=NoteOut)
def submit_note(note_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _write_view(
            ctx, notes.submit_note(s, ctx.actor, note_id, expected_version=expected, now=ctx.now)
        )
    )


@api_route(router, "POST", "/notes/{note_id}/sign", roles=AUTHORS, scope="note", response_model=NoteOut)
def sign_note(note_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _write_view(
            ctx, notes.sign_note(s, ctx.actor, note_id, expected_version=expected, now=ctx.now)
        )
    )


@api_route(router, "POST", "/notes/{note_id}/cosign", roles=AUTHORS, scope="note", response_model=NoteOut)
def cosign_note(note_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _write_view(
            ctx, notes.cosign_note(s, ctx.actor, note_id, expected_version=expected, now=ctx.now)
        )
    )


@api_route(
    router, "POST", "/notes/{note_id}/amendments", roles=AUTHORS, scope="note", status_code=201,
    response_model=AmendmentOut,
)  # fmt: skip
def add_amendment(note_id: RecordId, payload: notes.AmendmentInput, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: AmendmentOut.model_validate(
            notes.add_amendment(s, ctx.actor, note_id, payload, expected_version=expected, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/notes/{note_id}/amendments",
    roles=CLINICAL,
    scope="note",
    response_model=list[AmendmentOut],
)
def list_amendments(note_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        rows = notes.list_amendments(session, ctx.actor, note_id)
        note = notes.get_note(session, ctx.actor, note_id)
        ctx.record_read(session, "note_amendment", note_id, client_ids=[note.client_id])
        return ctx.respond([AmendmentOut.model_validate(r) for r in rows])


# ---- plans --------------------------------------------------------------------------------------------------


@api_route(
    router, "POST", "/treatment-plans", roles=CLINICAL, status_code=201, response_model=TreatmentPlanOut
)
def create_treatment_plan(payload: plans.PlanInput, ctx: Ctx):
    return ctx.write(
        lambda s: TreatmentPlanOut.model_validate(
            plans.create_treatment_plan(s, ctx.actor, payload, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router, "POST", "/treatment-plans/{plan_id}/review", roles=CLINICAL, scope="treatment_plan",
    response_model=TreatmentPlanOut,
)  # fmt: skip
def review_treatment_plan(plan_id: RecordId, payload: plans.PlanReviewInput, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: TreatmentPlanOut.model_validate(
            plans.review_treatment_plan(
                s, ctx.actor, plan_id, payload, expected_version=expected, now=ctx.now
            )
        )
    )


@api_route(router, "POST", "/safety-plans", roles=CLINICAL, status_code=201, response_model=SafetyPlanOut)
def create_safety_plan(payload: plans.PlanInput, ctx: Ctx):
    return ctx.write(
        lambda s: SafetyPlanOut.model_validate(plans.create_safety_plan(s, ctx.actor, payload, now=ctx.now)),
        status=201,
    )


@api_route(
    router,
    "GET",
    "/clients/{client_id}/plans",
    roles=CLINICAL,
    scope="client",
    response_model=CurrentPlansOut,
)
def current_plans(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        found = plans.current_plans(session, ctx.actor, client_id)
        ctx.record_read(session, "client_plans", client_id, client_ids=[client_id])
        return ctx.respond(
            CurrentPlansOut(
                treatment_plan=TreatmentPlanOut.model_validate(found["treatment_plan"])
                if found["treatment_plan"]
                else None,
                safety_plan=SafetyPlanOut.model_validate(found["safety_plan"])
                if found["safety_plan"]
                else None,
            )
        )
