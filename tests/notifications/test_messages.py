"""Each message kind for the hand-built practice, delivered to a real SMTP server on loopback: exact content
(the figures equal the marts'), recipients with escalations, the time-zone cut-offs, and no PHI."""

from __future__ import annotations

import datetime as dt

import pytest

from operational_api.db import session_scope
from operational_api.notifications import service
from operational_api.notifications.kinds import DAILY_DIGEST, PreferenceError, set_preference
from tests.notifications.helpers import assert_no_phi, by_recipient, html, mart, plain
from tests.notifications.practice import AS_OF

CARA, BEN, SAM, ADA = (
    "cara.clin@practice.example",
    "ben.solo@practice.example",
    "sam.super@practice.example",
    "ada.admin@practice.example",
)
NOW = dt.datetime(2026, 11, 24, 12, 0)  # 07:00 in New York


def _metric(key: str, grain: str, clinician_id: int | None, period_start: dt.date) -> dict:
    scope = "practice" if clinician_id is None else "clinician"
    rows = mart(
        "select numerator, denominator, metric_value, previous_value from marts.fct_practice_metrics "
        "where metric_key = ? and period_grain = ? and scope = ? and coalesce(clinician_id, -1) = ? "
        "and period_start = ?",
        [key, grain, scope, -1 if clinician_id is None else clinician_id, period_start],
    )
    assert rows.height == 1, (key, grain, clinician_id, period_start)
    return {k: (None if v is None else float(v)) for k, v in rows.row(0, named=True).items()}


def test_daily_digest(store, mail_server, smtp):
    summary = service.run_daily_digest(store, AS_OF, settings=smtp, now=NOW)
    assert (summary.eligible, summary.enqueued, summary.delivery.sent) == (3, 3, 3)
    got = by_recipient(mail_server.messages())
    assert sorted(got) == sorted([CARA, BEN, SAM])  # active clinicians; the administrator sees no clients
    cara = plain(got[CARA][0])

    # Monday 23 Nov (the last working day) from the day-grain rows of the mart: the 23:30 session (04:30 UTC
    # on Tuesday) is Monday's; the note signed at 00:40 on Tuesday is not "signed" on Monday.
    kvr = _metric("kept_visit_rate", "day", 3, dt.date(2026, 11, 23))
    sessions = _metric("sessions_per_day", "day", 3, dt.date(2026, 11, 23))
    assert (kvr["numerator"], kvr["denominator"], kvr["metric_value"]) == (2, 2, 100.0)
    assert "Kept Visit Rate | 100.0% (2 of 2 appointments kept)" in cara
    assert f"Sessions completed | {int(sessions['numerator'])}" in cara and sessions["numerator"] == 2
    assert "Notes signed | 1" in cara
    assert "Mon 23 Nov 2026" in cara

    # Pending: note #6 (service Thu 19 Nov) is on day 5; the client shows as initials and record number.
    assert "- #6 | Z.Q. (#1) | 5 | Thu 26 Nov 2026" in cara
    assert "Every note is signed" not in cara

    # Today's appointments in practice time: 00:15 (05:15 UTC) and 14:00; tomorrow's 09:00 is not listed.
    today = cara.split("Today's appointments")[1]
    assert "- 00:15 | P.T. (#3) | Therapy session | In person" in today
    assert "- 14:00 | Z.Q. (#1) | Therapy session | In person" in today
    assert "09:00" not in today
    assert got[CARA][0]["Subject"] == "Your day, Tue 24 Nov 2026: 2 appointments, 1 unsigned notes"

    ben = plain(got[BEN][0])
    assert "Kept Visit Rate | 0.0% (0 of 1 appointments kept)" in ben
    assert "- #13 | B.N. (#2) | 7 | Tue 24 Nov 2026" in ben
    assert "<td" in html(got[BEN][0]) and "B.N. (#2)" in html(got[BEN][0])
    assert_no_phi(mail_server.messages())

    # The same day again: nothing rendered, nothing sent.
    again = service.run_daily_digest(store, AS_OF, settings=smtp, now=NOW + dt.timedelta(hours=1))
    assert (again.enqueued, again.already_in_outbox, again.delivery.sent) == (0, 3, 0)
    assert len(mail_server.messages()) == 3


def test_digest_only_on_working_days_and_preferences(store, mail_server, smtp):
    saturday = service.run_daily_digest(store, dt.date(2026, 11, 28), settings=smtp, now=NOW)
    assert saturday.skipped_reason == "not a working day" and not mail_server.messages()
    with session_scope(store) as s:
        set_preference(s, 3, DAILY_DIGEST, False)
        with pytest.raises(PreferenceError, match="critical"):
            set_preference(s, 3, "critical_alert", False)
    summary = service.run_daily_digest(store, AS_OF, settings=smtp, now=NOW)
    assert (summary.opted_out, summary.enqueued) == (1, 2)
    assert CARA not in by_recipient(mail_server.messages())


def test_monday_report(store, mail_server, smtp):
    week = dt.date(2026, 11, 16)
    summary = service.run_monday_report(store, week, settings=smtp, now=NOW, charts=False)
    assert summary.delivery.sent == 4
    got = by_recipient(mail_server.messages())
    assert sorted(got) == sorted([CARA, BEN, SAM, ADA])

    cara = plain(got[CARA][0])
    kvr = _metric("kept_visit_rate", "week", 3, week)
    assert (kvr["numerator"], kvr["denominator"]) == (3, 4)  # 16, 17 and 19 Nov kept, 18 Nov cancelled
    assert (kvr["metric_value"], kvr["previous_value"]) == (75.0, 50.0)
    assert "Kept Visit Rate (KVR) | 75.0% | 50.0% | +25.0 | ≥ " in cara
    no_show = _metric("no_show_rate", "week", 3, week)
    assert f"No-Show Rate | {no_show['metric_value']:.1f}% | {no_show['previous_value']:.1f}%" in cara
    assert "Action items" in cara and "Sign the note by 2026-11-26" in cara

    team = plain(got[SAM][0])
    assert "Cara Clin | 75.0% (was 50.0%)" in team
    assert "Ben Solo" not in team  # not Sam's supervisee

    practice_kvr = _metric("kept_visit_rate", "week", None, week)
    admin = plain(got[ADA][0])
    assert f"Kept Visit Rate (KVR) | {practice_kvr['metric_value']:.1f}%" in admin
    assert "Critical | Unsigned note reminder | 2" in admin
    assert_no_phi(mail_server.messages())

    again = service.run_monday_report(store, week, settings=smtp, now=NOW, charts=False)
    assert (again.enqueued, again.delivery.sent) == (0, 0)


def test_supervision_report(store, mail_server, smtp):
    # November (the warehouse's history starts with the first appointment, 10 Nov): 1 hour logged by Cara
    # (LPC Associate, 2 required), none by Ben (LPC, 2 required, no supervisor: the administrator's report only).
    month = dt.date(2026, 11, 1)
    summary = service.run_supervision_report(store, month, settings=smtp, now=NOW)
    assert summary.delivery.sent == 2
    got = by_recipient(mail_server.messages())
    assert sorted(got) == sorted([SAM, ADA])
    cara, ben = (_metric("supervision_hours_logged", "month", c, month) for c in (3, 4))
    assert (cara["numerator"], cara["denominator"], ben["numerator"], ben["denominator"]) == (1, 2, 0, 2)
    team = plain(got[SAM][0])
    assert "- Cara Clin | LPC_ASSOCIATE | 1 | 2 | Review" in team and "Ben Solo" not in team
    admin = plain(got[ADA][0])
    assert "- Ben Solo | none | LPC | 0 | 2 | Review" in admin
    assert "- Cara Clin | Sam Super | LPC_ASSOCIATE | 1 | 2 | Review" in admin
    assert got[SAM][0]["Subject"] == "Supervision hours, November 2026: your supervisees"
    assert_no_phi(mail_server.messages())
    assert service.run_supervision_report(store, month, settings=smtp, now=NOW).delivery.sent == 0


def test_monday_report_trend_chart_inline(store, mail_server, smtp):
    service.run_monday_report(store, dt.date(2026, 11, 16), settings=smtp, now=NOW)
    for message in mail_server.messages():
        (png,) = [p for p in message.walk() if p.get_content_type() == "image/png"]
        assert png.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="cid:{png["Content-ID"].strip("<>")}"' in html(message)


def test_monday_report_whose_charts_cannot_be_drawn_still_goes(store, mail_server, smtp, monkeypatch, caplog):
    import vl_convert

    def unavailable(*_args, **_kwargs):
        raise RuntimeError("renderer unavailable")

    monkeypatch.setattr(vl_convert, "vegalite_to_png", unavailable)
    summary = service.run_monday_report(store, dt.date(2026, 11, 16), settings=smtp, now=NOW)
    assert summary.delivery.sent == 4
    for message in mail_server.messages():
        assert not [p for p in message.walk() if p.get_content_type() == "image/png"]
        assert "chart not available in this message" in html(message)
    assert "4 chart(s) could not be drawn; their messages go without" in caplog.text
