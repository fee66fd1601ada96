"""The clinician tables of Practice Overview and My Team a page at a time (issue 12, speed): no clinician is out
of reach, those needing attention come first, and the status counts and action items still cover every
clinician, not the page on screen. Also the charts and the weekly capacity table, drawn when asked for.

The demo practice has 12 clinicians, under a page; `ui.PAGE_ROWS` is lowered so that it takes three pages.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from dashboards.components import ui
from tests.dashboards.conftest import chart_specs, markdown_lines, shown_text, table_with
from tests.dashboards.test_pages import WEEK, open_page, warehouse

PAGE_ROWS = 5
# The matrix's statuses, most in need of attention first.
MATRIX_ORDER = ("Performance plan", "Needs coaching", "Excellent", "No data")
TEAM_ORDER = ("Urgent", "Review", "On track", "No data")
ACTION_PREFIXES = {
    "Performance plan": "Performance plan recommended",
    "Needs coaching": "Coaching for",
    "Excellent": "Meeting every benchmark",
}


@pytest.fixture
def short_pages(monkeypatch):
    monkeypatch.setattr(ui, "PAGE_ROWS", PAGE_ROWS)


def _active_clinicians() -> set[str]:
    return set(warehouse("select clinician_name from marts.dim_clinicians where is_active")["clinician_name"])


def _rows(at) -> list[tuple[str, str]]:
    table = table_with(at, "Clinician", "Status")
    return [(row["Clinician"], list(row["Status"])[0]) for _, row in table.iterrows()]


def _every_page(at, key: str) -> list[tuple[str, str]]:
    """The table's rows, page after page, as a reader paging through would see them."""
    pages = at.selectbox(key=f"{key}_page")
    seen = []
    for page in pages.options:
        at.selectbox(key=f"{key}_page").set_value(pages.options.index(page)).run()
        assert not at.exception, at.exception
        seen += _rows(at)
    return seen


def _counts(at, key: str) -> dict[str, int]:
    """The status filter's options: each status with its count, "Needs coaching (7)"."""
    options = at.button_group(key=f"{key}_filter").options
    return {m.group(1): int(m.group(2)) for m in (re.fullmatch(r"(.+) \((\d+)\)", o) for o in options)}


@pytest.mark.parametrize(
    ("page", "key", "order"),
    [("practice_overview", "ov_matrix", MATRIX_ORDER), ("my_team", "team_table", TEAM_ORDER)],
)
def test_every_clinician_is_on_one_page_attention_first(demo_env, short_pages, page, key, order):
    at = open_page(demo_env, "ADMIN", page)
    first = _rows(at)
    assert len(first) == PAGE_ROWS, "a page at a time"
    seen = _every_page(at, key)
    names = [name for name, _ in seen]
    assert len(names) == len(set(names)), "no clinician on two pages"
    assert set(names) == _active_clinicians(), "every active clinician is on a page"
    ranks = [order.index(status) for _, status in seen]
    assert ranks == sorted(ranks), "those needing attention first, across the pages"
    assert seen[:PAGE_ROWS] == first


def test_status_counts_and_action_items_cover_every_clinician(demo_env, short_pages):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    on_first_page = {name for name, _ in _rows(at)}
    everyone = _every_page(at, "ov_matrix")
    counts = _counts(at, "ov_matrix")
    assert sum(counts.values()) == len(_active_clinicians())
    assert counts == {
        s: sum(1 for _, st in everyone if st == s) for s in dict.fromkeys(st for _, st in everyone)
    }
    lines = [shown_text(line) for line in markdown_lines(at)]
    named = set()
    for status, prefix in ACTION_PREFIXES.items():
        line = next((text for text in lines if prefix in text), None)
        listed = set() if line is None else set(line.split(": ", 1)[1].split(", "))
        assert listed == {name for name, st in everyone if st == status}, status
        named |= listed
    assert named - on_first_page, "the action items name clinicians past the first page"


def test_filter_and_search_narrow_the_matrix(demo_env, short_pages):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    everyone = _every_page(at, "ov_matrix")
    counts = _counts(at, "ov_matrix")
    status = max(counts, key=counts.get)
    filtered = at.button_group(key="ov_matrix_filter")
    filtered.set_value(status).run()
    assert not at.exception, at.exception
    seen = _every_page(at, "ov_matrix")
    assert seen == [row for row in everyone if row[1] == status]

    filtered = at.button_group(key="ov_matrix_filter")
    filtered.set_value(None).run()
    name = everyone[-1][0]
    fragment = name.split()[-1][:4].lower()
    at.text_input(key="ov_matrix_search").input(fragment).run()
    found = _rows(at)
    assert (name, everyone[-1][1]) in found, "the last clinician of the last page is found by name"
    assert found == [row for row in everyone if fragment in row[0].lower()][:PAGE_ROWS]

    at.text_input(key="ov_matrix_search").input("no such clinician").run()
    assert table_with(at, "Clinician", "Status", required=False) is None
    assert any("No clinicians match" in i.value for i in at.info)


def test_the_overview_draws_the_capacity_weeks_when_asked_for(demo_env):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    labels = [m.label for m in at.metric]
    assert any(label.startswith("Days in Accounts Receivable") for label in labels)
    assert "Booked this week" in labels, "the capacity cards are always there"
    assert table_with(at, "week_start", "booked_slots", required=False) is None

    at.toggle(key="ov_capacity_weeks").set_value(True).run()
    assert not at.exception, at.exception
    shown = table_with(at, "week_start", "booked_slots")
    expected = warehouse(
        "select sum(booked_slots) as booked from marts.fct_clinician_capacity_weekly "
        "where week_start between ? and ? group by week_start order by week_start",
        [WEEK - dt.timedelta(weeks=8), WEEK + dt.timedelta(weeks=4)],
    )
    assert shown["booked_slots"].tolist() == [int(b) for b in expected["booked"]]
    assert chart_specs(at), "the capacity chart"


@pytest.mark.parametrize(
    ("role", "page", "open_charts"),
    [
        ("ADMIN", "practice_overview", lambda at: at.toggle(key="ov_trends").set_value(True)),
        (
            "SUPERVISOR",
            "my_team",
            lambda at: at.button_group(key="team_trend_metric").set_value("no_show_rate"),
        ),
    ],
)
def test_trend_charts_are_drawn_when_asked_for(demo_env, role, page, open_charts):
    at = open_page(demo_env, role, page)
    assert not chart_specs(at), "no chart on the first paint"
    open_charts(at).run()
    assert not at.exception, at.exception
    assert chart_specs(at), "the demo practice has months to chart"
