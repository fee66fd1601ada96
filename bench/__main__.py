"""Run the benchmarks and write bench/results/RESULTS.md (and a JSON file per suite).

    python -m bench                         every suite
    python -m bench foundation --sizes small,medium --backends duckdb
    python -m bench browser --runs 3        the browser suite (large practice unless --sizes says otherwise)
    python -m bench api                     the API at 10, 25, 50 concurrent clients (PostgreSQL, medium)
    python -m bench amd                     AdvancedMD calls per 1,000 records and freshness (simulator)
    python -m bench audit_chain             audit chain throughput by where its lock is taken (PostgreSQL)
    python -m bench tenfold --backends postgres   the 1,000-clinician practice (about an hour; only when named)

Figures are wall-clock seconds of whole commands (median of --runs), with peak memory where a suite
measures it. Each suite module exposes `run(args) -> list[dict]`, `TITLE` and `COLUMNS`, and may expose
`DEFAULT_SIZES` (when --sizes is not given) and `notes(rows) -> str` (Markdown under its table).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).with_name("results")
SUITES = {
    "foundation": "bench.foundation",
    "era": "bench.era",
    "dashboards": "bench.dashboards",
    "browser": "bench.browser",
    "notifications": "bench.notifications",
    "api": "bench.api",
    "catalog": "bench.catalog",
    "amd": "bench.amd",
    "audit_chain": "bench.audit_chain",
    "refresh": "bench.refresh",
    "tenfold": "bench.tenfold",
}
# Run only when named: the 10x practice takes about an hour per backend on an idle machine.
ON_REQUEST = {"tenfold"}
ALL_SIZES = "demo,small,medium,large"


def _table(columns: list[str], rows: list[dict]) -> str:
    head = "| " + " | ".join(columns) + " |\n| " + " | ".join("---" for _ in columns) + " |\n"
    return head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "suites", nargs="*", default=[], help=f"suites to run (default all): {', '.join(SUITES)}"
    )
    parser.add_argument("--sizes", default=None, help=f"default {ALL_SIZES} (a suite may have its own)")
    parser.add_argument("--backends", default="duckdb,postgres")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        print(f"error: unknown suite(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    RESULTS_DIR.mkdir(exist_ok=True)
    for name in args.suites or [s for s in SUITES if s not in ON_REQUEST]:
        module = importlib.import_module(SUITES[name])
        print(f"== {name}", flush=True)
        sizes = args.sizes or getattr(module, "DEFAULT_SIZES", ALL_SIZES)
        rows = module.run(argparse.Namespace(**{**vars(args), "sizes": sizes}))
        if not rows:
            print(f"  no figures from {name}; RESULTS.md keeps its previous ones", flush=True)
            continue
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(rows, indent=2, default=str))
        notes = module.notes(rows) if hasattr(module, "notes") else ""
        _write_section(name, module.TITLE, _table(module.COLUMNS, rows) + (f"\n{notes}" if notes else ""))
    print(f"results: {RESULTS_DIR / 'RESULTS.md'}")
    return 0


def _write_section(name: str, title: str, table: str) -> None:
    """Replace this suite's section of RESULTS.md, keeping the other suites' latest figures."""
    path = RESULTS_DIR / "RESULTS.md"
    sections: dict[str, str] = {}
    if path.exists():
        current = None
        for line in path.read_text().splitlines(keepends=True):
            if line.startswith("<!-- suite:"):
                current = line.split(":", 1)[1].strip(" ->\n")
                sections[current] = ""
            elif current:
                sections[current] += line
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections[name] = f"## {title}\n\nMeasured {stamp}.\n\n{table}\n"
    body = "# Benchmark results\n\nWritten by `make bench` (`python -m bench`).\n\n"
    body += "".join(f"<!-- suite: {k} -->\n{v}" for k, v in sections.items())
    path.write_text(body)


if __name__ == "__main__":
    sys.exit(main())
