"""The pages' quick-action panels (dashboards/data/actions.py does the work through the service layer).

A panel lists what there is to act on (live from the store), takes one choice and a button; on success it clears
the page's cached loaders and reruns with a notice, on a refusal it shows the service's rule id and message as
they are. The records listed are recorded as shown (the page view's audit row), like a table's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

import streamlit as st

from dashboards import audit_trail
from dashboards.components import ui
from dashboards.data import actions
from operational_api.auth import SignedInUser
from operational_api.settings import practice_timezone


def _notice(key: str) -> None:
    done = st.session_state.pop(f"{key}_notice", None)
    if done:
        st.success(ui.plain(done))


def _outcome(key: str, refused: actions.Refused | None, done: str, clear: Iterable[Callable]) -> None:
    if refused is not None:
        st.error(ui.plain(refused.text()))
        return
    # The page's cached figures: the next render reads them again (the warehouse's at its next refresh).
    for loader in clear:
        loader.clear()
    st.session_state[f"{key}_notice"] = done
    st.rerun()


def _note_panel(
    key: str,
    pending: list[actions.NoteToSign],
    button: str,
    act: Callable[[int, int], actions.Refused | None],
    done: str,
    empty: str,
    clear: Iterable[Callable],
) -> None:
    _notice(key)
    if not pending:
        st.caption(empty)
        return
    audit_trail.shown(n.client_id for n in pending)
    by_id = {n.note_id: n for n in pending}
    chosen = st.selectbox("Note", list(by_id), format_func=lambda i: by_id[i].label(), key=f"{key}_note")
    if st.button(button, key=f"{key}_button", type="primary"):
        note = by_id[chosen]
        _outcome(key, act(note.note_id, note.version), done.format(note_id=note.note_id), clear)


def sign_notes(user: SignedInUser, clinician_id: int, key: str, clear: Iterable[Callable] = ()) -> None:
    """Sign one of `clinician_id`'s unsigned notes (only their author can: anyone else sees the refusal)."""
    _note_panel(
        key,
        actions.notes_to_sign(user, clinician_id),
        "Sign note",
        lambda note_id, version: actions.sign_note(user, note_id, version),
        "Signed note {note_id}.",
        "No unsigned notes in the store for this clinician.",
        clear,
    )


def cosign_notes(user: SignedInUser, key: str, clear: Iterable[Callable] = ()) -> None:
    """Co-sign one of the user's supervisees' notes waiting for it."""
    _note_panel(
        key,
        actions.cosign_queue(user),
        "Co-sign note",
        lambda note_id, version: actions.cosign_note(user, note_id, version),
        "Co-signed note {note_id}.",
        "No supervisee's note is waiting for your co-signature.",
        clear,
    )


def mark_outcomes(user: SignedInUser, clinician_id: int, key: str, clear: Iterable[Callable] = ()) -> None:
    """Mark the outcome of one of `clinician_id`'s appointments of today."""
    _notice(key)
    today = actions.todays_appointments(user, clinician_id)
    if not today:
        st.caption("No appointment of today is waiting for an outcome.")
        return
    audit_trail.shown(a.client_id for a in today)
    zone = ZoneInfo(practice_timezone())
    by_id = {a.appointment_id: a for a in today}
    left, right, button = st.columns([3, 2, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Appointment", list(by_id), format_func=lambda i: by_id[i].label(zone), key=f"{key}_appointment"
    )
    outcome = right.selectbox(
        "Outcome", list(actions.OUTCOMES), format_func=actions.OUTCOMES.get, key=f"{key}_outcome"
    )
    if button.button("Record", key=f"{key}_button", type="primary"):
        refused = actions.mark_outcome(user, chosen, outcome)
        _outcome(key, refused, f"Appointment {chosen}: {actions.OUTCOMES[outcome].lower()}.", clear)
