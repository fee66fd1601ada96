"""`mentalspace notify ...`: run one message kind by hand (what the Dagster schedules run), and the demo's local
mail server and SMS provider that `mentalspace serve` starts when SMTP_URL / SMS_URL are unset."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys

from operational_api.errors import PlatformError
from operational_api.settings import REPO_ROOT, var_dir

LOOPBACK_PORT = 8025
SMS_PORT = 8026


def mail_folder():
    return var_dir() / "mail"


def _can_bind(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_loopback_if_needed(env: dict[str, str], port: int = LOOPBACK_PORT) -> subprocess.Popen | None:
    """When SMTP_URL is unset, start the loopback SMTP server and point the children's SMTP_URL at it."""
    if env.get("SMTP_URL"):
        return None
    from operational_api.notifications.loopback import free_port

    free = port if port and _can_bind(port) else free_port()  # 8025 when free, else any free port
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "operational_api.notifications.loopback",
            "--folder",
            str(mail_folder()),
            "--port",
            str(free),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    env["SMTP_URL"] = f"smtp://127.0.0.1:{free}"
    print(f"Mail (local SMTP):     {env['SMTP_URL']} (messages kept in {mail_folder()})")
    return process


def sms_folder():
    return var_dir() / "sms"


def start_sms_simulator_if_needed(env: dict[str, str], port: int = SMS_PORT) -> subprocess.Popen | None:
    """When SMS_URL is unset, start the loopback SMS provider and point the children's SMS_URL at it."""
    if env.get("SMS_URL"):
        return None
    from operational_api.notifications.loopback import free_port
    from operational_api.notifications.sms_simulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

    free = port if port and _can_bind(port) else free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "operational_api.notifications.sms_simulator",
            "--folder",
            str(sms_folder()),
            "--port",
            str(free),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    env.update(
        SMS_URL=f"http://127.0.0.1:{free}", SMS_ACCOUNT_SID=DEMO_ACCOUNT_SID, SMS_AUTH_TOKEN=DEMO_AUTH_TOKEN
    )
    print(f"SMS (local simulator): {env['SMS_URL']} (messages kept in {sms_folder() / 'messages.jsonl'})")
    return process


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-24, not '{value}'") from None


def cmd_notify(args: argparse.Namespace) -> int:
    from operational_api.db import get_engine
    from operational_api.notifications import service
    from operational_api.notifications.smtp import configured_settings

    settings = configured_settings()
    if settings is None:
        print(
            "SMTP_URL is not set: messages are rendered into the outbox and sent by the next run that has one"
        )
    engine = get_engine()
    if args.kind == "reminders":
        return _reminders(engine, args)
    if args.kind == "digest":
        summary = service.run_daily_digest(engine, args.date, settings=settings)
    elif args.kind == "monday":
        if args.date.weekday() != 0:
            raise PlatformError(f"--date must be the Monday the week starts on, not a {args.date:%A}")
        summary = service.run_monday_report(engine, args.date, settings=settings, charts=not args.no_charts)
    elif args.kind == "supervision":
        summary = service.run_supervision_report(engine, args.date.replace(day=1), settings=settings)
    else:
        summary = service.run_critical_alerts(engine, settings=settings)
    d = summary.delivery
    print(
        f"{summary.kind} {summary.period}: {summary.enqueued} rendered, {summary.already_in_outbox} already in the "
        f"outbox, {summary.opted_out} opted out; {d.sent} sent, {d.retrying} waiting, "
        f"{d.failed_permanent} failed, {d.bounced} bounced"
        + (f" ({summary.skipped_reason})" if summary.skipped_reason else "")
    )
    return 0


def _reminders(engine, args: argparse.Namespace) -> int:
    from operational_api.notifications import reminders
    from operational_api.notifications.sms import configured_sms

    if configured_sms() is None:
        print("SMS_URL is not set: text reminders wait in the outbox until a run with an SMS provider")
    lead = dt.timedelta(hours=args.lead_hours) if args.lead_hours else None
    s = reminders.run_appointment_reminders(engine, lead=lead)
    print(
        f"reminders: {s.appointments} appointment(s) ahead; {s.enqueued['reminder_email']} e-mail and "
        f"{s.enqueued['reminder_sms']} SMS queued, {s.already_in_outbox} already in the outbox, "
        f"{s.without_consent} without consent, {s.without_address} without an address, {s.withdrawn} withdrawn; "
        f"sent {s.email.sent} e-mail and {s.sms.sent} SMS, {s.email.retrying + s.sms.retrying} waiting, "
        f"{s.email.failed_permanent + s.sms.failed_permanent + s.email.bounced} refused"
    )
    return 0


def cmd_preferences(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from operational_api.db import get_engine, session_scope
    from operational_api.models import User
    from operational_api.notifications.kinds import OPTIONAL_KINDS, PreferenceError, opted_out, set_preference

    with session_scope(get_engine()) as session:
        user_id = session.scalar(select(User.id).where(User.email == args.email))
        if user_id is None:
            raise PlatformError(f"no user with the e-mail address {args.email}")
        try:
            for kind in args.off or ():
                set_preference(session, user_id, kind, False)
            for kind in args.on or ():
                set_preference(session, user_id, kind, True)
        except PreferenceError as exc:
            raise PlatformError(str(exc)) from None
        session.flush()
        for kind in OPTIONAL_KINDS:
            print(f"{kind}: {'off' if user_id in opted_out(session, kind) else 'on'}")
    print("critical_alert: on (critical alerts cannot be switched off)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("notify", help="render and send one kind of message now (as the schedules do)")
    p.add_argument("kind", choices=("digest", "monday", "supervision", "critical", "reminders"))
    p.add_argument(
        "--date",
        type=_date,
        default=dt.date.today(),
        help="digest: the day; monday: the Monday the week starts; supervision: any day of the month",
    )
    p.add_argument("--no-charts", action="store_true", help="monday: leave the trend chart out")
    p.add_argument(
        "--lead-hours",
        type=float,
        default=None,
        help="reminders: how far ahead (default REMINDER_LEAD_HOURS, else 24)",
    )
    p.set_defaults(func=cmd_notify)
    p = subparsers.add_parser("notify-preferences", help="show or switch a user's non-critical messages")
    p.add_argument("email")
    p.add_argument(
        "--off", action="append", metavar="KIND", help="daily_digest, monday_report or supervision_report"
    )
    p.add_argument("--on", action="append", metavar="KIND")
    p.set_defaults(func=cmd_preferences)


__all__ = ["register", "start_loopback_if_needed", "start_sms_simulator_if_needed"]
