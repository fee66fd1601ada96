"""Scheduled reports on the hand-built practice through a real loopback SMTP server: a subscription is delivered
once per period with the page's table as a CSV attachment, scoped to what the recipient may see; a second run of
the same day sends nothing; only administrators and billing staff subscribe people."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
import streamlit as st

from dashboards.data.warehouse import reader
from operational_api.reports import service
from tests.notifications.helpers import assert_no_phi, by_recipient, forbidden_strings, plain, signed_in_app
from tests.notifications.practice import ADMIN, CLINICIAN, SUPERVISOR

MONDAY = dt.date(2026, 11, 23)  # the weekly subscriptions' day: the week of 11-16 has just ended
WEEK = (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
NOW = dt.datetime(2026, 11, 23, 12, 0)


def _attachment(message) -> str:
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/csv"]
    return part.get_content()


def _normal(frame: pl.DataFrame) -> list[dict]:
    """Rows as comparable values: numbers as floats rounded to 0.01, everything else as text."""
    return frame.select(
        pl.col(c).cast(pl.Float64).round(2) if frame[c].dtype.is_numeric() else pl.col(c).cast(pl.String)
        for c in frame.columns
    ).to_dicts()


def _page_table(store) -> pl.DataFrame:
    """The productivity page's table for the week of 11-16, as an administrator sees it."""
    st.cache_data.clear()
    at = signed_in_app(store, ADMIN)
    at.switch_page("app_pages/productivity_report.py").run()
    at.segmented_control(key="prod_grain").set_value("Week").run()
    at.date_input(key="prod_range").set_value(WEEK).run()
    assert not at.exception, at.exception
    (frame,) = [f.value for f in at.dataframe if "kept_visit_rate" in f.value.columns]
    return pl.from_pandas(frame)


def test_subscription_delivered_once_with_the_pages_table(store, mail_server, smtp):
    st.cache_data.clear()
    for recipient in (ADMIN, SUPERVISOR):
        service.subscribe(
            store,
            actor_user_id=ADMIN,
            report_name="productivity",
            recipient_user_id=recipient,
            cadence="weekly",
            filters={"grain": "week"},
        )
    assert service.run_report_subscriptions(store, MONDAY + dt.timedelta(days=1), smtp, now=NOW).due == 0

    first = service.run_report_subscriptions(store, MONDAY, smtp, now=NOW)
    assert (first.due, first.enqueued, first.delivery.sent, first.failed) == (2, 2, 2, [])
    messages = by_recipient(mail_server.messages())
    (admin_mail,) = messages["ada.admin@practice.example"]
    (supervisor_mail,) = messages["sam.super@practice.example"]
    assert admin_mail["Subject"] == "Productivity (weekly): 16 Nov to 22 Nov 2026"

    attached = pl.read_csv(io.StringIO(_attachment(admin_mail)), try_parse_dates=False)
    page = _page_table(store)
    assert attached.columns == page.columns
    assert _normal(attached) == _normal(page) and attached.height >= 3
    assert "Practice" in attached["who"].to_list()
    assert "The attached CSV has the same rows." in plain(admin_mail)

    # The supervisor's copy holds their team only: no practice row, no clinician outside the team.
    theirs = pl.read_csv(io.StringIO(_attachment(supervisor_mail)))
    assert theirs["who"].to_list() == ["Cara Clin"] and set(attached["who"]) == {
        "Practice",
        "Cara Clin",
        "Ben Solo",
    }

    for message in (admin_mail, supervisor_mail):
        csv_text = _attachment(message).lower()
        assert not [s for s in forbidden_strings() if s.lower() in csv_text]
    assert_no_phi([admin_mail, supervisor_mail])

    again = service.run_report_subscriptions(store, MONDAY, smtp, now=NOW + dt.timedelta(hours=1))
    assert (again.due, again.already_in_outbox, again.enqueued, again.delivery.sent) == (2, 2, 0, 0)
    assert len(mail_server.messages()) == 2


def test_only_administrators_and_billing_subscribe_and_recipients_must_see_the_report(store):
    with pytest.raises(service.ReportError, match="only administrators and billing staff"):
        service.subscribe(
            store,
            actor_user_id=SUPERVISOR,
            report_name="productivity",
            recipient_user_id=SUPERVISOR,
            cadence="weekly",
        )
    with pytest.raises(service.ReportError, match="may not see the demographics report"):
        service.subscribe(
            store,
            actor_user_id=ADMIN,
            report_name="demographics",
            recipient_user_id=CLINICIAN,
            cadence="monthly",
        )
    with pytest.raises(service.ReportError, match="cadence"):
        service.subscribe(
            store, actor_user_id=ADMIN, report_name="payer_mix", recipient_user_id=ADMIN, cadence="hourly"
        )
    assert service.due_period("monthly", dt.date(2026, 12, 1)) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
    )
    assert service.due_period("monthly", dt.date(2026, 12, 2)) is None


def test_dagster_partition_sends_once_and_the_schedule_picks_the_day(store, mail_server, monkeypatch):
    import zoneinfo

    import dagster as dg

    from orchestration.defs.reports import definitions as reports_defs
    from orchestration.lib.resources import OperationalStoreResource

    monkeypatch.setenv("SMTP_URL", mail_server.url)
    service.subscribe(
        store, actor_user_id=ADMIN, report_name="unsigned_notes", recipient_user_id=ADMIN, cadence="daily"
    )

    def run():
        result = dg.materialize(
            [reports_defs.report_subscriptions],
            partition_key=MONDAY.isoformat(),
            resources={"store": OperationalStoreResource(database_url=str(store.url))},
            instance=dg.DagsterInstance.ephemeral(),
        )
        return result.get_asset_materialization_events()[0].materialization.metadata

    assert run()["sent"].value == 1
    assert run()["sent"].value == 0 and len(mail_server.messages()) == 1
    (message,) = mail_server.messages()
    assert message["Subject"] == "Unsigned notes by age (daily): Sun 22 Nov 2026"

    when = dt.datetime(2026, 11, 23, 7, tzinfo=zoneinfo.ZoneInfo(reports_defs.TZ))
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        assert reports_defs.report_subscriptions_schedule(context).partition_key == "2026-11-23"


@pytest.fixture(autouse=True)
def _close_the_pages_warehouse_connection():
    # The page's reader closes its DuckDB connection from a timer thread after 2 idle seconds; a process ending
    # meanwhile (this module can be the run's last) would close it during interpreter shutdown and abort.
    yield
    reader().close()
    st.cache_resource.clear()
