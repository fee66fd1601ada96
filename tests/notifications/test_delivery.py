"""Delivery through a real SMTP server on loopback: down for a run (nothing lost, nothing twice once it is
back), permanent refusals recorded, and SMTP_URL parsing that never shows a password."""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import time

import pytest
from sqlalchemy import select

from operational_api.db import session_scope
from operational_api.errors import PlatformError
from operational_api.notifications import service
from operational_api.notifications.loopback import LoopbackSmtp, free_port
from operational_api.notifications.models import OutboxMessage
from operational_api.notifications.outbox import deliver
from operational_api.notifications.smtp import parse_smtp_url
from tests.conftest import run_cli
from tests.notifications.practice import AS_OF

NOW = dt.datetime(2026, 11, 24, 12, 0)


def _outbox(engine) -> dict[str, OutboxMessage]:
    with session_scope(engine) as s:
        return {m.recipient_email: m for m in s.scalars(select(OutboxMessage))}


def test_server_down_then_back(store, tmp_path):
    port = free_port()
    settings = parse_smtp_url(f"smtp://127.0.0.1:{port}")
    first = service.run_daily_digest(store, AS_OF, settings=settings, now=NOW)
    assert first.enqueued == 3 and first.delivery.server_unreachable and first.delivery.sent == 0
    rows = _outbox(store)
    assert {m.status for m in rows.values()} == {"queued"}
    assert sorted(m.attempts for m in rows.values()) == [0, 0, 1]  # the rest wait untouched
    tried = next(m for m in rows.values() if m.attempts == 1)
    assert tried.next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert tried.last_error.startswith("ConnectionRefusedError")

    # A second run while still down renders nothing new and loses nothing.
    again = service.run_daily_digest(store, AS_OF, settings=settings, now=NOW + dt.timedelta(minutes=2))
    assert again.enqueued == 0 and len(_outbox(store)) == 3

    with LoopbackSmtp(tmp_path / "mail", port=port) as server:
        # The critical-alert sensor's next evaluation (every 30 s) sends what waited, not the next schedule.
        service.run_critical_alerts(store, settings=settings, clock=lambda: NOW + dt.timedelta(minutes=10))
        back = service.run_daily_digest(store, AS_OF, settings=settings, now=NOW + dt.timedelta(minutes=11))
        assert (back.enqueued, back.delivery.sent) == (0, 0)
        assert deliver(store, settings, now=NOW + dt.timedelta(hours=1)).sent == 0
        digests = [m for m in server.messages() if m["Subject"].startswith("Your day")]
    assert sorted(m["To"].addresses[0].addr_spec for m in digests) == [
        "ben.solo@practice.example",
        "cara.clin@practice.example",
        "sam.super@practice.example",
    ]
    assert {m.status for m in _outbox(store).values()} == {"sent"}


def test_permanent_failures_are_recorded(store, tmp_path):
    with LoopbackSmtp(
        tmp_path / "mail", refuse=("ben.solo@practice.example",), reject=("cara.clin@practice.example",)
    ) as server:
        settings = parse_smtp_url(server.url)
        summary = service.run_daily_digest(store, AS_OF, settings=settings, now=NOW)
        assert (summary.delivery.sent, summary.delivery.bounced, summary.delivery.failed_permanent) == (
            1,
            1,
            1,
        )
        rows = _outbox(store)
        assert rows["ben.solo@practice.example"].status == "bounced"
        assert rows["ben.solo@practice.example"].last_error == "550 5.1.1 mailbox unavailable"
        assert rows["cara.clin@practice.example"].status == "failed_permanent"
        assert rows["cara.clin@practice.example"].last_error == "554 5.6.0 message refused"
        # Never retried: a later delivery has nothing to do.
        assert deliver(store, settings, now=NOW + dt.timedelta(days=1)).sent == 0
        assert len(server.messages()) == 1


def test_smtp_url():
    s = parse_smtp_url("smtps://mailer:s3cret%21@mail.example.org:465")
    assert (s.host, s.port, s.use_tls, s.username, s.password) == (
        "mail.example.org",
        465,
        True,
        "mailer",
        "s3cret!",
    )
    assert "s3cret" not in repr(s) and "s3cret" not in s.display
    t = parse_smtp_url("smtp://mail.example.org:587?starttls=1")
    assert (t.port, t.starttls, t.use_tls) == (587, True, False)
    with pytest.raises(PlatformError, match="SMTP_URL must look like"):
        parse_smtp_url("http://mail.example.org")


def test_preferences_command(store):
    env = {"DATABASE_URL": str(store.url)}
    off = run_cli("notify-preferences", "cara.clin@practice.example", "--off", "daily_digest", env=env)
    assert off.returncode == 0 and "daily_digest: off" in off.stdout
    refused = run_cli("notify-preferences", "cara.clin@practice.example", "--off", "critical_alert", env=env)
    assert refused.returncode == 2
    assert (
        refused.stderr.strip() == "error: 'critical_alert' messages are critical and cannot be switched off"
    )


def test_serve_starts_a_loopback_server_when_smtp_url_is_unset(var_dir, tmp_path):
    from mentalspace_cli.notifications import mail_folder, start_loopback_if_needed

    assert start_loopback_if_needed({"SMTP_URL": "smtp://mail.example.org:25"}) is None
    env = {k: v for k, v in os.environ.items() if k != "SMTP_URL"}
    process = start_loopback_if_needed(env, port=0)
    try:
        settings = parse_smtp_url(env["SMTP_URL"])
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP(settings.host, settings.port, timeout=5) as conn:
                    conn.sendmail(
                        "a@practice.example", ["b@practice.example"], b"Subject: hello\r\n\r\nhi\r\n"
                    )
                break
            except OSError:
                assert time.monotonic() < deadline, "the loopback server did not start"
                time.sleep(0.3)
        assert [p.name.endswith("b@practice.example.eml") for p in mail_folder().glob("*.eml")] == [True]
    finally:
        process.terminate()
        process.wait(timeout=10)
