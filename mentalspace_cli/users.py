"""`mentalspace users ...`: staff accounts from the command line, through operational_api/services/users.py.

The command line acts as the server's operator (it holds the store's credentials): every change is audited
with the operating-system account, and refused ones are audited too. Passwords are never arguments (they
would sit in the shell history and the process list): `--password-stdin` reads one line, otherwise an
interactive terminal is asked twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Callable

from operational_api.errors import PlatformError

SOURCE = "cli"


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-12-31, not '{value}'") from None


def _until(value: str) -> dt.datetime:
    """A date (the exception lasts to the end of that UTC day) or an ISO date-time (UTC unless it says)."""
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time.max).replace(microsecond=0)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date or date-time like 2026-12-31T17:00, not '{value}'"
        ) from None
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _administer(action: str, change: Callable) -> object:
    """Run one change as the operator in one transaction; a refusal is audited (on its own) and re-raised."""
    from operational_api.db import get_engine, session_scope
    from operational_api.services.errors import ServiceError
    from operational_api.services.users import CommandLineOperator, record_refusal

    engine = get_engine()
    actor = CommandLineOperator.current()
    now = _now()
    try:
        with session_scope(engine) as session:
            return change(session, actor, now)
    except ServiceError as exc:
        with session_scope(engine) as session:
            record_refusal(session, actor, action, exc, source=SOURCE, now=now)
        raise


def _user_id(session, email: str) -> int:
    from operational_api.services.users import user_by_email

    return user_by_email(session, email).id


def _read_password(args: argparse.Namespace) -> str | None:
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise PlatformError("--password-stdin: no password on standard input")
        return line
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise PlatformError("the two passwords differ; nothing was changed")
    return first


def cmd_list(_args: argparse.Namespace) -> int:
    from operational_api.db import get_engine, session_scope
    from operational_api.services.users import CommandLineOperator, list_users

    with session_scope(get_engine()) as session:
        rows = list_users(session, CommandLineOperator.current(), now=_now())
    print("id\temail\trole\tlicence\tsupervisor\tactive\tlocked\tmfa\ttraining_expires\texception_until")
    for r in rows:
        print(
            f"{r.user_id}\t{r.email}\t{r.role}\t{r.license_type or '-'}\t{r.supervisor_id or '-'}\t"
            f"{'yes' if r.is_active else 'no'}\t{'LOCKED' if r.locked else '-'}\t"
            f"{'yes' if r.mfa_enrolled else 'enrol at sign-in'}\t{r.training_expires or 'none'}\t"
            f"{r.exception_until or '-'}"
        )
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from operational_api.services.users import NewUser, create_user, user_by_email

    password = _read_password(args)

    def change(session, actor, now):
        supervisor = user_by_email(session, args.supervisor).id if args.supervisor else None
        payload = NewUser(
            email=args.email,
            first_name=args.first_name,
            last_name=args.last_name,
            role=args.role,
            license_type=args.licence,
            supervisor_id=supervisor,
            password=password,
        )
        return create_user(session, actor, payload, source=SOURCE, now=now).id

    try:
        user_id = _administer("user.create", change)
    except ValueError as exc:  # pydantic's validation of the e-mail address and names
        raise PlatformError(f"cannot create {args.email}: {str(exc).splitlines()[-1].strip()}") from None
    print(f"created user {user_id} ({args.email.strip().lower()}, {args.role.upper()})")
    if password is None:
        print("no password set: `mentalspace users set-password EMAIL` before they can sign in")
    print("they set up MFA (authenticator app) at their first sign-in; HIPAA training must be recorded first")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from operational_api.services.users import set_password

    password = _read_password(args)
    if password is None:
        raise PlatformError("no password given: use --password-stdin or run it in a terminal")
    _administer(
        "user.set_password",
        lambda s, a, now: set_password(s, a, _user_id(s, args.email), password, source=SOURCE, now=now),
    )
    print(f"{args.email.strip().lower()}: password set (any lockout lifted)")
    return 0


def cmd_deactivate(args: argparse.Namespace) -> int:
    from operational_api.services.users import deactivate_user

    _administer(
        "user.deactivate",
        lambda s, a, now: deactivate_user(s, a, _user_id(s, args.email), source=SOURCE, now=now),
    )
    print(f"{args.email.strip().lower()}: deactivated (can no longer sign in)")
    return 0


def cmd_set_role(args: argparse.Namespace) -> int:
    from operational_api.services.users import set_role

    user = _administer(
        "user.set_role",
        lambda s, a, now: set_role(s, a, _user_id(s, args.email), args.role, source=SOURCE, now=now),
    )
    print(f"{args.email.strip().lower()}: role {user.role}")
    return 0


def cmd_set_licence(args: argparse.Namespace) -> int:
    from operational_api.services.users import set_licence

    licence = None if args.licence.lower() == "none" else args.licence
    user = _administer(
        "user.set_licence",
        lambda s, a, now: set_licence(s, a, _user_id(s, args.email), licence, source=SOURCE, now=now),
    )
    print(f"{args.email.strip().lower()}: licence {user.license_type or 'none'}")
    return 0


def cmd_link_supervisor(args: argparse.Namespace) -> int:
    from operational_api.services.users import link_supervisor

    def change(session, actor, now):
        supervisor = None if args.supervisor.lower() == "none" else _user_id(session, args.supervisor)
        return link_supervisor(
            session, actor, _user_id(session, args.email), supervisor, source=SOURCE, now=now
        )

    user = _administer("user.link_supervisor", change)
    print(f"{args.email.strip().lower()}: supervisor {user.supervisor_id or 'none'}")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from operational_api.services.users import unlock_user

    was_locked = _administer(
        "user.unlock", lambda s, a, now: unlock_user(s, a, _user_id(s, args.email), source=SOURCE, now=now)
    )
    print(
        f"{args.email.strip().lower()}: {'unlocked' if was_locked else 'was not locked; failure count cleared'}"
    )
    return 0


def cmd_reset_mfa(args: argparse.Namespace) -> int:
    from operational_api.services.users import reset_mfa

    _administer(
        "user.reset_mfa", lambda s, a, now: reset_mfa(s, a, _user_id(s, args.email), source=SOURCE, now=now)
    )
    print(f"{args.email.strip().lower()}: MFA reset; they set it up again at their next sign-in")
    return 0


def cmd_record_training(args: argparse.Namespace) -> int:
    from operational_api.services.users import record_training

    training = _administer(
        "user.record_training",
        lambda s, a, now: record_training(
            s, a, _user_id(s, args.email), args.completed, args.expires, source=SOURCE, now=now
        ),
    )
    print(f"{args.email.strip().lower()}: HIPAA training recorded, valid to {training.expires_date}")
    return 0


def cmd_training_exception(args: argparse.Namespace) -> int:
    from operational_api.services.users import grant_training_exception

    granted = _administer(
        "user.training_exception",
        lambda s, a, now: grant_training_exception(
            s, a, _user_id(s, args.email), until=args.until, reason=args.reason, source=SOURCE, now=now
        ),
    )
    print(
        f"{args.email.strip().lower()}: may sign in without current HIPAA training until {granted.expires_at} UTC"
    )
    return 0


def cmd_totp(args: argparse.Namespace) -> int:
    """The current code of a demo user: only on a store that holds nothing but the generated demo practice."""
    from operational_api import mfa
    from operational_api.db import get_engine, session_scope, store_origin
    from operational_api.services.users import user_by_email

    engine = get_engine()
    origin = store_origin(engine)
    if not origin.rows or not origin.generated:
        why = origin.reason or "it is empty"
        raise PlatformError(
            f"refusing to print an MFA code: the store at {engine.url.render_as_string(hide_password=True)} "
            f"is not the generated demo practice ({why}); real users read their code from their authenticator app"
        )
    with session_scope(engine) as session:
        user = user_by_email(session, args.email)
        secret, email = user.mfa_secret, user.email
    if not secret:
        raise PlatformError(f"{email} has no MFA set up (they set it up at their first sign-in)")
    now = _now()
    left = mfa.STEP_SECONDS - int(now.replace(tzinfo=dt.UTC).timestamp()) % mfa.STEP_SECONDS
    print(mfa.current_code(secret, now))
    print(f"(demo store only; valid for {left} more seconds, each code signs in once)", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "users",
        help="staff accounts: list, create, deactivate, set-role, set-licence, link-supervisor, unlock, "
        "set-password, reset-mfa, record-training, training-exception, totp",
    )
    users = p.add_subparsers(dest="users_command", required=True)

    def command(name: str, func, helptext: str, email: bool = True) -> argparse.ArgumentParser:
        q = users.add_parser(name, help=helptext)
        if email:
            q.add_argument("email")
        q.set_defaults(func=func)
        return q

    command("list", cmd_list, "every staff user: role, licence, lockout, MFA, training", email=False)
    q = command(
        "create", cmd_create, "a new staff user (password from --password-stdin or a terminal prompt)"
    )
    q.add_argument("--first-name", required=True)
    q.add_argument("--last-name", required=True)
    q.add_argument("--role", required=True, help="ADMIN, CLINICIAN, SUPERVISOR, BILLING or FRONT_DESK")
    q.add_argument(
        "--licence", default=None, help="LPC, LPC_ASSOCIATE, LMSW, LCSW, LMFT, PSYCHOLOGIST, PSYCHIATRIST"
    )
    q.add_argument("--supervisor", default=None, metavar="EMAIL")
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    q = command("set-password", cmd_set_password, "set a new password (lifts a lockout)")
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    command("deactivate", cmd_deactivate, "stop a user signing in (never the last active administrator)")
    command("set-role", cmd_set_role, "change a user's role").add_argument("role")
    command("set-licence", cmd_set_licence, "set a clinician's licence ('none' clears it)").add_argument(
        "licence"
    )
    command(
        "link-supervisor", cmd_link_supervisor, "set who supervises a user ('none' clears it)"
    ).add_argument("supervisor", metavar="SUPERVISOR_EMAIL")
    command("unlock", cmd_unlock, "lift a sign-in lockout (and clear the failure count) now")
    command("reset-mfa", cmd_reset_mfa, "forget a user's authenticator and recovery codes: they enrol again")
    q = command("record-training", cmd_record_training, "record a completed annual HIPAA training")
    q.add_argument("--completed", type=_date, required=True, metavar="DATE")
    q.add_argument(
        "--expires", type=_date, default=None, metavar="DATE", help="default: a year after --completed"
    )
    q = command(
        "training-exception",
        cmd_training_exception,
        "let a user sign in without current HIPAA training until a date (at most 30 days)",
    )
    q.add_argument("--until", type=_until, required=True, metavar="DATE[THH:MM]")
    q.add_argument("--reason", required=True)
    command("totp", cmd_totp, "print a demo user's current MFA code (generated demo store only)")
