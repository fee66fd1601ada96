"""Compliance alerts in the operational store: sync from the warehouse, acknowledge, resolve, read their lifecycle.

The warehouse decides which conditions are open (`marts.fct_compliance_alerts`); this module keeps
the store's `compliance_alerts` in step so staff can act on them:
- a new condition opens an alert;
- a condition still open keeps its alert as it is (OPEN or ACKNOWLEDGED, never a duplicate);
- a condition that cleared resolves its alert automatically (resolved_by stays empty);
- a condition that comes back after being resolved reopens the same alert.
The Georgia 14-day rule also lives here: charges whose note is on billing hold are flagged so they
cannot be submitted, and released when the note is signed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from operational_api import audit
from operational_api.db import session_scope
from operational_api.models import AlertStatus, Charge, ComplianceAlert

BILLING_HOLD_ALERT = "UNSIGNED_NOTE_BILLING_HOLD"
ALERT_KEY_CHUNK = 900
SYNCED_FIELDS = (
    "alert_type",
    "severity",
    "target_user_id",
    "supervisor_id",
    "admin_id",
    "entity_type",
    "entity_id",
    "message",
    "action_required",
)


class AlertActionError(Exception):
    """An acknowledge/resolve request that cannot be carried out, with the reason."""


@dataclass(frozen=True)
class AlertState:
    """Where one store alert is in its lifecycle: who acknowledged or resolved it, and when."""

    alert_id: int
    status: str
    acknowledged_by: int | None
    acknowledged_at: dt.datetime | None
    resolved_by: int | None
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class SyncSummary:
    opened: int
    updated: int
    reopened: int
    resolved: int
    unchanged: int
    charges_held: int
    charges_released: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def sync_alerts(
    engine: Engine, open_conditions: Iterable[Mapping[str, Any]], now: dt.datetime | None = None
) -> SyncSummary:
    """Make the store's alerts match the warehouse's open conditions, in one transaction."""
    now = now or _now()
    conditions = {c["alert_key"]: c for c in open_conditions}
    opened = updated = reopened = resolved = unchanged = 0
    with session_scope(engine) as session:
        existing = {a.alert_key: a for a in session.scalars(select(ComplianceAlert))}
        for key, condition in conditions.items():
            alert = existing.get(key)
            due = condition.get("due_date")
            due_at = dt.datetime.combine(due, dt.time()) if isinstance(due, dt.date) else None
            metadata = {
                "rule_source": condition.get("rule_source"),
                "target_role": condition.get("target_role"),
            }
            if alert is None:
                session.add(
                    ComplianceAlert(
                        alert_key=key,
                        status=AlertStatus.OPEN,
                        due_at=due_at,
                        alert_metadata=metadata,
                        created_at=now,
                        updated_at=now,
                        **{f: condition.get(f) for f in SYNCED_FIELDS},
                    )
                )
                opened += 1
                continue
            changed = any(getattr(alert, f) != condition.get(f) for f in SYNCED_FIELDS)
            if alert.status == AlertStatus.RESOLVED:
                alert.status = AlertStatus.OPEN
                alert.resolved_at = alert.resolved_by = None
                alert.acknowledged_at = alert.acknowledged_by = None
                reopened += 1
            elif changed:
                updated += 1
            else:
                unchanged += 1
            if changed:
                for f in SYNCED_FIELDS:
                    setattr(alert, f, condition.get(f))
                alert.due_at = due_at
                alert.updated_at = now
        for key, alert in existing.items():
            if key not in conditions and alert.status != AlertStatus.RESOLVED:
                alert.status = AlertStatus.RESOLVED
                alert.resolved_at = now
                alert.updated_at = now
                resolved += 1
        held, released = _apply_billing_holds(session, conditions.values())
    return SyncSummary(opened, updated, reopened, resolved, unchanged, held, released)


def _apply_billing_holds(session, conditions: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    held_notes = {c["entity_id"] for c in conditions if c["alert_type"] == BILLING_HOLD_ALERT}
    currently_held = set(
        session.scalars(select(Charge.note_id).where(Charge.is_billing_hold, Charge.note_id.isnot(None)))
    )
    to_hold = held_notes - currently_held
    to_release = currently_held - held_notes
    held = released = 0
    if to_hold:
        held = session.execute(
            update(Charge)
            .where(Charge.note_id.in_(to_hold), Charge.status == "UNBILLED")
            .values(is_billing_hold=True)
        ).rowcount
    if to_release:
        released = session.execute(
            update(Charge).where(Charge.note_id.in_(to_release)).values(is_billing_hold=False)
        ).rowcount
    return held, released


def acknowledge(
    engine: Engine,
    alert_id: int,
    user_id: int,
    now: dt.datetime | None = None,
    *,
    source: str = audit.SYSTEM,
    actor_role: str | None = None,
    client_ids: Iterable[int] = (),
) -> None:
    """Mark an open alert as seen by `user_id`; its audit row commits with it (`client_ids`: whom it concerns)."""
    with session_scope(engine) as session:
        alert = _get(session, alert_id)
        if alert.status != AlertStatus.OPEN:
            raise AlertActionError(
                f"alert {alert_id} is {alert.status.lower()}, only an open alert can be acknowledged"
            )
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_by = user_id
        alert.acknowledged_at = now or _now()
        _audit(session, "alert.acknowledge", alert, user_id, actor_role, source, client_ids, now)


def resolve(
    engine: Engine,
    alert_id: int,
    user_id: int,
    now: dt.datetime | None = None,
    *,
    source: str = audit.SYSTEM,
    actor_role: str | None = None,
    client_ids: Iterable[int] = (),
) -> None:
    """Mark an alert resolved by `user_id` (if the condition persists, the next sync reopens it); audited with it."""
    with session_scope(engine) as session:
        alert = _get(session, alert_id)
        if alert.status == AlertStatus.RESOLVED:
            raise AlertActionError(f"alert {alert_id} is already resolved")
        alert.status = AlertStatus.RESOLVED
        alert.resolved_by = user_id
        alert.resolved_at = now or _now()
        _audit(session, "alert.resolve", alert, user_id, actor_role, source, client_ids, now)


def _audit(session, action, alert: ComplianceAlert, user_id, actor_role, source, client_ids, now) -> None:
    # In the action's transaction: an acknowledgement that is not in the log did not happen, and vice versa.
    # The entity id is the alert key, the id the warehouse, the dashboards and the notifications share.
    session.flush()
    audit.record(
        session,
        action=action,
        source=source,
        actor_user_id=user_id,
        actor_role=actor_role,
        entity="compliance_alert",
        entity_id=alert.alert_key,
        client_ids=client_ids,
        now=now,
    )


def alert_statuses(engine: Engine, alert_keys: Iterable[str]) -> dict[str, AlertState]:
    """The lifecycle of the store alerts with these keys (keys the store does not hold yet are absent)."""
    keys = sorted(set(alert_keys))
    states: dict[str, AlertState] = {}
    columns = (
        ComplianceAlert.alert_key,
        ComplianceAlert.id,
        ComplianceAlert.status,
        ComplianceAlert.acknowledged_by,
        ComplianceAlert.acknowledged_at,
        ComplianceAlert.resolved_by,
        ComplianceAlert.resolved_at,
    )
    with session_scope(engine) as session:
        # Chunks keep each statement under SQLite's bound-parameter limit on large practices.
        for start in range(0, len(keys), ALERT_KEY_CHUNK):
            chunk = keys[start : start + ALERT_KEY_CHUNK]
            for key, *state in session.execute(select(*columns).where(ComplianceAlert.alert_key.in_(chunk))):
                states[key] = AlertState(*state)
    return states


def _get(session, alert_id: int) -> ComplianceAlert:
    alert = session.get(ComplianceAlert, alert_id)
    if alert is None:
        raise AlertActionError(f"no alert with id {alert_id}")
    return alert
