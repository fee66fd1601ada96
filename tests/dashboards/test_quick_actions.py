"""The pages' quick actions write through the operational service layer: My Practice signs a note and marks an
appointment's outcome, My Team co-signs; the service's rules refuse with their rule id shown, records outside the
user's scope are refused, and every action leaves its audit row (source "dashboards")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboards.data import actions
from operational_api import audit
from operational_api.audit import AuditEvent
from operational_api.db import get_engine, session_scope
from operational_api.models import Appointment, ClinicalNote, User
from operational_api.services.appointments import _OVERLAPPING
from operational_api.services.rules import local_date
from operational_api.settings import database_url
from tests.conftest import DEPLOYMENT_VARS, copy_practice
from tests.dashboards.conftest import shown_text, signed_in_app


@pytest.fixture(scope="module")
def actions_demo(built_demo, tmp_path_factory) -> Path:
    """A private copy of the demo practice: these tests change notes and appointments in its store."""
    return copy_practice(built_demo, tmp_path_factory.mktemp("quick_actions") / "var")


@pytest.fixture
def demo(actions_demo, monkeypatch):
    """This process pointed at the copy; yields its store's engine."""
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(actions_demo))
    engine = get_engine(database_url())
    yield actions_demo, engine
    engine.dispose()


def _page(var: Path, role: str, page: str):
    at = signed_in_app(var, role)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _events(engine, action: str, entity_id: int) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.entity_id == str(entity_id))
                .order_by(AuditEvent.id)
            )
        )


def _note(engine, note_id: int) -> ClinicalNote:
    with session_scope(engine) as session:
        return session.get(ClinicalNote, note_id)


def _unsigned_note_of(engine, clinician_id: int) -> int:
    with session_scope(engine) as session:
        return session.scalars(
            select(ClinicalNote.id)
            .where(
                ClinicalNote.clinician_id == clinician_id,
                ClinicalNote.status.in_(actions.UNSIGNED),
                ClinicalNote.content.is_not(None),
            )
            .order_by(ClinicalNote.id)
        ).first()


def _errors(at) -> list[str]:
    return [shown_text(e.value) for e in at.error]


def _successes(at) -> list[str]:
    return [shown_text(e.value) for e in at.success]


def _offered(at, key: str) -> list[str]:
    """The labels a picker offers (none when the panel has nothing to act on and shows no picker)."""
    found = [box for box in at.selectbox if box.key == key]
    return list(found[0].options) if found else []


def _offers(at, key: str, label_start: str) -> bool:
    return any(o.startswith(label_start) for o in _offered(at, key))


def test_clinician_signs_their_note_on_my_practice_through_the_service(demo):
    var, engine = demo
    at = _page(var, "CLINICIAN", "my_practice")
    me = at.session_state["auth_user"].user_id
    note_id = _unsigned_note_of(engine, me)
    assert note_id is not None, "the demo clinician has unsigned notes (the page's backlog)"
    assert _offers(at, "mp_sign_note", f"Note {note_id} ·")
    at.selectbox(key="mp_sign_note").set_value(note_id).run()
    at.button(key="mp_sign_button").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert any(f"Signed note {note_id}" in s for s in _successes(at))
    note = _note(engine, note_id)
    assert (note.status, note.signed_by) == ("SIGNED", me) and note.signed_at is not None
    (row,) = _events(engine, "note.sign", note_id)
    assert (row.source, row.outcome, row.actor_user_id) == (audit.DASHBOARDS, "ok", me)
    assert row.client_ids == f"[{note.client_id}]"
    # The list is read again after the action: the signed note is no longer offered.
    assert not _offers(at, "mp_sign_note", f"Note {note_id} ·")


def test_a_supervisor_signing_a_supervisees_note_sees_the_rule_and_nothing_changes(demo):
    var, engine = demo
    at = _page(var, "SUPERVISOR", "my_practice")
    me = at.session_state["auth_user"].user_id
    with session_scope(engine) as session:
        supervisee = session.scalars(
            select(User.id).where(User.supervisor_id == me).order_by(User.id.desc())
        ).first()
    note_id = _unsigned_note_of(engine, supervisee)
    assert note_id is not None
    at.selectbox(key="mp_clinician").set_value(supervisee).run()
    at.selectbox(key="mp_sign_note").set_value(note_id).run()
    before = _note(engine, note_id)
    at.button(key="mp_sign_button").click().run()
    assert not at.exception, at.exception
    assert any("Refused (note.not_author)" in e for e in _errors(at)), _errors(at)
    after = _note(engine, note_id)
    assert (after.status, after.version, after.signed_at) == (before.status, before.version, None)
    (row,) = _events(engine, "note.sign", note_id)
    assert (row.source, row.outcome, row.detail) == (audit.DASHBOARDS, "refused", {"rule": "note.not_author"})


def test_a_note_outside_the_users_scope_is_refused_as_not_found(demo):
    var, engine = demo
    at = _page(var, "CLINICIAN", "my_practice")
    user = at.session_state["auth_user"]
    with session_scope(engine) as session:
        theirs = session.scalars(
            select(ClinicalNote.id)
            .where(ClinicalNote.clinician_id != user.user_id, ClinicalNote.status.in_(actions.UNSIGNED))
            .order_by(ClinicalNote.id)
        ).first()
    # Not offered on the page (the lists come from the service's scoped reads) ...
    assert not _offers(at, "mp_sign_note", f"Note {theirs} ·")
    assert all(n.note_id != theirs for n in actions.notes_to_sign(user, user.user_id))
    # ... and refused by the service if asked anyway, like the API's 404: nothing written.
    before, audited = _note(engine, theirs), len(_events(engine, "note.sign", theirs))
    refused = actions.sign_note(user, theirs)
    assert refused is not None and refused.rule == "clinical_note.not_found", refused
    assert (_note(engine, theirs).version, _note(engine, theirs).signed_at) == (before.version, None)
    rows = _events(engine, "note.sign", theirs)
    assert len(rows) == audited + 1 and (rows[-1].outcome, rows[-1].client_ids) == ("refused", "[]")


def _todays_appointment(engine, clinician_id: int) -> int:
    """A visit of the practice-local today that has started, booked straight into the store.

    The demo's calendar runs four weeks past its as-of date, so on a day within them the clinician or the client
    may already have a visit then: those are cancelled first, as the front desk would to free the slot."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start = now - dt.timedelta(minutes=30)
    if local_date(start) != local_date(now):  # just after local midnight: the visit starts at midnight
        start = now - dt.timedelta(minutes=1)
    with session_scope(engine) as session:
        client_id = session.scalars(
            select(Appointment.client_id)
            .where(Appointment.clinician_id == clinician_id, Appointment.status == "COMPLETED")
            .order_by(Appointment.id.desc())
        ).first()
        end = start + dt.timedelta(minutes=50)
        # The service's own question: the visits holding that slot for the clinician or the client.
        overlapping = session.execute(
            _OVERLAPPING,
            {"start_at": start, "end_at": end, "clinician_id": clinician_id, "client_id": client_id},
        )
        for row in overlapping.all():
            booked = session.get(Appointment, row.id)
            booked.status, booked.cancellation_reason = "CANCELLED", "freed for the test's visit"
        session.flush()
        appointment = Appointment(
            client_id=client_id,
            clinician_id=clinician_id,
            appointment_type="THERAPY_SESSION",
            status="SCHEDULED",
            start_at=start,
            end_at=end,
            booked_at=start - dt.timedelta(days=7),
            created_at=start - dt.timedelta(days=7),
            updated_at=start - dt.timedelta(days=7),
        )
        session.add(appointment)
        session.flush()
        return appointment.id


def test_an_appointment_outcome_from_todays_list_goes_through_the_state_machine(demo):
    var, engine = demo
    at = _page(var, "CLINICIAN", "my_practice")
    me = at.session_state["auth_user"].user_id
    appointment_id = _todays_appointment(engine, me)
    at.run()  # the list is read from the store on each render
    assert any(f"appointment {appointment_id} ·" in o for o in _offered(at, "mp_outcome_appointment"))
    at.selectbox(key="mp_outcome_appointment").set_value(appointment_id)

    # Completing a visit nobody checked in is refused by the state machine, with its rule id.
    at.selectbox(key="mp_outcome_outcome").set_value("COMPLETED")
    at.button(key="mp_outcome_button").click().run()
    assert any("Refused (appointment.invalid_transition)" in e for e in _errors(at)), _errors(at)
    with session_scope(engine) as session:
        assert session.get(Appointment, appointment_id).status == "SCHEDULED"

    at.selectbox(key="mp_outcome_appointment").set_value(appointment_id)
    at.selectbox(key="mp_outcome_outcome").set_value("NO_SHOW")
    at.button(key="mp_outcome_button").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert any(f"Appointment {appointment_id}: no-show" in s for s in _successes(at))
    with session_scope(engine) as session:
        assert session.get(Appointment, appointment_id).status == "NO_SHOW"
    rows = _events(engine, "appointment.no_show", appointment_id)
    assert [(r.source, r.outcome, r.actor_user_id) for r in rows] == [(audit.DASHBOARDS, "ok", me)]
    assert [r.detail for r in _events(engine, "appointment.completed", appointment_id)] == [
        {"rule": "appointment.invalid_transition"}
    ]
    # A final status leaves today's list.
    assert not any(f"appointment {appointment_id} ·" in o for o in _offered(at, "mp_outcome_appointment"))


def test_a_supervisor_co_signs_from_my_team(demo):
    var, engine = demo
    at = _page(var, "SUPERVISOR", "my_team")
    me = at.session_state["auth_user"].user_id
    # A supervisee's signed note waiting for the co-signature (made so here: the demo may have none left).
    with session_scope(engine) as session:
        note = session.scalars(
            select(ClinicalNote)
            .join(User, User.id == ClinicalNote.clinician_id)
            .where(User.supervisor_id == me, ClinicalNote.status == "SIGNED")
            .order_by(ClinicalNote.id)
        ).first()
        note.requires_cosign, note.cosigned_by, note.cosigned_at = True, None, None
        note_id = note.id
    at.run()
    assert _offers(at, "team_cosign_note", f"Note {note_id} ·")
    at.selectbox(key="team_cosign_note").set_value(note_id).run()
    at.button(key="team_cosign_button").click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert any(f"Co-signed note {note_id}" in s for s in _successes(at))
    assert _note(engine, note_id).cosigned_by == me
    (row,) = _events(engine, "note.cosign", note_id)
    assert (row.source, row.outcome, row.actor_user_id) == (audit.DASHBOARDS, "ok", me)


def test_the_front_desk_checks_in_and_completes_a_visit_of_today(demo):
    var, engine = demo
    # Not the demo clinician: the outcome test above books them a visit of today at the same time.
    with session_scope(engine) as session:
        clinician = session.scalars(
            select(User.id).where(User.role == "CLINICIAN").order_by(User.id.desc())
        ).first()
    appointment_id = _todays_appointment(engine, clinician)
    at = _page(var, "FRONT_DESK", "front_desk_tasks")
    me = at.session_state["auth_user"].user_id
    at.selectbox(key="fd_clinician").set_value(clinician).run()
    for outcome, status in (("CHECKED_IN", "CHECKED_IN"), ("COMPLETED", "COMPLETED")):
        assert any(f"appointment {appointment_id} ·" in o for o in _offered(at, "fd_outcome_appointment"))
        at.selectbox(key="fd_outcome_appointment").set_value(appointment_id)
        at.selectbox(key="fd_outcome_outcome").set_value(outcome)
        at.button(key="fd_outcome_button").click().run()
        assert not at.exception, at.exception
        assert not _errors(at), _errors(at)
        with session_scope(engine) as session:
            appointment = session.get(Appointment, appointment_id)
            assert appointment.status == status
        (row,) = _events(engine, f"appointment.{status.lower()}", appointment_id)
        assert (row.source, row.outcome, row.actor_user_id, row.actor_role) == (
            audit.DASHBOARDS,
            "ok",
            me,
            "FRONT_DESK",
        )
    assert appointment.arrived_at is not None
