"""Shared fixtures: isolated var/ folders, per-run PostgreSQL databases, and the CLI as a subprocess."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
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


# End-to-end tests (marker `e2e`, left out of `make test-fast`): a practice built through the CLI, Dagster and dbt,
# a real browser, a 10,000-claim remittance, or the API schema fuzz. Every test that reads a shared built practice (the fixtures below)
# is one automatically; these are the modules and tests that build their own.
E2E_FIXTURES = ("built_demo", "built_practice")
E2E_TESTS = (
    "tests/dashboards/test_browser.py",
    "tests/dashboards/test_browser_layout.py",
    "tests/dashboards/test_postgres_pages.py",
    "tests/dbt/",
    "tests/operational_api/api/test_clinical_week.py",
    "tests/operational_api/api/test_schema_fuzz.py",
    "tests/operational_api/era/test_end_to_end.py",
    "tests/orchestration/test_dagster_swap.py",
    "tests/orchestration/test_era_pipeline.py",
    "tests/orchestration/test_warehouse_swap.py",
    "tests/orchestration/advancedmd/test_cli.py::test_backfill_of_30_daily_partitions",
    "tests/orchestration/advancedmd/test_dbt.py",
    "tests/orchestration/advancedmd/test_peak_day.py",
    "tests/orchestration/advancedmd/test_system_of_record.py",
    "tests/test_cli.py::test_rows_added_to_a_generated_practice_make_it_a_practices_own",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the end-to-end tests `e2e` (see E2E_TESTS), so `pytest -m "not e2e"` is the fast loop."""
    for item in items:
        if item.nodeid.startswith(E2E_TESTS) or set(E2E_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


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


# The smallest practice a build makes (one clinician, one month): enough for the orchestration tests, which are
# about runs, swaps and postings rather than figures.
SMALL_PRACTICE = ("--clinicians", "1", "--months", "1", "--as-of", "2026-11-25")


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, practice_args: tuple[str, ...]) -> Path:
    """The var/ folder of a practice built through `mentalspace build --fresh` once per test run.

    Even with pytest-xdist only one worker builds: the first takes a lock in the run's shared temporary
    folder and builds, the others wait for it and reuse the result. Callers must not change what they get
    (the dashboards' demo touches only rows no other test reads); `copy_practice` gives a test its own copy.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent / f"{name}-{run_id}") if run_id else (root / name)
    shared.mkdir(parents=True, exist_ok=True)
    var = shared / "var"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (shared / ".built").exists():
                var.mkdir(exist_ok=True)
                result = run_cli("build", "--fresh", *practice_args, env={"MENTALSPACE_VAR_DIR": str(var)})
                # Kept for the PHI-in-logs scan (test_no_phi_in_logs.py): every line the build printed.
                (var / "build_output.log").write_text(result.stdout + result.stderr)
                assert result.returncode == 0, result.stderr[-2000:]
                (shared / ".built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return var


def copy_practice(source: Path, target: Path, *, ignore: tuple[str, ...] = ()) -> Path:
    """A private copy of a built var/ folder: the store, the warehouse and dbt's artifacts.

    Other tests read the source meanwhile, and each SQLite connection that closes last checkpoints the store's
    WAL and deletes operational.db-wal and -shm: copying those files races with it (a file gone mid-copy, or a
    WAL that no longer matches the database copied before it). So the store is copied through SQLite's backup
    API, one consistent database with no WAL or shared memory beside it. The Dagster instance is left behind
    (its dagster.yaml names the source folder): the copy gets an empty Dagster home, which `mentalspace` fills
    on first use and `dagster` itself can run in. Lock files and logs are left behind too, and what `ignore`
    names (shutil.ignore_patterns).
    """
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns("dagster", "dbt_logs", "*.lock", "operational.db*", *ignore),
        dirs_exist_ok=True,
    )
    store = source / "operational.db"
    if store.exists():
        with (
            # An ordinary connection, not mode=ro: a read-only one cannot take part in the WAL's shared-memory
            # index properly and left the shared store failing other processes' writes with "disk I/O error".
            closing(sqlite3.connect(store, timeout=60)) as src,
            closing(sqlite3.connect(target / "operational.db")) as dst,
        ):
            src.backup(dst)
    (target / "dagster").mkdir(exist_ok=True)
    return target


@pytest.fixture(scope="session")
def built_practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest practice (SMALL_PRACTICE), built once per run; read it, or `copy_practice` it to change it."""
    return build_once(tmp_path_factory, "small-practice", SMALL_PRACTICE)


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
