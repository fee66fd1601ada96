"""``era parse FILE... [--json]``: summarise 835 files (called by the platform CLI).

Human output: per file the envelope counts, then per transaction the payer, payee, check/trace
number, payment, claim and service-line counts, whether it balances, and its warnings; then the
file's anomalies. ``--json`` prints a dict keyed by file name whose values have exactly the shape
of ``shared/edi835-samples/golden.json`` (see :mod:`edi835.summary`).

Exit codes: 0 success, 2 on any error (unreadable or malformed file, bad arguments); each error
is one line on stderr. Output never contains patient names or member IDs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from edi835.errors import Edi835Error
from edi835.parser import ParseResult, parse_file

__all__ = ["main"]

EXIT_OK = 0
EXIT_ERROR = 2


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so errors stay one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="era", description="X12 835 electronic remittance advice tools.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parse = commands.add_parser("parse", help="parse 835 files and print a summary")
    parse.add_argument("files", nargs="+", metavar="FILE", help="835 file(s) to parse")
    parse.add_argument("--json", action="store_true", help="print the golden.json-shaped summary as JSON")
    return parser


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _print_human(result: ParseResult, summary: dict[str, Any], out: TextIO) -> None:
    print(
        f"{result.file_name}: {summary['isa_count']} interchange(s), {summary['gs_count']} group(s), "
        f"{summary['transaction_count']} transaction(s)  [sha256 {result.source_file_id[:12]}]",
        file=out,
    )
    by_transaction: dict[int, list[str]] = {}
    issues = result.validation.frame.filter(
        pl.col("remittance_id").is_not_null() & (pl.col("code") != "transaction_unbalanced")
    )
    for rem_id, message in issues.select("remittance_id", "message").iter_rows():
        by_transaction.setdefault(rem_id, []).append(message)
    rem_ids = result.remittances["remittance_id"].to_list()
    for t, txn in enumerate(summary["transactions"]):
        payee_id = f" NPI {txn['payee_npi']}" if txn["payee_npi"] else ""
        if not payee_id and txn["payee_id"]:
            payee_id = f" {txn['payee_id_qualifier'] or 'ID'} {txn['payee_id']}"
        balanced = (
            "yes"
            if txn["balanced"]
            else f"NO (difference {_money(txn['balance_diff_bpr02_minus_clp04_plus_plb'])})"
        )
        print(f"  transaction {t + 1} (ST02 {txn['st02']}, {txn['gs08'] or 'no GS version'})", file=out)
        print(f"    payer: {txn['payer_name'] or '-'}", file=out)
        print(f"    payee: {txn['payee_name'] or '-'}{payee_id}", file=out)
        print(
            f"    check/trace: {txn['trn02'] or '-'}  payment: {_money(txn['bpr02'])} (BPR01 {txn['bpr01'] or '-'})",
            file=out,
        )
        print(
            f"    claims: {txn['clp_count']} (reversals {txn['reversal_count_clp02_22']})  "
            f"service lines: {txn['svc_count']}  billed {_money(txn['clp03_sum'])}  paid {_money(txn['clp04_sum'])}  "
            f"provider adjustments {_money(txn['plb_amount_sum'])}",
            file=out,
        )
        print(f"    balanced: {balanced}", file=out)
        warnings = by_transaction.get(rem_ids[t], [])
        for message in warnings[:20]:
            print(f"    warning: {message}", file=out)
        if len(warnings) > 20:
            print(f"    ... {len(warnings) - 20} more warnings", file=out)
    for anomaly in summary["anomalies"]:
        print(f"  anomaly: {anomaly}", file=out)


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``era`` with ``argv`` (e.g. ``["parse", "file.edi", "--json"]``); return the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = _build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as exc:
        print(f"era: error: {exc}", file=err)
        return EXIT_ERROR
    except SystemExit as exc:  # --help
        return int(exc.code or 0)

    status = EXIT_OK
    summaries: dict[str, Any] = {}
    for name in args.files:
        try:
            result = parse_file(name)
            summary = result.summary()
        except Edi835Error as exc:
            print(f"era: error: {exc}", file=err)
            status = EXIT_ERROR
            continue
        if args.json:
            summaries[Path(name).name] = summary
        else:
            _print_human(result, summary, out)
    if args.json and summaries:
        json.dump(summaries, out, indent=2)
        out.write("\n")
    return status
