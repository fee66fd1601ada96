"""Row scope as SQL: which clients and appointments an actor may see (the dashboards' rule, auth.py)."""

from __future__ import annotations

from sqlalchemy import exists, or_, select, true

from operational_api.auth import SignedInUser
from operational_api.models import Appointment, Client
from operational_api.services.errors import NotFound


def client_visible(actor: SignedInUser):
    """Clients whose primary clinician the actor may see, or who have an appointment with one."""
    ids = actor.visible_clinician_ids
    if ids is None:
        return true()
    return or_(
        Client.primary_clinician_id.in_(ids),
        exists(
            select(Appointment.id).where(
                Appointment.client_id == Client.id, Appointment.clinician_id.in_(ids)
            )
        ),
    )


def appointment_visible(actor: SignedInUser):
    ids = actor.visible_clinician_ids
    return true() if ids is None else Appointment.clinician_id.in_(ids)


def visible_client(session, actor: SignedInUser, client_id: int, *, for_update: bool = False) -> Client:
    """The client, or NotFound when absent or outside the actor's scope (the two read the same)."""
    stmt = select(Client).where(Client.id == client_id, client_visible(actor))
    client = session.scalar(stmt)
    if client is None:
        raise NotFound("client.not_found", f"no client {client_id}", field="client_id")
    return client


def check_clinician_visible(actor: SignedInUser, clinician_id: int) -> None:
    if not actor.can_see_clinician(clinician_id):
        raise NotFound("clinician.not_found", f"no clinician {clinician_id}", field="clinician_id")
