"""Productivity report (PRD Module 10): per clinician and period, sessions per day, KVR, no-show rate,
documentation time and same-day documentation, as fct_practice_metrics holds them. Supervisors see their team."""

import streamlit as st

from dashboards.components import ui
from dashboards.components.report_controls import grain_and_range
from dashboards.data import module10, periods
from dashboards.data.dictionary import definitions

PAGE = "productivity_report"


def body(user, scope) -> None:
    st.title("Productivity report")
    as_of = periods.as_of()
    grain, first, last = grain_and_range("prod", as_of)
    st.caption(f"{grain.title()}s starting {first} to {last} · as of {as_of:%a %d %b %Y}")
    table = module10.productivity(grain, scope.clinician_ids, first, last)
    labels = {k: d.label for k, d in definitions().items() if k in module10.PRODUCTIVITY_METRICS}
    ui.table(
        table,
        key="prod_table",
        empty="No productivity figures in this range: widen it or build the warehouse.",
        file_name="productivity.csv",
        column_config={k: st.column_config.NumberColumn(labels.get(k, k)) for k in labels},
    )


ui.run_page(PAGE, body)
