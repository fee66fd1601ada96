"""Shared chart builders (Plotly), coloured green / amber / red against the metric dictionary."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from dashboards.data.dictionary import MetricDefinition
from dashboards.data.status import AMBER, GREEN, RED, metric_status

__all__ = ["AMBER", "GREEN", "RED", "bars", "metric_trend", "team_trend"]

_LAYOUT = dict(margin=dict(t=30, b=30, l=10, r=10), height=360, legend=dict(orientation="h", y=-0.2))


def _guides(fig: go.Figure, definition: MetricDefinition) -> None:
    """Benchmark and alert lines (or the benchmark band of a range measure) from the dictionary."""
    if definition.direction == "range" and definition.benchmark_low is not None:
        fig.add_hrect(y0=definition.benchmark_low, y1=definition.benchmark_high, fillcolor=GREEN, opacity=0.1,
                      line_width=0, annotation_text=f"benchmark {definition.target_text}")
        for bound in (definition.alert_low, definition.alert_high):
            if bound is not None:
                fig.add_hline(y=bound, line_dash="dot", line_color=RED)
        return
    if definition.benchmark_value is not None:
        fig.add_hline(y=definition.benchmark_value, line_dash="dash", line_color=GREEN,
                      annotation_text=f"benchmark {definition.target_text}")
    if definition.alert_threshold is not None and definition.alert_operator in ("<", ">"):
        fig.add_hline(y=definition.alert_threshold, line_dash="dot", line_color=RED,
                      annotation_text=f"alert {definition.alert_operator} {definition.alert_threshold:g}")


def _axis(fig: go.Figure, definition: MetricDefinition) -> None:
    title = definition.label + (" (%)" if definition.unit == "percent" else f" ({definition.unit})")
    fig.update_layout(yaxis_title=title, **_LAYOUT)
    if definition.unit == "percent":
        fig.update_yaxes(range=[0, 105])


def metric_trend(series: pl.DataFrame, definition: MetricDefinition, as_of_period=None) -> go.Figure:
    """Bars per period coloured by their status, with the dictionary's benchmark and alert lines.

    `series` has period_start, metric_value, numerator, denominator and previous_value; for the
    below-required measure (supervision hours) the bars are hours logged and the line is the requirement.
    """
    rows = series.to_dicts()
    colours = [
        metric_status(definition, r["metric_value"], r["numerator"], r["denominator"], r.get("previous_value"),
                      period_running=as_of_period is not None and r["period_start"] >= as_of_period).colour
        for r in rows
    ]
    fig = go.Figure(go.Bar(
        x=[r["period_start"] for r in rows], y=[r["metric_value"] for r in rows], marker_color=colours,
        customdata=[[r["numerator"], r["denominator"]] for r in rows],
        hovertemplate="%{x|%Y-%m-%d}: %{y:,.1f} (numerator %{customdata[0]:,.1f}, denominator "
                      "%{customdata[1]:,.1f})<extra></extra>",
        name=definition.label,
    ))
    if definition.alert_operator == "below_required":
        fig.add_trace(go.Scatter(x=[r["period_start"] for r in rows], y=[r["denominator"] for r in rows],
                                 mode="lines+markers", line=dict(color=GREEN, dash="dash"), name="required"))
    _guides(fig, definition)
    _axis(fig, definition)
    return fig


def team_trend(series: pl.DataFrame, definition: MetricDefinition) -> go.Figure:
    """A team's pooled monthly value as a line, against the dictionary's benchmark and alert lines."""
    fig = go.Figure(go.Scatter(x=series["period_start"].to_list(), y=series["metric_value"].to_list(),
                               mode="lines+markers", name="team", line=dict(color="#1565c0")))
    _guides(fig, definition)
    _axis(fig, definition)
    return fig


def bars(frame: pl.DataFrame, x: str, y: str, colour: str | None = None, title: str = "",
         stacked_by: str | None = None) -> go.Figure:
    """A plain bar chart (reports); stacked by a category column when given."""
    fig = go.Figure()
    if stacked_by:
        for name in frame[stacked_by].unique(maintain_order=True).to_list():
            part = frame.filter(pl.col(stacked_by) == name)
            fig.add_trace(go.Bar(x=part[x].to_list(), y=part[y].to_list(), name=str(name)))
        fig.update_layout(barmode="stack")
    else:
        fig.add_trace(go.Bar(x=frame[x].to_list(), y=frame[y].to_list(), marker_color=colour or "#1565c0"))
    fig.update_layout(title=title, **_LAYOUT)
    return fig
