"""Bounded caching for loaders: every cached loader has a TTL and a maximum number of entries.

Loaders take only explicit, hashable arguments (ids, dates, metric keys), never widgets, so a cached
result is the answer to exactly the question asked. The cache is per server process and shared by all
sessions; access scoping lives in the arguments (clinician ids come from the signed-in user).
"""

from __future__ import annotations

import threading
import time

import psycopg
import streamlit as st

from dashboards.data.warehouse import WarehouseNotReady, reader

# Cached results are dropped as soon as the warehouse is rebuilt (clear_if_warehouse_changed); the TTL
# only bounds how long an entry lives.
TTL_SECONDS = 300
# How often a page run asks the warehouse whether it was rebuilt: a stat on DuckDB, one small query on
# PostgreSQL, so a cached re-render stays cheap and a rebuild shows within seconds.
VERSION_CHECK_SECONDS = 10.0


def cached(max_entries: int = 64, ttl: int = TTL_SECONDS):
    """`st.cache_data` with our bounds; the function stays callable (and testable) without Streamlit."""
    return st.cache_data(ttl=ttl, max_entries=max_entries, show_spinner=False)


def clear_all() -> None:
    """Forget every cached loader result (after an ERA upload or a manual refresh)."""
    st.cache_data.clear()


class _SeenVersion:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: object = None
        self.checked_at = float("-inf")


@st.cache_resource(show_spinner=False)
def _seen_version() -> _SeenVersion:
    return _SeenVersion()


def clear_if_warehouse_changed() -> bool:
    """Drop every cached result if the warehouse was rebuilt since the last check (at most one check per
    VERSION_CHECK_SECONDS per server process). Without it a page opened between an ERA post and the
    warehouse refresh would keep the old figures for the whole TTL. Returns whether the caches were cleared."""
    seen = _seen_version()
    with seen.lock:
        now = time.monotonic()
        if now - seen.checked_at < VERSION_CHECK_SECONDS:
            return False
        seen.checked_at = now
        try:
            version = reader().version()
        except (WarehouseNotReady, psycopg.Error):
            return False  # the page says what is wrong; ask again on a later run
        changed = version != seen.version
        seen.version = version
    if changed:
        clear_all()
    return changed
