"""Clinical notes (PRD module 4): draft, update, submit, sign, supervisor co-sign, amendments and addenda, bulk sign.

The note's life is the table `NOTE_TRANSITIONS` below: (status, action) -> the status after it. Anything not in
the table is refused with the rule id `NOTE_REFUSALS` gives (no signing twice, no editing a signed note, no
amending an unsigned one). A signed note's text never changes in place: corrections are NoteAmendment rows
(AMENDMENT moves the note to AMENDED, ADDENDUM adds to it and leaves the status), each signed by its author.

Who: the author writes, submits, signs and amends their own notes (clinicians and supervisors); the author's
supervisor of record (`users.supervisor_id`) co-signs notes that require it; administrators read everything;
front desk and billing read a note's facts but never its text (`note_view`).

Co-sign rule: a note requires a co-sign when its author's licence is one that practises under supervision
(`COSIGN_LICENSE_TYPES`, the synthetic generator uses the same set). The co-sign queue of a supervisor is their
supervisees' signed notes that require it and are not co-signed yet.

Bulk sign reports per note (signed, or refused with its rule): each note is its own legal document, so one
that another tab already signed must not stop the author signing the other nineteen; every check runs before
that note's write, so a refused note leaves nothing behind and the signed ones commit together with their audit
rows in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import (
    Appointment,
    Charge,
    ClinicalNote,
    NoteAmendment,
    NoteStatus,
    NoteType,
    User,
)
from operational_api.services.clinical_common import (
    CLINICAL_ROLES,
    can_read_note_text,
    check_version,
    client_in_scope,
    get_or_404,
    record_write,
    require_clinician_visible,
    require_role,
    versioned,
)
from operational_api.services.errors import InvalidInput, NotFound, RuleViolation, ServiceError
from operational_api.services.ids import RecordId
from operational_api.services.listing import Page, page, touch

# Licences whose notes a supervisor co-signs (pre-licensed associates practise under supervision).
COSIGN_LICENSE_TYPES = frozenset({"LPC_ASSOCIATE"})

DRAFT, IN_REVIEW, SIGNED, AMENDED = (s.value for s in NoteStatus)
# (status, action) -> status after; the one home of what may happen to a note.
NOTE_TRANSITIONS: dict[tuple[str, str], str] = {
    (DRAFT, "update"): DRAFT,
    (IN_REVIEW, "update"): IN_REVIEW,
    (DRAFT, "submit"): IN_REVIEW,
    (DRAFT, "sign"): SIGNED,
    (IN_REVIEW, "sign"): SIGNED,
    (SIGNED, "cosign"): SIGNED,
    (AMENDED, "cosign"): AMENDED,
    (SIGNED, "amend"): AMENDED,
    (AMENDED, "amend"): AMENDED,
    (SIGNED, "addendum"): SIGNED,
    (AMENDED, "addendum"): AMENDED,
}
# Why an action outside the table is refused, by the status the note is in.
NOTE_REFUSALS: dict[tuple[str, str], str] = {
    **{(s, "update"): "note.signed_immutable" for s in (SIGNED, AMENDED)},
    **{(s, "sign"): "note.already_signed" for s in (SIGNED, AMENDED)},
    **{(s, "submit"): "note.already_signed" for s in (SIGNED, AMENDED)},
    (IN_REVIEW, "submit"): "note.already_submitted",
    **{(s, a): "note.not_signed" for s in (DRAFT, IN_REVIEW) for a in ("cosign", "amend", "addendum")},
}


def transition(note: ClinicalNote, action: str) -> str:
    """The status `action` leads to, or RuleViolation naming the rule."""
    after = NOTE_TRANSITIONS.get((note.status, action))
    if after is None:
        rule = NOTE_REFUSALS.get((note.status, action), "note.transition")
        raise RuleViolation(
            rule, f"clinical note {note.id} is {note.status}: cannot {action} it", field="status"
        )
    return after


# ---- inputs -------------------------------------------------------------------------------------------------


class NoteDraftInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: RecordId
    note_type: NoteType
    appointment_id: RecordId | None = None
    content: str | None = Field(default=None, max_length=100_000)
    icd10_codes: str | None = Field(default=None, max_length=100)


class NoteUpdateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note_type: NoteType | None = None
    content: str | None = Field(default=None, max_length=100_000)
    icd10_codes: str | None = Field(default=None, max_length=100)


class AmendmentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern="^(AMENDMENT|ADDENDUM)$")
    content: str = Field(min_length=1, max_length=100_000)


# ---- reads --------------------------------------------------------------------------------------------------


def get_note(session: Session, actor: SignedInUser, note_id: int) -> ClinicalNote:
    """A note in the actor's scope (NotFound otherwise). Callers showing it use `note_view`."""
    note = get_or_404(session, ClinicalNote, note_id, "clinical_note")
    require_clinician_visible(actor, note.clinician_id, "clinical_note", note_id)
    return note


def note_view(note: ClinicalNote, actor: SignedInUser) -> dict[str, object]:
    """A note as the actor may see it: front desk and billing get no `content` key at all."""
    view = {
        "id": note.id,
        "client_id": note.client_id,
        "clinician_id": note.clinician_id,
        "appointment_id": note.appointment_id,
        "note_type": note.note_type,
        "status": note.status,
        "icd10_codes": note.icd10_codes,
        "requires_cosign": note.requires_cosign,
        "signed_by": note.signed_by,
        "signed_at": note.signed_at,
        "cosigned_by": note.cosigned_by,
        "cosigned_at": note.cosigned_at,
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "version": note.version,
    }
    if can_read_note_text(actor):
        view["content"] = note.content
    return view


def list_notes(
    session: Session,
    actor: SignedInUser,
    *,
    client_id: int | None = None,
    clinician_id: int | None = None,
    status: str | None = None,
    updated_since: dt.datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """Notes in the actor's scope, in id order (keyset pages, services/listing.py)."""
    query = select(ClinicalNote)
    if actor.visible_clinician_ids is not None:
        query = query.where(ClinicalNote.clinician_id.in_(sorted(actor.visible_clinician_ids)))
    if client_id is not None:
        query = query.where(ClinicalNote.client_id == client_id)
    if clinician_id is not None:
        query = query.where(ClinicalNote.clinician_id == clinician_id)
    if status is not None:
        query = query.where(ClinicalNote.status == status)
    return page(
        session, query, ClinicalNote.id, limit=limit, cursor=cursor,
        updated_column=ClinicalNote.updated_at, updated_since=updated_since,
    )  # fmt: skip


def cosign_queue(session: Session, actor: SignedInUser) -> list[ClinicalNote]:
    """The actor's supervisees' signed notes waiting for the actor's co-signature, oldest signature first."""
    supervisees = select(User.id).where(User.supervisor_id == actor.user_id)
    return list(
        session.scalars(
            select(ClinicalNote)
            .where(
                ClinicalNote.clinician_id.in_(supervisees),
                ClinicalNote.requires_cosign.is_(True),
                ClinicalNote.status.in_((SIGNED, AMENDED)),
                ClinicalNote.cosigned_at.is_(None),
            )
            .order_by(ClinicalNote.signed_at, ClinicalNote.id)
        )
    )


# ---- writes -------------------------------------------------------------------------------------------------


def _own_note(session: Session, actor: SignedInUser, note_id: int, action: str) -> ClinicalNote:
    require_role(actor, CLINICAL_ROLES, f"{action} clinical notes")
    note = get_note(session, actor, note_id)
    if note.clinician_id != actor.user_id:
        raise RuleViolation(
            "note.not_author",
            f"clinical note {note_id} is another clinician's: only its author can {action} it",
        )
    return note


def create_note_draft(
    session: Session,
    actor: SignedInUser,
    payload: NoteDraftInput,
    *,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicalNote:
    """A new DRAFT note by the actor (its author) for one of their clients."""
    require_role(actor, CLINICAL_ROLES, "write clinical notes")
    client_in_scope(session, actor, payload.client_id)
    if payload.appointment_id is not None:
        appointment = session.get(Appointment, payload.appointment_id)
        if appointment is None or not actor.can_see_clinician(appointment.clinician_id):
            raise NotFound("appointment.not_found", f"appointment {payload.appointment_id} not found")
        if appointment.client_id != payload.client_id or appointment.clinician_id != actor.user_id:
            raise InvalidInput(
                "note.appointment_mismatch",
                f"appointment {payload.appointment_id} is not a session of client {payload.client_id} "
                f"with clinician {actor.user_id}",
                field="appointment_id",
            )
    author = session.get(User, actor.user_id)
    note = ClinicalNote(
        client_id=payload.client_id,
        clinician_id=actor.user_id,
        appointment_id=payload.appointment_id,
        note_type=payload.note_type.value,
        status=DRAFT,
        content=payload.content,
        icd10_codes=payload.icd10_codes,
        requires_cosign=bool(author and author.license_type in COSIGN_LICENSE_TYPES),
        created_at=now,
        updated_at=now,
    )
    session.add(note)
    session.flush()
    record_write(
        session,
        actor,
        "note.create",
        "clinical_note",
        note.id,
        client_ids=[note.client_id],
        source=source,
        now=now,
    )
    return note


def update_note_draft(
    session: Session,
    actor: SignedInUser,
    note_id: int,
    payload: NoteUpdateInput,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicalNote:
    """Change an unsigned note (DRAFT or IN_REVIEW); a signed note never changes (amend it instead)."""
    note = _own_note(session, actor, note_id, "edit")
    check_version(note, expected_version, "clinical_note")
    transition(note, "update")
    changes = payload.model_dump(exclude_unset=True)
    if "note_type" in changes and changes["note_type"] is not None:
        note.note_type = NoteType(changes["note_type"]).value
    if "content" in changes:
        note.content = changes["content"]
    if "icd10_codes" in changes:
        note.icd10_codes = changes["icd10_codes"]
    touch(note, now)
    with versioned("clinical_note", note_id):
        session.flush()
    record_write(
        session, actor, "note.update", "clinical_note", note.id, client_ids=[note.client_id], source=source, now=now,
        detail={"fields": sorted(changes)},
    )  # fmt: skip
    return note


def submit_note(
    session: Session,
    actor: SignedInUser,
    note_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicalNote:
    """DRAFT -> IN_REVIEW: the author marks the note finished and ready for signature."""
    note = _own_note(session, actor, note_id, "submit")
    check_version(note, expected_version, "clinical_note")
    note.status = transition(note, "submit")
    touch(note, now)
    with versioned("clinical_note", note_id):
        session.flush()
    record_write(
        session,
        actor,
        "note.submit",
        "clinical_note",
        note.id,
        client_ids=[note.client_id],
        source=source,
        now=now,
    )
    return note


def _sign_checked(note: ClinicalNote) -> str:
    after = transition(note, "sign")
    if not (note.content or "").strip():
        raise InvalidInput(
            "note.content_missing",
            f"clinical note {note.id} has no text: write it before signing",
            field="content",
        )
    return after


def _apply_signature(note: ClinicalNote, actor: SignedInUser, after: str, now: dt.datetime) -> None:
    note.status = after
    note.signed_by = actor.user_id
    note.signed_at = now
    touch(note, now)


def _lift_billing_holds(session: Session, note: ClinicalNote, now: dt.datetime) -> int:
    """The billing hold (unsigned note from day 14) lifts with the signature: the charges of this note, or of its
    session when they name no note, may be submitted now (services/billing.py checks the note itself). Runs after
    the note's own flush, so a lost race on the note is a VersionConflict before anything else is written."""
    owned = Charge.note_id == note.id
    if note.appointment_id is not None:
        owned = owned | (Charge.note_id.is_(None) & (Charge.appointment_id == note.appointment_id))
    lifted = session.execute(
        update(Charge)
        .where(owned, Charge.is_billing_hold.is_(True))
        .values(is_billing_hold=False, version=Charge.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return lifted or 0


def sign_note(
    session: Session,
    actor: SignedInUser,
    note_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicalNote:
    """The author's signature (signed_at = now). Signing twice is refused (note.already_signed)."""
    note = _own_note(session, actor, note_id, "sign")
    check_version(note, expected_version, "clinical_note")
    after = _sign_checked(note)
    _apply_signature(note, actor, after, now)
    with versioned("clinical_note", note_id):
        session.flush()
    lifted = _lift_billing_holds(session, note, now)
    record_write(
        session, actor, "note.sign", "clinical_note", note.id, client_ids=[note.client_id], source=source, now=now,
        detail={"billing_holds_lifted": lifted} if lifted else None,
    )  # fmt: skip
    return note


@dataclass
class BulkSignResult:
    """Per note: signed, or refused with the rule and message (no PHI)."""

    signed: list[int] = field(default_factory=list)
    refused: list[dict[str, object]] = field(default_factory=list)


def bulk_sign_notes(
    session: Session, actor: SignedInUser, note_ids: list[int], *, now: dt.datetime, source: str = audit.API
) -> BulkSignResult:
    """Sign each of `note_ids` the actor authored; per-note results (module docstring says why)."""
    require_role(actor, CLINICAL_ROLES, "sign clinical notes")
    if not note_ids or len(note_ids) > 500:
        raise InvalidInput("note.bulk_size", "bulk sign takes between 1 and 500 note ids", field="note_ids")
    result = BulkSignResult()
    for note_id in dict.fromkeys(note_ids):
        try:
            note = _own_note(session, actor, note_id, "sign")
            after = _sign_checked(note)
        except ServiceError as refusal:
            result.refused.append(
                {
                    "note_id": note_id,
                    "rule": refusal.rule,
                    "status": refusal.status,
                    "message": refusal.message,
                }
            )
            # Refused like a single sign would be (and audited the same way), though the request succeeds.
            # No client id: the note may be one the actor may not see.
            record_write(
                session, actor, "note.sign", "clinical_note", note_id, source=source, now=now, outcome="refused",
                detail={"bulk": True, "rule": refusal.rule},
            )  # fmt: skip
            continue
        _apply_signature(note, actor, after, now)
        with versioned("clinical_note", note_id):
            session.flush()
        lifted = _lift_billing_holds(session, note, now)
        record_write(
            session, actor, "note.sign", "clinical_note", note.id, client_ids=[note.client_id], source=source, now=now,
            detail={"bulk": True, **({"billing_holds_lifted": lifted} if lifted else {})},
        )  # fmt: skip
        result.signed.append(note_id)
    return result


def cosign_note(
    session: Session,
    actor: SignedInUser,
    note_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> ClinicalNote:
    """The supervisor of record co-signs a signed note that requires it (once)."""
    require_role(actor, CLINICAL_ROLES, "co-sign clinical notes")
    note = get_note(session, actor, note_id)
    author = session.get(User, note.clinician_id)
    if author is None or author.supervisor_id != actor.user_id:
        raise RuleViolation(
            "note.cosign_not_supervisor",
            f"clinical note {note_id}: only the author's supervisor of record co-signs it",
        )
    check_version(note, expected_version, "clinical_note")
    if not note.requires_cosign:
        raise RuleViolation(
            "note.cosign_not_required", f"clinical note {note_id} does not require a co-signature"
        )
    after = transition(note, "cosign")
    if note.cosigned_at is not None:
        raise RuleViolation("note.already_cosigned", f"clinical note {note_id} is already co-signed")
    note.status = after
    note.cosigned_by = actor.user_id
    note.cosigned_at = now
    touch(note, now)
    with versioned("clinical_note", note_id):
        session.flush()
    record_write(
        session,
        actor,
        "note.cosign",
        "clinical_note",
        note.id,
        client_ids=[note.client_id],
        source=source,
        now=now,
    )
    return note


def add_amendment(
    session: Session,
    actor: SignedInUser,
    note_id: int,
    payload: AmendmentInput,
    *,
    expected_version: int | None = None,
    now: dt.datetime,
    source: str = audit.API,
) -> NoteAmendment:
    """An amendment (corrects: the note becomes AMENDED) or addendum (adds) to a signed note, signed by its
    author now; the note's own text stays as signed."""
    note = _own_note(session, actor, note_id, "amend")
    check_version(note, expected_version, "clinical_note")
    action = "amend" if payload.kind == "AMENDMENT" else "addendum"
    note.status = transition(note, action)
    touch(note, now)
    amendment = NoteAmendment(
        updated_at=now,
        note_id=note.id,
        kind=payload.kind,
        content=payload.content,
        created_by=actor.user_id,
        created_at=now,
        signed_at=now,
    )
    session.add(amendment)
    with versioned("clinical_note", note_id):
        session.flush()
    record_write(
        session, actor, f"note.{action}", "note_amendment", amendment.id, client_ids=[note.client_id], source=source,
        now=now, detail={"note_id": note.id},
    )  # fmt: skip
    return amendment


def list_amendments(session: Session, actor: SignedInUser, note_id: int) -> list[NoteAmendment]:
    get_note(session, actor, note_id)
    return list(
        session.scalars(
            select(NoteAmendment).where(NoteAmendment.note_id == note_id).order_by(NoteAmendment.id)
        )
    )
