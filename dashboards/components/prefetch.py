"""The browser's share of a first visit, done while the visitor signs in.

Streamlit's frontend loads each element's code on the element's first use: the data grid, the chart library, the
metric card, the segmented control and the rest are separate scripts the browser fetches, compiles and runs when a
page first shows one. On a first visit that landed on the first page after sign-in (Practice Overview: over a second
of the browser's main thread on the 2-core benchmark machine), and the chart library on the first page with a chart.

So the sign-in page also draws one small, made-up example of each, off screen and hidden from assistive
technology: the browser does that work while the visitor types their password and code, and the pages after it
find the code loaded. Nothing here comes from the store or the warehouse.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import streamlit as st

KEY = "browser-prefetch"
# Laid out (so the grid and the chart draw, as on a page) but off screen, invisible and out of reach of the mouse,
# the keyboard and screen readers.
_CSS = (
    f"<style>.st-key-{KEY} {{position: absolute; left: -10000px; top: 0; width: 640px; visibility: hidden; "
    "pointer-events: none;}</style>"
)
# Made up, and what a test tells apart from any real table (a signed-out screen shows no client list).
EXAMPLE_TABLE = pa.table(
    {
        "name": ["a", "b"],
        "value": [1.0, 2.0],
        "day": [dt.date(2026, 1, 1)] * 2,
        "tag": [["x"], ["y"]],
    }
)
_CHART = {
    "data": {"values": [{"period": "Jan", "value": 1.0}, {"period": "Feb", "value": 2.0}]},
    "layer": [
        {
            "mark": "bar",
            "encoding": {
                "x": {"field": "period", "type": "nominal", "title": "Month"},
                "y": {"field": "value", "type": "quantitative", "title": "Value"},
            },
        },
        {"mark": {"type": "rule", "strokeDash": [6, 4]}, "encoding": {"y": {"datum": 1.5}}},
    ],
    "height": 120,
}


def elements() -> None:
    """One of each costly element the pages use (their code, not their data), hidden off screen."""
    st.html(_CSS)
    with st.container(key=KEY):
        st.metric("Example", "1.0%", "+0.1", border=True, help="Example")
        st.dataframe(
            EXAMPLE_TABLE,
            hide_index=True,
            column_config={
                "value": st.column_config.NumberColumn(format="%.1f"),
                "tag": st.column_config.MultiselectColumn(options=["x", "y"], color=["#2e7d32", "#c62828"]),
            },
            key=f"{KEY}-grid",
        )
        st.vega_lite_chart(spec=_CHART, width="stretch", key=f"{KEY}-chart")
        st.segmented_control("Example", ["a", "b"], key=f"{KEY}-choice", label_visibility="collapsed")
        st.toggle("Example", key=f"{KEY}-toggle", label_visibility="collapsed")
        st.selectbox("Example", ["a", "b"], key=f"{KEY}-select", label_visibility="collapsed")
        st.multiselect("Example", ["a", "b"], default=["a"], key=f"{KEY}-multi", label_visibility="collapsed")
        st.radio("Example", ["a", "b"], horizontal=True, key=f"{KEY}-radio", label_visibility="collapsed")
        st.date_input("Example", dt.date(2026, 1, 1), key=f"{KEY}-date", label_visibility="collapsed")
        st.download_button("Example", "", file_name="example.csv", key=f"{KEY}-download", on_click="ignore")
