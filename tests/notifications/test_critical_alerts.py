"""The critical-alert path: an alert reaching the store is mailed by the Dagster sensor (evaluated directly,
with an injected clock) within a minute, to the person it is about and the supervisor or administrator it
names; a second evaluation sends nothing."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from sqlalchemy import delete, select

from operational_api.alerts import sync_alerts
from operational_api.db import session_scope
from operational_api.models import ComplianceAlert
from operational_api.notifications.models import OutboxMessage
from orchestration.defs.notifications.definitions import build_critical_alert_sensor
from orchestration.lib.resources import OperationalStoreResource
from tests.notifications.helpers import assert_no_phi, by_recipient, mart, plain

SYNCED_AT = dt.datetime(2026, 11, 24, 11, 15, 0)  # 06:15 in New York: the morning refresh's alert sync


def test_sensor_mails_day_5_note_within_a_minute(store, mail_server, monkeypatch):
    monkeypatch.setenv("SMTP_URL", mail_server.url)
    with session_scope(store) as s:
        s.execute(delete(ComplianceAlert))
    sync_alerts(store, mart("select * from marts.fct_compliance_alerts").to_dicts(), now=SYNCED_AT)

    evaluated_at = SYNCED_AT + dt.timedelta(seconds=30)
    sensor = build_critical_alert_sensor(clock=lambda: evaluated_at)
    resources = {"store": OperationalStoreResource(database_url=str(store.url))}
    with dg.build_sensor_context(resources=resources) as context:
        result = sensor(context)
    assert "new message" in str(result.skip_message)

    with session_scope(store) as s:
        sent = {(m.recipient_user_id, m.period): m for m in s.scalars(select(OutboxMessage))}
    day5 = sent[(3, "unsigned_note_reminder:clinical_note:6")]
    assert day5.status == "sent" and day5.sent_at - SYNCED_AT <= dt.timedelta(minutes=1)

    got = by_recipient(mail_server.messages())
    note6 = [m for m in got["cara.clin@practice.example"] if "Note #6" in plain(m)]
    assert len(note6) == 1
    assert note6[0]["Subject"] == "CRITICAL: A note is approaching the 7-day signature deadline"
    assert "Sign the note by 2026-11-26 (Georgia 7-day deadline)" in plain(note6[0])
    assert "This alert is about your work." in plain(note6[0])

    # Day 7 for a clinician with no supervisor: the clinician and the administrator (escalation).
    assert {u for u, p in sent if p == "unsigned_note_reminder:clinical_note:13"} == {4, 1}
    admin = [m for m in got["ada.admin@practice.example"] if "Note #13" in plain(m)]
    assert "You are told as the practice administrator (escalation)." in plain(admin[0])
    assert "Staff member | Ben Solo" in plain(admin[0])
    # A high-risk client with no safety plan; an unsigned supervision note; HIPAA training expiring on 12-10.
    # (escalated to the supervisor, so to the administrator for Ben, who has none)
    assert {u for u, p in sent if p == "safety_plan_missing:client:2"} == {4, 1}
    assert any(p.startswith("supervision_note_unsigned") for u, p in sent if u == 2)
    assert (3, "hipaa_training_expiring:user:3") in sent
    # Only the four critical kinds: the day-5 note's clinician gets no mail for plans or consents.
    assert all(
        p.split(":")[0]
        in (
            "unsigned_note_reminder",
            "safety_plan_missing",
            "supervision_note_unsigned",
            "hipaa_training_expiring",
        )
        for _, p in sent
    )
    assert_no_phi(mail_server.messages())

    count = len(mail_server.messages())
    later = build_critical_alert_sensor(clock=lambda: evaluated_at + dt.timedelta(seconds=30))
    with dg.build_sensor_context(resources=resources) as context:
        later(context)
    assert len(mail_server.messages()) == count
