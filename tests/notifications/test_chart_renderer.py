"""The chart renderer draws a whole run's figures in one browser whose pages are reused between figures: no
figure may carry anything over from the one drawn before it in the same tab, before or after a tab's reload."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest

from operational_api.notifications.render import FIGURES_PER_PAGE_LOAD, ChartRenderer, Content

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(), reason="kaleido needs Chromium (/usr/bin/chromium)"
)


def _content(figure: go.Figure, n: int) -> Content:
    return Content(
        kind="test",
        recipient_user_id=n,
        recipient_email=f"u{n}@practice.example",
        recipient_name=f"User {n}",
        period="2026-W47",
        subject="s",
        title="t",
        subtitle="",
        sections=[],
        chart_title="trend",
        chart_png=ChartRenderer().png(figure),
    )


def test_every_figure_of_a_long_batch_is_its_own_and_the_same_figure_draws_the_same():
    def figure(k: int) -> go.Figure:
        return go.Figure(go.Bar(x=["a", "b", "c"], y=[k, 2 * k + 1, 3]), layout={"title": f"chart {k}"})

    # More figures per tab than one reload interval, so figures are drawn into fresh, reused and reloaded pages.
    count = 2 * ChartRenderer.TABS * FIGURES_PER_PAGE_LOAD + 3
    kinds = [k % 17 for k in range(count)]
    contents = [_content(figure(k), n) for n, k in enumerate(kinds)]
    with ChartRenderer() as renderer:
        renderer.fill(contents)
    pngs = [c.chart_png for c in contents]
    assert all(isinstance(p, bytes) and p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    drawn: dict[int, set[bytes]] = {}
    for k, png in zip(kinds, pngs, strict=True):
        drawn.setdefault(k, set()).add(png)
    assert all(len(images) == 1 for images in drawn.values()), (
        "one figure drew differently in different pages"
    )
    assert len({next(iter(images)) for images in drawn.values()}) == len(drawn), "two figures drew the same"
