"""`mentalspace audit ...`: check the audit log's hash chain, export a day, purge past the 7-year retention.

mentalspace audit verify                 walk the chain; exit 0 when intact, 2 naming the first bad row
mentalspace audit export --day DATE      write (or re-verify) one practice-local day's append-only file
mentalspace audit purge --before DATE    delete exported rows older than DATE (refused within 7 years)
"""

from __future__ import annotations

import argparse
import datetime as dt
import time


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-25, not '{value}'") from None


def cmd_verify(_args: argparse.Namespace) -> int:
    from operational_api.audit_chain import verify
    from operational_api.db import get_engine

    started = time.perf_counter()
    report = verify(get_engine())  # a break raises AuditChainBroken: one line, exit code 2
    span = f"ids {report.first_id}..{report.last_id}" if report.rows else "no rows yet"
    print(
        f"audit chain intact: {report.rows:,} rows ({span}), {report.exports_checked} daily export(s) agree; "
        f"checked in {time.perf_counter() - started:.1f} s"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from operational_api import audit
    from operational_api.audit_export import export_day
    from operational_api.db import get_engine
    from operational_api.settings import practice_timezone

    done = export_day(get_engine(), args.day, timezone=practice_timezone(), source=audit.CLI)
    verb = "wrote" if done.written else "verified existing"
    print(f"{verb} {done.path}: {done.rows} rows, sha256 {done.file_sha256}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from operational_api.audit_chain import purge
    from operational_api.db import get_engine

    before = dt.datetime.combine(args.before, dt.time())
    result = purge(get_engine(), before)
    if result.rows:
        print(
            f"purged {result.rows:,} audit rows (ids up to {result.through_id}) recorded before {args.before}"
        )
    else:
        print(f"nothing to purge: no exported audit rows before {args.before}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit log: audit verify | export --day D | purge --before D")
    commands = p.add_subparsers(dest="audit_command", required=True)
    commands.add_parser(
        "verify", help="walk the hash chain; exit 2 naming the first altered, deleted or reordered row"
    ).set_defaults(func=cmd_verify)
    q = commands.add_parser("export", help="write one day's append-only file (or verify the one written)")
    q.add_argument("--day", type=_date, required=True, help="practice-local day, YYYY-MM-DD")
    q.set_defaults(func=cmd_export)
    q = commands.add_parser("purge", help="delete exported rows recorded before a date at least 7 years ago")
    q.add_argument("--before", type=_date, required=True, help="UTC date; rows before it go")
    q.set_defaults(func=cmd_purge)
