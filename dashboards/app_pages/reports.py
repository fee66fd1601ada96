"""Reports (PRD Module 10): revenue by clinician, CPT code, payer and payment method; AR aging
(current / 31–60 / 61–90 / 91–120 / 120+); claim denials by CARC with their trend; payer mix.
For billing staff and administrators (practice-wide)."""

import datetime as dt

import streamlit as st

from dashboards.components import ui
from dashboards.components.charts import bars, show
from dashboards.data import periods, reports

PAGE = "reports"
RANGES = {"This month": 0, "Last 3 months": 2, "Last 6 months": 5, "Last 12 months": 11}
# The address's `?report=` value -> the report's label.
REPORTS = {"revenue": "Revenue", "aging": "AR aging", "denials": "Claim denials", "payer-mix": "Payer mix"}
REPORT_PARAM = "report"
DEFAULT_REPORT = "revenue"


def settings(as_of: dt.date) -> tuple[dt.date, dt.date]:
    choice = (
        st.segmented_control("Period", list(RANGES), default="Last 3 months", key="rp_range")
        or "Last 3 months"
    )
    return periods.months_back(as_of, RANGES[choice]), periods.month_start(as_of)


def body(user, scope) -> None:
    st.title("Reports")
    if not scope.sees_everyone:
        st.error("Reports cover the whole practice and are for billing staff and administrators.")
        return
    as_of = periods.as_of()
    first, last = settings(as_of)
    st.caption(f"{first:%b %Y} to {last:%b %Y} (month to date) · as of {as_of:%a %d %b %Y}")
    section = chosen_report()
    if section == "aging":
        aging(last)
    elif section == "denials":
        denials(first, last)
    elif section == "payer-mix":
        payer_mix(first, last)
    else:
        revenue(first, last)


def chosen_report() -> str:
    """The one report built on this run (the URL's `?report=` preselects it, e.g. `?report=aging`).

    Tabs would build all four on every run, their charts and tables included, and the browser would draw
    them all: the page took seconds longer to show than the one report read at a time.
    """
    wanted = st.query_params.get(REPORT_PARAM)
    chosen = st.segmented_control(
        "Report",
        list(REPORTS),
        default=wanted if wanted in REPORTS else DEFAULT_REPORT,
        format_func=REPORTS.get,
        key="rp_section",
    )
    return chosen or DEFAULT_REPORT


def revenue(first, last) -> None:
    monthly = reports.revenue_by_month(first, last)
    if monthly.is_empty():
        st.info("No payments applied in this period yet: post payments or ERAs, then widen the period.")
        return
    total = monthly["revenue"].sum()
    st.metric("Revenue (payments applied)", f"${total:,.2f}", border=True)
    show(
        bars(
            monthly,
            "month",
            "revenue",
            x_title="Month",
            y_title="Revenue ($)",
            stacked_by="payment_source",
            title="Revenue by month",
        ),
        "rp_revenue_chart",
    )
    labels = {
        "clinician": "By clinician",
        "cpt_code": "By CPT code",
        "payer": "By payer",
        "payment_method": "By payment method",
    }
    for dimension, title in labels.items():
        st.subheader(title)
        ui.table(
            reports.revenue_by(dimension, first, last),
            key=f"rp_revenue_{dimension}",
            empty="No revenue in this period.",
            file_name=f"revenue_by_{dimension}.csv",
            column_config={"revenue": st.column_config.NumberColumn(format="dollar")},
        )


def aging(month) -> None:
    report = reports.aging_report(month)
    if report is None:
        st.info("No receivables outstanding: every charge is paid, adjusted or not yet entered.")
        return
    st.metric("Outstanding receivables", f"${report.outstanding:,.2f}", border=True)
    show(
        bars(
            report.buckets,
            "bucket",
            "outstanding",
            x_title="Days from service",
            y_title="Outstanding ($)",
            title="Receivables by age (days from service)",
        ),
        "rp_aging_chart",
    )
    ui.table(
        report.buckets,
        key="rp_aging_buckets",
        empty="",
        file_name="ar_aging.csv",
        column_config={"outstanding": st.column_config.NumberColumn(format="dollar")},
    )
    st.subheader("By payer")
    ui.table(report.by_payer, key="rp_aging_payer", empty="", file_name="ar_aging_by_payer.csv")


def denials(first, last) -> None:
    report = reports.denial_report(first, last)
    if report.by_month.is_empty():
        st.info("No denied claims in this period.")
    else:
        denied, adjudicated = report.claims_denied, report.claims_adjudicated
        st.metric(
            "Claim denial rate",
            f"{denied / adjudicated * 100:.1f}%" if adjudicated else "—",
            help=f"{denied} denied of {adjudicated} claims adjudicated in the period",
            border=True,
        )
        show(
            bars(
                report.trend,
                "month",
                "claims_denied",
                x_title="Month adjudicated",
                y_title="Claims denied",
                stacked_by="CARC",
                title="Denials by reason (CARC)",
            ),
            "rp_denial_chart",
        )
        st.subheader("Denials by reason")
        ui.table(report.reasons, key="rp_denials", empty="", file_name="denials_by_carc.csv")
        st.subheader("Denials by month and reason")
        ui.table(report.by_month, key="rp_denials_month", empty="", file_name="denials_by_month_and_carc.csv")
    st.subheader("Denial adjustments on posted ERAs")
    ui.table(
        reports.era_denial_adjustments(first, last),
        key="rp_era_denials",
        file_name="era_denials_by_carc.csv",
        empty="No 835 remittances posted in this period: upload ERAs on the ERA upload page.",
    )


def payer_mix(first, last) -> None:
    mix = reports.payer_mix(first, last)
    if mix.is_empty():
        st.info("No charges in this period.")
        return
    show(
        bars(
            mix,
            "payer",
            "billed",
            x_title="Payer",
            y_title="Charges billed ($)",
            title="Charges billed by payer",
        ),
        "rp_mix_chart",
    )
    ui.table(
        mix,
        key="rp_mix",
        empty="",
        file_name="payer_mix.csv",
        column_config={
            c: st.column_config.NumberColumn(format="dollar") for c in ("billed", "paid", "outstanding")
        },
    )


ui.run_page(PAGE, body)
