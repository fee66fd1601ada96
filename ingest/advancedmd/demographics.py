"""Demographics both ways (PRD Module 6, hourly patient sync): the store's client changes go to AdvancedMD with
``updatepatient`` / ``updateinsurance``; AdvancedMD's changes come in through the patient sync; when both sides
changed the same person since the last sync, the conflict is recorded for a person, and neither side is written.

State per linked client (the store's ``advancedmd_demographic_sync``): one-way digests of the pushed fields as
last agreed, and AdvancedMD's ``changedat`` at that moment. A run, per linked client:

* first sight: the current values are the agreed baseline (nothing is pushed: at link time both sides are taken
  as they are; a change made before the first run is not pushed);
* the store changed (a digest differs) and AdvancedMD did not (its landed ``changed_at`` is not later than the
  baseline's): push the changed fields, sending the baseline's ``changedat``, so AdvancedMD itself refuses the
  write (RECORD_CHANGED) if someone changed the patient after our patient sync last looked;
* AdvancedMD changed and the store did not: AdvancedMD's change is accepted (it landed through the patient sync);
  the baseline moves to AdvancedMD's ``changed_at``;
* both changed (seen in the landed ``changed_at``, or AdvancedMD's RECORD_CHANGED refusal): one ``getdemographic``
  decides. When AdvancedMD already holds the store's values for every changed field (our own write whose answer or
  whose row was lost, or the same edit made on both sides), they agree and the baseline moves. Otherwise the row
  becomes CONFLICT with the field names (never values) and is skipped until a person resolves it
  (:func:`resolve_conflict`: keep the store's values, which the next run pushes, or AdvancedMD's).

Idempotent: a re-run finds every digest equal and sends nothing. Budget: updatepatient and updateinsurance are
tier 3 (24 a minute at peak), one ``getdemographic`` (tier 2) only for a suspected conflict; ``max_pushes`` caps
one run. Nothing here touches the warehouse: the caller passes what the patient sync landed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.errors import AmdFaultError, AuthenticationError, SessionExpiredError
from ingest.advancedmd.normalize import clean_email, clean_phone, clean_text, clean_zip
from ingest.advancedmd.protocol import FaultCode
from ingest.advancedmd.records import AmdPatient
from operational_api.errors import PlatformError
from operational_api.models import Client, InsurancePolicy
from operational_api.models_advancedmd import AdvancedMDDemographicSync

IN_SYNC, CONFLICT = "IN_SYNC", "CONFLICT"
KEEP_CHOICES = ("store", "advancedmd")

# Store column -> (updatepatient attribute, AdvancedMD's canonical form, AmdPatient attribute).
PATIENT_FIELDS: dict[str, tuple[str, Callable[[str | None], str | None], str]] = {
    "first_name": ("firstname", clean_text, "first_name"),
    "last_name": ("lastname", clean_text, "last_name"),
    "address": ("address1", clean_text, "address1"),
    "city": ("city", clean_text, "city"),
    "state": ("state", clean_text, "state"),
    "zip_code": ("zip", clean_zip, "zip_code"),
    "phone": ("homephone", clean_phone, "home_phone"),
    "email": ("email", clean_email, "email"),
}
INSURANCE_PREFIX = "insurance."  # + rank: the member and group numbers of the client's policy of that rank


@dataclass
class PushCounts:
    baselined: int = 0
    pushed_patients: int = 0
    pushed_coverages: int = 0
    accepted_from_advancedmd: int = 0
    agreed_on_check: int = 0
    conflicts_new: int = 0
    conflicts_open: int = 0
    refused: int = 0
    deferred: int = 0

    def metadata(self) -> dict[str, int]:
        return dict(self.__dict__)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:16]


def store_values(client: Client, policies: list[InsurancePolicy], today: dt.date) -> dict[str, object]:
    """The pushed fields in AdvancedMD's canonical form (so a digest changes only when AdvancedMD would)."""
    out: dict[str, object] = {
        name: canon(getattr(client, name)) for name, (_, canon, _) in PATIENT_FIELDS.items()
    }
    current: dict[int, InsurancePolicy] = {}
    for p in sorted(policies, key=lambda p: (p.effective_date, p.id)):
        if p.effective_date <= today and (p.termination_date is None or p.termination_date >= today):
            current[p.rank] = p  # the newest policy of each rank in force today
    for rank, p in current.items():
        out[f"{INSURANCE_PREFIX}{rank}"] = [clean_text(p.member_id), clean_text(p.group_number)]
    return out


def _advancedmd_values(patient: AmdPatient) -> dict[str, object]:
    out: dict[str, object] = {
        name: canon(getattr(patient, attr)) for name, (_, canon, attr) in PATIENT_FIELDS.items()
    }
    for cov in patient.insurances:
        if cov.active is not False and cov.sequence is not None:
            out[f"{INSURANCE_PREFIX}{cov.sequence}"] = [
                clean_text(cov.subscriber_id),
                clean_text(cov.group_number),
            ]
    return out


def _naive_utc(at: dt.datetime | None) -> dt.datetime | None:
    return None if at is None else at.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC)


class _Conflict(Exception):
    """Both sides changed; the message names the fields."""


def push_demographics(
    amd: AdvancedMDClient,
    engine: Engine,
    links: Mapping[int, int],
    landed_changed_at: Mapping[int, dt.datetime | None],
    coverages: Mapping[int, Mapping[int, int]],
    *,
    today: dt.date,
    max_pushes: int = 300,
) -> PushCounts:
    """One run over ``links`` (client id -> AdvancedMD patient id, LINKED); ``landed_changed_at`` is AdvancedMD's
    ``changed_at`` per patient as the patient sync landed it (naive UTC); ``coverages`` the active AdvancedMD
    coverage id per patient and sequence (rank). See the module docstring."""
    office_key = amd.office_key
    table = AdvancedMDDemographicSync.__table__
    counts = PushCounts()
    with engine.connect() as conn:
        states = {r.client_id: r for r in conn.execute(select(table).where(table.c.office_key == office_key))}
        clients = {
            c.id: c
            for c in conn.execute(select(Client.__table__).where(Client.__table__.c.id.in_(list(links))))
        }
        policies: dict[int, list] = {}
        for p in conn.execute(
            select(InsurancePolicy.__table__).where(InsurancePolicy.__table__.c.client_id.in_(list(links)))
        ):
            policies.setdefault(p.client_id, []).append(p)
    pushes = 0
    for client_id, patient_id in sorted(links.items()):
        client = clients.get(client_id)
        if client is None:
            continue
        values = store_values(client, policies.get(client_id, []), today)  # type: ignore[arg-type]
        digests = {k: _digest(v) for k, v in values.items()}
        amd_at = landed_changed_at.get(patient_id)
        state = states.get(client_id)
        if state is None:
            _save(engine, office_key, client_id, patient_id, digests, amd_at, new=True)
            counts.baselined += 1
            continue
        if state.status == CONFLICT:
            counts.conflicts_open += 1
            continue
        agreed = json.loads(state.field_digests)
        changed = sorted(k for k in set(digests) | set(agreed) if digests.get(k) != agreed.get(k))
        seen = state.advancedmd_changed_at
        amd_changed = amd_at is not None and (seen is None or amd_at > seen)
        if not changed:
            if amd_changed:
                _save(engine, office_key, client_id, patient_id, digests, amd_at)
                counts.accepted_from_advancedmd += 1
            continue
        if pushes >= max_pushes:
            counts.deferred += 1
            continue
        try:
            if amd_changed:
                raise _Conflict()
            after, sent = _push(
                amd, patient_id, values, changed, coverages.get(patient_id, {}), seen or amd_at
            )
            pushes += sent
            counts.pushed_patients += 1
            counts.pushed_coverages += sum(1 for k in changed if k.startswith(INSURANCE_PREFIX))
            _save(engine, office_key, client_id, patient_id, digests, after, pushed=sent)
        except AmdFaultError as exc:
            if isinstance(exc, (AuthenticationError, SessionExpiredError)):
                raise  # the whole run is refused, not this client
            # Refused for another reason (the API named a fault): a person looks, the other clients go on.
            _save_conflict(
                engine, office_key, client_id, [*changed, f"refused by AdvancedMD ({exc.fault.code})"]
            )
            counts.refused += 1
        except _Conflict:
            # One look at AdvancedMD's current values decides whether the two sides really differ.
            current = amd.get_demographic(patient_id)
            theirs = _advancedmd_values(current)
            if all(_digest(theirs.get(k)) == digests.get(k) for k in changed if k in digests):
                _save(engine, office_key, client_id, patient_id, digests, _naive_utc(current.changed_at))
                counts.agreed_on_check += 1
            else:
                _save_conflict(engine, office_key, client_id, changed)
                counts.conflicts_new += 1
    return counts


def _push(
    amd: AdvancedMDClient,
    patient_id: int,
    values: Mapping[str, object],
    changed: list[str],
    coverages: Mapping[int, int],
    seen: dt.datetime | None,
) -> tuple[dt.datetime | None, int]:
    """Send the changed fields (patient first, then each coverage); returns AdvancedMD's new changedat (naive UTC)
    and how many writes went out. A RECORD_CHANGED refusal is a suspected conflict."""
    if seen is None:
        raise _Conflict()  # no AdvancedMD version to hold the write against: let getdemographic decide
    at = _aware(seen)
    sent = 0
    try:
        fields = {PATIENT_FIELDS[k][0]: values.get(k) for k in changed if k in PATIENT_FIELDS}
        if fields:
            at = amd.update_patient(patient_id, fields, seen_changed_at=at) or at  # type: ignore[arg-type]
            sent += 1
        for key in changed:
            if not key.startswith(INSURANCE_PREFIX) or key not in values:
                continue  # a policy that ended is not removed from AdvancedMD by us
            insurance_id = coverages.get(int(key.removeprefix(INSURANCE_PREFIX)))
            if insurance_id is None:
                raise _Conflict()  # no AdvancedMD coverage of that rank: a person adds it there
            member, group = values[key]  # type: ignore[misc]
            at = (
                amd.update_insurance(
                    patient_id, insurance_id, subscriber_number=member, group_number=group, seen_changed_at=at
                )
                or at
            )
            sent += 1
    except AmdFaultError as exc:
        if exc.fault.code != FaultCode.RECORD_CHANGED:
            raise
        raise _Conflict() from None
    return _naive_utc(at), sent


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _save(
    engine: Engine,
    office_key: str,
    client_id: int,
    patient_id: int,
    digests: Mapping[str, str],
    amd_changed_at: dt.datetime | None,
    *,
    new: bool = False,
    pushed: int = 0,
) -> None:
    table = AdvancedMDDemographicSync.__table__
    values = {
        "advancedmd_patient_id": patient_id,
        "field_digests": json.dumps(dict(sorted(digests.items()))),
        "advancedmd_changed_at": amd_changed_at,
        "status": IN_SYNC,
        "conflict_fields": None,
        "conflict_at": None,
        "updated_at": _now(),
    }
    where = (table.c.office_key == office_key) & (table.c.client_id == client_id)
    if new:
        try:
            with engine.begin() as conn:
                conn.execute(
                    table.insert().values(office_key=office_key, client_id=client_id, pushes=0, **values)
                )
        except IntegrityError:
            pass  # a concurrent run recorded the same first sight: its baseline stands
        return
    with engine.begin() as conn:
        conn.execute(table.update().where(where).values(pushes=table.c.pushes + pushed, **values))


def _save_conflict(engine: Engine, office_key: str, client_id: int, fields: list[str]) -> None:
    table = AdvancedMDDemographicSync.__table__
    now = _now()
    with engine.begin() as conn:
        conn.execute(
            table.update()
            .where((table.c.office_key == office_key) & (table.c.client_id == client_id))
            .values(status=CONFLICT, conflict_fields=",".join(fields)[:300], conflict_at=now, updated_at=now)
        )


def resolve_conflict(
    engine: Engine, office_key: str, client_id: int, keep: str, *, landed_changed_at: dt.datetime | None
) -> None:
    """A person's decision on a CONFLICT row. ``keep="store"``: the next run pushes the store's values over
    AdvancedMD's (the baseline takes AdvancedMD's ``landed_changed_at``, so the write is not refused);
    ``keep="advancedmd"``: the store's pending change is not pushed (the person copies AdvancedMD's values into
    the store, which then agree). Anything else is a one-line error naming the choices."""
    if keep not in KEEP_CHOICES:
        raise PlatformError(f"keep must be one of {', '.join(KEEP_CHOICES)}, not '{keep}'")
    table = AdvancedMDDemographicSync.__table__
    where = (table.c.office_key == office_key) & (table.c.client_id == client_id)
    with engine.begin() as conn:
        row = conn.execute(select(table).where(where)).first()
        if row is None or row.status != CONFLICT:
            raise PlatformError(f"client {client_id} has no open AdvancedMD demographics conflict")
        values: dict[str, object] = {
            "status": IN_SYNC,
            "conflict_fields": None,
            "conflict_at": None,
            "advancedmd_changed_at": landed_changed_at or row.advancedmd_changed_at,
            "updated_at": _now(),
        }
        if keep == "advancedmd":
            client = conn.execute(select(Client.__table__).where(Client.__table__.c.id == client_id)).one()
            policies = list(
                conn.execute(
                    select(InsurancePolicy.__table__).where(
                        InsurancePolicy.__table__.c.client_id == client_id
                    )
                )
            )
            today = dt.datetime.now(dt.UTC).date()
            current = {k: _digest(v) for k, v in store_values(client, policies, today).items()}  # type: ignore[arg-type]
            values["field_digests"] = json.dumps(dict(sorted(current.items())))
        conn.execute(table.update().where(where).values(**values))


def open_conflicts(engine: Engine) -> list[dict[str, object]]:
    """Open conflicts for the administrators' page: client, AdvancedMD patient, field names, since when."""
    table = AdvancedMDDemographicSync.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                table.c.client_id,
                table.c.office_key,
                table.c.advancedmd_patient_id,
                table.c.conflict_fields,
                table.c.conflict_at,
            )
            .where(table.c.status == CONFLICT)
            .order_by(table.c.conflict_at, table.c.client_id)
        )
        return [dict(r._mapping) for r in rows]
