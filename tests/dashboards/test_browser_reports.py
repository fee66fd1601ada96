"""The report pages in a real browser: an administrator opens Sent mail and one report page of each kind
(productivity, compliance, demographics, quarterly review), then saves a custom report by name and subscribes a
colleague to it. The server runs on a private copy of the demo (the save and the subscription are writes).

Skips when Debian's `chromium` is not installed (CI installs it in .ci/run).
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from dashboards.access import PAGE_TITLES
from operational_api.db import get_engine
from tests.conftest import DEPLOYMENT_VARS, copy_practice
from tests.dashboards.browser import Chromium, chromium_path
from tests.dashboards.conftest import demo_logins
from tests.dashboards.test_browser import SCREENSHOTS, sign_in, start_server, stop_server

REPORT_NAME = "Browser KVR check"

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (apt-get install -y chromium); .ci/run installs it",
)


@pytest.fixture(scope="module")
def report_demo(built_demo, tmp_path_factory):
    """A private copy of the demo with the day's digests rendered into its outbox (no mail server), so Sent mail
    has messages to show."""
    from operational_api.notifications import service
    from operational_api.settings import database_url

    var = copy_practice(built_demo, tmp_path_factory.mktemp("reports-browser") / "var")
    with pytest.MonkeyPatch.context() as patch:
        for name in (*DEPLOYMENT_VARS, "SMTP_URL"):
            patch.delenv(name, raising=False)
        patch.setenv("MENTALSPACE_VAR_DIR", str(var))
        engine = get_engine(database_url())
        digests = service.run_daily_digest(engine, dt.date(2026, 11, 25), settings=None)
        engine.dispose()
    assert digests.enqueued, digests
    return var


def _open(browser: Chromium, key: str, *visible: str) -> str:
    browser.click_nav(PAGE_TITLES[key])
    browser.wait_for_title(PAGE_TITLES[key], timeout=60)
    for text in visible:
        browser.wait_for_text(text, timeout=30)
    text = browser.text()
    assert "Traceback" not in text and "This page is not part of" not in text, key
    assert "Figures as of" in text, f"{key}: no freshness line"
    browser.screenshot(SCREENSHOTS / f"reports_{key}.png")
    return text


@pytest.mark.slow
def test_admin_opens_the_report_pages_and_saves_and_subscribes_a_report(report_demo, tmp_path):
    with sqlite3.connect(report_demo / "operational.db") as con:
        (subject,) = con.execute(
            "select subject from notification_outbox order by id desc limit 1"
        ).fetchone()
        billing_email = demo_logins(report_demo)["BILLING"][0]
        first, last = con.execute(
            "select first_name, last_name from users where email = ?", (billing_email,)
        ).fetchone()
        (clinician,) = con.execute(
            "select first_name || ' ' || last_name from users where role in ('CLINICIAN', 'SUPERVISOR') "
            "order by first_name || ' ' || last_name limit 1"
        ).fetchone()
    url, process = start_server(report_demo)
    browser = Chromium(tmp_path / "profile", tmp_path / "downloads")
    try:
        sign_in(browser, url, report_demo, "ADMIN")
        text = _open(browser, "sent_mail", "Show message")
        # The newest message is picked, its subject shown as written, its body rendered in a frame.
        assert "Queued" in text
        assert subject in browser.selected("Show message"), (
            "the subject is shown as written (no Markdown escapes)"
        )
        frames = browser.evaluate(
            "[...document.querySelectorAll('iframe')].map(f => f.contentDocument?.body?.innerText || '').join(' ')"
        )
        assert "Daily digest" in frames

        _open(browser, "productivity_report", "Download CSV")
        text = _open(browser, "compliance_report", "Download CSV")
        assert "Unsigned notes" in text
        text = _open(browser, "demographics_report", "Download CSV")
        assert "Age band" in text
        text = _open(browser, "quarterly_review", "Every clinician you may see", "benchmark")
        assert "The 90 days to" in text and "Kept Visit Rate" in text
        assert clinician in text, "the first clinician's review is shown"

        _open(browser, "report_builder", "Save as")
        browser.type_into("Save as", REPORT_NAME)
        browser.click_button("Save report")
        browser.wait_for_text(f"Saved “{REPORT_NAME}”", timeout=60)
        browser.choose("Report", f"Custom: {REPORT_NAME}")
        recipient = f"{first} {last} (billing)"
        browser.choose("Recipient", recipient)
        browser.click_button("Subscribe")
        browser.wait_for_text(f"Subscribed {recipient} to Custom: {REPORT_NAME}", timeout=60)
        browser.screenshot(SCREENSHOTS / "reports_subscribed.png")
    finally:
        browser.close()
        stop_server(process)
    with sqlite3.connect(report_demo / "operational.db") as con:
        rows = con.execute(
            "select s.report_name, u.email from report_subscriptions s join users u on u.id = s.recipient_user_id "
            "join saved_reports r on s.report_name = 'custom:' || r.id where r.name = ?",
            (REPORT_NAME,),
        ).fetchall()
    assert [email for _, email in rows] == [billing_email]
