"""Acceptance (issue 13): a whole clinical week entered through the HTTP API alone gives the warehouse the same
measures as the same week loaded as rows by the synthetic generator's bulk path.

`clinical_week.WEEK` is the week as facts. One store gets it through real uvicorn on loopback, each staff member
signed in with password and authenticator code; another gets `generator_rows()` through `bulk.load_tables`. Both
are built by `mentalspace build` (store -> warehouse -> dbt), "today" pinned to the Friday after the week, and
every measure of marts.fct_practice_metrics and the row count of every fact table must be equal. Only what
legitimately differs between two stores is mapped: record ids (clinicians are matched by name).
On SQLite + DuckDB always; on PostgreSQL (store and warehouse) with MENTALSPACE_TEST_PG_URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.api.server import BackgroundServer
from operational_api.bulk import load_tables
from operational_api.db import get_engine, migrate
from tests.conftest import DEPLOYMENT_VARS, adopt_run_parse_pg, new_pg_database, run_cli, run_dbt_parse
from tests.dbt_parse import adopt_dbt_parse
from tests.operational_api.api.clinical_week import (
    AS_OF,
    SETUP,
    WEEK,
    generator_rows,
    load_through_api,
)
from tests.operational_api.api.conftest import Clock

METRIC_KEY = ("metric_key", "scope", "period_grain", "period_start", "clinician")


@contextmanager
def _deployment(
    backend: str, var: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """(store URL, deployment variables) of a new empty practice holding the run's parse of the dbt project:
    SQLite + DuckDB in `var`, or one new PostgreSQL database holding the store and the warehouse (DBT_TARGET=prod)."""
    var.mkdir(parents=True)
    env = {"MENTALSPACE_VAR_DIR": str(var), "MENTALSPACE_AS_OF_DATE": AS_OF.isoformat()}
    if backend == "sqlite":
        adopt_dbt_parse(var, run_dbt_parse(tmp_path_factory))
        yield f"sqlite:///{var / 'operational.db'}", env
        return
    with new_pg_database() as url:
        adopt_run_parse_pg(var, url, tmp_path_factory)
        yield url, env | {"DATABASE_URL": url, "DBT_TARGET": "prod", "MENTALSPACE_WAREHOUSE_URL": url}


def _through_api(url: str) -> None:
    engine = get_engine(url)
    migrate(engine)
    clock = Clock(SETUP)
    try:
        with BackgroundServer(engine, clock=clock) as server:
            load_through_api(server.url, engine, clock)
    finally:
        engine.dispose()


def _through_generator_path(url: str) -> None:
    engine = get_engine(url)
    try:
        migrate(engine)
        load_tables(engine, generator_rows())
    finally:
        engine.dispose()


def _build(env: dict[str, str]) -> None:
    result = run_cli("build", env=env)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]


def _warehouse_figures(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[tuple, dict], dict[str, int]]:
    """Every row of fct_practice_metrics by its key (clinicians by name, not id), and each fact table's row count."""
    with monkeypatch.context() as patch:
        for name in DEPLOYMENT_VARS:
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        warehouse = Warehouse(current_environment())
        names = dict(
            warehouse.query("select clinician_id, clinician_name from marts.dim_clinicians").iter_rows()
        )
        metrics = {}
        for row in warehouse.query("select * from marts.fct_practice_metrics").iter_rows(named=True):
            clinician_id = row.pop("clinician_id")
            row["clinician"] = names[clinician_id] if clinician_id is not None else None
            key = tuple(row.pop(k) for k in METRIC_KEY)
            assert key not in metrics, key
            metrics[key] = row
        facts = warehouse.query(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name like 'fct%' order by table_name"
        )["table_name"].to_list()
        counts = {t: warehouse.query(f"select count(*) as n from marts.{t}")["n"].item() for t in facts}
    return metrics, counts


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_week_through_the_api_measures_like_the_same_week_loaded_by_the_generator(
    backend, tmp_path, tmp_path_factory, monkeypatch
):
    with ExitStack() as stack:
        api_url, api_env = stack.enter_context(
            _deployment(backend, tmp_path / "api" / "var", tmp_path_factory)
        )
        rows_url, rows_env = stack.enter_context(
            _deployment(backend, tmp_path / "rows" / "var", tmp_path_factory)
        )
        _through_api(api_url)
        _through_generator_path(rows_url)
        # The two builds are independent practices: side by side they take the time of one.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(_build, (api_env, rows_env)))
        api_metrics, api_counts = _warehouse_figures(api_env, monkeypatch)
        rows_metrics, rows_counts = _warehouse_figures(rows_env, monkeypatch)

    assert api_counts == rows_counts
    assert api_counts["fct_appointments"] == sum(ev.action in ("book", "reschedule") for ev in WEEK)
    assert set(api_metrics) == set(rows_metrics), "the same measures, periods and scopes"
    differing = {
        key: {f: (value, rows_metrics[key][f]) for f, value in row.items() if value != rows_metrics[key][f]}
        for key, row in api_metrics.items()
        if row != rows_metrics[key]
    }
    assert not differing, (
        f"{len(differing)} of {len(api_metrics)} rows differ (API, generator):\n"
        + "\n".join(f"{key}: {fields}" for key, fields in sorted(differing.items(), key=str)[:25])
    )
    # The week did reach the warehouse: 13 of its 19 final appointments kept (the rescheduled one is not final,
    # the replacement on the Monday after is the next week's).
    week = api_metrics["kept_visit_rate", "practice", "week", dt.date(2026, 6, 1), None]
    assert (week["numerator"], week["denominator"]) == (13, 19)


def _measure(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in METRIC_KEY}
