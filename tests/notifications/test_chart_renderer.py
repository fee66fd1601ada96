"""Mail charts are the dashboards' own Vega-Lite specs drawn to PNG at the message's fixed size; a chart that
cannot be drawn leaves only its own message without it."""

from __future__ import annotations

import logging
import struct

from operational_api.notifications.render import CHART_SIZE, ChartRenderer, Content


def _content(spec: dict, n: int) -> Content:
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
        chart_png=ChartRenderer().png(spec),
    )


def _bars(k: int) -> dict:
    # As a page builds it: as wide as its column, its own height.
    return {
        "height": 380,
        "data": {
            "values": [{"period": p, "value": v} for p, v in zip("abc", (k, 2 * k + 1, 3), strict=True)]
        },
        "mark": "bar",
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "title": "Week"},
            "y": {"field": "value", "type": "quantitative", "title": "Kept visit rate (%)"},
        },
    }


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_each_spec_draws_its_own_png_at_the_messages_size():
    contents = [_content(_bars(k), n) for n, k in enumerate((1, 2, 1))]
    with ChartRenderer() as renderer:
        renderer.fill(contents)
    first, second, again = (c.chart_png for c in contents)
    assert _size(first) == CHART_SIZE
    assert first == again and first != second


def test_a_chart_that_cannot_be_drawn_leaves_only_its_message_without_it(caplog):
    broken = {"mark": "no-such-mark", "data": {"values": []}}
    contents = [_content(_bars(1), 0), _content(broken, 1), _content(_bars(2), 2)]
    with caplog.at_level(logging.WARNING), ChartRenderer() as renderer:
        renderer.fill(contents)
    assert contents[1].chart_png is None
    assert all(isinstance(c.chart_png, bytes) for c in (contents[0], contents[2]))
    assert "1 chart(s) could not be drawn; their messages go without" in caplog.text
