"""``python -m ingest.advancedmd.simulator`` (and the platform CLI's ``mentalspace amd-sim``).

Two kinds of data: the simulator's own random practice (``--patients/--days``), or the platform's
synthetic practice seen from the billing side (``--clinicians/--months/--as-of``, with ``--seed``):
the same clients, appointments, charges and policies ``mentalspace generate`` puts in the store,
so a sync against it links every patient to a client (see ``from_practice.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from ingest.advancedmd.clock import Clock, ScaledClock, SystemClock
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
    p.add_argument(
        "--office-key",
        "--office-keys",
        dest="office_keys",
        default="991001",
        help="office key(s) served, comma-separated; each gets its own api-NNN host and its own practice",
    )
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
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help="inject one fault kind at a share of requests (repeatable): "
        + ", ".join(f"{k} ({v})" for k, v in FAULT_HELP.items()),
    )
    p.add_argument("--no-rate-limits", action="store_true", help="do not enforce the tiered rate limits")
    clock = p.add_argument_group(
        "clock", "the simulator's time: peak hours, rate-limit minutes and token expiry run on it"
    )
    clock.add_argument(
        "--clock-start",
        type=_instant,
        default=None,
        help="start the clock at this instant (ISO 8601 with offset, e.g. 2026-03-09T09:00-07:00); default: now",
    )
    clock.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1); clients share the clock through the printed epoch",
    )
    return p


FAULTS = {
    "timeout": "fault_rate",
    "slow": "slow_rate",
    "500": "http_500_rate",
    "503": "http_503_rate",
    "429": "http_429_rate",
    "drop": "drop_rate",
    "session": "session_expiry_rate",
    "malformed": "malformed_rate",
    "truncated": "truncated_rate",
}
FAULT_HELP = {
    "timeout": "server fault 'operation timed out'",
    "slow": "answer after --slow-seconds",
    "500": "HTTP 500",
    "503": "HTTP 503",
    "429": "HTTP 429 quota answer",
    "drop": "connection closed unanswered",
    "session": "every session expires",
    "malformed": "body not well-formed XML",
    "truncated": "answer cut off half way",
}


def _instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--clock-start must be an ISO instant, not '{value}'") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("--clock-start needs a UTC offset, e.g. 2026-03-09T09:00-07:00")
    return at


def fault_config(args: argparse.Namespace) -> FaultConfig:
    """--fault-rate spreads over the classic mix; each --fault KIND=RATE sets one kind on top."""
    config = FaultConfig.mixed(args.fault_rate, slow_seconds=args.slow_seconds)
    for item in args.fault:
        kind, _, rate = item.partition("=")
        if kind not in FAULTS:
            raise SystemExit(f"amd-sim: unknown fault kind '{kind}'; choose from {', '.join(FAULTS)}")
        try:
            share = float(rate)
        except ValueError:
            raise SystemExit(f"amd-sim: --fault {item}: the rate must be a number like 0.05") from None
        config = dataclasses.replace(config, **{FAULTS[kind]: share})
    if config.total > 1:
        raise SystemExit(f"amd-sim: injected faults add up to {config.total:.2f} of requests (at most 1)")
    return config


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


def office_keys(args: argparse.Namespace) -> list[str]:
    keys = [k.strip() for k in args.office_keys.split(",") if k.strip()]
    if not keys or not all(k.isdigit() for k in keys) or len(set(keys)) != len(keys):
        raise SystemExit(f"amd-sim: --office-keys must be distinct digit strings, not '{args.office_keys}'")
    return keys


def build_dataset(
    args: argparse.Namespace, now: datetime, office_key: str | None = None, index: int = 0
) -> SimulatorDataset:
    """The dataset the command line asked for (for its ``index``-th office key: its own practice, seeded
    ``seed + index``). A practice's changes are stamped no later than ``now`` (a wall-clock simulator must
    not see changes "from the future" arrive in later windows)."""
    key = office_key or office_keys(args)[0]
    if args.clinicians is None and args.months is None and args.as_of is None:
        anchor = now.astimezone(PRACTICE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return SimulatorDataset.synthetic(
            args.seed + index, args.patients, args.days, office_key=key, anchor=anchor
        )
    as_of = args.as_of or now.astimezone(PRACTICE_TZ).date()
    return synthetic_practice_dataset(
        clinicians=args.clinicians or 12,
        months=args.months or 12,
        seed=args.seed + index,
        as_of=as_of,
        office_key=key,
        latest=min(now, simulator_clock_start(as_of)) - timedelta(minutes=1),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start the simulator, print one JSON line with URLs and (simulator-only) credentials, and
    serve until interrupted. Returns a process exit code."""
    args = build_parser().parse_args(argv)
    if args.clock_speed <= 0:
        raise SystemExit("amd-sim: --clock-speed must be positive")
    clock: Clock = SystemClock()
    if args.clock_start is not None or args.clock_speed != 1.0:
        clock = ScaledClock(args.clock_start or datetime.now(PRACTICE_TZ), args.clock_speed)
    keys = office_keys(args)
    datasets = [build_dataset(args, clock.now(), key, i) for i, key in enumerate(keys)]
    dataset = datasets[0]
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        enforce_rate_limits=not args.no_rate_limits,
        faults=fault_config(args),
    )
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()

    try:
        sim = start_simulator(datasets, config, clock=clock)
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
                    "api_hosts": {key: sim.api_host(key) for key in keys},
                    "clock": {
                        "now": clock.now().isoformat(),
                        "start": clock.start.isoformat() if isinstance(clock, ScaledClock) else None,
                        "speed": clock.speed if isinstance(clock, ScaledClock) else 1.0,
                        "epoch": clock.epoch if isinstance(clock, ScaledClock) else None,
                    },
                    "faults": {k: v for k, v in dataclasses.asdict(config.faults).items() if v},
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
