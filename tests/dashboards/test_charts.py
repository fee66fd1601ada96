"""Charts a practice manager can read: both axes titled, guide-line labels beside the plot (never on a bar),
and each month's label under its own bar."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.dashboards.test_pages import MONTH, open_page, warehouse


def _specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("ADMIN", "practice_overview"),
        ("ADMIN", "reports"),
        ("ADMIN", "metric_explorer"),
        ("SUPERVISOR", "my_team"),
    ],
)
def test_every_chart_titles_both_axes_and_labels_lines_outside_the_bars(demo_env, role, page):
    specs = _specs(open_page(demo_env, role, page))
    assert specs, "the demo practice draws charts on this page"
    for spec in specs:
        layout = spec["layout"]
        assert layout.get("xaxis", {}).get("title", {}).get("text"), layout.get("title")
        assert layout.get("yaxis", {}).get("title", {}).get("text"), layout.get("title")
        for note in layout.get("annotations", []):
            if note.get("xref") == "paper":  # benchmark / target / alert labels: in the right margin
                assert note["x"] >= 1 and note["xanchor"] == "left", note


def test_reports_month_labels_sit_under_their_own_bars(demo_env):
    spec = next(
        s
        for s in _specs(open_page(demo_env, "ADMIN", "reports"))
        if s["layout"].get("title", {}).get("text") == "Revenue by month"
    )
    expected = {
        (f"{month:%b %Y}", source): float(revenue)
        for month, source, revenue in warehouse(
            "select revenue_month_start, payment_source, sum(revenue_amount) from marts.fct_revenue "
            "where revenue_month_start between ? and ? group by 1, 2",
            [dt.date(2026, 9, 1), MONTH],
        ).iter_rows()
    }
    shown = {
        (label, trace["name"]): value
        for trace in spec["data"]
        for label, value in zip(trace["x"], trace["y"], strict=True)
    }
    assert shown.keys() == expected.keys()
    assert shown == pytest.approx(expected)
    assert spec["layout"]["xaxis"]["type"] == "category"
    assert spec["layout"]["xaxis"]["categoryarray"] == ["Sep 2026", "Oct 2026", "Nov 2026"]
