"""AdvancedMD provider profiles linked to our clinicians (the store's ``advancedmd_provider_links``).

Rule, in order: the profile's NPI equals an active clinician's ``users.npi`` -> LINKED by NPI; otherwise a
link an administrator set (``mentalspace amd link-provider CODE --clinician ID``) -> LINKED by ADMIN; otherwise
UNMATCHED, never dropped: the warehouse raises a data-quality alert for every unmatched provider (and every
unmatched patient) that has visits, so someone links it. An NPI match wins over an administrator's link that
names another clinician only when the NPI is unambiguous (one active clinician carries it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import Engine, select

from operational_api.errors import PlatformError
from operational_api.models import User
from operational_api.models_advancedmd import AdvancedMDProviderLink


def clinicians_by_npi(engine: Engine) -> dict[str, int]:
    """Active staff with an NPI; an NPI two people carry matches nobody (a data error, not a guess)."""
    with engine.connect() as conn:
        rows = conn.execute(select(User.id, User.npi).where(User.npi.is_not(None), User.is_active)).all()
    seen: dict[str, list[int]] = {}
    for uid, npi in rows:
        seen.setdefault(npi.strip(), []).append(uid)
    return {npi: ids[0] for npi, ids in seen.items() if len(ids) == 1}


def link_providers(
    engine: Engine, office_key: str, profiles: Mapping[str, tuple[int | None, str | None]]
) -> dict[str, int]:
    """Upsert one link per provider code seen: ``profiles`` maps code -> (AdvancedMD profile id, NPI)."""
    by_npi = clinicians_by_npi(engine)
    table = AdvancedMDProviderLink.__table__
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    counts = {"linked_by_npi": 0, "linked_by_admin": 0, "unmatched": 0}
    with engine.begin() as conn:
        existing = {
            r.provider_code: r for r in conn.execute(select(table).where(table.c.office_key == office_key))
        }
        for code, (profile_id, npi) in sorted(profiles.items()):
            before = existing.get(code)
            clinician, source = by_npi.get(npi or ""), "NPI"
            if clinician is None and before is not None and before.link_source == "ADMIN":
                clinician, source = before.clinician_id, "ADMIN"
            values = {
                "advancedmd_provider_id": profile_id,
                "npi": npi,
                "clinician_id": clinician,
                "link_source": source if clinician is not None else None,
                "sync_status": "LINKED" if clinician is not None else "UNMATCHED",
                "updated_at": now,
            }
            key = "unmatched" if clinician is None else f"linked_by_{source.lower()}"
            counts[key] += 1
            if before is None:
                conn.execute(
                    table.insert().values(office_key=office_key, provider_code=code, created_at=now, **values)
                )
            elif any(getattr(before, k) != v for k, v in values.items() if k != "updated_at"):
                conn.execute(table.update().where(table.c.id == before.id).values(**values))
    return counts


def set_admin_link(engine: Engine, office_key: str, provider_code: str, clinician_id: int | None) -> str:
    """An administrator's mapping (``clinician_id=None`` removes it). Returns what the link now says."""
    code = provider_code.strip().upper()
    table = AdvancedMDProviderLink.__table__
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        if clinician_id is not None:
            role = conn.execute(select(User.role).where(User.id == clinician_id)).scalar_one_or_none()
            if role not in ("CLINICIAN", "SUPERVISOR"):
                raise PlatformError(f"user {clinician_id} is not a clinician or supervisor")
        values = {
            "clinician_id": clinician_id,
            "link_source": "ADMIN" if clinician_id is not None else None,
            "sync_status": "LINKED" if clinician_id is not None else "UNMATCHED",
            "updated_at": now,
        }
        row = conn.execute(
            select(table.c.id).where(table.c.office_key == office_key, table.c.provider_code == code)
        ).scalar_one_or_none()
        if row is None:
            conn.execute(
                table.insert().values(office_key=office_key, provider_code=code, created_at=now, **values)
            )
        else:
            conn.execute(table.update().where(table.c.id == row).values(**values))
    return f"{code} -> clinician {clinician_id}" if clinician_id is not None else f"{code} unlinked"


def provider_codes(rows: Iterable[tuple[str | None]]) -> list[str]:
    return sorted({(r[0] or "").strip().upper() for r in rows if (r[0] or "").strip()})
