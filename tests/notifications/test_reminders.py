"""Appointment reminders to clients over a real loopback SMTP server and the SMS provider simulator (real HTTP).

The hand-built practice's store alone (no warehouse): as of 23:45 local on Monday 11-23 the next 24 hours hold
appointment 9 (client 3, 00:15, telehealth), 10 (client 1, 14:00, at the practice) and 15 (client 2, 11:00).
Client 1 agreed to e-mail and SMS, client 2 to neither, client 3 to SMS only (practice.CONTACT).
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from operational_api.db import get_engine, session_scope
from operational_api.models import Appointment, PracticeSetting
from operational_api.notifications import reminders
from operational_api.notifications.models import OutboxMessage
from operational_api.notifications.sms import SmsClient, deliver_sms, parse_sms_url
from operational_api.notifications.sms_simulator import SmsSimulator
from tests.notifications import practice
from tests.notifications.helpers import forbidden_strings, html, plain

NOW = practice.utc("2026-11-23 23:45")
SETTINGS = {
    "practice_name": "Quiet Harbor Counseling",
    "practice_address": "100 Example Street, Suite 4, Atlanta, GA 30303",
    "telehealth_url": "https://telehealth.practice.example/visit/",
}
EMAIL_TEXT = """Hello Zephyrine,

This is a reminder of your appointment.

When:  Tuesday 24 November 2026, 2:00 PM (EST)
With:  Cara Clin
Where: 100 Example Street, Suite 4, Atlanta, GA 30303

To cancel or change it, please contact Quiet Harbor Counseling.
"""
SMS_CLIENT_1 = (
    "Hi Zephyrine, a reminder of your appointment with Cara Clin on Tue 24 Nov at 2:00 PM EST, at 100 Example "
    "Street, Suite 4, Atlanta, GA 30303. To cancel or change it, contact Quiet Harbor Counseling."
)
SMS_CLIENT_3 = (
    "Hi Philippa, a reminder of your appointment with Cara Clin on Tue 24 Nov at 12:15 AM EST, online: "
    "https://telehealth.practice.example/visit/9. To cancel or change it, contact Quiet Harbor Counseling."
)


def _store(url: str, monkeypatch):
    """A fresh store of the hand-built practice (fast: no warehouse), with the practice's place and link."""
    for name in (
        "SMTP_URL",
        "SMS_URL",
        "SMS_ACCOUNT_SID",
        "SMS_AUTH_TOKEN",
        "SMS_FROM",
        "REMINDER_LEAD_HOURS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_PRACTICE_TZ", "America/New_York")
    practice.build(url)
    engine = get_engine(url)
    with session_scope(engine) as session:
        session.add_all(PracticeSetting(key=k, value=v) for k, v in SETTINGS.items())
        session.get(Appointment, 9).is_telehealth = True
    return engine


@pytest.fixture
def engine(tmp_path, monkeypatch):
    engine = _store(f"sqlite:///{tmp_path / 'operational.db'}", monkeypatch)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_database, monkeypatch):
    engine = _store(pg_database, monkeypatch)
    yield engine
    engine.dispose()


@pytest.fixture
def sms_sim():
    with SmsSimulator(account_sid="AC-test", auth_token="token-not-logged") as sim:
        yield sim


@pytest.fixture
def sms(sms_sim, monkeypatch):
    monkeypatch.setenv("SMS_ACCOUNT_SID", sms_sim.account_sid)
    monkeypatch.setenv("SMS_AUTH_TOKEN", sms_sim.auth_token)
    return parse_sms_url(sms_sim.base_url)


def _outbox(engine) -> list[tuple]:
    with session_scope(engine) as session:
        return session.execute(
            select(
                OutboxMessage.kind,
                OutboxMessage.recipient_client_id,
                OutboxMessage.period,
                OutboxMessage.status,
                OutboxMessage.attempts,
                OutboxMessage.last_error,
            ).order_by(OutboxMessage.kind, OutboxMessage.period)
        ).all()


def test_each_client_gets_exactly_the_channels_they_agreed_to_with_the_exact_content(
    engine, mail_server, smtp, sms, sms_sim
):
    summary = reminders.run_appointment_reminders(engine, now=NOW, smtp=smtp, sms=sms)

    (mail,) = mail_server.messages()
    assert (
        mail["To"].addresses[0].addr_spec == "zq@mail.example" and mail["Subject"] == "Appointment reminder"
    )
    assert plain(mail).replace("\r\n", "\n") == EMAIL_TEXT
    assert "100 Example Street, Suite 4, Atlanta, GA 30303" in html(mail)
    texts = {(m["to"], m["from"], m["body"]) for m in sms_sim.messages()}
    assert texts == {
        ("+14045550101", "+15005550006", SMS_CLIENT_1),
        ("+14045550103", "+15005550006", SMS_CLIENT_3),
    }
    # Client 2 (no consent) and client 3's e-mail (SMS only) get nothing, though the addresses are on file.
    assert summary.appointments == 3 and summary.without_consent == 3
    assert _outbox(engine) == [
        ("reminder_email", 1, "10", "sent", 1, None),
        ("reminder_sms", 1, "10", "sent", 1, None),
        ("reminder_sms", 3, "9", "sent", 1, None),
    ]


@pytest.mark.postgres
def test_the_same_reminders_on_postgresql(pg_engine, mail_server, smtp, sms, sms_sim):
    test_each_client_gets_exactly_the_channels_they_agreed_to_with_the_exact_content(
        pg_engine, mail_server, smtp, sms, sms_sim
    )
    reminders.run_appointment_reminders(pg_engine, now=NOW + dt.timedelta(minutes=5), smtp=smtp, sms=sms)
    assert len(sms_sim.messages()) == 2 and len(mail_server.messages()) == 1


def test_a_rerun_sends_nothing_twice(engine, mail_server, smtp, sms, sms_sim):
    reminders.run_appointment_reminders(engine, now=NOW, smtp=smtp, sms=sms)
    again = reminders.run_appointment_reminders(
        engine, now=NOW + dt.timedelta(minutes=10), smtp=smtp, sms=sms
    )
    later = reminders.run_appointment_reminders(engine, now=NOW + dt.timedelta(hours=1), smtp=smtp, sms=sms)
    assert again.enqueued == later.enqueued == {"reminder_email": 0, "reminder_sms": 0}
    assert again.already_in_outbox == 3
    assert len(mail_server.messages()) == 1 and len(sms_sim.messages()) == 2 and sms_sim.requests == 2


def test_the_lead_time_decides_which_appointments_are_reminded(engine, mail_server, smtp, sms, sms_sim):
    # Twelve hours ahead reaches 00:15 (appointment 9) but not 14:00 (appointment 10).
    summary = reminders.run_appointment_reminders(
        engine, now=NOW, lead=dt.timedelta(hours=12), smtp=smtp, sms=sms
    )
    assert summary.appointments == 2  # 9 and client 2's 11:00
    assert mail_server.messages() == [] and [m["to"] for m in sms_sim.messages()] == ["+14045550103"]


def test_a_provider_5xx_is_retried_within_the_send_and_then_by_the_outbox_never_lost(engine, sms, sms_sim):
    reminders.queue_reminders(engine, NOW)
    client = SmsClient(sms, backoff_seconds=0.01)
    # One 503: retried within the same send, the message goes.
    sms_sim.fail_next(503)
    first = deliver_sms(engine, sms, now=NOW, client=client, limit=1)
    assert first.sent == 1 and sms_sim.requests == 2 and len(sms_sim.messages()) == 1
    # The provider down for every attempt of a send: the row stays queued, the rest untouched, nothing lost.
    sms_sim.fail_next(503, times=3)
    down = deliver_sms(engine, sms, now=NOW, client=client)
    assert (down.sent, down.retrying, down.server_unreachable) == (0, 1, True)
    queued = [r for r in _outbox(engine) if r[0] == "reminder_sms" and r[3] == "queued"]
    assert queued == [("reminder_sms", 1, "10", "queued", 1, "HTTP 503 code 20500")]
    assert (
        deliver_sms(engine, sms, now=NOW + dt.timedelta(seconds=30), client=client).sent == 0
    )  # backing off
    back = deliver_sms(engine, sms, now=NOW + dt.timedelta(minutes=2), client=client)
    assert back.sent == 1 and {m["to"] for m in sms_sim.messages()} == {"+14045550101", "+14045550103"}
    assert [r[3:5] for r in _outbox(engine) if r[0] == "reminder_sms"] == [("sent", 2), ("sent", 1)]
    client.close()


def test_a_429_waits_and_retries_and_a_refused_number_is_permanent(engine, sms, sms_sim):
    reminders.queue_reminders(engine, NOW)
    sms_sim.fail_next(429)
    sms_sim.refuse("+14045550101")
    with SmsClient(sms, backoff_seconds=0.01) as client:
        summary = deliver_sms(engine, sms, now=NOW, client=client)
    assert (summary.sent, summary.failed_permanent) == (1, 1)
    rows = {r[2]: r for r in _outbox(engine) if r[0] == "reminder_sms"}
    # The provider's words quote the number; the outbox keeps the status and the code only.
    assert rows["10"][3:] == ("failed_permanent", 1, "HTTP 400 code 21610")


def test_cancelled_and_rescheduled_appointments_get_no_reminder(engine, mail_server, smtp, sms, sms_sim):
    with session_scope(engine) as session:
        session.get(Appointment, 10).status = "RESCHEDULED"
    # Queued while no provider is configured, then cancelled before delivery: withdrawn, not sent.
    reminders.run_appointment_reminders(engine, now=NOW, smtp=None, sms=None)
    assert [r[3] for r in _outbox(engine)] == ["queued"]
    with session_scope(engine) as session:
        session.get(Appointment, 9).status = "CANCELLED"
    summary = reminders.run_appointment_reminders(
        engine, now=NOW + dt.timedelta(minutes=5), smtp=smtp, sms=sms
    )
    assert summary.withdrawn == 1
    assert mail_server.messages() == [] and sms_sim.messages() == [] and sms_sim.requests == 0
    assert [r[3] for r in _outbox(engine)] == ["withdrawn"]


def test_no_phi_beyond_the_first_name_and_no_credentials_in_the_logs(
    engine, mail_server, smtp, sms, sms_sim, caplog
):
    caplog.set_level(logging.DEBUG)
    sms_sim.fail_next(503, times=3)  # a failure is logged: it must not carry the number or the token
    reminders.run_appointment_reminders(engine, now=NOW, smtp=smtp, sms=sms)
    reminders.run_appointment_reminders(engine, now=NOW + dt.timedelta(minutes=2), smtp=smtp, sms=sms)
    firsts = {cid: first for cid, (first, *_rest) in practice.CLIENTS.items()}
    bodies = [(1, "\n".join([m["Subject"], plain(m), html(m)])) for m in mail_server.messages()]
    bodies += [(1 if m["to"].endswith("0101") else 3, m["body"]) for m in sms_sim.messages()]
    assert len(bodies) == 3
    clinical = ["THERAPY", "therapy", "session type", "diagnos", "F41", "risk", "private matter"]
    for client_id, body in bodies:
        allowed = firsts[client_id]
        found = [s for s in forbidden_strings() + clinical if s != allowed and s.lower() in body.lower()]
        assert not found, (client_id, found)
    # Our side's records (the loopback mail server's own debug log, standing in for the provider, is not ours).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    assert "SMS provider" in logged  # the outage was logged ...
    for secret in ("token-not-logged", "+14045550101", "4045550101", "zq@mail.example", "Zephyrine"):
        assert secret not in logged  # ... without the token, the number, the address or the name
    assert "token-not-logged" not in repr(sms)


def test_the_hourly_dagster_run_sends_once(engine, mail_server, sms_sim, monkeypatch):
    import dagster as dg

    from orchestration.defs.notifications import definitions as notify
    from orchestration.lib.resources import OperationalStoreResource

    monkeypatch.setenv("SMTP_URL", mail_server.url)
    for name, value in sms_sim.env.items():
        monkeypatch.setenv(name, value)

    def run() -> dict:
        result = dg.materialize(
            [notify.appointment_reminders],
            resources={"store": OperationalStoreResource(database_url=str(engine.url))},
            run_config={
                "ops": {"notifications__appointment_reminders": {"config": {"as_of": NOW.isoformat()}}}
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        return {k: v.value for k, v in meta.items()}

    first, second = run(), run()
    assert (first["email_sent"], first["sms_sent"], first["without_consent"]) == (1, 2, 3)
    assert (second["email_sent"], second["sms_sent"], second["already_in_outbox"]) == (0, 0, 3)
    assert len(mail_server.messages()) == 1 and len(sms_sim.messages()) == 2

    when = dt.datetime(2026, 11, 24, 9, 5, tzinfo=dt.UTC)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        request = notify.appointment_reminders_hourly_schedule(context)
    assert request.run_key == "reminders-2026-11-24T09"
    assert notify.appointment_reminders_hourly_schedule.cron_schedule == "5 * * * *"


def test_the_cli_sends_through_the_simulator_serve_starts(engine, tmp_path, monkeypatch):
    import socket
    import time

    from mentalspace_cli.notifications import start_sms_simulator_if_needed
    from operational_api.notifications.outbox import utcnow
    from tests.conftest import run_cli

    soon = utcnow().replace(microsecond=0) + dt.timedelta(hours=3)
    with session_scope(engine) as session:
        session.get(Appointment, 11).start_at = soon
        session.get(Appointment, 11).end_at = soon + dt.timedelta(minutes=50)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(tmp_path / "var"))
    env = {"MENTALSPACE_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": str(engine.url)}
    process = start_sms_simulator_if_needed(env, port=0)
    try:
        port = int(env["SMS_URL"].rsplit(":", 1)[1])
        for _ in range(100):  # until it listens
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        result = run_cli("notify", "reminders", "--lead-hours", "4", env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "1 SMS queued" in result.stdout and "sent 0 e-mail and 1 SMS" in result.stdout, result.stdout
        logged = (tmp_path / "var" / "sms" / "messages.jsonl").read_text().splitlines()
        assert len(logged) == 1 and '"to": "+14045550101"' in logged[0]
        again = run_cli("notify", "reminders", "--lead-hours", "4", env=env)
        assert (
            "sent 0 e-mail and 0 SMS" in again.stdout
            and len((tmp_path / "var" / "sms" / "messages.jsonl").read_text().splitlines()) == 1
        )
        assert start_sms_simulator_if_needed(dict(env)) is None  # SMS_URL set: no second simulator
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_mail_server_never_gets_the_text_messages(engine, mail_server, smtp):
    from operational_api.notifications.outbox import deliver

    reminders.run_appointment_reminders(engine, now=NOW, smtp=None, sms=None)
    # What the digests and the sensor's retry batch call: every kind due, except SMS.
    assert deliver(engine, smtp, now=NOW).sent == 1
    assert [m["To"].addresses[0].addr_spec for m in mail_server.messages()] == ["zq@mail.example"]
    assert [r[3] for r in _outbox(engine) if r[0] == "reminder_sms"] == ["queued", "queued"]
