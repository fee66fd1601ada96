"""Row scope as SQL: which clients and appointments an actor may see (the dashboards' rule, auth.py)."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, or_, select, true

from operational_api.auth import SignedInUser
from operational_api.models import Appointment, Client
from operational_api.services.errors import NotFound


def _client_rule(ids):
    """Clients whose primary clinician is one of `ids` (a set, or a bound parameter), or who have an
    appointment with one."""
    return or_(
        Client.primary_clinician_id.in_(ids),
        exists(
            select(Appointment.id).where(
                Appointment.client_id == Client.id, Appointment.clinician_id.in_(ids)
            )
        ),
    )


def client_visible(actor: SignedInUser):
    """Clients whose primary clinician the actor may see, or who have an appointment with one."""
    ids = actor.visible_clinician_ids
    return true() if ids is None else _client_rule(ids)


def appointment_visible(actor: SignedInUser):
    ids = actor.visible_clinician_ids
    return true() if ids is None else Appointment.clinician_id.in_(ids)


# The lookups of one record in the actor's scope, built once (a request binds the id and the clinicians): a
# statement built per call spends more CPU on its construction and cache key than the database spends on it.
_VISIBLE_IDS = bindparam("visible_ids", expanding=True)
_CLIENT_ANY = select(Client).where(Client.id == bindparam("record_id"))
_CLIENT_SCOPED = _CLIENT_ANY.where(_client_rule(_VISIBLE_IDS))
_APPOINTMENT_ANY = select(Appointment).where(Appointment.id == bindparam("record_id"))
_APPOINTMENT_SCOPED = _APPOINTMENT_ANY.where(Appointment.clinician_id.in_(_VISIBLE_IDS))


def _in_scope(session, actor: SignedInUser, record_id: int, any_stmt, scoped_stmt):
    ids = actor.visible_clinician_ids
    if ids is None:
        return session.scalar(any_stmt, {"record_id": record_id})
    return session.scalar(scoped_stmt, {"record_id": record_id, "visible_ids": sorted(ids)})


def visible_client(session, actor: SignedInUser, client_id: int, *, for_update: bool = False) -> Client:
    """The client, or NotFound when absent or outside the actor's scope (the two read the same; the rule is
    `client_visible`'s)."""
    client = _in_scope(session, actor, client_id, _CLIENT_ANY, _CLIENT_SCOPED)
    if client is None:
        raise NotFound("client.not_found", f"no client {client_id}", field="client_id")
    return client


def visible_appointment_or_none(session, actor: SignedInUser, appointment_id: int) -> Appointment | None:
    """The appointment when it is in the actor's scope (`appointment_visible`'s rule)."""
    return _in_scope(session, actor, appointment_id, _APPOINTMENT_ANY, _APPOINTMENT_SCOPED)


def check_clinician_visible(actor: SignedInUser, clinician_id: int) -> None:
    if not actor.can_see_clinician(clinician_id):
        raise NotFound("clinician.not_found", f"no clinician {clinician_id}", field="clinician_id")
