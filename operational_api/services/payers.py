"""Insurance payers: the billing area's reference list (what policies, claims and insurance payments name).

Billing staff and administrators add and correct payers; every staff member reads them (the front desk records a
client's policy with one). A payer holds no client's data. Codes are kept as the warehouse reads them
(`stg_operational__payers`: trimmed, upper case), so two spellings of one code cannot both exist; the unique
constraint settles a race between two writers (`services/constraints.py`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.models import Payer
from operational_api.services.clinical_common import (
    ADMIN,
    BILLING,
    check_version,
    get_or_404,
    record_write,
    require_role,
    versioned,
)
from operational_api.services.errors import InvalidInput, RuleViolation
from operational_api.services.listing import Page, page, touch

PAYER_WRITERS = frozenset({ADMIN, BILLING})
PayerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PayerCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=40)
]


class PayerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PayerName
    payer_code: PayerCode


class PayerUpdate(BaseModel):
    """The fields sent are changed; at least one."""

    model_config = ConfigDict(extra="forbid")

    name: PayerName | None = None
    payer_code: PayerCode | None = None


def payer_code_taken() -> RuleViolation:
    return RuleViolation("payer.code_taken", "another payer already has this payer_code", field="payer_code")


def _check_code_free(session: Session, code: str, payer_id: int | None = None) -> None:
    holder = session.scalar(select(Payer.id).where(Payer.payer_code == code))
    if holder is not None and holder != payer_id:
        raise payer_code_taken()


def create_payer(
    session: Session, actor: SignedInUser, payload: PayerInput, *, now: dt.datetime, source: str = audit.API
) -> Payer:
    require_role(actor, PAYER_WRITERS, "add payers")
    _check_code_free(session, payload.payer_code)
    payer = Payer(updated_at=now, name=payload.name, payer_code=payload.payer_code)
    session.add(payer)
    session.flush()
    record_write(session, actor, "payer.create", "payer", payer.id, source=source, now=now)
    return payer


def get_payer(session: Session, actor: SignedInUser, payer_id: int) -> Payer:
    """Any staff member reads any payer (no client's data: nothing to scope)."""
    return get_or_404(session, Payer, payer_id, "payer")


def list_payers(
    session: Session,
    actor: SignedInUser,
    *,
    limit: int = 50,
    cursor: str | None = None,
    payer_code: str | None = None,
) -> Page:
    stmt = select(Payer)
    if payer_code is not None:
        stmt = stmt.where(Payer.payer_code == payer_code.strip().upper())
    return page(session, stmt, Payer.id, limit=limit, cursor=cursor)


def update_payer(
    session: Session,
    actor: SignedInUser,
    payer_id: int,
    payload: PayerUpdate,
    *,
    expected_version: int | None,
    now: dt.datetime,
    source: str = audit.API,
) -> Payer:
    require_role(actor, PAYER_WRITERS, "change payers")
    payer = get_or_404(session, Payer, payer_id, "payer", for_update=True)
    check_version(payer, expected_version, "payer")
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items()}
    if not changes or any(v is None for v in changes.values()):
        raise InvalidInput(
            "payer.no_change",
            "send a new name or payer_code (neither can be cleared)",
            field=next((k for k, v in changes.items() if v is None), None),
        )
    if "payer_code" in changes:
        _check_code_free(session, changes["payer_code"], payer.id)
    for name, value in changes.items():
        setattr(payer, name, value)
    touch(payer, now)
    with versioned("payer", payer.id):
        session.flush()
    record_write(
        session,
        actor,
        "payer.update",
        "payer",
        payer.id,
        source=source,
        now=now,
        detail={"fields": sorted(changes)},
    )
    return payer
