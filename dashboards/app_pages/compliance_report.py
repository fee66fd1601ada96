"""Compliance report (PRD Module 10): unsigned notes by age band (fct_unsigned_notes, today), and per clinician
and period the currency of treatment plans and consents and supervision (fct_practice_metrics)."""

import streamlit as st

from dashboards.components import ui
from dashboards.components.report_controls import grain_and_range
from dashboards.data import module10, periods
from dashboards.data.dictionary import definitions

PAGE = "compliance_report"


def body(user, scope) -> None:
    st.title("Compliance report")
    as_of = periods.as_of()
    st.subheader("Unsigned notes by age")
    st.caption("Notes unsigned at the end of today; the Georgia deadline is 7 days after the session.")
    ui.table(
        module10.unsigned_by_age(scope.clinician_ids),
        key="comp_unsigned",
        empty="No unsigned notes.",
        file_name="unsigned_notes_by_age.csv",
    )
    st.subheader("Plans, consents and supervision")
    grain, first, last = grain_and_range("comp", as_of)
    labels = {k: d.label for k, d in definitions().items() if k in module10.COMPLIANCE_METRICS}
    ui.table(
        module10.compliance_measures(grain, scope.clinician_ids, first, last),
        key="comp_measures",
        empty="No compliance figures in this range.",
        file_name="compliance.csv",
        column_config={k: st.column_config.NumberColumn(labels.get(k, k)) for k in labels},
    )


ui.run_page(PAGE, body)
