"""The analysts' catalog: dbt's documentation site of the warehouse, generated with each build and served.

`dbt docs generate` writes a static site (index.html, manifest.json, catalog.json): every model with its
description, grain and columns, and the column types the warehouse reports. `generate_catalog` runs it after a
build (the Dagster asset `warehouse/catalog`, so every refresh and `mentalspace build`) into the catalog folder
(`MENTALSPACE_CATALOG_DIR`, default `var/catalog/`): `mentalspace serve` serves that folder, and production
publishes it as it is (any static web server or bucket behind the practice's sign-in).

Kept cheap, since a refresh runs every 15 minutes: `--no-compile` (the site reads the models' descriptions and
code, not compiled SQL; compiling the project again would cost more than the catalog itself), and no dbt run at
all when nothing the site shows has changed since the folder was written: the fingerprint covers the dbt project's
files, the vars that shape its SQL and the warehouse's columns (information_schema), which is everything in the
site (the DuckDB and PostgreSQL catalogs carry no row counts).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mentalspace_platform.environment import DBT_EXECUTABLE, DBT_PROJECT_DIR, Environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.errors import PlatformError

# The site, in the order it is replaced: the page reads both JSON files when it loads.
SITE_FILES = ("manifest.json", "catalog.json", "index.html")
FINGERPRINT_FILE = ".fingerprint"
# What the dbt project's SQL and docs are made from (dbt_project.yml's model, macro and seed paths, and itself).
PROJECT_SOURCES = ("models", "macros", "materializations", "seeds", "dbt_project.yml")
# Environment variables dbt_project.yml turns into vars that change models' SQL (so their columns).
SQL_SHAPING_VARS = ("MENTALSPACE_SCHEDULING_RECORD", "MENTALSPACE_BILLING_RECORD")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
NOT_GENERATED = (
    "The analysts' catalog has not been generated yet: run `mentalspace build` (or wait for the next warehouse "
    "refresh), then reload."
)


@dataclass(frozen=True)
class CatalogResult:
    """What one `generate_catalog` call did."""

    folder: Path
    generated: bool  # False: the folder was already current
    seconds: float


def private_target_path(target_path: Path, prefix: str) -> Path:
    """A new folder beside dbt's target path for one dbt command, seeded with its partial parse (dbt then
    re-parses only what changed): dbt writes its artifacts in place, and others read the shared ones."""
    target_path.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=target_path))
    previous = target_path / PARTIAL_PARSE_FILE
    if previous.exists():
        shutil.copy2(previous, folder / PARTIAL_PARSE_FILE)
    return folder


def _warehouse_columns(env: Environment) -> bytes:
    # Every schema of the warehouse's own database: the raw ones landing writes and those dbt builds (which
    # PostgreSQL names after the profile's schema, `analytics_marts`).
    frame = Warehouse(env).query(
        "select table_schema, table_name, column_name, data_type, ordinal_position "
        "from information_schema.columns "
        "where table_catalog = current_database() and table_schema not in ('information_schema', 'pg_catalog') "
        "order by table_schema, table_name, ordinal_position"
    )
    return frame.write_csv().encode()


def project_files(sources: Iterable[str] = PROJECT_SOURCES) -> list[Path]:
    """The files of the dbt project's `sources` (its folders, whole, and its files), in a stable order."""
    paths = [DBT_PROJECT_DIR / source for source in sources]
    return [
        file
        for path in paths
        for file in (sorted(path.rglob("*")) if path.is_dir() else [path])
        if file.is_file()
    ]


def project_files_digest() -> hashlib._Hash:
    """A digest (to update further) of the dbt project's files: its models, macros, seeds and settings."""
    digest = hashlib.sha256()
    for file in project_files():
        digest.update(str(file.relative_to(DBT_PROJECT_DIR)).encode() + b"\0" + file.read_bytes())
    return digest


def fingerprint(env: Environment) -> str:
    """A digest of everything the site shows: the project's files, the SQL-shaping vars, the warehouse's columns."""
    digest = project_files_digest()
    for name in SQL_SHAPING_VARS:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    digest.update(f"target={env.dbt_target}\0".encode())
    digest.update(_warehouse_columns(env))
    return digest.hexdigest()


def generate_catalog(env: Environment, *, force: bool = False) -> CatalogResult:
    """Write the catalog site of `env`'s warehouse to its catalog folder (only when it would differ, unless
    `force`). Call it after a build, against the warehouse the build wrote (inside a staged build, its copy).

    Raises PlatformError, one line with dbt's last message, when dbt fails; the folder keeps the previous site."""
    started = time.perf_counter()
    folder = env.catalog_path
    current = fingerprint(env)
    marker = folder / FINGERPRINT_FILE
    if (
        not force
        and marker.exists()
        and marker.read_text() == current
        and all((folder / name).exists() for name in SITE_FILES)
    ):
        return CatalogResult(folder, False, time.perf_counter() - started)
    target = private_target_path(env.dbt_target_path, ".docs-")
    try:
        done = subprocess.run(
            [DBT_EXECUTABLE, "docs", "generate", "--no-compile", "--quiet", "--target", env.dbt_target,
             "--target-path", str(target)],
            cwd=DBT_PROJECT_DIR,
            env={**os.environ, **env.dbt_env()},
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            detail = (done.stdout + done.stderr).strip().splitlines()
            raise PlatformError("dbt docs generate failed: " + (detail[-1] if detail else "no output"))
        # With --no-compile dbt writes no manifest: the site takes the parsed one the build ran from (dbt
        # parse keeps it current, orchestration/defs/dbt/project.py).
        shutil.copy2(env.dbt_target_path / "manifest.json", target / "manifest.json")
        folder.mkdir(parents=True, exist_ok=True)
        # Each file replaced whole, so the site never serves half a file; the fingerprint last, so a failure
        # in between makes the next build write the site again.
        for name in SITE_FILES:
            os.replace(target / name, folder / name)
        marker.write_text(current)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return CatalogResult(folder, True, time.perf_counter() - started)


class _CatalogHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of the catalog folder; a one-line page until the first build has written it."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if (
            self.path.split("?")[0] in ("/", "/index.html")
            and not (Path(self.directory) / "index.html").exists()
        ):
            body = NOT_GENERATED.encode()
            self.send_response(503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self) -> None:
        # A rebuilt catalog must show on the next load, not whatever the browser kept.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass  # every page load is several requests; `mentalspace serve` keeps its terminal for errors


def serve(folder: Path, host: str, port: int) -> None:
    """Serve the catalog folder over HTTP until interrupted."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_CatalogHandler, directory=str(folder))
    with (
        http.server.ThreadingHTTPServer((host, port), handler) as server,
        contextlib.suppress(KeyboardInterrupt),
    ):
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """`python -m mentalspace_platform.catalog --port N`: what `mentalspace serve` runs for the catalog."""
    from mentalspace_platform.environment import current_environment

    parser = argparse.ArgumentParser(prog="python -m mentalspace_platform.catalog", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8580)
    parser.add_argument(
        "--dir", type=Path, default=None, help="default: MENTALSPACE_CATALOG_DIR or var/catalog"
    )
    args = parser.parse_args(argv)
    try:
        serve(args.dir or current_environment().catalog_path, args.host, args.port)
    except (PlatformError, OSError) as exc:
        print(f"error: analysts' catalog: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
