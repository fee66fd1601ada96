"""Treatment plans and safety plans with their review dates (PRD module 4, Georgia rules).

A client has one current plan of each kind: a new plan supersedes the current one (its `superseded_date` is the
new plan's effective date). Review dates come from compliance_rules (TREATMENT_PLAN_REVIEW/review_interval_days,
SAFETY_PLAN/review_interval_days), never from a constant here. A treatment plan is reviewed in place (reviewed
date, next due date; versioned); a safety plan is revised by writing a new one. A plan may point at the note that
holds its text; that note must be the client's, of the matching type (TREATMENT_PLAN / SAFETY_PLAN).

Who: the client's clinicians (clinicians, supervisors in scope) and administrators; others never write plans.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import ClinicalNote, NoteType, SafetyPlan, TreatmentPlan
from operational_api.services.clinical_common import (
    ADMIN,
    CLINICAL_ROLES,
    check_version,
    client_in_scope,
    get_or_404,
    record_write,
    require_clinician_visible,
    require_role,
    rule_value,
    versioned,
)
from operational_api.services.errors import InvalidInput, RuleViolation
from operational_api.services.ids import RecordId
from operational_api.services.listing import touch

PLAN_ROLES = CLINICAL_ROLES | {ADMIN}


class PlanInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: RecordId
    effective_date: dt.date
    note_id: RecordId | None = None
    clinician_id: RecordId | None = None  # administrators name the clinician; clinicians write their own


class PlanReviewInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewed_date: dt.date


def _interval(session: Session, rule_type: str) -> dt.timedelta:
    return dt.timedelta(days=int(rule_value(session, rule_type, "review_interval_days")))


def _check_note(session: Session, note_id: int | None, client_id: int, note_type: NoteType) -> None:
    if note_id is None:
        return
    note = session.get(ClinicalNote, note_id)
    if note is None or note.client_id != client_id or note.note_type != note_type.value:
        raise InvalidInput(
            "plan.note_mismatch",
            f"note {note_id} is not a {note_type.value} note of client {client_id}",
            field="note_id",
        )


def _clinician(actor: SignedInUser, payload: PlanInput) -> int:
    if actor.role == ADMIN:
        if payload.clinician_id is None:
            raise InvalidInput("plan.clinician_missing", "name the plan's clinician", field="clinician_id")
        return payload.clinician_id
    return actor.user_id


def _supersede(
    session: Session, model, client_id: int, effective: dt.date, label: str, now: dt.datetime
) -> list[int]:
    current = session.scalars(
        select(model).where(model.client_id == client_id, model.superseded_date.is_(None)).order_by(model.id)
    ).all()
    for plan in current:
        if plan.effective_date > effective:
            raise RuleViolation(
                f"{label}.backdated",
                f"{label.replace('_', ' ')} {plan.id} of client {client_id} starts after {effective.isoformat()}",
                field="effective_date",
            )
        plan.superseded_date = effective
        touch(plan, now)
    return [p.id for p in current]


def create_treatment_plan(
    session: Session, actor: SignedInUser, payload: PlanInput, *, now: dt.datetime, source: str = audit.API
) -> TreatmentPlan:
    require_role(actor, PLAN_ROLES, "write treatment plans")
    client_in_scope(session, actor, payload.client_id)
    _check_note(session, payload.note_id, payload.client_id, NoteType.TREATMENT_PLAN)
    interval = _interval(session, "TREATMENT_PLAN_REVIEW")  # read first: a later query would autoflush
    superseded = _supersede(
        session, TreatmentPlan, payload.client_id, payload.effective_date, "treatment_plan", now
    )
    plan = TreatmentPlan(
        updated_at=now,
        client_id=payload.client_id,
        clinician_id=_clinician(actor, payload),
        note_id=payload.note_id,
        effective_date=payload.effective_date,
        review_due_date=payload.effective_date + interval,
    )
    session.add(plan)
    with versioned("treatment_plan", 0):
        session.flush()
    record_write(
        session, actor, "treatment_plan.create", "treatment_plan", plan.id, client_ids=[plan.client_id],
        source=source, now=now, detail={"superseded": superseded} if superseded else None,
    )  # fmt: skip
    return plan


def get_treatment_plan(session: Session, actor: SignedInUser, plan_id: int) -> TreatmentPlan:
    plan = get_or_404(session, TreatmentPlan, plan_id, "treatment_plan")
    require_clinician_visible(actor, plan.clinician_id, "treatment_plan", plan_id)
    return plan


def review_treatment_plan(
    session: Session,
    actor: SignedInUser,
    plan_id: int,
    payload: PlanReviewInput,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> TreatmentPlan:
    """Record a review: the next one is due an interval after it."""
    require_role(actor, PLAN_ROLES, "review treatment plans")
    plan = get_treatment_plan(session, actor, plan_id)
    check_version(plan, expected_version, "treatment_plan")
    if plan.superseded_date is not None:
        raise RuleViolation(
            "treatment_plan.superseded", f"treatment plan {plan_id} was superseded: review the current one"
        )
    if payload.reviewed_date < plan.effective_date:
        raise InvalidInput(
            "treatment_plan.review_before_start", "a review cannot precede the plan", field="reviewed_date"
        )
    # The rule is read before the change: a query in between would autoflush half of it (two versions).
    interval = _interval(session, "TREATMENT_PLAN_REVIEW")
    plan.reviewed_date = payload.reviewed_date
    plan.review_due_date = payload.reviewed_date + interval
    touch(plan, now)
    with versioned("treatment_plan", plan_id):
        session.flush()
    record_write(
        session,
        actor,
        "treatment_plan.review",
        "treatment_plan",
        plan.id,
        client_ids=[plan.client_id],
        source=source,
        now=now,
    )
    return plan


def create_safety_plan(
    session: Session, actor: SignedInUser, payload: PlanInput, *, now: dt.datetime, source: str = audit.API
) -> SafetyPlan:
    """A new safety plan (also how one is revised: the current one is superseded)."""
    require_role(actor, PLAN_ROLES, "write safety plans")
    client_in_scope(session, actor, payload.client_id)
    _check_note(session, payload.note_id, payload.client_id, NoteType.SAFETY_PLAN)
    interval = _interval(session, "SAFETY_PLAN")
    superseded = _supersede(
        session, SafetyPlan, payload.client_id, payload.effective_date, "safety_plan", now
    )
    plan = SafetyPlan(
        updated_at=now,
        client_id=payload.client_id,
        clinician_id=_clinician(actor, payload),
        note_id=payload.note_id,
        effective_date=payload.effective_date,
        review_due_date=payload.effective_date + interval,
    )
    session.add(plan)
    session.flush()
    record_write(
        session, actor, "safety_plan.create", "safety_plan", plan.id, client_ids=[plan.client_id], source=source,
        now=now, detail={"superseded": superseded} if superseded else None,
    )  # fmt: skip
    return plan


def current_plans(session: Session, actor: SignedInUser, client_id: int) -> dict[str, object]:
    """The client's current treatment and safety plan (None where there is none)."""
    client_in_scope(session, actor, client_id)
    return {
        "treatment_plan": session.scalar(
            select(TreatmentPlan).where(
                TreatmentPlan.client_id == client_id, TreatmentPlan.superseded_date.is_(None)
            )
        ),
        "safety_plan": session.scalar(
            select(SafetyPlan).where(SafetyPlan.client_id == client_id, SafetyPlan.superseded_date.is_(None))
        ),
    }
