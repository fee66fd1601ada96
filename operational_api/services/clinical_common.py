"""What the clinical and billing services (notes, plans, supervision, billing, staff) share: role checks,
row scope, the compliance-rule parameters, the practice-local day, optimistic concurrency and the audit call.

Role and scope answers follow services/README.md: a role that never does something gets Forbidden (403); a
record outside the actor's scope reads as NotFound (404), the same as a missing one, so scope does not leak.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import Client
from operational_api.services import rules
from operational_api.services.errors import Forbidden, NotFound, VersionConflict
from operational_api.services.scope import visible_client

ADMIN, CLINICIAN, SUPERVISOR, BILLING, FRONT_DESK = (
    "ADMIN",
    "CLINICIAN",
    "SUPERVISOR",
    "BILLING",
    "FRONT_DESK",
)
CLINICAL_ROLES = frozenset({CLINICIAN, SUPERVISOR})
# Roles that may read note text (front desk and billing get a note's facts, never its text).
NOTE_TEXT_ROLES = frozenset({ADMIN, CLINICIAN, SUPERVISOR})


def require_role(actor: SignedInUser, allowed: Iterable[str], what: str) -> None:
    """Forbidden (403) when the actor's role never does `what`."""
    allowed = frozenset(allowed)
    if actor.role not in allowed:
        raise Forbidden("role.forbidden", f"the {actor.role} role cannot {what}")


def can_read_note_text(actor: SignedInUser) -> bool:
    return actor.role in NOTE_TEXT_ROLES


def get_or_404(session: Session, model, record_id: int, label: str, *, for_update: bool = False):
    query = select(model).where(model.id == record_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"{label}.not_found", f"{label.replace('_', ' ')} {record_id} not found")
    return row


def require_clinician_visible(actor: SignedInUser, clinician_id: int, label: str, record_id: int) -> None:
    """NotFound when the record belongs to a clinician outside the actor's scope."""
    if not actor.can_see_clinician(clinician_id):
        raise NotFound(f"{label}.not_found", f"{label.replace('_', ' ')} {record_id} not found")


def client_in_scope(session: Session, actor: SignedInUser, client_id: int) -> Client:
    """The client, when the actor may work on them (services/scope.py: the dashboards' rule), else NotFound."""
    return visible_client(session, actor, client_id)


def rule_value(session: Session, rule_type: str, parameter: str) -> int:
    """A compliance rule parameter (compliance_rules is its one home; services/rules.py reads it as dbt does)."""
    return rules.rule_value(session, rule_type, parameter)


def local_date(now: dt.datetime) -> dt.date:
    """The practice-local calendar day of a naive UTC instant (service dates are local days)."""
    return rules.local_date(now)


def check_version(record, expected: int | None, label: str) -> None:
    """VersionConflict (412) when the caller read an older version; None skips (no If-Match given)."""
    if expected is not None and record.version != expected:
        raise VersionConflict(
            f"{label}.version_conflict",
            f"{label.replace('_', ' ')} {record.id} changed since it was read "
            f"(version {expected}, now {record.version}); read it again",
        )


@contextmanager
def versioned(label: str, record_id: int) -> Iterator[None]:
    """Turn a lost race on a versioned row (another writer committed first) into VersionConflict."""
    try:
        yield
    except StaleDataError:
        raise VersionConflict(
            f"{label}.version_conflict",
            f"{label.replace('_', ' ')} {record_id} was changed by someone else at the same time; read it again",
        ) from None


def record_write(
    session: Session,
    actor: SignedInUser,
    action: str,
    entity: str,
    entity_id: int,
    *,
    client_ids: Iterable[int | None] = (),
    source: str,
    now: dt.datetime,
    detail: dict | None = None,
    outcome: str = "ok",
) -> None:
    """The audit row of one write, in the write's transaction (no PHI: ids and rule facts only)."""
    session.flush()
    audit.record(
        session,
        action=action,
        source=source,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        entity=entity,
        entity_id=entity_id,
        client_ids=[c for c in client_ids if c is not None],
        outcome=outcome,
        detail=detail,
        now=now,
    )
