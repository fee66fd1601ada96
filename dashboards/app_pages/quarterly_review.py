"""Quarterly performance review (PRD accountability rhythms: 60 minutes per clinician, a 90-day trend analysis):
per clinician, the performance matrix's measures over the 90 days to today by week or month, against the
dictionary's benchmarks and coloured by the warehouse's status. Clinicians see themselves, supervisors their team,
administrators everyone; the CSV (and a subscription's attachment) is every clinician in scope."""

import polars as pl
import streamlit as st

from dashboards.components import ui
from dashboards.components.charts import metric_trend, show
from dashboards.components.report_controls import clinician_names
from dashboards.data import module10, periods
from dashboards.data.dictionary import definitions
from dashboards.data.status import Status

PAGE = "quarterly_review"
GRAINS = {"Week": "week", "Month": "month"}
# Rows on screen (a large practice by week is ~7,000); the CSV has them all.
SHOWN_ROWS = 1000


def body(user, scope) -> None:
    st.title("Quarterly review")
    as_of = periods.as_of()
    grain = GRAINS[st.segmented_control("Grain", list(GRAINS), default="Week", key="qr_grain") or "Week"]
    first, last = module10.review_window(as_of, grain)
    st.caption(
        f"The {module10.REVIEW_DAYS} days to {as_of:%a %d %b %Y}: {grain}s starting {first} to {last} "
        f"(the last {grain} is still running)."
    )
    names = clinician_names(scope)
    if not names:
        st.info("No clinicians in what you may see.")
        return
    ids = list(names)
    clinician = st.selectbox(
        "Clinician",
        ids,
        index=ids.index(user.user_id) if user.user_id in names else 0,
        format_func=lambda i: names.get(i, str(i)),
        key="qr_clinician",
    )
    if not scope.allows(clinician):  # a widget value is never a way around the scope
        st.error("That clinician is outside what you may see.")
        return
    review = module10.quarterly_review(grain, scope.clinician_ids, as_of)
    mine = review.filter(pl.col("clinician_id") == clinician)
    st.subheader(ui.plain(names[clinician]))
    if mine.is_empty():
        st.info("No figures for this clinician in the last 90 days: build the warehouse or pick another.")
    else:
        summary = module10.review_summary(mine).with_columns(
            pl.col("status")
            .replace_strict({s.name: s.team_label for s in Status}, default="No data", return_dtype=pl.String)
            .fill_null("No data")
            .alias("status label"),
        )
        ui.table(
            summary.select(pl.exclude("status"), "status").rename({"status label": "status now"}),
            key="qr_summary",
            empty="No figures.",
            file_name=f"quarterly_review_{clinician}.csv",
            colour_by={"latest": "status"},
        )
        _charts(mine)
    st.subheader("Every clinician you may see")
    ui.table(
        review,
        key="qr_table",
        empty="No figures in the last 90 days: build the warehouse.",
        file_name="quarterly_review.csv",
        colour_by={"value": "status"},
        limit=SHOWN_ROWS,
    )


def _charts(mine: pl.DataFrame) -> None:
    catalogue = definitions()
    columns = st.columns(2)
    for i, key in enumerate(module10.REVIEW_METRICS):
        series = mine.filter(pl.col("metric_key") == key).select(
            "period_start",
            pl.col("value").alias("metric_value"),
            "numerator",
            "denominator",
            pl.col("status").alias("rag_status"),
        )
        if series.is_empty():
            continue
        with columns[i % 2]:
            st.markdown(
                f"**{ui.plain(catalogue[key].label)}** · benchmark {ui.plain(catalogue[key].target_text)}"
            )
            show(metric_trend(series, catalogue[key]), f"qr_chart_{key}")


ui.run_page(PAGE, body)
