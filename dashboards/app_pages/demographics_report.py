"""Client demographics report (PRD Module 10): active clients counted by age band, gender, payer class and
ZIP3 from dim_clients. Counts only; any count under 11 shows as "<11" so no cell points at a person."""

import streamlit as st

from dashboards.components import ui
from dashboards.data import module10

PAGE = "demographics_report"


def body(user, scope) -> None:
    st.title("Client demographics")
    if not scope.sees_everyone:
        st.error("The demographics report covers the whole practice.")
        return
    st.caption(
        f"Active clients. Counts under {module10.SMALL_CELL} are shown as "
        f'"{module10.SUPPRESSED}" (small-cell suppression).'
    )
    for dimension, label in module10.DEMOGRAPHIC_DIMENSIONS.items():
        st.subheader(label)
        ui.table(
            module10.demographics(dimension),
            key=f"demo_{dimension}",
            empty="No active clients.",
            file_name=f"clients_by_{dimension}.csv",
        )
    ui.csv_button(module10.all_demographics(), "demo_all", "client_demographics.csv")


ui.run_page(PAGE, body)
