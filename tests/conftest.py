"""Shared fixtures: isolated var/ folders, per-run PostgreSQL databases, and the CLI as a subprocess.

Sharing built practices (issue 17: the whole suite well under 15 minutes on 2 cores). A build (store -> Dagster ->
warehouse -> dbt) costs tens of seconds to minutes; copying a built one costs well under a second. So:

- One built practice per (size, backend) for the whole run, even with pytest-xdist (`shared_once`: the first
  worker builds under a file lock, the others wait and reuse it). Sizes: SMALL_PRACTICE (`built_practice`),
  MEDIUM_PRACTICE (`built_medium`, `built_medium_pg`) and the dashboards' demo (`built_demo`,
  tests/dashboards/conftest.py). Use one of them rather than `mentalspace build` in a test; a new size only when no
  existing one can carry the test's assertions, made with `build_once` / `build_once_pg` in a `@shared_build`
  fixture: every worker starts building, in the background, the shared practices its collected tests read, so a
  build overlaps the tests that need none instead of keeping a worker waiting.
- Read a shared practice as it is; to change it (a write, a run, a dbt invocation: dbt writes its artifacts into
  var/), take a copy: `copy_practice` (a file copy of var/, the store through SQLite's backup API) or
  `copy_pg_practice` (`create database ... template`). Module-scoped copies where a module's tests can share one.
- A PostgreSQL practice is a template database closed to connections, dropped at the run's end by the controller
  (pytest_sessionfinish); a test never connects to it, only to its copy.
- Tests reading a `@shared_build` fixture are end-to-end (marker `e2e`) automatically; a test building its own
  practice is listed in E2E_TESTS.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import pytest

from mentalspace_platform.catalog import PARTIAL_PARSE_FILE
from mentalspace_platform.environment import SKIP_CATALOG_VAR, SKIP_DATA_TESTS_VAR
from tests.dbt_parse import adopt_dbt_parse, adopt_postgres_parse

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
# Every `dbt build` of the run, in this process and the CLI's, leaves dbt's data tests out; the suite runs them once
# per kind of warehouse (tests/dbt/test_measures_demo.py). Set it to 0 to have every build run them.
os.environ.setdefault(SKIP_DATA_TESTS_VAR, "1")
# Nor the analysts' catalog, but in the shared small practice (built_practice), whose catalog the catalog's tests read.
os.environ.setdefault(SKIP_CATALOG_VAR, "1")
# The tests' own dbt commands write dbt's log file at info rather than dbt's default, debug (the platform's builds
# write warnings only: DBT_BUILD_FLAGS): a debug line per statement and cache event costs 6-7 % of a command's CPU
# (the small practice's `dbt build`: 10.4 against 9.7 CPU-s). The dashboards' demo keeps dbt's default for its
# parse: test_no_phi_in_logs.py scans every line dbt can write.
DBT_FILE_LOG_LEVEL_VAR = "DBT_LOG_LEVEL_FILE"
os.environ.setdefault(DBT_FILE_LOG_LEVEL_VAR, "info")

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
# a real browser, a 10,000-claim remittance, or the API schema fuzz. Every test that reads a shared built practice
# (a `shared_build` fixture) is one automatically; these are the modules and tests that build their own.
E2E_TESTS = (
    "tests/dashboards/test_browser.py",
    "tests/dashboards/test_browser_layout.py",
    "tests/dashboards/test_postgres_pages.py",
    "tests/dbt/",
    "tests/operational_api/api/test_clinical_week.py",
    "tests/operational_api/api/test_schema_fuzz.py",
    "tests/operational_api/era/test_end_to_end.py",
    "tests/orchestration/test_dagster_swap.py",
    "tests/orchestration/test_era_fan_out.py",
    "tests/orchestration/test_era_pipeline.py",
    "tests/orchestration/test_incremental_refresh.py",
    "tests/orchestration/test_warehouse_swap.py",
    "tests/orchestration/advancedmd/test_cli.py::test_backfill_of_30_daily_partitions",
    "tests/orchestration/advancedmd/test_dbt.py",
    "tests/orchestration/advancedmd/test_peak_day.py",
    "tests/orchestration/advancedmd/test_provider_links.py",
    "tests/orchestration/advancedmd/test_system_of_record.py",
    "tests/test_cli.py::test_rows_added_to_a_generated_practice_make_it_a_practices_own",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the end-to-end tests `e2e` (see E2E_TESTS), which `make test-fast` leaves out of its packages' tests
    (`-m "not e2e"`); run the tests reading a shared practice after the others."""
    for item in items:
        if item.nodeid.startswith(E2E_TESTS) or _shared_builds_read(item):
            item.add_marker(pytest.mark.e2e)
    # The tests reading a shared practice last, in their order: the others run while it is built ahead of need.
    items.sort(key=lambda item: bool(_shared_builds_read(item)))


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private var/ folder: embedded store and warehouse for this test only."""
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "var"
    path.mkdir()
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(path))
    return path


def _parse_like_a_first_load(var: Path, env: dict[str, str]) -> None:
    """dbt's parse of the project in the var/ folder `var` of the deployment `env`, made as a fresh var/ folder's
    first definitions load makes it (orchestration/defs/dbt/project.py)."""
    # In a process of its own: the environment it needs (MENTALSPACE_VAR_DIR) is process-wide, and this runs
    # beside the worker's tests (shared builds are made ahead of need in a thread).
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    subprocess.run(
        [sys.executable, "-c", "from orchestration.defs.dbt.project import dbt_project; dbt_project()"],
        env={**clean, "MENTALSPACE_VAR_DIR": str(var), **env},
        cwd=REPO_ROOT,
        check=True,
        timeout=STEP_TIMEOUT,
    )


def run_dbt_parse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The var/ folder of the run's one parse of the dbt project for the embedded target (shared_once); each
    embedded folder adopts it (tests/dbt_parse.py)."""
    return shared_once(tmp_path_factory, "dbt-manifest", lambda var: _parse_like_a_first_load(var, {}))


_warm_dbt = None  # this process's WarmDbt, once a test asked for it


def warm_dbt_executable() -> str:
    """The dbt to run the tests' own dbt commands with: this process's pre-warmed dbt (mentalspace_platform/dbt_warm.py,
    as each Dagster run starts one), started on first use and stopped with the process. Each command then forks a
    process that has imported dbt already, rather than importing it again (about 2.5 CPU-s on a 2-core machine)."""
    global _warm_dbt
    from mentalspace_platform import dbt_warm

    if _warm_dbt is None:
        _warm_dbt = dbt_warm.start()
    return str(_warm_dbt.client)


def _run_parse_database() -> str:
    """The database the run's PostgreSQL parse is made for: none such exists (dbt's parse connects to nothing),
    and its name, which carries the run's id, is rewritten to each adopting folder's (tests/dbt_parse.py)."""
    return f"ms_parse_{run_id()[:12]}"


def run_dbt_parse_pg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The var/ folder of the run's one parse of the dbt project for the PostgreSQL target (shared_once), for the
    database `_run_parse_database()`; a PostgreSQL folder adopts it for its own (`adopt_run_parse_pg`)."""
    url = _pg_url(_run_parse_database())
    return shared_once(
        tmp_path_factory,
        "dbt-manifest-postgres",
        lambda var: _parse_like_a_first_load(var, postgres_env(var, url)),
    )


def adopt_run_parse_pg(var: Path, url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Give the new var/ folder `var` of the PostgreSQL warehouse `url` the run's parse (`run_dbt_parse_pg`): each
    fresh PostgreSQL folder would otherwise parse the whole project at its first definitions load (10-12 CPU-s on
    a 2-core machine), and each copied one at every dbt command."""
    adopt_postgres_parse(var, run_dbt_parse_pg(tmp_path_factory), _pg_url(_run_parse_database()), url)


@pytest.fixture(scope="session")
def parsed_dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's manifest of the project for the embedded target, parsed once per run (`run_dbt_parse`)."""
    return run_dbt_parse(tmp_path_factory) / "dbt_target" / "manifest.json"


@pytest.fixture
def parsed_var_dir(var_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`var_dir` holding the run's parse of the dbt project (`run_dbt_parse`, adopted: tests/dbt_parse.py), for
    tests that run dbt or load the Dagster definitions there, on the embedded warehouse: each new folder would
    otherwise parse the whole dbt project again. A test of the parse itself uses `var_dir`."""
    adopt_dbt_parse(var_dir, run_dbt_parse(tmp_path_factory))
    return var_dir


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


@pytest.fixture
def parsed_pg_database(var_dir: Path, pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`pg_database`, with `var_dir` holding the run's parse of the dbt project for it (`adopt_run_parse_pg`): the
    PostgreSQL counterpart of `parsed_var_dir`, for tests that build a warehouse of their own there."""
    adopt_run_parse_pg(var_dir, pg_database, tmp_path_factory)
    return pg_database


# Empty stores at the latest schema: migrated once per worker and copied per test (a file copy, or CREATE DATABASE
# ... TEMPLATE), a small fraction of migrating each time (about 1 s on SQLite and 3 s on PostgreSQL under load).


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store at the latest schema; `fresh_sqlite_store` copies it."""
    from operational_api.db import get_engine, migrate

    path = tmp_path_factory.mktemp("migrated") / "store.db"
    engine = get_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file and removes it
    return path


def fresh_sqlite_store(migrated: Path, path: Path) -> str:
    """The URL of `path`, a private copy of the migrated store (`migrated_sqlite`)."""
    shutil.copyfile(migrated, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_pg() -> Iterator[str]:
    """The name of an empty PostgreSQL store at the latest schema, closed to connections: a template for
    `new_pg_database(template=...)`."""
    import psycopg

    from operational_api.db import get_engine, migrate

    with new_pg_database() as url:
        engine = get_engine(url)
        migrate(engine)
        engine.dispose()
        name = url.rpartition("/")[2]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            con.execute(f'alter database "{name}" with allow_connections false')
        yield name


# The smallest practice a build makes (one clinician, one month): enough for the orchestration tests, which are
# about runs, swaps and postings rather than figures.
SMALL_PRACTICE = ("--clinicians", "1", "--months", "1", "--as-of", "2026-11-25")


_RUN_ID = uuid.uuid4().hex  # a run without xdist: this process is the whole run


def run_id() -> str:
    """This test run's id: the same in every pytest-xdist worker and in the controller (pytest_configure)."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or _RUN_ID


def shared_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A var/ folder made by `make(var)` once per test run, whichever worker asks first.

    Even with pytest-xdist only one worker makes it: the first takes a lock in the run's shared temporary
    folder and makes it, the others wait for it and reuse the result. Built ahead of need (`shared_build`), a
    practice someone else holds the lock of is left to them instead of waited for.
    """
    xdist_run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent / f"{name}-{xdist_run}") if xdist_run else (root / name)
    shared.mkdir(parents=True, exist_ok=True)
    var = shared / "var"
    with open(shared / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (fcntl.LOCK_NB if _building_ahead.get() else 0))
        except BlockingIOError:
            raise _BeingBuilt(name) from None
        try:
            if not (shared / ".built").exists():
                var.mkdir(exist_ok=True)
                make(var)
                (shared / ".built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return var


# ---- Shared builds made ahead of need --------------------------------------------------------------------------
# A worker waiting on another's build of the practice its next test reads leaves a core idle. So each worker, once
# it has collected the run, builds the shared practices its tests read in a background thread, one at a time, in
# the order the tests come, while the tests that need none run; a build another worker already holds is left to it.
# A test reaching a practice before it is done waits for it (shared_once), as it would have without this.

_SHARED_BUILDS: set[Callable[..., object]] = set()
_building_ahead: ContextVar[bool] = ContextVar("building_ahead", default=False)
_ahead_done = threading.Event()
_ahead_done.set()  # until a thread starts
_stop_building_ahead = threading.Event()
_cli_processes: set[subprocess.Popen[str]] = set()  # run_cli's children now running, for pytest_sessionfinish


class _BeingBuilt(Exception):
    """Raised ahead of need for a shared practice someone else is building."""


def shared_build(make: Callable[[pytest.TempPathFactory], object]) -> Callable[..., object]:
    """A session fixture that returns a shared practice, `make(tmp_path_factory)` (through shared_once), built
    ahead of need for the tests that read it."""
    _SHARED_BUILDS.add(make)
    return pytest.fixture(scope="session")(make)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the shared practices this worker's collected tests read (each worker collects the whole run)."""
    if session.config.option.collectonly:
        return
    builds = list(dict.fromkeys(make for item in session.items for make in _shared_builds_read(item)))
    if builds:
        factory = session.config._tmp_path_factory  # the object the tmp_path_factory fixture returns
        # Made here, before the thread starts: pytest's getbasetemp is not thread-safe. Called first by the builds'
        # thread and a test at once, each emptied and made the folder, deleting what the other had begun writing
        # in it (a CI run failed migrating a store whose file vanished mid-migration).
        factory.getbasetemp()
        _ahead_done.clear()
        threading.Thread(
            target=_build_ahead, args=(factory, builds), name="shared builds", daemon=True
        ).start()


def _shared_builds_read(item: pytest.Item) -> list[Callable[..., object]]:
    """The `shared_build` fixtures a test reads, directly or through other fixtures."""
    info = getattr(item, "_fixtureinfo", None)
    return (
        [d[-1].func for d in info.name2fixturedefs.values() if d[-1].func in _SHARED_BUILDS] if info else []
    )


def _build_ahead(factory: pytest.TempPathFactory, builds: list[Callable[..., object]]) -> None:
    _building_ahead.set(True)
    try:
        for make in builds:
            if _stop_building_ahead.is_set():
                return
            # A failed build is built again by the test reading it, which reports why.
            with suppress(BaseException):
                make(factory)
    finally:
        _ahead_done.set()


def _end_building_ahead(interrupted: bool) -> None:
    """No new build; the one under way is finished (another worker may need it), or killed when the run was cut."""
    _stop_building_ahead.set()
    if interrupted:
        for process in list(_cli_processes):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    _ahead_done.wait(STEP_TIMEOUT)


# How long one step a test waits on (a build, a refresh, a dbt invocation, a job run in a subprocess) may take
# before the test calls it hung. Generous on purpose: a loaded 2-core machine (several suites at once) made builds
# and refreshes of a few minutes take over ten, and a shared build's failure errors every test reading it. Waits
# that check a promised speed ("fails within a minute") keep their own figure.
STEP_TIMEOUT = 1800


def _build_practice(var: Path, practice_args: tuple[str, ...], env: dict[str, str]) -> None:
    result = run_cli(
        "build",
        "--fresh",
        *practice_args,
        env={"MENTALSPACE_VAR_DIR": str(var), **env},
    )
    # Kept for the PHI-in-logs scan (test_no_phi_in_logs.py): every line the build printed.
    (var / "build_output.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]


def build_once(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    practice_args: tuple[str, ...],
    env: dict[str, str] | None = None,
    *,
    adopt_parse: bool = True,
) -> Path:
    """The var/ folder of a practice built through `mentalspace build --fresh` once per test run (embedded
    store and warehouse; shared_once), `env` added to the build's environment, from the run's dbt parse unless
    `adopt_parse` is False (then the build parses, as a new deployment's first does). Callers must not change what
    they get (the dashboards' demo touches only rows no other test reads); `copy_practice` gives a test its own
    copy."""

    def build(var: Path) -> None:
        if adopt_parse:
            adopt_dbt_parse(var, run_dbt_parse(tmp_path_factory))
        _build_practice(var, practice_args, env or {})

    return shared_once(tmp_path_factory, name, build)


def copy_practice(source: Path, target: Path, *, ignore: tuple[str, ...] = ()) -> Path:
    """A private copy of a built var/ folder: the store, the warehouse and dbt's artifacts, its dbt parse adopted
    for the copy's own warehouse path (tests/dbt_parse.py; else each dbt command there would parse the whole project).

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
    if (source / "operational.db").exists():
        copy_store(source / "operational.db", target / "operational.db")
    if (source / "warehouse.duckdb").exists() and (source / "dbt_target" / PARTIAL_PARSE_FILE).exists():
        adopt_dbt_parse(target, source)
    (target / "dagster").mkdir(exist_ok=True)
    return target


def copy_store(store: Path, target: Path) -> None:
    """A private copy of an embedded store that others use meanwhile, through SQLite's backup API.

    Never a file copy: opening and closing the store's files in a process that holds SQLite connections to them
    drops that process's POSIX locks (they belong to the process, not the file descriptor), so another process's
    last connection checkpoints and deletes the WAL under them ("disk I/O error", then "malformed")."""
    with (
        # An ordinary connection, not mode=ro: a read-only one cannot take part in the WAL's shared-memory
        # index properly and left the shared store failing other processes' writes with "disk I/O error".
        closing(sqlite3.connect(store, timeout=60)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


@shared_build
def built_practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest practice (SMALL_PRACTICE), built once per run with the analysts' catalog (SKIP_CATALOG_VAR;
    test_catalog.py reads it); read it, or `copy_practice` it to change it."""
    return build_once(tmp_path_factory, "small-practice", SMALL_PRACTICE, {SKIP_CATALOG_VAR: "0"})


# ---- PostgreSQL practices: built once per run into a template database, copied for each user ----------------

TEMPLATE_PREFIX = "ms_tpl_"


@dataclass(frozen=True)
class PgPractice:
    """A practice built once per run on PostgreSQL (store and warehouse in one database, DBT_TARGET=prod): the
    template database holding it and its var/ folder (Dagster home, dbt artifacts, demo sign-ins)."""

    template: str
    var: Path


def postgres_env(var: Path, url: str) -> dict[str, str]:
    """The deployment variables of a practice whose store and warehouse are the PostgreSQL database `url`."""
    return {
        "MENTALSPACE_VAR_DIR": str(var),
        "DATABASE_URL": url,
        "DBT_TARGET": "prod",
        "MENTALSPACE_WAREHOUSE_URL": url,
    }


def _template_name(name: str) -> str:
    return f"{TEMPLATE_PREFIX}{run_id()[:12]}_{name.replace('-', '_')}"


def build_once_pg(
    tmp_path_factory: pytest.TempPathFactory, name: str, practice_args: tuple[str, ...]
) -> PgPractice:
    """A practice built through `mentalspace build --fresh` on PostgreSQL once per test run (shared_once), kept as
    a template database that nobody connects to: `copy_pg_practice` gives each user a copy. Dropped at the run's
    end (pytest_sessionfinish)."""
    if not PG_ADMIN_URL:
        pytest.skip("MENTALSPACE_TEST_PG_URL is not set")
    import psycopg

    template = _template_name(name)

    def make(var: Path) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            _drop_template(con, template)  # left by a worker whose build failed
            con.execute(f'create database "{template}"')
        adopt_run_parse_pg(var, _pg_url(template), tmp_path_factory)
        _build_practice(var, practice_args, postgres_env(var, _pg_url(template)))
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            # CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template: closed to
            # connections, neither a test nor autovacuum can get in the way of a copy.
            con.execute(f'alter database "{template}" with is_template true allow_connections false')

    return PgPractice(template, shared_once(tmp_path_factory, f"{name}-postgres", make))


@contextmanager
def copy_pg_practice(practice: PgPractice, var: Path) -> Iterator[dict[str, str]]:
    """A private copy of a PostgreSQL practice (its database copied from the template inside PostgreSQL, well
    under a second for a small practice, and its var/ folder with the template's dbt parse adopted for the copy's
    database): the deployment variables pointing at it."""
    with new_pg_database(template=practice.template) as url:
        copy_practice(practice.var, var)
        adopt_postgres_parse(var, practice.var, _pg_url(practice.template), url)
        yield postgres_env(var, url)


def _drop_template(con, name: str) -> None:
    exists = con.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    if exists:
        con.execute(f'alter database "{name}" with is_template false')
        con.execute(f'drop database "{name}" with (force)')


def pytest_configure(config: pytest.Config) -> None:
    """The controller (or a run without xdist) fixes the run id its workers get, so it can drop their templates."""
    global _RUN_ID
    if hasattr(config, "workerinput") or not hasattr(config.option, "testrunuid"):
        return
    if config.option.testrunuid is None:
        config.option.testrunuid = _RUN_ID
    _RUN_ID = config.option.testrunuid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Building ahead ended (each process); the run's template databases, dropped once every worker is done with
    them (by the controller)."""
    _end_building_ahead(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED or bool(session.shouldfail))
    if _warm_dbt is not None:
        _warm_dbt.stop()
    if hasattr(session.config, "workerinput") or not PG_ADMIN_URL:
        return
    import psycopg

    prefix = _template_name("")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
        names = [row[0] for row in con.execute("select datname from pg_database")]
        for name in names:
            if name.startswith(prefix):
                _drop_template(con, name)


@shared_build
def built_practice_pg(tmp_path_factory: pytest.TempPathFactory) -> PgPractice:
    """SMALL_PRACTICE on PostgreSQL, built once per run; `copy_pg_practice` gives a test its copy."""
    return build_once_pg(tmp_path_factory, "small-practice", SMALL_PRACTICE)


# Four clinicians over four months, as of SMALL_PRACTICE's date: three whole months of every measure and figures on
# every page, for the tests that check figures; one build per backend for the whole run.
MEDIUM_PRACTICE = ("--clinicians", "4", "--months", "4", "--as-of", "2026-11-25")


@shared_build
def built_medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MEDIUM_PRACTICE on the embedded path, built once per run; read it, or `copy_practice` it to change it."""
    return build_once(tmp_path_factory, "medium-practice", MEDIUM_PRACTICE)


@shared_build
def built_medium_pg(tmp_path_factory: pytest.TempPathFactory) -> PgPractice:
    """MEDIUM_PRACTICE on PostgreSQL, built once per run; `copy_pg_practice` gives a test or a module its copy."""
    return build_once_pg(tmp_path_factory, "medium-practice", MEDIUM_PRACTICE)


def run_cli(
    *args: str, env: dict[str, str], timeout: float = STEP_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run `mentalspace` as a user would, in a subprocess with only the given deployment variables.

    In a session of its own: a command past its timeout, or cut short with the run, is killed with the processes
    it started (Dagster's, dbt)."""
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    clean.update(env)
    command = [sys.executable, "-m", "mentalspace_cli.main", *args]
    with subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        _cli_processes.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
        finally:
            _cli_processes.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
