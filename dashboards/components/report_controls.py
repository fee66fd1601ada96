"""The Module 10 report pages' shared controls: grain and date range, and the clinicians in the user's scope."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboards.access import Scope
from dashboards.data import metrics, periods

GRAINS = {"Month": "month", "Week": "week"}


def grain_and_range(key: str, as_of: dt.date, months: int = 3) -> tuple[str, dt.date, dt.date]:
    """(grain, first period start, last period start): whole periods from `months` back to the running one."""
    label = st.segmented_control("Grain", list(GRAINS), default="Month", key=f"{key}_grain") or "Month"
    grain = GRAINS[label]
    default_from = periods.months_back(as_of, months - 1)
    picked = st.date_input(
        "Date range", value=(default_from, as_of), max_value=as_of, key=f"{key}_range", format="YYYY-MM-DD"
    )
    first, last = picked if isinstance(picked, tuple) and len(picked) == 2 else (default_from, as_of)
    return grain, periods.period_start(first, grain), periods.period_start(last, grain)


def clinician_names(scope: Scope) -> dict[int, str]:
    frame = metrics.clinicians(scope.clinician_ids)
    return dict(zip(frame["clinician_id"].to_list(), frame["clinician_name"].to_list(), strict=True))
