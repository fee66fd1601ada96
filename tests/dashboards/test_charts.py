"""Charts a practice manager can read: both axes titled, guide lines named in the legend beside the plot (never a
label on a bar), and each month's label under its own bar, in time order."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from tests.dashboards.conftest import chart_specs
from tests.dashboards.test_pages import MONTH, open_page, warehouse


def _main_layer(spec: dict) -> dict:
    """The layer drawing the data (bars or the line), the one the axes are titled on."""
    return next(layer for layer in spec["layer"] if "x" in layer.get("encoding", {}))


def _overview_trends(at) -> list[dict]:
    at.toggle(key="ov_trends").set_value(True)
    at.toggle(key="ov_capacity_weeks").set_value(True).run()
    return chart_specs(at)


def _team_trend(at) -> list[dict]:
    at.button_group(key="team_trend_metric").set_value("kept_visit_rate").run()
    return chart_specs(at)


# The pages draw some charts only on demand (the chart library is slow to load): these open them.
OPEN_CHARTS = {"practice_overview": _overview_trends, "my_team": _team_trend}


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("ADMIN", "practice_overview"),
        ("ADMIN", "reports"),
        ("ADMIN", "metric_explorer"),
        ("SUPERVISOR", "my_team"),
    ],
)
def test_every_chart_titles_both_axes_and_names_its_lines_outside_the_plot(demo_env, role, page):
    at = open_page(demo_env, role, page)
    specs = OPEN_CHARTS[page](at) if page in OPEN_CHARTS else chart_specs(at)
    assert not at.exception, at.exception
    assert specs, "the demo practice draws charts on this page"
    for spec in specs:
        encoding = _main_layer(spec)["encoding"]
        assert encoding["x"].get("title") and encoding["y"].get("title"), spec.get("title")
        for layer in spec["layer"]:
            mark = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            assert mark != "text", "no label drawn inside the plot, where it could sit on a bar"
            if mark == "rule":  # benchmark / target / alert / this-week lines: named in the legend
                colour = layer["encoding"]["color"]
                assert colour["legend"] is not None and colour["field"] == "guide", colour


def test_reports_month_labels_sit_under_their_own_bars(demo_env):
    spec = next(
        s
        for s in chart_specs(open_page(demo_env, "ADMIN", "reports"))
        if s.get("title") == "Revenue by month"
    )
    expected = {
        (f"{month:%b %Y}", source): float(revenue)
        for month, source, revenue in warehouse(
            "select revenue_month_start, payment_source, sum(revenue_amount) from marts.fct_revenue "
            "where revenue_month_start between ? and ? group by 1, 2",
            [dt.date(2026, 9, 1), MONTH],
        ).iter_rows()
    }
    bars = _main_layer(spec)
    shown = {(row["period"], row["series"]): row["value"] for row in bars["data"]["values"]}
    assert shown.keys() == expected.keys()
    assert shown == pytest.approx(expected)
    assert bars["encoding"]["x"]["type"] == "nominal"
    assert bars["encoding"]["x"]["sort"] == ["Sep 2026", "Oct 2026", "Nov 2026"]


def _series(days: list, values: list[float], denominator: float, statuses: list[str]) -> pl.DataFrame:
    """A measure's periods as the pages hand them to a chart (the value is the numerator here)."""
    return pl.DataFrame(
        {
            "period_start": days,
            "metric_value": values,
            "numerator": values,
            "denominator": [denominator] * len(days),
            "rag_status": statuses,
        }
    )


def test_supervision_hours_chart_draws_the_required_hours_as_a_named_line():
    """The below-required measure: bars are the hours logged, the dashed line (named in the legend) the hours
    required each period; the spec is plain JSON (the browser gets it as is)."""
    from dashboards.components.charts import metric_trend
    from dashboards.data.dictionary import MetricDefinition

    hours = MetricDefinition(
        metric_key="supervision_hours_logged",
        label="Supervision hours",
        definition="",
        counting_convention="",
        unit="hours",
        direction="higher_is_better",
        benchmark_value=None,
        alert_operator="below_required",
        alert_threshold=None,
    )
    series = _series([dt.date(2026, 9, 1), dt.date(2026, 10, 1)], [3.0, 4.0], 4.0, ["URGENT", "GOOD"])
    spec = json.loads(json.dumps(metric_trend(series, hours)))
    bars, required = spec["layer"]
    assert [row["period"] for row in bars["data"]["values"]] == ["Sep 2026", "Oct 2026"]
    assert [row["value"] for row in bars["data"]["values"]] == [3.0, 4.0]
    assert required["encoding"]["y"]["field"] == "denominator"
    assert required["encoding"]["color"]["datum"] == "required" and required["encoding"]["color"]["legend"]
    assert bars["encoding"]["y"]["title"] == required["encoding"]["y"]["title"] == "Supervision hours (hours)"
