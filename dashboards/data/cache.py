"""Bounded caching for loaders: every cached loader has a TTL and a maximum number of entries.

Loaders take only explicit, hashable arguments (ids, dates, metric keys), never widgets, so a cached
result is the answer to exactly the question asked. The cache is per server process and shared by all
sessions; access scoping lives in the arguments (clinician ids come from the signed-in user).
"""

from __future__ import annotations

import streamlit as st

# The warehouse changes when a build finishes (a few times a day) or an ERA is posted; five minutes
# keeps a re-render cheap without showing old figures for long.
TTL_SECONDS = 300


def cached(max_entries: int = 64, ttl: int = TTL_SECONDS):
    """`st.cache_data` with our bounds; the function stays callable (and testable) without Streamlit."""
    return st.cache_data(ttl=ttl, max_entries=max_entries, show_spinner=False)


def clear_all() -> None:
    """Forget every cached loader result (after an ERA upload or a manual refresh)."""
    st.cache_data.clear()
