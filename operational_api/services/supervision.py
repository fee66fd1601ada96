"""Supervision sessions (PRD module 7): hours between a supervisor and a supervisee, and the session note's
signature (Georgia: within SUPERVISION_NOTE/deadline_days; the warehouse raises the alert, this records it).

Who: a supervisor logs sessions with their own supervisees (users.supervisor_id) and signs their notes;
administrators log for any supervisor-supervisee pair of record. A session note is signed once
(supervision.already_signed), by the session's supervisor.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import SupervisionSession, User
from operational_api.services.clinical_common import (
    ADMIN,
    CLINICAL_ROLES,
    get_or_404,
    local_date,
    record_write,
    require_role,
)
from operational_api.services.errors import InvalidInput, NotFound, RuleViolation
from operational_api.services.ids import RecordId
from operational_api.services.listing import Page, page

SUPERVISION_ROLES = CLINICAL_ROLES | {ADMIN}


class SupervisionSessionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supervisee_id: RecordId
    session_date: dt.date
    duration_hours: Decimal = Field(gt=0, le=8, max_digits=4, decimal_places=2)
    session_type: str = Field(default="INDIVIDUAL", pattern="^(INDIVIDUAL|GROUP)$")
    supervisor_id: RecordId | None = None  # administrators name it; a supervisor logs their own sessions


def get_supervision_session(session: Session, actor: SignedInUser, session_id: int) -> SupervisionSession:
    """A session the actor took part in (administrators: any); NotFound otherwise."""
    row = get_or_404(session, SupervisionSession, session_id, "supervision_session")
    if actor.role != ADMIN and actor.user_id not in (row.supervisor_id, row.supervisee_id):
        raise NotFound("supervision_session.not_found", f"supervision session {session_id} not found")
    return row


def log_supervision_session(
    session: Session,
    actor: SignedInUser,
    payload: SupervisionSessionInput,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> SupervisionSession:
    require_role(actor, SUPERVISION_ROLES, "log supervision sessions")
    supervisee = session.get(User, payload.supervisee_id)
    if supervisee is None or not actor.can_see_clinician(supervisee.id):
        raise NotFound("user.not_found", f"user {payload.supervisee_id} not found")
    supervisor_id = payload.supervisor_id if actor.role == ADMIN else actor.user_id
    if supervisor_id is None:
        raise InvalidInput(
            "supervision.supervisor_missing", "name the session's supervisor", field="supervisor_id"
        )
    if supervisee.supervisor_id != supervisor_id:
        raise RuleViolation(
            "supervision.not_supervisee",
            f"user {supervisee.id} is not supervised by user {supervisor_id}",
            field="supervisee_id",
        )
    if payload.session_date > local_date(now):
        raise InvalidInput(
            "supervision.future_date", "a session is logged once it happened", field="session_date"
        )
    row = SupervisionSession(
        updated_at=now,
        supervisee_id=supervisee.id,
        supervisor_id=supervisor_id,
        session_date=payload.session_date,
        duration_hours=payload.duration_hours,
        session_type=payload.session_type,
        is_note_signed=False,
    )
    session.add(row)
    session.flush()
    record_write(session, actor, "supervision.create", "supervision_session", row.id, source=source, now=now)
    return row


def sign_supervision_note(
    session: Session, actor: SignedInUser, session_id: int, *, now: dt.datetime, source: str = audit.API
) -> SupervisionSession:
    """The supervisor signs the session's note, once (a conditional update, so two signers cannot both win)."""
    require_role(actor, CLINICAL_ROLES, "sign supervision notes")
    row = get_supervision_session(session, actor, session_id)
    if row.supervisor_id != actor.user_id:
        raise RuleViolation(
            "supervision.not_supervisor", f"supervision session {session_id} is signed by its supervisor"
        )
    done = session.execute(
        update(SupervisionSession)
        .where(SupervisionSession.id == session_id, SupervisionSession.is_note_signed.is_(False))
        .values(is_note_signed=True, signed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise RuleViolation(
            "supervision.already_signed", f"supervision session {session_id}'s note is already signed"
        )
    session.refresh(row)
    record_write(session, actor, "supervision.sign", "supervision_session", row.id, source=source, now=now)
    return row


def list_supervision_sessions(
    session: Session,
    actor: SignedInUser,
    *,
    supervisee_id: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """Sessions the actor took part in (administrators: all)."""
    require_role(actor, SUPERVISION_ROLES, "read supervision sessions")
    query = select(SupervisionSession)
    if actor.role != ADMIN:
        query = query.where(
            (SupervisionSession.supervisor_id == actor.user_id)
            | (SupervisionSession.supervisee_id == actor.user_id)
        )
    if supervisee_id is not None:
        query = query.where(SupervisionSession.supervisee_id == supervisee_id)
    return page(session, query, SupervisionSession.id, limit=limit, cursor=cursor)
