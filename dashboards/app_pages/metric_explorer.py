"""Metric explorer: any of the dictionary's measures, for any clinician the user may see (or the
practice, for administrators), by week or month; trend against the benchmark, the definition and
counting convention, and the numerator and denominator behind each value.

Deep links: `?metric=no_show_rate&clinician=12&grain=month` preselect; a clinician outside the user's
scope is refused, not shown.
"""

import polars as pl
import streamlit as st

from dashboards.components import ui
from dashboards.components.charts import metric_trend, show
from dashboards.data import metrics, periods
from dashboards.data.dictionary import definitions
from dashboards.data.status import warehouse_status

PAGE = "metric_explorer"
GRAINS = ("week", "month")
DEFAULT_METRIC = "kept_visit_rate"


def settings(user, scope) -> dict:
    defs = definitions()
    keys = list(defs)
    wanted_metric = st.query_params.get("metric", DEFAULT_METRIC)
    people = metrics.clinicians(scope.clinician_ids)
    names = dict(zip(people["clinician_id"].to_list(), people["clinician_name"].to_list(), strict=True))
    default = (
        None if scope.sees_everyone else (user.user_id if user.user_id in names else next(iter(names), None))
    )
    c1, c2, c3 = st.columns([3, 3, 1])
    with c1:
        metric_key = st.selectbox(
            "Measure",
            keys,
            index=keys.index(wanted_metric) if wanted_metric in keys else keys.index(DEFAULT_METRIC),
            format_func=lambda k: f"{defs[k].label} · {defs[k].category}",
            key="mx_metric",
        )
    with c2:
        clinician_id, refused = ui.clinician_picker(
            scope, names, default, "mx_clinician", allow_practice=True
        )
    wanted_grain = st.query_params.get("grain", "week")
    grain = c3.radio(
        "Period", GRAINS, index=GRAINS.index(wanted_grain) if wanted_grain in GRAINS else 0, key="mx_grain"
    )
    return {
        "metric_key": metric_key,
        "clinician_id": clinician_id,
        "refused": refused,
        "grain": grain,
        "name": "Whole practice" if clinician_id is None else names.get(clinician_id, ""),
    }


def body(user, scope) -> None:
    chosen = settings(user, scope)
    ui.refused_notice(chosen["refused"])
    definition = definitions()[chosen["metric_key"]]
    st.title(definition.label)
    if chosen["clinician_id"] is None and not scope.sees_everyone:
        st.info("No clinician in your scope yet.")
        return
    series = metrics.metric_series(
        chosen["metric_key"], chosen["grain"], chosen["clinician_id"], scope.clinician_ids
    )
    render(definition, series, chosen, periods.period_start(periods.as_of(), chosen["grain"]))


def render(definition, series: pl.DataFrame, chosen: dict, running_period) -> None:
    st.caption(
        f"{ui.plain(chosen['name'])} · by {chosen['grain']} · target {definition.target_text}"
        + (f" · alert action: {definition.alert_action}" if definition.alert_action else "")
    )
    if series.is_empty():
        st.info(
            f"No {definition.label} figures for this selection yet: pick another period or clinician, or check "
            "back after the next build (some measures start once there is enough history)."
        )
        _definition(definition)
        return
    latest = series.row(-1, named=True)
    status = warehouse_status(latest)
    ui.metric_card(
        st,
        "mx-latest",
        f"Latest {chosen['grain']} ({latest['period_start']:%Y-%m-%d})",
        definition,
        latest["metric_value"],
        status=status,
        change=latest["change_from_previous"],
        help=f"numerator {latest['numerator']:,.2f} / denominator {latest['denominator'] or 0:,.2f}",
    )
    show(metric_trend(series, definition, running_period), "mx_chart")
    ui.status_legend()
    _definition(definition)
    table = series.rename({"rag_status": "status"}).sort("period_start", descending=True)
    ui.table(
        table,
        key="mx_table",
        empty="",
        file_name=f"{chosen['metric_key']}_{chosen['grain']}.csv",
        colour_by={"metric_value": "status"},
    )


def _definition(definition) -> None:
    with st.expander("Definition and counting convention", expanded=False):
        st.markdown(f"**{definition.definition}**")
        st.write(definition.counting_convention)
        if definition.georgia_rule:
            st.write(f"Georgia rule: {definition.georgia_rule}")


ui.run_page(PAGE, body)
