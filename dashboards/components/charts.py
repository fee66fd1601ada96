"""Shared chart builders (Plotly)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

GREEN, AMBER, RED = "#2e7d32", "#f9a825", "#c62828"


def status_colour(value: float | None, benchmark: float | None, alert: float | None, higher_is_better: bool) -> str:
    """The PRD's green / amber / red: at or past the benchmark, between benchmark and alert, past the alert."""
    if value is None or benchmark is None:
        return AMBER
    if higher_is_better:
        if value >= benchmark:
            return GREEN
        return RED if alert is not None and value < alert else AMBER
    if value <= benchmark:
        return GREEN
    return RED if alert is not None and value > alert else AMBER


def trend_against_benchmark(series: pl.DataFrame, label: str, benchmark: float | None, alert: float | None,
                            higher_is_better: bool = True) -> go.Figure:
    """Bars per period coloured by status, with the benchmark and alert lines."""
    values = series["metric_value"].to_list()
    fig = go.Figure(
        go.Bar(
            x=series["period_start"].to_list(),
            y=values,
            marker_color=[status_colour(v, benchmark, alert, higher_is_better) for v in values],
            customdata=list(zip(series["numerator"].to_list(), series["denominator"].to_list(), strict=True)),
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}% (%{customdata[0]:.0f} of %{customdata[1]:.0f})<extra></extra>",
            name=label,
        )
    )
    if benchmark is not None:
        fig.add_hline(y=benchmark, line_dash="dash", line_color=GREEN, annotation_text=f"benchmark {benchmark:g}%")
    if alert is not None:
        fig.add_hline(y=alert, line_dash="dot", line_color=RED, annotation_text=f"alert {alert:g}%")
    fig.update_layout(yaxis_title=f"{label} (%)", yaxis_range=[0, 100], margin=dict(t=30, b=30), height=380)
    return fig
