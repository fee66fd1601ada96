"""``python -m ingest.advancedmd.simulator`` (and the platform CLI's ``mentalspace amd-sim``).

Two kinds of data: the simulator's own random practice (``--patients/--days``), or the platform's
synthetic practice seen from the billing side (``--clinicians/--months/--as-of``, with ``--seed``):
the same clients, appointments, charges and policies ``mentalspace generate`` puts in the store,
so a sync against it links every patient to a client (see ``from_practice.py``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from ingest.advancedmd.simulator.dataset import PRACTICE_TZ, SimulatorDataset
from ingest.advancedmd.simulator.from_practice import simulator_clock_start, synthetic_practice_dataset
from ingest.advancedmd.simulator.server import FaultConfig, SimulatorConfig, start_simulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="amd-sim", description="Serve a synthetic AdvancedMD practice on loopback."
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, tokens and fault injection")
    p.add_argument("--office-key", default="991001", help="office key served")
    p.add_argument("--patients", type=int, default=200, help="synthetic patients")
    p.add_argument("--days", type=int, default=30, help="days of visit history")
    practice = p.add_argument_group(
        "synthetic practice",
        "serve the platform's synthetic practice instead (any of these options selects it)",
    )
    practice.add_argument(
        "--clinicians", type=_positive, default=None, help="clinicians (default 12 with --months)"
    )
    practice.add_argument("--months", type=_positive, default=None, help="months of history (default 12)")
    practice.add_argument(
        "--as-of", type=_as_of, default=None, help="last day of history, YYYY-MM-DD (default today)"
    )
    p.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of requests answered with injected faults"
    )
    p.add_argument("--slow-seconds", type=float, default=2.0, help="delay of injected slow responses")
    p.add_argument("--no-rate-limits", action="store_true", help="do not enforce the tiered rate limits")
    return p


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {number}")
    return number


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of must be a date like 2026-11-25, not '{value}'") from None


def build_dataset(args: argparse.Namespace, now: datetime) -> SimulatorDataset:
    """The dataset the command line asked for. A practice's changes are stamped no later than ``now``
    (a wall-clock simulator must not see changes "from the future" arrive in later windows)."""
    if args.clinicians is None and args.months is None and args.as_of is None:
        anchor = now.astimezone(PRACTICE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return SimulatorDataset.synthetic(
            args.seed, args.patients, args.days, office_key=args.office_key, anchor=anchor
        )
    as_of = args.as_of or now.astimezone(PRACTICE_TZ).date()
    return synthetic_practice_dataset(
        clinicians=args.clinicians or 12,
        months=args.months or 12,
        seed=args.seed,
        as_of=as_of,
        office_key=args.office_key,
        latest=min(now, simulator_clock_start(as_of)) - timedelta(minutes=1),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start the simulator, print one JSON line with URLs and (simulator-only) credentials, and
    serve until interrupted. Returns a process exit code."""
    args = build_parser().parse_args(argv)
    dataset = build_dataset(args, datetime.now(PRACTICE_TZ))
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        enforce_rate_limits=not args.no_rate_limits,
        faults=FaultConfig.mixed(args.fault_rate, slow_seconds=args.slow_seconds),
    )
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()

    try:
        sim = start_simulator(dataset, config)
    except OSError as exc:
        print(f"amd-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            json.dumps(
                {
                    "base_url": sim.base_url,
                    "login_url": sim.login_url,
                    "office_key": dataset.office_key,
                    "api_host": sim.api_host(),
                    "username": config.username,
                    "password": config.password,  # simulator-only credentials, not a secret
                    "app_name": "TEMP",
                    "patients": len(dataset.live_patients()),
                    "visits": len(dataset.live_visits()),
                    "charges": len(dataset.live_charges()),
                }
            ),
            flush=True,
        )
        while not stop.wait(0.2):
            pass
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print(
            json.dumps(
                {
                    "stopped": True,
                    "counters": {
                        "requests": sim.counters.requests,
                        "rate_limit_violations": sim.counters.rate_limit_violations,
                    },
                }
            ),
            flush=True,
        )
    return 0
