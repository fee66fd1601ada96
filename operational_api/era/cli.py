"""`mentalspace era generate | post | review`: remittances against the operational store.

    mentalspace era generate --out DIR [--claims N] [--seed S] [--standalone] [--include-paid]
        an 835 for the store's submitted claims the payer has not answered yet (all of them with
        --include-paid: duplicates or a secondary payer's remittance), or with --standalone or an
        empty store for invented ones, plus its ground-truth JSON
    mentalspace era post FILE [--min-confidence X] [--user ID]
        match and post one remittance (idempotent: a re-upload posts nothing)
    mentalspace era review [--file ID] [--limit N]
    mentalspace era review --resolve ERA_CLAIM_ID (--charge ID | --claim ID) [--user ID]
    mentalspace era review --unmatchable ERA_CLAIM_ID [--user ID]
        the manual review queue: list it, post one claim payment to the charge or claim a person
        chose, or set it aside

Bad input is one line on stderr naming the file, record or option and the reason, exit code 2.
Nothing printed here names a patient: claim control numbers, ids, amounts and codes only.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from edi835 import Edi835Error
from operational_api import audit
from operational_api.errors import PlatformError

COMMANDS = ("generate", "post", "review")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise PlatformError(f"{self.prog}: {message}")


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not '{value}'") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not {value}")
    return number


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not '{value}'") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The `era generate | post | review` argument parser."""
    parser = _Parser(prog="mentalspace era", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("generate", help="write a synthetic 835 (and its ground truth) for our claims")
    p.add_argument("--out", required=True, type=Path, help="folder for the .835 and .truth.json files")
    p.add_argument(
        "--claims",
        type=_positive,
        default=None,
        help="how many of our claims (default: all; 1000 standalone)",
    )
    p.add_argument("--seed", type=int, default=1, help="same seed + claims = same file")
    p.add_argument("--standalone", action="store_true", help="invent the claims instead of reading the store")
    p.add_argument(
        "--include-paid",
        action="store_true",
        help="also claims that already carry an insurance payment or adjustment (their payments post as "
        "duplicates for review)",
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("post", help="match and post one 835 remittance")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--min-confidence", type=_fraction, default=None, help="auto-post at or above this (default 0.90)"
    )
    p.add_argument("--user", type=int, default=None, help="user id recorded as the uploader")
    p.set_defaults(func=cmd_post)

    p = sub.add_parser("review", help="the manual review queue")
    p.add_argument("--file", type=int, default=None, help="only this ERA file id")
    p.add_argument("--limit", type=_positive, default=50)
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--resolve", type=int, metavar="ERA_CLAIM_ID", help="post this ERA claim to --charge/--claim"
    )
    group.add_argument("--unmatchable", type=int, metavar="ERA_CLAIM_ID", help="set this ERA claim aside")
    p.add_argument("--charge", type=int, default=None, help="with --resolve: the charge it belongs to")
    p.add_argument("--claim", type=int, default=None, help="with --resolve: the claim it belongs to")
    p.add_argument("--user", type=int, default=None, help="user id recorded as the reviewer")
    p.set_defaults(func=cmd_review)
    return parser


def _store():
    from operational_api.db import get_engine, is_migrated

    engine = get_engine()
    if not is_migrated(engine):
        raise PlatformError("the operational store has no schema yet: run `mentalspace init` first")
    return engine


def cmd_generate(args: argparse.Namespace) -> int:
    """Write an 835 and its ground truth for the store's claims (or invented ones)."""
    from edi835.generate import RemittanceOptions
    from operational_api.era.remittances import claim_specs_from_store, standalone_specs, write_remittance

    specs = []
    source = "invented"
    if not args.standalone:
        specs = claim_specs_from_store(
            _store(), limit=args.claims, seed=args.seed, include_paid=args.include_paid
        )
        source = "the store's"
        if not specs:
            print("the store has no submitted claims: inventing them (--standalone)")
    if not specs:
        specs = standalone_specs(args.claims or 1000, seed=args.seed)
        source = "invented"
    options = RemittanceOptions(seed=args.seed)
    if source == "the store's" and not args.include_paid:
        # The payer has paid none of these claims yet: it has nothing to reverse or correct.
        options = dataclasses.replace(options, reversal_rate=0.0, correction_rate=0.0)
    written = write_remittance(specs, args.out, options)
    print(
        f"wrote {written.path} ({written.size_bytes / 1e6:.2f} MB): {written.claim_count} of {source} claims "
        f"in {written.clp_count} claim payments"
    )
    print(f"ground truth: {written.truth_path}")
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    """Match and post one remittance; print what it did."""
    from operational_api.era.posting import post_remittance

    kwargs = {} if args.min_confidence is None else {"min_confidence": args.min_confidence}
    result = post_remittance(_store(), args.file, uploaded_by=args.user, audit_source=audit.CLI, **kwargs)
    print("\n".join(result.summary_lines()))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """List the review queue, or resolve / set aside one ERA claim."""
    from operational_api.era.posting import mark_unmatchable, resolve_review, review_count, review_queue

    if (args.charge is not None or args.claim is not None) and args.resolve is None:
        raise PlatformError("mentalspace era review: --charge and --claim go with --resolve ERA_CLAIM_ID")
    engine = _store()
    if args.resolve is not None:
        if args.charge is None and args.claim is None:
            raise PlatformError("mentalspace era review: --resolve needs --charge ID or --claim ID")
        print(resolve_review(engine, args.resolve, charge_id=args.charge, claim_id=args.claim, user_id=args.user, audit_source=audit.CLI)
              .summary_line())  # fmt: skip
        return 0
    if args.unmatchable is not None:
        print(
            mark_unmatchable(
                engine, args.unmatchable, user_id=args.user, audit_source=audit.CLI
            ).summary_line()
        )
        return 0
    items = review_queue(engine, era_file_id=args.file, limit=args.limit)
    if not items:
        print("the review queue is empty")
        return 0
    total = review_count(engine, era_file_id=args.file)
    shown = f" (the first {len(items)} below)" if total > len(items) else ""
    print(f"{total} ERA claim payments waiting for review{shown}:")
    for item in items:
        confidence = "-" if item.match_confidence is None else f"{item.match_confidence:.2f}"
        print(
            f"ERA claim {item.era_claim_id} (file {item.era_file_id}): CLP01 {item.claim_control_number.strip()} "
            f"status {item.claim_status_code} charge ${item.charge_amount:,.2f} paid ${item.paid_amount:,.2f} "
            f"best {item.match_method or '-'} {confidence}"
            + (f"  held: {item.hold_reason}" if item.hold_reason else "")
        )
        for cand in item.candidates:
            charge = f" charge {cand.charge_id}" if cand.charge_id else ""
            print(f"    {cand.rank}. claim {cand.claim_id} ({cand.claim_control_number}){charge} "
                  f"score {cand.score:.2f}  {cand.reasons}")  # fmt: skip
        if not item.candidates:
            print("    no candidates: use --resolve with the charge, or --unmatchable")
    return 0


def main(argv: Sequence[str] | None = None, debug: bool = False) -> int:
    """Run one `era generate | post | review` command; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (PlatformError, Edi835Error) as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the promise is one clear line; the exception text may quote data, so not shown
        if debug:
            raise
        print(f"error: internal error ({type(exc).__name__}); run with --debug for details", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
