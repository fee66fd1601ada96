"""Compliance alerts: open conditions from `marts.fct_compliance_alerts`, their lifecycle from the store.

The warehouse says which conditions are open; the operational store's `compliance_alerts` says where
each one is in its lifecycle (open, acknowledged, resolved; who and when). The store is read and
written only through `operational_api.alerts`, joined by the stable `alert_key`.

Who sees an alert: an administrator every alert; anyone else the alerts about the clinicians in their
scope (`target_user_id`), plus, for a supervisor, those escalated to them (`supervisor_id`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from dashboards.data.cache import cached
from dashboards.data.warehouse import id_filter, query
from operational_api import alerts as store_alerts
from operational_api import audit

SEVERITIES = ("CRITICAL", "WARNING", "INFO")
LIFECYCLE = ("OPEN", "ACKNOWLEDGED", "RESOLVED", "NOT SYNCED")
# The store's status changes when anyone acknowledges; keep it fresh, and clear it after our own actions.
LIFECYCLE_TTL_SECONDS = 20
# The Compliance alerts table's columns, most telling first.
TABLE_COLUMNS = (
    "alert_id",
    "severity",
    "status",
    "person",
    "alert_type",
    "message",
    "action_required",
    "due_date",
    "acknowledged_at",
    "resolved_at",
    "alert_key",
)


def _audience(clinician_ids: tuple[int, ...] | None, supervisor_id: int | None) -> tuple[str, list]:
    if clinician_ids is None:
        return "true", []
    if supervisor_id is None:
        return id_filter("a.target_user_id", clinician_ids), []
    return f"({id_filter('a.target_user_id', clinician_ids)} or a.supervisor_id = ?)", [supervisor_id]


@cached(max_entries=64)
def open_conditions(
    clinician_ids: tuple[int, ...] | None,
    supervisor_id: int | None,
    alert_types: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Open conditions the caller may see, most severe and most overdue first, with the person's name."""
    where, params = _audience(clinician_ids, supervisor_id)
    if alert_types is not None:
        where += f" and a.alert_type in ({', '.join('?' for _ in alert_types) or 'null'})"
        params += list(alert_types)
    return query(
        "select a.alert_key, a.alert_type, a.rule_source, a.severity, a.target_user_id, "
        "coalesce(c.clinician_name, case when a.target_user_id is null then 'Practice' "
        "else 'Staff #' || cast(a.target_user_id as varchar) end) as person, "
        "a.supervisor_id, a.entity_type, a.entity_id, a.message, a.action_required, "
        "a.is_supervisor_escalated, a.is_admin_escalated, a.due_date, a.as_of_date "
        "from marts.fct_compliance_alerts as a "
        "left join marts.dim_clinicians as c on a.target_user_id = c.clinician_id "
        f"where {where} "
        "order by case a.severity when 'CRITICAL' then 0 when 'WARNING' then 1 else 2 end, a.due_date, a.alert_key",
        params,
    )


def lifecycle(alert_keys) -> pl.DataFrame:
    """alert_key, alert_id, status and who/when acknowledged or resolved, for the keys the store holds."""
    from dashboards.auth import store_engine

    states = store_alerts.alert_statuses(store_engine(), alert_keys)
    values = list(states.values())
    # Column by column: ~10x faster than a frame from one dict per alert on a large practice.
    return pl.DataFrame(
        {
            "alert_key": list(states),
            "alert_id": [s.alert_id for s in values],
            "status": [s.status for s in values],
            "acknowledged_by": [s.acknowledged_by for s in values],
            "acknowledged_at": [s.acknowledged_at for s in values],
            "resolved_by": [s.resolved_by for s in values],
            "resolved_at": [s.resolved_at for s in values],
        },
        schema={
            "alert_key": pl.String,
            "alert_id": pl.Int64,
            "status": pl.String,
            "acknowledged_by": pl.Int64,
            "acknowledged_at": pl.Datetime,
            "resolved_by": pl.Int64,
            "resolved_at": pl.Datetime,
        },
    )


@cached(max_entries=32, ttl=LIFECYCLE_TTL_SECONDS)
def with_lifecycle(clinician_ids: tuple[int, ...] | None, supervisor_id: int | None) -> pl.DataFrame:
    """The open conditions the caller may see, with their store status ('NOT SYNCED' until the alert sync
    has opened them). Cached briefly: the store changes whenever anyone acknowledges."""
    conditions = open_conditions(clinician_ids, supervisor_id)
    states = lifecycle(conditions["alert_key"].to_list())
    return conditions.join(states, on="alert_key", how="left").with_columns(
        pl.col("status").fill_null("NOT SYNCED")
    )


@dataclass(frozen=True)
class AlertChoices:
    """What the Compliance alerts filters offer a user, and the counts above the table."""

    total: int
    severity_counts: dict[str, int]
    alert_types: list[str]
    people: list[str]


@cached(max_entries=32, ttl=LIFECYCLE_TTL_SECONDS)
def alert_choices(clinician_ids: tuple[int, ...] | None, supervisor_id: int | None) -> AlertChoices:
    """The filter options and severity counts of the alerts the caller may see (kept with the lifecycle: an
    administrator's list holds thousands of alerts, too many to go through on every re-render)."""
    frame = with_lifecycle(clinician_ids, supervisor_id)
    counts = dict(frame.group_by("severity").len().iter_rows())
    return AlertChoices(
        total=frame.height,
        severity_counts={s: counts.get(s, 0) for s in SEVERITIES},
        alert_types=sorted(frame["alert_type"].unique().to_list()),
        people=sorted(frame["person"].unique().to_list()),
    )


@dataclass(frozen=True)
class AlertView:
    """The Compliance alerts table for one user and one choice of filters, and the alerts they can act on."""

    table: pl.DataFrame  # every alert the filters keep, in the page's columns (the CSV has them all)
    actionable_count: int
    actions: dict[str, tuple[str, str]]  # alert_key -> (label, status), the first `action_limit` actionable
    first_open: int  # index in `actions` of the first alert nobody has acknowledged yet
    client_ids: tuple[int, ...] = ()  # the clients the shown alerts concern (for the audit log)


@cached(max_entries=64, ttl=LIFECYCLE_TTL_SECONDS)
def alert_view(
    clinician_ids: tuple[int, ...] | None,
    supervisor_id: int | None,
    types: tuple[str, ...] = (),
    severities: tuple[str, ...] = (),
    people: tuple[str, ...] = (),
    statuses: tuple[str, ...] = (),
    action_limit: int = 500,
) -> AlertView:
    """The filtered alerts and the action list, worked out once per filter choice rather than on every render."""
    shown = filter_alerts(with_lifecycle(clinician_ids, supervisor_id), types, severities, people, statuses)
    actionable = shown.filter(pl.col("status").is_in(["OPEN", "ACKNOWLEDGED"]))
    first = actionable.head(action_limit)
    actions = {
        key: (f"#{alert_id} · {severity} · {status.lower()} · {message}", status)
        for key, alert_id, severity, status, message in first.select(
            "alert_key", "alert_id", "severity", "status", "message"
        ).iter_rows()
    }
    statuses_in_order = first["status"].to_list()
    return AlertView(
        table=shown.select(*TABLE_COLUMNS),
        actionable_count=actionable.height,
        actions=actions,
        first_open=statuses_in_order.index("OPEN") if "OPEN" in statuses_in_order else 0,
        client_ids=alert_client_ids(shown),
    )


# The mart that names the client of each entity an alert can be about (a client alert names it itself).
_CLIENT_OF_ENTITY = {
    "appointment": ("marts.fct_appointments", "appointment_id"),
    "clinical_note": ("marts.fct_clinical_notes", "note_id"),
    "charge": ("marts.fct_charges", "charge_id"),
}


@cached(max_entries=64)
def _clients_of(entity_type: str, entity_ids: tuple[int, ...]) -> tuple[int, ...]:
    table, column = _CLIENT_OF_ENTITY[entity_type]
    frame = query(f"select distinct client_id from {table} where {id_filter(column, entity_ids)}")
    return tuple(int(c) for c in frame["client_id"].drop_nulls().to_list())


def alert_client_ids(frame: pl.DataFrame) -> tuple[int, ...]:
    """The clients these alerts concern (for the audit log): ids only, from the entity each alert is about."""
    if frame.is_empty():
        return ()
    found: set[int] = set()
    for entity_type, ids in (
        frame.filter(pl.col("entity_id").is_not_null())
        .group_by("entity_type")
        .agg(pl.col("entity_id").cast(pl.Int64, strict=False).drop_nulls().unique().sort())
        .iter_rows()
    ):
        if entity_type == "client":
            found.update(ids)
        elif entity_type in _CLIENT_OF_ENTITY and ids:
            found.update(_clients_of(entity_type, tuple(ids)))
    return tuple(sorted(found))


def clear_lifecycle() -> None:
    """Forget the cached lifecycle and what is derived from it (after an acknowledge or a resolve)."""
    with_lifecycle.clear()
    alert_choices.clear()
    alert_view.clear()


def filter_alerts(frame: pl.DataFrame, types=(), severities=(), people=(), statuses=()) -> pl.DataFrame:
    """The page's filters; an empty choice means no restriction."""
    for column, chosen in (
        ("alert_type", types),
        ("severity", severities),
        ("person", people),
        ("status", statuses),
    ):
        if chosen:
            frame = frame.filter(pl.col(column).is_in(list(chosen)))
    return frame


class AlertNotVisible(PermissionError):
    """The alert is not one the signed-in user may act on."""


def act(
    action: str,
    alert_key: str,
    clinician_ids: tuple[int, ...] | None,
    supervisor_id: int | None,
    user_id: int,
    now: dt.datetime | None = None,
    *,
    actor_role: str | None = None,
) -> None:
    """Acknowledge or resolve an alert the user can see (checked again here, not trusted from the page). The
    store records the audit row (the clients the alert concerns) in the same transaction as the action."""
    visible = open_conditions(clinician_ids, supervisor_id)
    if alert_key not in set(visible["alert_key"].to_list()):
        raise AlertNotVisible("this alert is not one of yours")
    from dashboards.auth import store_engine

    states = store_alerts.alert_statuses(store_engine(), [alert_key])
    if alert_key not in states:
        raise store_alerts.AlertActionError(
            "this alert has not reached the alert list yet; try after the next sync"
        )
    operation = {"acknowledge": store_alerts.acknowledge, "resolve": store_alerts.resolve}[action]
    operation(
        store_engine(),
        states[alert_key].alert_id,
        user_id,
        now,
        source=audit.DASHBOARDS,
        actor_role=actor_role,
        client_ids=alert_client_ids(visible.filter(pl.col("alert_key") == alert_key)),
    )
    clear_lifecycle()


def alert_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Counts by type and severity for panels: alert_type, severity, alerts, people affected."""
    if frame.is_empty():
        return pl.DataFrame(
            schema={"alert_type": pl.String, "severity": pl.String, "alerts": pl.UInt32, "people": pl.UInt32}
        )
    return (
        frame.group_by("alert_type", "severity")
        .agg(pl.len().alias("alerts"), pl.col("target_user_id").n_unique().alias("people"))
        .sort("alerts", descending=True)
    )
