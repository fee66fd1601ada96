"""The one place that maps the environment to a deployment: local, ci or prod.

It answers four questions, and assets never branch on the environment themselves:
which dbt target to run, where the warehouse is, where the operational store is, and whether
AdvancedMD is the real service or the local simulator (``MENTALSPACE_ADVANCEDMD``: ``live`` in
prod, ``simulator`` elsewhere unless set).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from operational_api.errors import PlatformError
from operational_api.settings import REPO_ROOT, database_url, practice_timezone, var_dir

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The dbt of this virtual environment (the pinned one), not whichever is first on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
DBT_TARGETS = {"dev": "duckdb", "ci": "duckdb", "prod": "postgres"}
# Set to 1 by the test suite only (tests/conftest.py): Dagster's `dbt build`s leave dbt's data tests out
# (orchestration/defs/dbt/assets.py, excluded_resource_types). They cost ~67 thread-seconds a build, and the suite
# builds dozens of warehouses for assertions of its own; it runs them once per kind of warehouse instead
# (tests/dbt/test_measures_demo.py), and on the hand-built edge cases of tests/dbt/test_compliance_alerts.py.
# Production never sets it: a refresh's data tests are its asset checks.
SKIP_DATA_TESTS_VAR = "MENTALSPACE_TEST_SKIP_DBT_DATA_TESTS"
# Set to 1 by the test suite only (tests/conftest.py): builds leave the analysts' catalog unwritten (the asset
# warehouse/catalog, orchestration/defs/dbt/assets.py). `dbt docs generate` costs ~5.4 CPU-s a new warehouse, and the
# suite builds dozens for assertions of their own; the shared small practice keeps it (tests/conftest.py), which
# tests/mentalspace_platform/test_catalog.py reads. Production never sets it.
SKIP_CATALOG_VAR = "MENTALSPACE_TEST_SKIP_CATALOG"
# Session settings of every connection to a PostgreSQL warehouse (dbt's, the landing's, the dashboards'), as libpq
# `options`. JIT off: PostgreSQL compiles a query's expressions to machine code once its estimated cost passes
# jit_above_cost (100,000), which the warehouse's analytic queries pass easily, and the compilation costs more than
# the query saves. fct_compliance_alerts on the 100-clinician practice: 19.4 s with JIT (27.6 s of compiling,
# spread over parallel workers), 2.4 s without (PostgreSQL 15, 2026-12-05).
WAREHOUSE_PG_OPTIONS = "-c jit=off"
ADVANCEDMD_SOURCES = ("live", "simulator")
AMD_CREDENTIAL_VARS = ("AMD_USERNAME", "AMD_PASSWORD", "AMD_OFFICE_KEY")
# A whole AdvancedMD run (every request, backoff and rate-limit wait of it) ends by then. An initial
# load of a large practice is the long case (off-peak: ~45 min for 5,000 patients at 120 calls/min).
AMD_RUN_DEADLINE_DEFAULT = 3600


@dataclass(frozen=True)
class Environment:
    """Where this deployment keeps its data and which dbt target builds it."""

    name: str
    dbt_target: str
    database_url: str
    warehouse_url: str
    practice_timezone: str
    advancedmd_source: str = "simulator"
    as_of_date: str = ""  # MENTALSPACE_AS_OF_DATE: the practice's pinned "today" (demo/tests), else empty
    amd_login_url: str = ""  # AMD_LOGIN_URL: a sandbox or a running simulator; empty = AdvancedMD's own
    amd_app_name: str = ""  # AMD_APP_NAME: the registered app name; empty = MENTALSPACE
    amd_run_deadline_seconds: int = AMD_RUN_DEADLINE_DEFAULT  # AMD_RUN_DEADLINE_SECONDS

    @property
    def warehouse_kind(self) -> str:
        return DBT_TARGETS[self.dbt_target]

    @property
    def dbt_target_path(self) -> Path:
        return Path(os.environ.get("MENTALSPACE_DBT_TARGET_PATH") or var_dir() / "dbt_target")

    @property
    def catalog_path(self) -> Path:
        """Where each build writes the analysts' catalog (dbt's docs site), served and published from there."""
        return Path(os.environ.get("MENTALSPACE_CATALOG_DIR") or var_dir() / "catalog")

    @property
    def duckdb_path(self) -> Path:
        return Path(self.warehouse_url.removeprefix("duckdb:///"))

    def dbt_env(self) -> dict[str, str]:
        """Variables `dbt_project/profiles.yml` reads (credentials only through env vars)."""
        env = {
            "DBT_TARGET": self.dbt_target,
            "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
            "MENTALSPACE_PRACTICE_TZ": self.practice_timezone,
            # Artifacts and logs per deployment, so parallel builds (tests, CI) never share them.
            "DBT_TARGET_PATH": str(self.dbt_target_path),
            "DBT_LOG_PATH": str(var_dir() / "dbt_logs"),
        }
        if self.warehouse_kind == "duckdb":
            env["MENTALSPACE_DUCKDB_PATH"] = str(self.duckdb_path)
        else:
            url = urlparse(self.warehouse_url)
            env.update(
                MENTALSPACE_PG_HOST=url.hostname or "127.0.0.1",
                MENTALSPACE_PG_PORT=str(url.port or 5432),
                MENTALSPACE_PG_USER=unquote(url.username or "postgres"),
                MENTALSPACE_PG_PASSWORD=unquote(url.password or ""),
                MENTALSPACE_PG_DATABASE=url.path.lstrip("/") or "postgres",
                MENTALSPACE_PG_SCHEMA=os.environ.get("MENTALSPACE_PG_SCHEMA", "analytics"),
                # dbt-postgres has no profile field for session settings; libpq reads them from PGOPTIONS.
                PGOPTIONS=warehouse_pg_options(),
            )
        return env


def warehouse_pg_options() -> str:
    """libpq `options` for a warehouse connection: the operator's PGOPTIONS, then ours (an explicit `options`
    replaces PGOPTIONS in libpq, so both are named)."""
    return " ".join(filter(None, (os.environ.get("PGOPTIONS"), WAREHOUSE_PG_OPTIONS)))


def current_environment() -> Environment:
    """Read the environment; an unknown dbt target or warehouse URL is a one-line PlatformError."""
    target = os.environ.get("DBT_TARGET", "dev")
    if target not in DBT_TARGETS:
        raise PlatformError(
            f"unknown dbt target '{target}' (DBT_TARGET): choose one of {', '.join(DBT_TARGETS)}"
        )
    warehouse_url = os.environ.get("MENTALSPACE_WAREHOUSE_URL", "")
    if DBT_TARGETS[target] == "duckdb":
        if warehouse_url and not warehouse_url.startswith("duckdb:///"):
            raise PlatformError(
                f"dbt target '{target}' builds DuckDB, but MENTALSPACE_WAREHOUSE_URL is not a duckdb:/// URL"
            )
        warehouse_url = warehouse_url or f"duckdb:///{var_dir() / 'warehouse.duckdb'}"
    elif not warehouse_url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise PlatformError(
            "dbt target 'prod' needs MENTALSPACE_WAREHOUSE_URL=postgresql://user@host:port/db"
        )
    name = {"dev": "local", "ci": "ci", "prod": "prod"}[target]
    advancedmd = os.environ.get("MENTALSPACE_ADVANCEDMD") or ("live" if name == "prod" else "simulator")
    if advancedmd not in ADVANCEDMD_SOURCES:
        raise PlatformError(f"unknown MENTALSPACE_ADVANCEDMD '{advancedmd}': choose live or simulator")
    deadline = os.environ.get("AMD_RUN_DEADLINE_SECONDS", "").strip()
    if deadline and not (deadline.isdigit() and int(deadline) > 0):
        raise PlatformError(f"AMD_RUN_DEADLINE_SECONDS must be a whole number of seconds, not '{deadline}'")
    return Environment(
        name,
        target,
        database_url(),
        warehouse_url,
        practice_timezone(),
        advancedmd,
        os.environ.get("MENTALSPACE_AS_OF_DATE", ""),
        os.environ.get("AMD_LOGIN_URL", "").strip(),
        os.environ.get("AMD_APP_NAME", "").strip(),
        int(deadline) if deadline else AMD_RUN_DEADLINE_DEFAULT,
    )


def missing_advancedmd_credentials() -> list[str]:
    """The AdvancedMD credential variables that are unset or empty (names only, never values)."""
    return [name for name in AMD_CREDENTIAL_VARS if not os.environ.get(name, "").strip()]
