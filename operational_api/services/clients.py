"""Clients, their guardians, insurance policies and insurance verifications."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import Client, Guardian, InsurancePolicy, InsuranceVerification, Payer, User
from operational_api.services.errors import Forbidden, InvalidInput, NotFound, VersionConflict
from operational_api.services.ids import RecordId
from operational_api.services.listing import Page, page, touch
from operational_api.services.scope import check_clinician_visible, client_visible, visible_client

# Who may change demographics (the front desk, clinicians for their own clients, administrators).
DEMOGRAPHICS_WRITERS = ("ADMIN", "FRONT_DESK", "CLINICIAN", "SUPERVISOR")
INSURANCE_WRITERS = ("ADMIN", "FRONT_DESK", "BILLING", "CLINICIAN", "SUPERVISOR")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientFields(_Input):
    gender: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, min_length=2, max_length=2)
    zip_code: str | None = Field(default=None, max_length=10)
    emergency_contact_name: str | None = Field(default=None, max_length=200)
    emergency_contact_phone: str | None = Field(default=None, max_length=30)
    referring_provider: str | None = Field(default=None, max_length=200)
    is_high_risk: bool = False
    has_suicidal_ideation: bool = False
    is_emancipated: bool = False
    is_self_pay: bool = False
    # Appointment reminders go only by a channel the client agreed to (notifications/reminders.py).
    has_email_contact_consent: bool = False
    has_sms_contact_consent: bool = False
    intake_date: dt.date | None = None


class ClientCreate(ClientFields):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: dt.date | None = None
    primary_clinician_id: RecordId | None = None


class ClientUpdate(_Input):
    """Only the fields sent change (PATCH)."""

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: dt.date | None = None
    gender: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, min_length=2, max_length=2)
    zip_code: str | None = Field(default=None, max_length=10)
    emergency_contact_name: str | None = Field(default=None, max_length=200)
    emergency_contact_phone: str | None = Field(default=None, max_length=30)
    referring_provider: str | None = Field(default=None, max_length=200)
    status: Literal["ACTIVE", "INACTIVE", "DISCHARGED"] | None = None
    primary_clinician_id: RecordId | None = None
    is_high_risk: bool | None = None
    has_suicidal_ideation: bool | None = None
    is_emancipated: bool | None = None
    is_self_pay: bool | None = None
    has_email_contact_consent: bool | None = None
    has_sms_contact_consent: bool | None = None
    intake_date: dt.date | None = None
    discharged_date: dt.date | None = None

    @field_validator("first_name", "last_name")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("a name cannot be removed")
        return value


class GuardianCreate(_Input):
    full_name: str = Field(min_length=1, max_length=200)
    relationship: str = Field(min_length=1, max_length=50)
    phone: str | None = Field(default=None, max_length=30)


class PolicyCreate(_Input):
    payer_id: RecordId
    rank: int = Field(default=1, ge=1, le=3)
    member_id: str = Field(min_length=1, max_length=60)
    group_number: str | None = Field(default=None, max_length=60)
    effective_date: dt.date
    termination_date: dt.date | None = None


class VerificationCreate(_Input):
    status: Literal["VERIFIED", "FAILED", "PENDING"]
    is_eligible: bool | None = None
    source: Literal["MANUAL", "ADVANCEDMD"] = "MANUAL"
    expires_at: dt.datetime | None = None


def _require_role(actor: SignedInUser, roles: tuple[str, ...], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden("auth.role_forbidden", f"the {actor.role} role may not {what}")


def _audit(
    session: Session, actor: SignedInUser, action: str, entity: str, entity_id, client_id, now, **detail
):
    audit.record(
        session,
        action=action,
        source=audit.API,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity=entity,
        entity_id=entity_id,
        client_ids=[client_id],
        detail=detail or None,
        now=now,
    )


def _check_clinician(session: Session, actor: SignedInUser, clinician_id: int) -> None:
    check_clinician_visible(actor, clinician_id)
    user = session.get(User, clinician_id)
    if user is None or user.role not in ("CLINICIAN", "SUPERVISOR") or not user.is_active:
        raise NotFound("clinician.not_found", f"no active clinician {clinician_id}", field="clinician_id")


def create_client(
    session: Session, actor: SignedInUser, payload: ClientCreate, *, now: dt.datetime
) -> Client:
    _require_role(actor, DEMOGRAPHICS_WRITERS, "register clients")
    clinician_id = payload.primary_clinician_id
    if clinician_id is None and actor.role in ("CLINICIAN", "SUPERVISOR"):
        clinician_id = actor.user_id  # a clinician registers their own client
    if clinician_id is None and actor.visible_clinician_ids is not None:
        raise InvalidInput(
            "client.clinician_required", "primary_clinician_id is required", field="primary_clinician_id"
        )
    if clinician_id is not None:
        _check_clinician(session, actor, clinician_id)
    if payload.date_of_birth is not None and payload.date_of_birth > now.date():
        raise InvalidInput(
            "client.date_of_birth_future", "date_of_birth is in the future", field="date_of_birth"
        )
    client = Client(
        **payload.model_dump(exclude={"primary_clinician_id"}),
        primary_clinician_id=clinician_id,
        status="ACTIVE",
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    _audit(session, actor, "client.create", "client", client.id, client.id, now)
    return client


def get_client(session: Session, actor: SignedInUser, client_id: int) -> Client:
    return visible_client(session, actor, client_id)


def update_client(
    session: Session,
    actor: SignedInUser,
    client_id: int,
    payload: ClientUpdate,
    *,
    expected_version: int | None,
    now: dt.datetime,
) -> Client:
    _require_role(actor, DEMOGRAPHICS_WRITERS, "change client records")
    client = visible_client(session, actor, client_id)
    if expected_version is not None and client.version != expected_version:
        raise VersionConflict(
            "client.version_conflict",
            f"client {client_id} is at version {client.version}, not {expected_version}: read it again",
        )
    changes = payload.model_dump(exclude_unset=True)
    if "primary_clinician_id" in changes and changes["primary_clinician_id"] is not None:
        _check_clinician(session, actor, changes["primary_clinician_id"])
    if changes.get("date_of_birth") and changes["date_of_birth"] > now.date():
        raise InvalidInput(
            "client.date_of_birth_future", "date_of_birth is in the future", field="date_of_birth"
        )
    for name, value in changes.items():
        setattr(client, name, value)
    touch(client, now)
    session.flush()
    _audit(session, actor, "client.update", "client", client.id, client.id, now, fields=sorted(changes))
    return client


def list_clients(
    session: Session,
    actor: SignedInUser,
    *,
    limit: int = 50,
    cursor: str | None = None,
    updated_since: dt.datetime | None = None,
    clinician_id: int | None = None,
    status: str | None = None,
) -> Page:
    stmt = select(Client).where(client_visible(actor))
    if clinician_id is not None:
        stmt = stmt.where(Client.primary_clinician_id == clinician_id)
    if status is not None:
        stmt = stmt.where(Client.status == status)
    return page(
        session,
        stmt,
        Client.id,
        limit=limit,
        cursor=cursor,
        updated_column=Client.updated_at,
        updated_since=updated_since,
    )


def add_guardian(
    session: Session, actor: SignedInUser, client_id: int, payload: GuardianCreate, *, now: dt.datetime
) -> Guardian:
    _require_role(actor, DEMOGRAPHICS_WRITERS, "record guardians")
    client = visible_client(session, actor, client_id)
    guardian = Guardian(updated_at=now, client_id=client.id, **payload.model_dump())
    session.add(guardian)
    session.flush()
    _audit(session, actor, "guardian.create", "guardian", guardian.id, client.id, now)
    return guardian


def list_guardians(session: Session, actor: SignedInUser, client_id: int) -> list[Guardian]:
    client = visible_client(session, actor, client_id)
    return list(
        session.scalars(select(Guardian).where(Guardian.client_id == client.id).order_by(Guardian.id))
    )


def add_policy(
    session: Session, actor: SignedInUser, client_id: int, payload: PolicyCreate, *, now: dt.datetime
) -> InsurancePolicy:
    _require_role(actor, INSURANCE_WRITERS, "record insurance")
    client = visible_client(session, actor, client_id)
    if session.get(Payer, payload.payer_id) is None:
        raise InvalidInput("insurance.payer_unknown", f"no payer {payload.payer_id}", field="payer_id")
    if payload.termination_date is not None and payload.termination_date < payload.effective_date:
        raise InvalidInput(
            "insurance.dates_invalid", "termination_date is before effective_date", field="termination_date"
        )
    policy = InsurancePolicy(updated_at=now, client_id=client.id, **payload.model_dump())
    session.add(policy)
    session.flush()
    _audit(session, actor, "insurance_policy.create", "insurance_policy", policy.id, client.id, now)
    return policy


def list_policies(session: Session, actor: SignedInUser, client_id: int) -> list[InsurancePolicy]:
    client = visible_client(session, actor, client_id)
    return list(
        session.scalars(
            select(InsurancePolicy).where(InsurancePolicy.client_id == client.id).order_by(InsurancePolicy.id)
        )
    )


def add_verification(
    session: Session,
    actor: SignedInUser,
    client_id: int,
    policy_id: int,
    payload: VerificationCreate,
    *,
    now: dt.datetime,
) -> InsuranceVerification:
    _require_role(actor, INSURANCE_WRITERS, "record insurance verifications")
    client = visible_client(session, actor, client_id)
    policy = session.get(InsurancePolicy, policy_id)
    if policy is None or policy.client_id != client.id:
        raise NotFound(
            "insurance.policy_not_found", f"no policy {policy_id} for client {client_id}", field="policy_id"
        )
    verification = InsuranceVerification(
        updated_at=now,
        policy_id=policy.id,
        client_id=client.id,
        status=payload.status,
        is_eligible=payload.is_eligible,
        source=payload.source,
        verified_by=actor.user_id,
        verified_at=now,
        expires_at=payload.expires_at.replace(tzinfo=None)
        if payload.expires_at
        else now + dt.timedelta(days=90),
    )
    session.add(verification)
    session.flush()
    _audit(
        session,
        actor,
        "insurance_verification.create",
        "insurance_verification",
        verification.id,
        client.id,
        now,
    )
    return verification


def list_verifications(session: Session, actor: SignedInUser, client_id: int) -> list[InsuranceVerification]:
    client = visible_client(session, actor, client_id)
    return list(
        session.scalars(
            select(InsuranceVerification)
            .where(InsuranceVerification.client_id == client.id)
            .order_by(InsuranceVerification.id)
        )
    )
