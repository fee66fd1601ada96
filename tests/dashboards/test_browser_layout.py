"""Nothing cut off in a real browser: no table wider than its frame (scrolling sideways hides columns) and no
card label clipped with an ellipsis (the period it names would be lost). Headless Chromium at 1440 px against
`streamlit run` (the server fixture of test_browser); skips without Chromium."""

from __future__ import annotations

import time

import pytest

from dashboards.access import PAGE_TITLES
from tests.dashboards.browser import Chromium, chromium_path
from tests.dashboards.test_browser import server, sign_in  # noqa: F401  (server is a fixture)

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (apt-get install -y chromium); .ci/run installs it",
)

# Tables: [frame width, content width] of every data grid on screen (hidden tabs measure 0).
OVERFLOWING_TABLES = """[...document.querySelectorAll('[data-testid="stDataFrame"]')].map(frame => {
    const scroller = frame.querySelector('.dvn-scroller') || frame;
    return [frame.querySelector('.dvn-scroller') ? scroller.clientWidth : 0, scroller.scrollWidth];
}).filter(([visible, content]) => visible > 0 && content > visible + 2)"""
CLIPPED_LABELS = """[...document.querySelectorAll('[data-testid="stMetricLabel"] .stMarkdownEllipsis')]
    .filter(label => label.scrollWidth > label.clientWidth + 1).map(label => label.innerText)"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("role", "pages"),
    [("ADMIN", ("practice_overview", "reports", "my_practice")), ("CLINICIAN", ("my_practice",))],
)
def test_tables_and_card_labels_fit_the_page(server, built_demo, tmp_path, role, pages):  # noqa: F811
    browser = Chromium(tmp_path / "profile", tmp_path / "downloads")
    try:
        sign_in(browser, server, built_demo, role)
        for page in pages:
            browser.click_nav(PAGE_TITLES[page])
            browser.wait_for_title(PAGE_TITLES[page], timeout=60)
            time.sleep(1.5)  # data grids lay out after the script finishes
            assert browser.evaluate(OVERFLOWING_TABLES) == [], f"{page}: a table scrolls sideways"
            assert browser.evaluate(CLIPPED_LABELS) == [], f"{page}: card labels cut off"
    finally:
        browser.close()
