"""Kept Visit Rate: per clinician or for the practice, by week or month, against the 85% benchmark."""

import streamlit as st

from dashboards.components.charts import trend_against_benchmark
from dashboards.data import metrics
from dashboards.data.warehouse import WarehouseNotReady

METRIC_KEY = "kept_visit_rate"


@st.cache_data(ttl=300, max_entries=8)
def _definition():
    return metrics.metric_definition(METRIC_KEY)


@st.cache_data(ttl=300, max_entries=64)
def _series(grain: str, clinician_id: int | None):
    return metrics.metric_series(METRIC_KEY, grain, clinician_id)


@st.cache_data(ttl=300, max_entries=4)
def _clinicians():
    return metrics.clinicians()


def render() -> None:
    try:
        _render()
    except WarehouseNotReady as exc:
        st.info(str(exc))


def _render() -> None:
    definition = _definition()
    clinicians = _clinicians()
    st.title(definition.label)
    user = st.session_state["auth_user"]
    visible = {
        row["clinician_name"]: row["clinician_id"]
        for row in clinicians.iter_rows(named=True)
        if user.can_see_clinician(row["clinician_id"])
    }
    # Only an administrator's view includes the practice-wide figure next to every clinician.
    names = ({"Whole practice": None} if user.visible_clinician_ids is None else {}) | visible
    col_who, col_grain = st.columns([3, 1])
    who = col_who.selectbox("Clinician", list(names), key="kvr_clinician")
    grain = col_grain.radio("Period", ["week", "month"], horizontal=True, key="kvr_grain")
    series = _series(grain, names[who])
    if series.is_empty():
        st.info("No appointments with a final status in this selection yet.")
        return
    latest = series.row(-1, named=True)
    change = latest["change_from_previous"]
    st.metric(
        f"Latest {grain} ({latest['period_start']:%Y-%m-%d})",
        f"{latest['metric_value']:.1f}%",
        None if change is None else f"{change:+.1f} pts",
        help=f"{int(latest['numerator'])} completed of {int(latest['denominator'])} final-status appointments",
    )
    st.plotly_chart(
        trend_against_benchmark(series, "KVR", definition.benchmark_value, definition.alert_threshold),
        width="stretch",
    )
    with st.expander("How this is counted"):
        st.write(definition.definition)
        st.write(definition.counting_convention)
    st.dataframe(series.to_pandas(), hide_index=True, width="stretch")
    st.download_button("Download CSV", series.write_csv(), file_name=f"kvr_{grain}.csv", mime="text/csv")
    freshness = metrics.data_freshness()
    st.caption(f"Data as of {freshness}" if freshness else "No data yet")


render()
