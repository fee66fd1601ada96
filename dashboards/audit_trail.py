"""What the dashboards write to the audit log (operational_api/audit.py): the one helper every page calls.

- A page run that showed client-level data records one `page.view` row naming the page and the ids of the
  clients it showed (tables note theirs through `shown`; `ui.run_page` opens and closes the page run). A rerun of
  the same page showing the same clients (a click that changes nothing about whom you see) is not recorded again.
- Every CSV download records `csv.download` with the table, the row count and the clients in it, when the file
  is generated (the click), not when the button is drawn.
- Actions record what was done to which entity: alert acknowledge/resolve, ERA upload and posting, backfills,
  and refusals of them (`outcome="refused"`).

Rows carry ids only, never names: the audit log must not become a second copy of the PHI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl
import streamlit as st

from operational_api import audit
from operational_api.auth import SignedInUser
from operational_api.db import session_scope

_SHOWN_KEY = "audit_shown_clients"
_LAST_VIEW_KEY = "audit_last_view"


def _engine():
    from dashboards.auth import store_engine

    return store_engine()


def record(
    user: SignedInUser | None,
    action: str,
    *,
    entity: str | None = None,
    entity_id: object | None = None,
    client_ids: Iterable[int] = (),
    outcome: str = "ok",
    detail: Mapping[str, object] | None = None,
    engine=None,
) -> None:
    """One audit row from the dashboards, in its own transaction."""
    with session_scope(engine or _engine()) as session:
        audit.record(
            session,
            action=action,
            source=audit.DASHBOARDS,
            actor_user_id=user.user_id if user else None,
            actor_role=user.role if user else None,
            entity=entity,
            entity_id=entity_id,
            client_ids=client_ids,
            outcome=outcome,
            detail=detail,
        )


def client_ids_in(frame: pl.DataFrame) -> list[int]:
    """The clients a loader's frame is about: its `client_id` column, or the clients its alerts concern."""
    if "client_id" in frame.columns:
        return [int(c) for c in frame["client_id"].drop_nulls().unique().to_list()]
    if {"entity_type", "entity_id"} <= set(frame.columns):
        from dashboards.data.alerts import alert_client_ids

        return list(alert_client_ids(frame))
    return []


def begin_page() -> None:
    st.session_state[_SHOWN_KEY] = set()


def shown(client_ids: Iterable[int]) -> None:
    """Note clients whose data this page run puts on the screen."""
    st.session_state.setdefault(_SHOWN_KEY, set()).update(int(c) for c in client_ids)


def end_page(user: SignedInUser, page: str) -> None:
    """Record the page view if it showed client-level data (and is not a repeat of the previous run's view)."""
    ids = frozenset(st.session_state.pop(_SHOWN_KEY, set()))
    view = (page, ids)
    if not ids:
        st.session_state[_LAST_VIEW_KEY] = view
        return
    if st.session_state.get(_LAST_VIEW_KEY) == view:
        return
    record(user, "page.view", entity="page", entity_id=page, client_ids=ids, detail={"page": page})
    st.session_state[_LAST_VIEW_KEY] = view


def download_recorder(user: SignedInUser | None, table: str, file_name: str, client_ids: Iterable[int]):
    """What a CSV button calls when its file is generated (possibly outside the page run: no session state)."""
    ids = sorted({int(c) for c in client_ids})
    engine = _engine()

    def downloaded(rows: int, outcome: str = "ok") -> None:
        record(
            user,
            "csv.download",
            entity="table",
            entity_id=table,
            client_ids=ids,
            outcome=outcome,
            detail={"file": file_name, "rows": rows},
            engine=engine,
        )

    return downloaded
