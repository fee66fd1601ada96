"""Shared fixtures: isolated var/ folders, per-run PostgreSQL databases, and the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("MENTALSPACE_SHARED_DIR") or REPO_ROOT.parent / "shared")
# Real-world 835 files from public repositories (README, "Shared samples"), kept outside the repository:
# the tests that read them skip, with this reason, where they are absent.
EDI835_SAMPLES = SHARED_DIR / "edi835-samples"
NO_SHARED_SAMPLES = (
    f"shared 835 samples not found at {EDI835_SAMPLES} "
    "(set MENTALSPACE_SHARED_DIR to the folder holding edi835-samples/; see README)"
)
needs_shared_samples = pytest.mark.skipif(
    not (EDI835_SAMPLES / "golden.json").exists(), reason=NO_SHARED_SAMPLES
)
PG_ADMIN_URL = os.environ.get("MENTALSPACE_TEST_PG_URL")

# Variables that pick deployments; tests set their own and never inherit the developer's.
DEPLOYMENT_VARS = (
    "DATABASE_URL",
    "MENTALSPACE_WAREHOUSE_URL",
    "DBT_TARGET",
    "MENTALSPACE_VAR_DIR",
    "MENTALSPACE_DUCKDB_PATH",
    "MENTALSPACE_DBT_TARGET_PATH",
    "DAGSTER_HOME",
    "MENTALSPACE_AS_OF_DATE",
    "MENTALSPACE_ADVANCEDMD",
)


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private var/ folder: embedded store and warehouse for this test only."""
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "var"
    path.mkdir()
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(path))
    return path


def _pg_url(database: str) -> str:
    assert PG_ADMIN_URL
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@contextmanager
def new_pg_database(template: str | None = None) -> Iterator[str]:
    """A brand-new PostgreSQL database (dropped on exit); skips the caller without a server.

    For fixtures of any scope: a module that builds one practice for all its tests holds one database.
    `template` copies an existing database (one nobody is connected to), far quicker than migrating again.
    """
    if not PG_ADMIN_URL:
        pytest.skip("MENTALSPACE_TEST_PG_URL is not set")
    import psycopg

    name = f"ms_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
        con.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            con.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A brand-new PostgreSQL database for this test (dropped afterwards); skips without a server."""
    with new_pg_database() as url:
        yield url


def run_cli(*args: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run `mentalspace` as a user would, in a subprocess with only the given deployment variables."""
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mentalspace_cli.main", *args],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
