"""Shared chart builders (Plotly), coloured green / amber / red against the metric dictionary.

Building a Plotly figure costs 15-25 ms (its object model validates every property), more than the
queries behind a cached page, so the builders keep their figures with `st.cache_resource` keyed by
their (small) inputs. Figures are never changed after they are built; st.plotly_chart only reads them.
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards.data.dictionary import MetricDefinition
from dashboards.data.status import AMBER, GREEN, RED, metric_status, warehouse_status

__all__ = ["AMBER", "GREEN", "RED", "STATIC", "bars", "capacity_chart", "metric_trend", "team_trend"]
_FIGURES = dict(ttl=300, max_entries=128, show_spinner=False)
# st.plotly_chart's config for a chart read at a glance whose figures the page also shows as cards or tables:
# no toolbar, hover layer or zoom to build, so the browser draws it in less time.
STATIC = {"staticPlot": True}

# The right margin holds the benchmark / target / alert labels, outside the plot so they never sit on a bar.
_LAYOUT = dict(margin=dict(t=40, b=40, l=10, r=130), height=380, legend=dict(orientation="h", y=-0.25))


def _line(y: float, colour: str, dash: str, text: str | None) -> tuple[dict, dict | None]:
    shape = dict(
        type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y, line=dict(color=colour, dash=dash)
    )
    note = None if text is None else _label(y, text, colour)
    return shape, note


def _label(y: float, text: str, colour: str | None = None) -> dict:
    """A guide line's label, in the right margin level with its line (never over the bars)."""
    return dict(
        xref="paper",
        x=1.01,
        y=y,
        yref="y",
        text=text,
        showarrow=False,
        xanchor="left",
        yanchor="middle",
        font=dict(size=11, color=colour) if colour else dict(size=11),
    )


def _periods(dates: list) -> tuple[list[str], str]:
    """Period starts as the category labels their bars carry, and the axis title.

    On a date axis Plotly centres a bar on its date and places tick labels by its own calendar, so a month's
    label could sit under the neighbouring bar; one category per period keeps each label under its bar.
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


def _guides(fig: go.Figure, definition: MetricDefinition) -> None:
    """Benchmark and alert lines (or the benchmark band of a range measure) from the dictionary.

    Shapes are set in one layout update: Plotly's add_hline costs ~25 ms a line.
    """
    shapes, notes = [], []
    if definition.direction == "range" and definition.benchmark_low is not None:
        shapes.append(
            dict(
                type="rect",
                xref="paper",
                x0=0,
                x1=1,
                yref="y",
                y0=definition.benchmark_low,
                y1=definition.benchmark_high,
                fillcolor=GREEN,
                opacity=0.1,
                line=dict(width=0),
            )
        )
        notes.append(_label(definition.benchmark_high, f"benchmark {definition.target_text}"))
        lines = [
            (bound, RED, "dot", None)
            for bound in (definition.alert_low, definition.alert_high)
            if bound is not None
        ]
    else:
        lines = []
        if definition.benchmark_value is not None:
            lines.append((definition.benchmark_value, GREEN, "dash", f"benchmark {definition.target_text}"))
        if definition.alert_threshold is not None and definition.alert_operator in ("<", ">"):
            lines.append(
                (
                    definition.alert_threshold,
                    RED,
                    "dot",
                    f"alert {definition.alert_operator} {definition.alert_threshold:g}",
                )
            )
    for y, colour, dash, text in lines:
        shape, note = _line(y, colour, dash, text)
        shapes.append(shape)
        if note:
            notes.append(note)
    fig.update_layout(shapes=shapes, annotations=notes)


def _axis(fig: go.Figure, definition: MetricDefinition, x_title: str) -> None:
    title = definition.label + (" (%)" if definition.unit == "percent" else f" ({definition.unit})")
    fig.update_layout(yaxis_title=title, xaxis_title=x_title, xaxis_type="category", **_LAYOUT)
    if definition.unit == "percent":
        fig.update_yaxes(range=[0, 105])


@st.cache_resource(**_FIGURES)
def metric_trend(series: pl.DataFrame, definition: MetricDefinition, as_of_period=None) -> go.Figure:
    """Bars per period coloured by their status, with the dictionary's benchmark and alert lines.

    `series` has period_start, metric_value, numerator, denominator and previous_value; for the
    below-required measure (supervision hours) the bars are hours logged and the line is the requirement.
    """
    rows = series.to_dicts()
    colours = [
        (
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
        ).colour
        for r in rows
    ]
    labels, x_title = _periods([r["period_start"] for r in rows])
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=[r["metric_value"] for r in rows],
            marker_color=colours,
            customdata=[[r["numerator"], r["denominator"]] for r in rows],
            hovertemplate="%{x}: %{y:,.1f} (numerator %{customdata[0]:,.1f}, denominator "
            "%{customdata[1]:,.1f})<extra></extra>",
            name=definition.label,
        )
    )
    if definition.alert_operator == "below_required":
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=[r["denominator"] for r in rows],
                mode="lines+markers",
                line=dict(color=GREEN, dash="dash"),
                name="required",
            )
        )
    _guides(fig, definition)
    _axis(fig, definition, x_title)
    return fig


@st.cache_resource(**_FIGURES)
def team_trend(series: pl.DataFrame, definition: MetricDefinition) -> go.Figure:
    """A team's pooled monthly value as a line, against the dictionary's benchmark and alert lines."""
    labels, x_title = _periods(series["period_start"].to_list())
    fig = go.Figure(
        go.Scatter(
            x=labels,
            y=series["metric_value"].to_list(),
            mode="lines+markers",
            name="team",
            line=dict(color="#1565c0"),
        )
    )
    _guides(fig, definition)
    _axis(fig, definition, x_title)
    return fig


@st.cache_resource(**_FIGURES)
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
) -> go.Figure:
    """A plain bar chart (reports) with both axes titled; stacked by a category column when given; with a
    target line (and the alert bound at `alert_pct` % of it) when given. A date column on x is a month each
    (labelled "Sep 2026", one category per month, so every label sits under its own bar)."""

    def x_values(part: pl.DataFrame) -> list:
        values = part[x].to_list()
        return [f"{v:%b %Y}" for v in values] if part.schema[x] == pl.Date else values

    fig = go.Figure()
    if stacked_by:
        for name in frame[stacked_by].unique(maintain_order=True).to_list():
            part = frame.filter(pl.col(stacked_by) == name)
            fig.add_trace(go.Bar(x=x_values(part), y=part[y].to_list(), name=str(name)))
        fig.update_layout(barmode="stack")
    else:
        fig.add_trace(go.Bar(x=x_values(frame), y=frame[y].to_list(), marker_color=colour or "#1565c0"))
    if frame.schema[x] == pl.Date:
        # Months in time order even when a stack's first trace lacks some of them.
        months = sorted(set(frame[x].drop_nulls().to_list()))
        fig.update_xaxes(categoryorder="array", categoryarray=[f"{m:%b %Y}" for m in months])
    if target is not None:
        shapes, notes = [], []
        lines = [(target, GREEN, "dash", f"target {target:,.0f}")]
        if alert_pct is not None:
            lines.append((target * alert_pct / 100, RED, "dot", f"alert < {alert_pct:g}% of target"))
        for value, line_colour, dash, text in lines:
            shape, note = _line(value, line_colour, dash, text)
            shapes.append(shape)
            notes.append(note)
        fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, xaxis_type="category", **_LAYOUT)
    return fig


@st.cache_resource(**_FIGURES)
def capacity_chart(capacity: pl.DataFrame, this_week: dt.date) -> go.Figure:
    """Booked and open slots per week, stacked, with a marker at this week."""
    fig = go.Figure(
        [
            go.Bar(x=capacity["week_start"].to_list(), y=capacity["booked_slots"].to_list(), name="booked"),
            go.Bar(x=capacity["week_start"].to_list(), y=capacity["open_slots"].to_list(), name="open"),
        ]
    )
    fig.update_layout(
        barmode="stack",
        title="Slots per week",
        xaxis_title="Week starting (Monday)",
        yaxis_title="Appointment slots",
        shapes=[
            dict(
                type="line",
                xref="x",
                x0=this_week,
                x1=this_week,
                yref="paper",
                y0=0,
                y1=1,
                line=dict(dash="dot"),
            )
        ],
        annotations=[
            dict(
                xref="x",
                x=this_week,
                yref="paper",
                y=1,
                text="this week",
                showarrow=False,
                xanchor="left",
                yanchor="bottom",
                font=dict(size=11),
            )
        ],
        **_LAYOUT,
    )
    return fig
