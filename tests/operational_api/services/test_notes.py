"""Clinical notes through the service layer: the state machine, co-sign, amendments, bulk sign, scope and audit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from operational_api.audit import AuditEvent
from operational_api.models import ClinicalNote, NoteAmendment
from operational_api.services import notes
from operational_api.services.notes import NOTE_TRANSITIONS, AmendmentInput, NoteDraftInput, NoteUpdateInput
from tests.operational_api.services.conftest import NOW, audit_count, run


def _draft(practice, author="clinician", client="c", text="Session text.", appointment=None):
    payload = NoteDraftInput(
        client_id=practice.clients[client].id,
        note_type="PROGRESS_NOTE",
        content=text,
        appointment_id=appointment,
    )
    return run(
        practice.engine, lambda s: notes.create_note_draft(s, practice.actor(author), payload, now=NOW)
    )


def _sign(practice, note_id, who="clinician", at=NOW):
    return run(practice.engine, lambda s: notes.sign_note(s, practice.actor(who), note_id, now=at))


def test_draft_update_submit_sign_and_audit(practice):
    before = audit_count(practice.engine)
    note = _draft(practice)
    assert (note.status, note.version, note.requires_cosign) == ("DRAFT", 1, False)
    edited = run(
        practice.engine,
        lambda s: notes.update_note_draft(
            s,
            practice.actor("clinician"),
            note.id,
            NoteUpdateInput(content="Better text."),
            expected_version=1,
            now=NOW,
        ),
    )
    assert (edited.content, edited.version) == ("Better text.", 2)
    submitted = run(
        practice.engine, lambda s: notes.submit_note(s, practice.actor("clinician"), note.id, now=NOW)
    )
    assert submitted.status == "IN_REVIEW"
    later = NOW + dt.timedelta(hours=2)
    signed = _sign(practice, note.id, at=later)
    assert (signed.status, signed.signed_by, signed.signed_at) == (
        "SIGNED",
        practice.users["clinician"].id,
        later,
    )
    assert audit_count(practice.engine) == before + 4
    with practice.engine.connect() as conn:
        actions = conn.execute(
            select(AuditEvent.action, AuditEvent.client_ids)
            .where(AuditEvent.entity_id == str(note.id))
            .order_by(AuditEvent.id)
        ).all()
    assert [a for a, _ in actions][-4:] == ["note.create", "note.update", "note.submit", "note.sign"]
    assert all(ids == f"[{practice.clients['c'].id}]" for _, ids in actions[-4:])


def test_signing_twice_and_editing_a_signed_note_are_refused(practice, refused):
    note = _draft(practice)
    _sign(practice, note.id)
    actor = practice.actor("clinician")
    refused(lambda s: notes.sign_note(s, actor, note.id, now=NOW), "note.already_signed", 409)
    refused(
        lambda s: notes.update_note_draft(s, actor, note.id, NoteUpdateInput(content="changed"), now=NOW),
        "note.signed_immutable",
        409,
    )
    refused(lambda s: notes.submit_note(s, actor, note.id, now=NOW), "note.already_signed", 409)


def test_state_machine_table_refuses_what_it_does_not_list(practice, refused):
    note = _draft(practice)
    actor = practice.actor("clinician")
    assert ("DRAFT", "amend") not in NOTE_TRANSITIONS
    refused(
        lambda s: notes.add_amendment(
            s, actor, note.id, AmendmentInput(kind="ADDENDUM", content="x"), now=NOW
        ),
        "note.not_signed",
        409,
    )
    run(practice.engine, lambda s: notes.submit_note(s, actor, note.id, now=NOW))
    refused(lambda s: notes.submit_note(s, actor, note.id, now=NOW), "note.already_submitted", 409)


def test_empty_note_cannot_be_signed(practice, refused):
    note = _draft(practice, text="  ")
    refused(
        lambda s: notes.sign_note(s, practice.actor("clinician"), note.id, now=NOW),
        "note.content_missing",
        422,
    )


def test_stale_version_is_refused(practice, refused):
    note = _draft(practice)
    actor = practice.actor("clinician")
    run(
        practice.engine,
        lambda s: notes.update_note_draft(s, actor, note.id, NoteUpdateInput(content="v2"), now=NOW),
    )
    refused(
        lambda s: notes.update_note_draft(
            s, actor, note.id, NoteUpdateInput(content="lost update"), expected_version=1, now=NOW
        ),
        "clinical_note.version_conflict",
        412,
    )


def test_concurrent_writers_one_loses_with_version_conflict(practice):
    """Two sessions read version 1; the second flush finds the row moved (version_id_col) and is refused."""
    from sqlalchemy.orm import Session

    from operational_api.services.errors import VersionConflict

    note = _draft(practice)
    actor = practice.actor("clinician")
    first, second = Session(practice.engine), Session(practice.engine)
    try:
        a = notes.get_note(first, actor, note.id)
        b = notes.get_note(second, actor, note.id)
        assert a.version == b.version == 1
        notes.update_note_draft(
            first, actor, note.id, NoteUpdateInput(content="first"), expected_version=1, now=NOW
        )
        first.commit()
        with pytest.raises(VersionConflict):
            notes.update_note_draft(
                second, actor, note.id, NoteUpdateInput(content="second"), expected_version=1, now=NOW
            )
        second.rollback()
    finally:
        first.close()
        second.close()
    with practice.engine.connect() as conn:
        assert (
            conn.execute(select(ClinicalNote.content).where(ClinicalNote.id == note.id)).scalar_one()
            == "first"
        )


def test_associate_notes_need_the_supervisor_of_record_to_cosign(practice, refused):
    note = _draft(practice, author="associate", client="a")
    assert note.requires_cosign
    sup = practice.actor("supervisor")
    refused(lambda s: notes.cosign_note(s, sup, note.id, now=NOW), "note.not_signed", 409)
    _sign(practice, note.id, who="associate")
    queue = run(practice.engine, lambda s: [n.id for n in notes.cosign_queue(s, sup)])
    assert queue == [note.id]
    # Not the supervisor of record: an administrator or another clinician cannot co-sign.
    refused(
        lambda s: notes.cosign_note(s, practice.actor("admin"), note.id, now=NOW),
        "role.forbidden",
        403,
    )
    refused(
        lambda s: notes.cosign_note(s, practice.actor("clinician"), note.id, now=NOW),
        "clinical_note.not_found",
        404,
    )
    refused(
        lambda s: notes.cosign_note(s, practice.actor("associate"), note.id, now=NOW),
        "note.cosign_not_supervisor",
        409,
    )
    done = run(practice.engine, lambda s: notes.cosign_note(s, sup, note.id, now=NOW))
    assert (done.cosigned_by, done.cosigned_at) == (practice.users["supervisor"].id, NOW)
    refused(lambda s: notes.cosign_note(s, sup, note.id, now=NOW), "note.already_cosigned", 409)
    assert run(practice.engine, lambda s: notes.cosign_queue(s, sup)) == []


def test_licensed_clinician_notes_need_no_cosign(practice, refused):
    note = _draft(practice)
    _sign(practice, note.id)
    refused(
        lambda s: notes.cosign_note(s, practice.actor("supervisor"), note.id, now=NOW),
        "note.cosign_not_required",
        409,
    )


def test_amendment_keeps_the_signed_text_and_marks_the_note_amended(practice):
    note = _draft(practice, text="As signed.")
    _sign(practice, note.id)
    actor = practice.actor("clinician")
    addendum = run(
        practice.engine,
        lambda s: notes.add_amendment(
            s, actor, note.id, AmendmentInput(kind="ADDENDUM", content="Also."), now=NOW
        ),
    )
    assert addendum.signed_at == NOW
    amendment = run(
        practice.engine,
        lambda s: notes.add_amendment(
            s, actor, note.id, AmendmentInput(kind="AMENDMENT", content="Fix."), now=NOW
        ),
    )
    with practice.engine.connect() as conn:
        row = conn.execute(
            select(ClinicalNote.content, ClinicalNote.status).where(ClinicalNote.id == note.id)
        ).one()
        kinds = (
            conn.execute(select(NoteAmendment.kind).where(NoteAmendment.note_id == note.id)).scalars().all()
        )
    assert tuple(row) == ("As signed.", "AMENDED")
    assert sorted(kinds) == ["ADDENDUM", "AMENDMENT"] and amendment.id > addendum.id


def test_only_the_author_signs_and_other_roles_do_not_write_notes(practice, refused):
    note = _draft(practice, author="associate", client="a")
    refused(
        lambda s: notes.sign_note(s, practice.actor("supervisor"), note.id, now=NOW), "note.not_author", 409
    )
    refused(
        lambda s: notes.sign_note(s, practice.actor("clinician"), note.id, now=NOW),
        "clinical_note.not_found",
        404,
    )
    payload = NoteDraftInput(client_id=practice.clients["a"].id, note_type="SOAP_NOTE", content="x")
    for role in ("billing", "frontdesk", "admin"):
        refused(
            lambda s, role=role: notes.create_note_draft(s, practice.actor(role), payload, now=NOW),
            "role.forbidden",
            403,
        )
    # A clinician cannot write about another clinician's client.
    refused(
        lambda s: notes.create_note_draft(s, practice.actor("clinician"), payload, now=NOW),
        "client.not_found",
        404,
    )


def test_front_desk_and_billing_never_get_note_text(practice):
    note = _draft(practice, text="Private words.")

    def views(s):
        stored = notes.get_note(s, practice.actor("billing"), note.id)
        return {
            role: notes.note_view(stored, practice.actor(role))
            for role in ("billing", "frontdesk", "clinician")
        }

    seen = run(practice.engine, views)
    assert "content" not in seen["billing"] and "content" not in seen["frontdesk"]
    assert seen["clinician"]["content"] == "Private words."
    assert "Private words." not in repr(seen["billing"]) + repr(seen["frontdesk"])


def test_bulk_sign_reports_each_note(practice):
    mine = [_draft(practice).id for _ in range(3)]
    _sign(practice, mine[0])
    empty = _draft(practice, text=None).id
    theirs = _draft(practice, author="associate", client="a").id
    result = run(
        practice.engine,
        lambda s: notes.bulk_sign_notes(
            s, practice.actor("clinician"), [*mine, empty, theirs, 999_999], now=NOW
        ),
    )
    assert result.signed == mine[1:]
    assert [(r["note_id"], r["rule"]) for r in result.refused] == [
        (mine[0], "note.already_signed"),
        (empty, "note.content_missing"),
        (theirs, "clinical_note.not_found"),
        (999_999, "clinical_note.not_found"),
    ]
    with practice.engine.connect() as conn:
        statuses = dict(
            conn.execute(
                select(ClinicalNote.id, ClinicalNote.status).where(ClinicalNote.id.in_([empty, theirs]))
            ).all()
        )
    assert statuses == {empty: "DRAFT", theirs: "DRAFT"}


def test_note_for_a_session_must_be_the_authors_session_with_that_client(practice, refused):
    appointment = practice.appointment("a", "associate")
    payload = NoteDraftInput(
        client_id=practice.clients["a"].id,
        note_type="PROGRESS_NOTE",
        content="x",
        appointment_id=appointment.id,
    )
    refused(
        lambda s: notes.create_note_draft(s, practice.actor("supervisor"), payload, now=NOW),
        "note.appointment_mismatch",
        422,
    )
    made = run(
        practice.engine, lambda s: notes.create_note_draft(s, practice.actor("associate"), payload, now=NOW)
    )
    assert made.appointment_id == appointment.id


def test_a_lost_race_to_sign_never_signs_twice(practice):
    """Two sessions read the same unsigned note; the second signature is refused: a moved version when its read
    predates the first commit (PostgreSQL's snapshot), or the signed status when it sees the commit (SQLite)."""
    from sqlalchemy.orm import Session

    from operational_api.services.errors import ServiceError

    note = _draft(practice)
    actor = practice.actor("clinician")
    first, second = Session(practice.engine), Session(practice.engine)
    try:
        notes.get_note(first, actor, note.id)
        notes.get_note(second, actor, note.id)
        notes.sign_note(first, actor, note.id, now=NOW)
        first.commit()
        with pytest.raises(ServiceError) as lost:
            notes.sign_note(second, actor, note.id, now=NOW + dt.timedelta(minutes=1))
        second.rollback()
    finally:
        first.close()
        second.close()
    assert (lost.value.rule, lost.value.status) in {
        ("clinical_note.version_conflict", 412),
        ("note.already_signed", 409),
    }
    with practice.engine.connect() as conn:
        signed_at = conn.execute(
            select(ClinicalNote.signed_at).where(ClinicalNote.id == note.id)
        ).scalar_one()
    assert signed_at == NOW
