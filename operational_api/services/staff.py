"""Staff records: HIPAA trainings, breach incidents, interdisciplinary case input, performance goals.

- A HIPAA training's expiry is HIPAA_TRAINING/validity_days after completion (compliance_rules). Administrators
  record anyone's; a staff member records their own completion.
- Breach incidents: anyone on staff reports one (a category and severity, never PHI); administrators record the
  response and the resolution, in that order (`BREACH_STEPS`).
- Case input: a clinician, supervisor or administrator adds their discipline's input to a client in their scope.
- Performance goals: a supervisor sets goals for their supervisees, an administrator for anyone; a goal moves
  from ACTIVE to ACHIEVED or MISSED once (`GOAL_TRANSITIONS`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import STAFF_ROLES, SignedInUser
from operational_api.models import BreachIncident, CaseInput, HipaaTraining, PerformanceGoal, User
from operational_api.services.clinical_common import (
    ADMIN,
    CLINICAL_ROLES,
    SUPERVISOR,
    client_in_scope,
    get_or_404,
    local_date,
    record_write,
    require_role,
    rule_value,
)
from operational_api.services.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from operational_api.services.ids import RecordId
from operational_api.services.listing import touch

BREACH_SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# The step -> the column it fills and the step that must come before it.
BREACH_STEPS = {"respond": ("responded_at", None), "resolve": ("resolved_at", "responded_at")}
GOAL_TRANSITIONS = {
    "ACTIVE": frozenset({"ACHIEVED", "MISSED"}),
    "ACHIEVED": frozenset(),
    "MISSED": frozenset(),
}


class TrainingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: RecordId
    completed_date: dt.date


def record_hipaa_training(
    session: Session,
    actor: SignedInUser,
    payload: TrainingInput,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> HipaaTraining:
    require_role(actor, STAFF_ROLES, "record HIPAA trainings")
    if actor.role != ADMIN and payload.user_id != actor.user_id:
        raise Forbidden("training.not_own", "staff record their own training; administrators record anyone's")
    get_or_404(session, User, payload.user_id, "user")
    if payload.completed_date > local_date(now):
        raise InvalidInput(
            "training.future_date", "a training is recorded once completed", field="completed_date"
        )
    validity = dt.timedelta(days=int(rule_value(session, "HIPAA_TRAINING", "validity_days")))
    row = HipaaTraining(
        updated_at=now,
        user_id=payload.user_id,
        completed_date=payload.completed_date,
        expires_date=payload.completed_date + validity,
    )
    session.add(row)
    session.flush()
    record_write(session, actor, "hipaa_training.create", "hipaa_training", row.id, source=source, now=now)
    return row


class BreachInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: str = Field(pattern="^(LOW|MEDIUM|HIGH|CRITICAL)$")
    category: str = Field(min_length=1, max_length=40)
    detected_at: dt.datetime


def report_breach(
    session: Session, actor: SignedInUser, payload: BreachInput, *, now: dt.datetime, source: str = audit.API
) -> BreachIncident:
    require_role(actor, STAFF_ROLES, "report breach incidents")
    detected = payload.detected_at.replace(tzinfo=None) if payload.detected_at.tzinfo is None else (
        payload.detected_at.astimezone(dt.UTC).replace(tzinfo=None)
    )  # fmt: skip
    if detected > now:
        raise InvalidInput("breach.future_date", "an incident is reported once detected", field="detected_at")
    row = BreachIncident(
        updated_at=now,
        reported_by=actor.user_id,
        severity=payload.severity,
        category=payload.category,
        detected_at=detected,
    )
    session.add(row)
    session.flush()
    record_write(session, actor, "breach.report", "breach_incident", row.id, source=source, now=now)
    return row


def get_breach(session: Session, actor: SignedInUser, incident_id: int) -> BreachIncident:
    require_role(actor, {ADMIN}, "read breach incidents")
    return get_or_404(session, BreachIncident, incident_id, "breach_incident")


def advance_breach(
    session: Session,
    actor: SignedInUser,
    incident_id: int,
    step: str,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> BreachIncident:
    """`respond` then `resolve`, each once (breach.transition otherwise)."""
    require_role(actor, {ADMIN}, "manage breach incidents")
    if step not in BREACH_STEPS:
        raise InvalidInput("breach.step_unknown", f"step is one of {', '.join(BREACH_STEPS)}", field="step")
    row = get_breach(session, actor, incident_id)
    column, before = BREACH_STEPS[step]
    if getattr(row, column) is not None or (before is not None and getattr(row, before) is None):
        raise RuleViolation("breach.transition", f"breach incident {incident_id}: cannot {step} it now")
    setattr(row, column, now)
    session.flush()
    record_write(session, actor, f"breach.{step}", "breach_incident", row.id, source=source, now=now)
    return row


class CaseInputInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: RecordId
    discipline: str = Field(min_length=1, max_length=40)
    input_date: dt.date


def add_case_input(
    session: Session,
    actor: SignedInUser,
    payload: CaseInputInput,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> CaseInput:
    require_role(actor, CLINICAL_ROLES | {ADMIN}, "add case input")
    client_in_scope(session, actor, payload.client_id)
    row = CaseInput(
        updated_at=now,
        client_id=payload.client_id,
        contributor_id=actor.user_id,
        discipline=payload.discipline,
        input_date=payload.input_date,
    )
    session.add(row)
    session.flush()
    record_write(
        session,
        actor,
        "case_input.create",
        "case_input",
        row.id,
        client_ids=[row.client_id],
        source=source,
        now=now,
    )
    return row


class GoalInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: RecordId
    metric_key: str = Field(min_length=1, max_length=60)
    target_value: Decimal = Field(max_digits=12, decimal_places=2)
    start_date: dt.date
    end_date: dt.date


def _goal_owner_in_reach(session: Session, actor: SignedInUser, user_id: int) -> None:
    user = session.get(User, user_id)
    if user is None or not actor.can_see_clinician(user_id):
        raise NotFound("user.not_found", f"user {user_id} not found")
    if actor.role != ADMIN and user.supervisor_id != actor.user_id:
        raise Forbidden("goal.not_supervisee", f"user {user_id} is not the actor's supervisee")


def create_goal(
    session: Session, actor: SignedInUser, payload: GoalInput, *, now: dt.datetime, source: str = audit.API
) -> PerformanceGoal:
    require_role(actor, {ADMIN, SUPERVISOR}, "set performance goals")
    _goal_owner_in_reach(session, actor, payload.user_id)
    if payload.end_date < payload.start_date:
        raise InvalidInput("goal.dates", "a goal ends on or after its start", field="end_date")
    row = PerformanceGoal(
        user_id=payload.user_id,
        metric_key=payload.metric_key,
        target_value=payload.target_value,
        start_date=payload.start_date,
        end_date=payload.end_date,
        status="ACTIVE",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record_write(session, actor, "goal.create", "performance_goal", row.id, source=source, now=now)
    return row


def get_goal(session: Session, actor: SignedInUser, goal_id: int) -> PerformanceGoal:
    """A goal of the actor's supervisee (administrators: anyone's); NotFound outside their scope."""
    row = get_or_404(session, PerformanceGoal, goal_id, "performance_goal")
    _goal_owner_in_reach(session, actor, row.user_id)
    return row


def set_goal_status(
    session: Session,
    actor: SignedInUser,
    goal_id: int,
    status: str,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> PerformanceGoal:
    require_role(actor, {ADMIN, SUPERVISOR}, "close performance goals")
    row = get_goal(session, actor, goal_id)
    if status not in GOAL_TRANSITIONS.get(row.status, frozenset()):
        raise RuleViolation(
            "goal.transition", f"performance goal {goal_id} is {row.status}: it cannot become {status}"
        )
    before, row.status = row.status, status
    touch(row, now)
    session.flush()
    record_write(
        session, actor, "goal.status", "performance_goal", row.id, source=source, now=now,
        detail={"from": before, "to": status},
    )  # fmt: skip
    return row
