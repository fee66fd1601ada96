"""Clinical notes (draft, update, submit, sign, co-sign, amendments, bulk sign) and treatment / safety plans.

Front desk and billing read a note's facts without its text: their answers carry no `content` key at all
(`services.notes.note_view`). Every read of a note is audited with the client's id (and whether the text was
shown): a note's facts without its text still tie a client to a visit and its diagnosis codes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from operational_api.api.context import CLINICAL, STAFF, Ctx, api_route, reads_phi, register_scope, writes
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
    """The note as this actor may see it, audited: without its text a note still ties a client to a visit and
    its diagnosis codes."""
    ctx.record_read(session, "clinical_note", note.id, client_ids=[note.client_id], detail=_text_shown(ctx))
    return _view(ctx, note)


def _text_shown(ctx: Ctx) -> dict[str, object]:
    return {"note_text": can_read_note_text(ctx.actor)}


@api_route(
    router,
    "POST",
    "/notes",
    roles=AUTHORS,
    audit=writes("clinical_note"),
    status_code=201,
    response_model=NoteOut,
)
def create_note(payload: notes.NoteDraftInput, ctx: Ctx):
    return ctx.write(
        lambda s: _view(ctx, notes.create_note_draft(s, ctx.actor, payload, now=ctx.now)), status=201
    )


@api_route(router, "GET", "/notes", roles=STAFF, audit=reads_phi("clinical_note"), response_model=NoteList)
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
        ctx.record_read(
            session,
            "clinical_note",
            None,
            client_ids={n.client_id for n in result.items},
            detail=_text_shown(ctx),
        )
        items = [_view(ctx, n) for n in result.items]
        return ctx.respond({"items": items, "next_cursor": result.next_cursor})


@api_route(
    router,
    "GET",
    "/notes/cosign-queue",
    roles=AUTHORS,
    audit=reads_phi("clinical_note"),
    response_model=NoteList,
)
def cosign_queue(ctx: Ctx):
    with ctx.session() as session:
        queue = notes.cosign_queue(session, ctx.actor)
        ctx.record_read(
            session, "clinical_note", None, client_ids={n.client_id for n in queue}, detail=_text_shown(ctx)
        )
        return ctx.respond({"items": [_view(ctx, n) for n in queue], "next_cursor": None})


@api_route(
    router,
    "POST",
    "/notes/bulk-sign",
    roles=AUTHORS,
    audit=writes("clinical_note"),
    response_model=BulkSignOut,
)
def bulk_sign(payload: BulkSignInput, ctx: Ctx):
    def run(s):
        result = notes.bulk_sign_notes(s, ctx.actor, payload.note_ids, now=ctx.now)
        return {"signed": result.signed, "refused": result.refused}

    return ctx.write(run)


@api_route(
    router,
    "GET",
    "/notes/{note_id}",
    roles=STAFF,
    audit=reads_phi("clinical_note"),
    scope="note",
    response_model=NoteOut,
)
def get_note(note_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        return ctx.respond(_shown(ctx, session, notes.get_note(session, ctx.actor, note_id)))


@api_route(
    router,
    "PATCH",
    "/notes/{note_id}",
    roles=AUTHORS,
    audit=writes("clinical_note"),
    scope="note",
    response_model=NoteOut,
)
def update_note(note_id: RecordId, payload: notes.NoteUpdateInput, ctx: Ctx):
    expected = ctx.expected_version()
    return ctx.write(
        lambda s: _view(
            ctx,
            notes.update_note_draft(s, ctx.actor, note_id, payload, expected_version=expected, now=ctx.now),
        )
    )


@api_route(
    router,
    "POST",
    "/notes/{note_id}/submit",
    roles=AUTHORS,
    audit=writes("clinical_note"),
    scope="note",
    response_model=NoteOut,
)
def submit_note(note_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _view(ctx, notes.submit_note(s, ctx.actor, note_id, expected_version=expected, now=ctx.now))
    )


@api_route(
    router,
    "POST",
    "/notes/{note_id}/sign",
    roles=AUTHORS,
    audit=writes("clinical_note"),
    scope="note",
    response_model=NoteOut,
)
def sign_note(note_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _view(ctx, notes.sign_note(s, ctx.actor, note_id, expected_version=expected, now=ctx.now))
    )


@api_route(
    router,
    "POST",
    "/notes/{note_id}/cosign",
    roles=AUTHORS,
    audit=writes("clinical_note"),
    scope="note",
    response_model=NoteOut,
)
def cosign_note(note_id: RecordId, ctx: Ctx):
    expected = ctx.expected_version(required=False)
    return ctx.write(
        lambda s: _view(ctx, notes.cosign_note(s, ctx.actor, note_id, expected_version=expected, now=ctx.now))
    )


@api_route(
    router, "POST", "/notes/{note_id}/amendments", roles=AUTHORS, audit=writes("note_amendment"), scope="note", status_code=201,
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
    audit=reads_phi("note_amendment"),
    scope="note",
    response_model=list[AmendmentOut],
)
def list_amendments(note_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        rows = notes.list_amendments(session, ctx.actor, note_id)
        note = notes.get_note(session, ctx.actor, note_id)
        ctx.record_read(session, "note_amendment", None, client_ids=[note.client_id])
        return ctx.respond([AmendmentOut.model_validate(r) for r in rows])


# ---- plans --------------------------------------------------------------------------------------------------


@api_route(
    router,
    "POST",
    "/treatment-plans",
    roles=CLINICAL,
    audit=writes("treatment_plan"),
    status_code=201,
    response_model=TreatmentPlanOut,
)
def create_treatment_plan(payload: plans.PlanInput, ctx: Ctx):
    return ctx.write(
        lambda s: TreatmentPlanOut.model_validate(
            plans.create_treatment_plan(s, ctx.actor, payload, now=ctx.now)
        ),
        status=201,
    )


@api_route(
    router, "POST", "/treatment-plans/{plan_id}/review", roles=CLINICAL, audit=writes("treatment_plan"), scope="treatment_plan",
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


@api_route(
    router,
    "POST",
    "/safety-plans",
    roles=CLINICAL,
    audit=writes("safety_plan"),
    status_code=201,
    response_model=SafetyPlanOut,
)
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
    audit=reads_phi("client_plans"),
    scope="client",
    response_model=CurrentPlansOut,
)
def current_plans(client_id: RecordId, ctx: Ctx):
    with ctx.session() as session:
        found = plans.current_plans(session, ctx.actor, client_id)
        ctx.record_read(session, "client_plans", None, client_ids=[client_id])
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
