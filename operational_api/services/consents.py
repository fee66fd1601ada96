"""Consents: informed (annual), guardian (for minors), telehealth; recording and revoking them.

Whether a consent is current is `rules.consent_current_until` (the warehouse's int_consents_with_validity);
booking checks it (services/appointments.py, Georgia rules 3, 5 and 6).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import Consent, Guardian
from operational_api.services.errors import Forbidden, InvalidInput, NotFound, RuleViolation, VersionConflict
from operational_api.services.ids import RecordId
from operational_api.services.listing import touch
from operational_api.services.rules import local_today
from operational_api.services.scope import client_visible, visible_client

CONSENT_WRITERS = ("ADMIN", "FRONT_DESK", "CLINICIAN", "SUPERVISOR")


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_type: Literal["INFORMED", "GUARDIAN", "TELEHEALTH"]
    signed_date: dt.date
    expiry_date: dt.date | None = None
    guardian_id: RecordId | None = Field(default=None, description="required for a GUARDIAN consent")


class ConsentRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoked_date: dt.date | None = Field(default=None, description="default: today (practice-local)")


def _audit(session: Session, actor: SignedInUser, action: str, consent: Consent, now: dt.datetime) -> None:
    audit.record(
        session,
        action=action,
        source=audit.API,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity="consent",
        entity_id=consent.id,
        client_ids=[consent.client_id],
        detail={"consent_type": consent.consent_type},
        now=now,
    )


def _require_writer(actor: SignedInUser) -> None:
    if actor.role not in CONSENT_WRITERS:
        raise Forbidden("auth.role_forbidden", f"the {actor.role} role may not record consents")


def create_consent(
    session: Session, actor: SignedInUser, client_id: int, payload: ConsentCreate, *, now: dt.datetime
) -> Consent:
    _require_writer(actor)
    client = visible_client(session, actor, client_id)
    if payload.signed_date > local_today(now):
        raise InvalidInput("consent.signed_in_future", "signed_date is after today", field="signed_date")
    if payload.expiry_date is not None and payload.expiry_date <= payload.signed_date:
        raise InvalidInput(
            "consent.expiry_invalid", "expiry_date must be after signed_date", field="expiry_date"
        )
    if payload.consent_type == "GUARDIAN":
        guardian = session.get(Guardian, payload.guardian_id) if payload.guardian_id is not None else None
        if guardian is None or guardian.client_id != client.id:
            raise InvalidInput(
                "consent.guardian_required",
                f"a GUARDIAN consent needs guardian_id naming a guardian of client {client.id}",
                field="guardian_id",
            )
    elif payload.guardian_id is not None:
        raise InvalidInput(
            "consent.guardian_unexpected", "guardian_id is only for GUARDIAN consents", field="guardian_id"
        )
    consent = Consent(updated_at=now, client_id=client.id, **payload.model_dump())
    session.add(consent)
    session.flush()
    _audit(session, actor, "consent.create", consent, now)
    return consent


def _visible_consent(session: Session, actor: SignedInUser, consent_id: int) -> Consent:
    from operational_api.models import Client

    consent = session.scalar(
        select(Consent)
        .join(Client, Client.id == Consent.client_id)
        .where(Consent.id == consent_id, client_visible(actor))
    )
    if consent is None:
        raise NotFound("consent.not_found", f"no consent {consent_id}", field="consent_id")
    return consent


def get_consent(session: Session, actor: SignedInUser, consent_id: int) -> Consent:
    return _visible_consent(session, actor, consent_id)


def revoke_consent(
    session: Session,
    actor: SignedInUser,
    consent_id: int,
    payload: ConsentRevoke,
    *,
    expected_version: int | None,
    now: dt.datetime,
) -> Consent:
    """Revoking ends the consent from that date: bookings on or after it that need it are refused."""
    _require_writer(actor)
    consent = _visible_consent(session, actor, consent_id)
    if expected_version is not None and consent.version != expected_version:
        raise VersionConflict(
            "consent.version_conflict",
            f"consent {consent_id} is at version {consent.version}, not {expected_version}",
        )
    if consent.revoked_date is not None:
        raise RuleViolation("consent.already_revoked", f"consent {consent_id} was already revoked")
    revoked = payload.revoked_date or local_today(now)
    if revoked < consent.signed_date:
        raise InvalidInput(
            "consent.revoked_before_signed", "revoked_date is before signed_date", field="revoked_date"
        )
    consent.revoked_date = revoked
    touch(consent, now)
    session.flush()
    _audit(session, actor, "consent.revoke", consent, now)
    return consent


def list_consents(session: Session, actor: SignedInUser, client_id: int) -> list[Consent]:
    client = visible_client(session, actor, client_id)
    return list(session.scalars(select(Consent).where(Consent.client_id == client.id).order_by(Consent.id)))
