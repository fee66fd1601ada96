"""Text people typed (client and staff names) shows literally on every page that shows it: a client named
`![x](http://...)` must not become an image the browser fetches, `<img ...>` must not become an element,
`**bold**` must not turn bold. (test_browser.py checks the real browser makes no request to the address.)

Every element Streamlit renders as Markdown is rendered here with a CommonMark parser (HTML allowed, as
with unsafe_allow_html); its output must hold no image, no HTML from the data and no emphasis of it.
"""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from dashboards.components import ui
from tests.dashboards.conftest import HOSTILE_NAMES, signed_in_app

MARKDOWN = MarkdownIt("commonmark")
PAGES = [
    ("CLINICIAN", "my_practice"),
    ("CLINICIAN", "compliance_alerts"),
    ("CLINICIAN", "metric_explorer"),
    ("SUPERVISOR", "my_team"),
    ("ADMIN", "practice_overview"),
    ("ADMIN", "schedule"),
    ("ADMIN", "front_desk_tasks"),
    ("ADMIN", "compliance_alerts"),
    ("FRONT_DESK", "schedule"),
]


def markdown_sources(at) -> list[str]:
    """The source of every element on the page (sidebar included) that Streamlit reads as Markdown."""
    sources = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "success",
        "info",
        "warning",
        "error",
    ):
        sources += [element.value for element in getattr(at, kind)]
    sources += [metric.label for metric in at.metric]
    return sources


def shown_texts(at) -> str:
    """What the page shows as text: rendered Markdown (tags dropped) and every table cell."""
    rendered = [html.unescape(re.sub(r"<[^>]*>", "", MARKDOWN.render(s))) for s in markdown_sources(at)]
    cells = [str(v) for frame in at.dataframe for column in frame.value.columns for v in frame.value[column]]
    return "\n".join(rendered + cells)


def assert_literal(at) -> None:
    for source in markdown_sources(at):
        rendered = MARKDOWN.render(source)
        assert "<img" not in rendered, f"an image from the data: {source!r}"
        assert "onerror" not in rendered or "&lt;img" in rendered, f"HTML from the data: {source!r}"
        assert "<strong>bold</strong>" not in rendered, f"Markdown from the data: {source!r}"


@pytest.mark.parametrize(("role", "page"), PAGES)
def test_hostile_names_show_literally(hostile_demo, monkeypatch, role, page):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(hostile_demo))
    at = signed_in_app(hostile_demo, role)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    assert_literal(at)


def test_the_clinician_page_shows_every_hostile_name_as_typed(hostile_demo, monkeypatch):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(hostile_demo))
    at = signed_in_app(hostile_demo, "CLINICIAN")
    assert not at.exception, at.exception
    assert_literal(at)
    shown = shown_texts(at)
    for name in HOSTILE_NAMES:
        assert f"{name} T." in shown, f"{name!r} is not shown as typed"
    nudge = next(line for line in shown.splitlines() if "haven't rebooked" in line)
    assert any(name in nudge for name in HOSTILE_NAMES), "the nudge names clients as typed"
    assert f"Signed in as {HOSTILE_NAMES[2]}" in shown, "the staff name in the sidebar shows as typed"


@pytest.mark.parametrize(
    "text",
    [
        *HOSTILE_NAMES,
        "[click](javascript:alert(1))",
        "<script>alert(1)</script>",
        "# heading",
        "- item",
        "1. first",
        "> quote",
        "`code`",
        "a_b_c",
        "~~gone~~",
        "$x^2$",
        ":red[red]",
        "O'Brien-Smith, Jr.",
        "a\\b",
        "&amp;",
        "line one\nline two",
        "| a | b |",
    ],
)
def test_plain_round_trips_through_markdown(text):
    rendered = MARKDOWN.render(ui.plain(text))
    assert "<img" not in rendered and "<a " not in rendered and "<script" not in rendered
    assert html.unescape(re.sub(r"<[^>]*>", "", rendered)).strip() == text
