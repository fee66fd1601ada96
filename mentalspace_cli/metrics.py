"""`mentalspace metrics backfill`: recompute the measures of a date range, through Dagster (one run).

mentalspace metrics backfill --start D --end D   the month partitions covering D..D (their periods only)
mentalspace metrics backfill --full              every period, from scratch (what every full refresh does)

The measures read the warehouse's other models as they are: land and build those first (`mentalspace build`, or
the refresh job) when the store changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from operational_api.errors import PlatformError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-25, not '{value}'") from None


def months_covering(start: dt.date, end: dt.date) -> tuple[str, str]:
    """The first and last month partitions of the measures covering `start`..`end`."""
    from orchestration.defs.dbt.partitions import METRIC_MONTHS

    if end < start:
        raise PlatformError(f"--end {end} is before --start {start}")
    keys = METRIC_MONTHS.get_partition_keys()
    first, last = start.replace(day=1).isoformat(), end.replace(day=1).isoformat()
    if first not in keys or last not in keys:
        raise PlatformError(
            f"the measures' months run from {keys[0]} to {keys[-1]}; {start}..{end} is outside"
        )
    return first, last


def cmd_backfill(args: argparse.Namespace) -> int:
    from orchestration.lib.runner import load_definitions, run_job

    if args.full == (args.start is not None or args.end is not None):
        raise PlatformError("give --start D --end D, or --full")
    if not args.full and (args.start is None or args.end is None):
        raise PlatformError("give both --start and --end")
    months = None if args.full else months_covering(args.start, args.end)
    what = "every period" if months is None else f"the months {months[0][:7]} to {months[1][:7]}"
    print(f"recomputing the measures of {what}: metrics_backfill_job, one run", flush=True)
    started = time.perf_counter()
    from orchestration.defs.dbt.run_config import EVERY_PERIOD

    result = run_job(
        load_definitions(),
        "metrics_backfill_job",
        partition_range=months,
        run_config=EVERY_PERIOD if months is None else None,
    )
    print(f"done in {time.perf_counter() - started:.1f} s; Dagster run {result.run_id}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="the measures: metrics backfill --start D --end D | --full")
    commands = p.add_subparsers(dest="metrics_command", required=True)
    q = commands.add_parser(
        "backfill",
        help="recompute the measures of the months covering --start..--end, or all of them (--full)",
    )
    q.add_argument("--start", type=_date, default=None, help="first date, YYYY-MM-DD")
    q.add_argument("--end", type=_date, default=None, help="last date, YYYY-MM-DD")
    q.add_argument("--full", action="store_true", help="every period, from scratch (a full rebuild)")
    q.set_defaults(func=cmd_backfill)
