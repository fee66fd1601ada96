"""Shared chart builders: Vega-Lite specs (st.vega_lite_chart), coloured green / amber / red against the metric
dictionary.

Vega-Lite, not Plotly: Streamlit loads a chart library into the browser on a page's first chart, and Plotly's is
4.7 MB of JavaScript the browser fetches, compiles and runs (seconds of main thread on the 2-core machine, even
from its cache) where Vega-Lite's is 0.8 MB (bench/results/RESULTS.md, "Dashboards in a real browser"). A spec is
a plain dict with its rows inline (a chart here has at most a few dozen), built in microseconds.

Every chart titles both axes, labels each period under its own bar (one category per period, in time order), and
names its guide lines (benchmark, target, alert) in the legend under the plot, so no label sits on a bar.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboards.data.dictionary import MetricDefinition
from dashboards.data.status import AMBER, GREEN, RED, metric_status, warehouse_status

__all__ = ["AMBER", "GREEN", "RED", "bars", "capacity_chart", "lines", "metric_trend", "show", "team_trend"]
HEIGHT = 380
BLUE = "#1565c0"
_LEGEND = {"orient": "bottom", "title": None}
_DASH = {"dash": [6, 4], "dot": [2, 3], "solid": [1, 0]}


def show(spec: dict, key: str, container=st) -> None:
    """Draw a spec built here, as wide as its column."""
    container.vega_lite_chart(spec=spec, width="stretch", key=key)


def _num(value) -> float | None:
    return None if value is None else float(value)


def _periods(dates: list) -> tuple[list[str], str]:
    """Period starts as the category labels their bars carry, and the axis title.

    One category per period keeps each label under its own bar (a time axis places its ticks by its own calendar).
    """
    days = sorted({d for d in dates if d is not None})
    gaps = {(b - a).days for a, b in zip(days, days[1:], strict=False)}
    if not gaps:  # one period: its start tells the grain
        gaps = {30} if all(d.day == 1 for d in days) else {7} if all(d.weekday() == 0 for d in days) else {1}
    if max(gaps) <= 1:
        return [f"{d:%a %d %b}" for d in dates], "Day"
    if max(gaps) <= 7:
        return [f"{d:%d %b %Y}" for d in dates], "Week starting (Monday)"
    return [f"{d:%b %Y}" for d in dates], "Month"


def _x(order: list[str], title: str) -> dict:
    # A few periods read level; more stand upright, so each bar of a year by month keeps its label (Vega-Lite
    # drops a label only where two would overlap, as on a long run of weeks).
    axis = {"labelAngle": 0 if len(order) <= 8 else -90}
    return {"field": "period", "type": "nominal", "sort": order, "title": title, "axis": axis}


def _y(field: str, title: str, domain: list | None = None) -> dict:
    encoding = {"field": field, "type": "quantitative", "title": title}
    if domain:
        encoding["scale"] = {"domain": domain}
    return encoding


def _guide_layers(guides: list[tuple[str, float, str, str]], y_title: str, domain: list | None) -> list[dict]:
    """Horizontal guide lines (name, value, colour, dash), each named in the legend under the plot."""
    if not guides:
        return []
    names = list(dict.fromkeys(name for name, *_ in guides))
    first = {name: (colour, dash) for name, _, colour, dash in reversed(guides)}
    return [
        {
            "data": {"values": [{"guide": name, "value": _num(value)} for name, value, *_ in guides]},
            "mark": {"type": "rule", "strokeWidth": 1.5},
            "encoding": {
                "y": _y("value", y_title, domain),
                "color": {
                    "field": "guide",
                    "type": "nominal",
                    "scale": {"domain": names, "range": [first[n][0] for n in names]},
                    "legend": {**_LEGEND, "symbolType": "stroke"},
                },
                "strokeDash": {
                    "field": "guide",
                    "type": "nominal",
                    "scale": {"domain": names, "range": [_DASH[first[n][1]] for n in names]},
                    "legend": None,
                },
            },
        }
    ]


def _dictionary_guides(definition: MetricDefinition) -> tuple[list[tuple[str, float, str, str]], list[dict]]:
    """The dictionary's benchmark and alert lines, and for a range measure its benchmark band (a layer)."""
    guides, band = [], []
    if definition.direction == "range" and definition.benchmark_low is not None:
        name = f"benchmark {definition.target_text}"
        guides += [
            (name, definition.benchmark_low, GREEN, "dash"),
            (name, definition.benchmark_high, GREEN, "dash"),
        ]
        band.append(
            {
                "data": {"values": [{"low": definition.benchmark_low, "high": definition.benchmark_high}]},
                "mark": {"type": "rect", "color": GREEN, "opacity": 0.1},
                "encoding": {"y": {"field": "low", "type": "quantitative"}, "y2": {"field": "high"}},
            }
        )
        for operator, bound in (("<", definition.alert_low), (">", definition.alert_high)):
            if bound is not None:
                guides.append((f"alert {operator} {bound:g}", bound, RED, "dot"))
        return guides, band
    if definition.benchmark_value is not None:
        guides.append((f"benchmark {definition.target_text}", definition.benchmark_value, GREEN, "dash"))
    if definition.alert_threshold is not None and definition.alert_operator in ("<", ">"):
        guides.append(
            (
                f"alert {definition.alert_operator} {definition.alert_threshold:g}",
                definition.alert_threshold,
                RED,
                "dot",
            )
        )
    return guides, band


def _y_title(definition: MetricDefinition) -> str:
    return definition.label + (" (%)" if definition.unit == "percent" else f" ({definition.unit})")


def _spec(layers: list[dict], title: str = "") -> dict:
    spec = {
        "height": HEIGHT,
        "layer": layers,
        # Bars coloured by status, series and guide lines each keep their own colours and legend.
        "resolve": {"scale": {"color": "independent", "strokeDash": "independent"}},
    }
    if title:
        spec["title"] = title
    return spec


def metric_trend(series: pl.DataFrame, definition: MetricDefinition, as_of_period=None) -> dict:
    """Bars per period coloured by their status, with the dictionary's benchmark and alert lines.

    `series` has period_start, metric_value, numerator, denominator and previous_value; for the
    below-required measure (supervision hours) the bars are hours logged and the line is the requirement.
    """
    rows = series.to_dicts()
    labels, x_title = _periods([r["period_start"] for r in rows])
    y_title = _y_title(definition)
    domain = [0, 105] if definition.unit == "percent" else None
    values = [
        {
            "period": label,
            "value": _num(r["metric_value"]),
            "numerator": _num(r["numerator"]),
            "denominator": _num(r["denominator"]),
            "colour": (
                warehouse_status(r)
                if "rag_status" in r
                else metric_status(
                    definition,
                    r["metric_value"],
                    r["numerator"],
                    r["denominator"],
                    r.get("previous_value"),
                    period_running=as_of_period is not None and r["period_start"] >= as_of_period,
                )
            ).colour,
        }
        for label, r in zip(labels, rows, strict=True)
    ]
    layers = [
        {
            "data": {"values": values},
            "mark": {"type": "bar"},
            "encoding": {
                "x": _x(labels, x_title),
                "y": _y("value", y_title, domain),
                "color": {"field": "colour", "type": "nominal", "scale": None, "legend": None},
                "tooltip": [
                    {"field": "period", "title": x_title},
                    {"field": "value", "type": "quantitative", "title": definition.label, "format": ",.1f"},
                    {"field": "numerator", "type": "quantitative", "format": ",.1f"},
                    {"field": "denominator", "type": "quantitative", "format": ",.1f"},
                ],
            },
        }
    ]
    guides, band = _dictionary_guides(definition)
    if definition.alert_operator == "below_required":
        layers.append(
            {
                "data": {"values": values},
                "mark": {"type": "line", "point": True, "strokeDash": _DASH["dash"]},
                "encoding": {
                    "x": _x(labels, x_title),
                    "y": _y("denominator", y_title, domain),
                    "color": {"datum": "required", "scale": {"range": [GREEN]}, "legend": _LEGEND},
                },
            }
        )
    return _spec(band + layers + _guide_layers(guides, y_title, domain))


def team_trend(series: pl.DataFrame, definition: MetricDefinition) -> dict:
    """A team's pooled monthly value as a line, against the dictionary's benchmark and alert lines."""
    labels, x_title = _periods(series["period_start"].to_list())
    y_title = _y_title(definition)
    domain = [0, 105] if definition.unit == "percent" else None
    values = [
        {"period": label, "value": _num(v)}
        for label, v in zip(labels, series["metric_value"].to_list(), strict=True)
    ]
    line = {
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "color": BLUE},
        "encoding": {
            "x": _x(labels, x_title),
            "y": _y("value", y_title, domain),
            "tooltip": [{"field": "period", "title": x_title}, {"field": "value", "format": ",.1f"}],
        },
    }
    guides, band = _dictionary_guides(definition)
    return _spec(band + [line] + _guide_layers(guides, y_title, domain))


def bars(
    frame: pl.DataFrame,
    x: str,
    y: str,
    *,
    x_title: str,
    y_title: str,
    colour: str | None = None,
    title: str = "",
    stacked_by: str | None = None,
    target: float | None = None,
    alert_pct: float | None = None,
) -> dict:
    """A plain bar chart (reports) with both axes titled; stacked by a category column when given; with a
    target line (and the alert bound at `alert_pct` % of it) when given. A date column on x is a month each
    (labelled "Sep 2026", one category per month in time order, so every label sits under its own bar)."""
    dated = frame.schema[x] == pl.Date
    xs = frame[x].to_list()
    labels = [f"{v:%b %Y}" if v is not None else None for v in xs] if dated else [str(v) for v in xs]
    order = (
        [f"{m:%b %Y}" for m in sorted(set(frame[x].drop_nulls().to_list()))]
        if dated
        else list(dict.fromkeys(labels))
    )
    series = frame[stacked_by].to_list() if stacked_by else [None] * frame.height
    values = [
        {"period": label, "value": _num(v), "series": None if s is None else str(s)}
        for label, v, s in zip(labels, frame[y].to_list(), series, strict=True)
    ]
    encoding = {
        "x": _x(order, x_title),
        "y": {**_y("value", y_title), "stack": "zero" if stacked_by else None},
        "tooltip": [
            {"field": "period", "title": x_title},
            *([{"field": "series", "title": stacked_by}] if stacked_by else []),
            {"field": "value", "type": "quantitative", "title": y_title, "format": ",.2f"},
        ],
    }
    if stacked_by:
        encoding["color"] = {"field": "series", "type": "nominal", "legend": _LEGEND}
    layers = [
        {
            "data": {"values": values},
            "mark": {"type": "bar", **({} if stacked_by else {"color": colour or BLUE})},
            "encoding": encoding,
        }
    ]
    guides = []
    if target is not None:
        guides.append((f"target {target:,.0f}", target, GREEN, "dash"))
        if alert_pct is not None:
            guides.append((f"alert < {alert_pct:g}% of target", target * alert_pct / 100, RED, "dot"))
    return _spec(layers + _guide_layers(guides, y_title, None), title)


def capacity_chart(capacity: pl.DataFrame, this_week: dt.date) -> dict:
    """Booked and open slots per week, stacked, with a line at this week."""
    labels, x_title = _periods(capacity["week_start"].to_list())
    values = [
        {"period": label, "slots": kind, "value": _num(v)}
        for kind in ("booked", "open")
        for label, v in zip(labels, capacity[f"{kind}_slots"].to_list(), strict=True)
    ]
    now = [
        label
        for label, week in zip(labels, capacity["week_start"].to_list(), strict=True)
        if week == this_week
    ]
    layers = [
        {
            "data": {"values": values},
            "mark": {"type": "bar"},
            "encoding": {
                "x": _x(labels, x_title),
                "y": {**_y("value", "Appointment slots"), "stack": "zero"},
                "color": {"field": "slots", "type": "nominal", "legend": _LEGEND},
                "tooltip": [{"field": "period", "title": x_title}, {"field": "slots"}, {"field": "value"}],
            },
        }
    ]
    if now:
        layers.append(
            {
                "data": {"values": [{"period": now[0], "guide": "this week"}]},
                "mark": {"type": "rule", "strokeDash": _DASH["dot"], "strokeWidth": 1.5},
                "encoding": {
                    "x": _x(labels, x_title),
                    "color": {
                        "field": "guide",
                        "type": "nominal",
                        "scale": {"range": ["#424242"]},
                        "legend": {**_LEGEND, "symbolType": "stroke"},
                    },
                },
            }
        )
    return _spec(layers, "Slots per week")


def lines(table: pl.DataFrame, key: str, label: str) -> dict:
    """One line per clinician (or the practice) over the periods of a report's table (`period_start`, `who`,
    `clinician_id`, the measure's column); two clinicians sharing a name keep two lines."""
    dates = table["period_start"].to_list()
    labels, x_title = _periods(dates)
    order = [label for _, label in sorted(dict(zip(dates, labels, strict=True)).items())]
    values = [
        {"period": p, "who": who, "id": cid, "value": _num(v)}
        for p, who, cid, v in zip(
            labels, table["who"].to_list(), table["clinician_id"].to_list(), table[key].to_list(), strict=True
        )
    ]
    return _spec(
        [
            {
                "data": {"values": values},
                "mark": {"type": "line", "point": True},
                "encoding": {
                    "x": _x(order, x_title),
                    "y": _y("value", label),
                    "color": {"field": "who", "type": "nominal", "legend": _LEGEND},
                    "detail": {"field": "id", "type": "nominal"},
                    "tooltip": [{"field": "who"}, {"field": "period"}, {"field": "value", "format": ",.2f"}],
                },
            }
        ],
        label,
    )
