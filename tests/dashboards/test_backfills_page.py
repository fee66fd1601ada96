"""The Backfills page launches a Dagster backfill through the webserver's GraphQL API and follows it to the end
(a week of the measures: the month partition covering it, one run); nobody but an administrator sees the page or
gets an answer from its loaders."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest
from sqlalchemy import select

from dashboards.data import backfills
from operational_api.audit import AuditEvent
from operational_api.db import get_engine, session_scope
from operational_api.settings import database_url
from tests.conftest import DEPLOYMENT_VARS, REPO_ROOT, copy_practice
from tests.dashboards.conftest import signed_in_app
from tests.servers import free_port

WEEK = (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
NOVEMBER = "2026-11-01"  # the measures' month partition covering WEEK


@pytest.fixture
def admin_demo(built_demo, tmp_path, monkeypatch) -> Path:
    var = tmp_path / "var"
    # Other tests read the shared demo meanwhile: copy_practice copies its store consistently.
    copy_practice(built_demo, var, ignore=("*.wal", "audit"))
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(var))
    return var


@pytest.fixture
def dagster_webserver(admin_demo, monkeypatch):
    """`dagster dev` (webserver + daemon) on a free loopback port, as `mentalspace serve` starts it."""
    from mentalspace_cli.main import DAGSTER_YAML

    home = admin_demo / "dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML.format(runs_dir=f'"{home / "history" / "runs"}"'))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    env |= {"MENTALSPACE_VAR_DIR": str(admin_demo), "DAGSTER_HOME": str(home)}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MENTALSPACE_DAGSTER_URL", url)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                body = httpx.post(
                    f"{url}/graphql", json={"query": "{ assetNodes { id } }"}, timeout=10
                ).json()
                if body.get("data", {}).get("assetNodes"):
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "dagster dev stopped"
            assert time.monotonic() < deadline, (
                "the Dagster webserver did not load the code location in 240 s"
            )
            time.sleep(2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _audit_rows(action: str) -> list[AuditEvent]:
    engine = get_engine(database_url())
    with session_scope(engine) as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())
    engine.dispose()
    return rows


def test_non_administrators_get_nothing_from_the_loaders(admin_demo):
    for role in ("CLINICIAN", "SUPERVISOR", "BILLING", "FRONT_DESK"):
        user = signed_in_app(admin_demo, role).session_state["auth_user"]
        with pytest.raises(backfills.BackfillRefused):
            backfills.backfill_groups(user)
        group = backfills.BackfillGroup("metrics", (("marts", "fct_practice_metrics"),), (NOVEMBER,))
        with pytest.raises(backfills.BackfillRefused):
            backfills.launch(user, group, *WEEK)
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            signed_in_app(admin_demo, role).switch_page("app_pages/backfills.py")
    refused = _audit_rows("backfill.launch")
    assert len(refused) == 4 and {r.outcome for r in refused} == {"refused"}


def _warehouse(var: Path, sql: str) -> tuple:
    with duckdb.connect(str(var / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchone()


def test_the_dates_map_to_the_partitions_covering_them():
    months = backfills.BackfillGroup("metrics", (), ("2026-10-01", "2026-11-01", "2026-12-01"))
    assert backfills.covering_partitions(months, *WEEK) == [NOVEMBER]
    assert backfills.covering_partitions(months, dt.date(2026, 10, 29), dt.date(2026, 11, 4)) == [
        "2026-10-01",
        NOVEMBER,
    ]
    assert backfills.covering_partitions(months, dt.date(2026, 12, 31), dt.date(2027, 1, 3)) == ["2026-12-01"]
    assert backfills.covering_partitions(months, dt.date(2027, 1, 2), dt.date(2027, 1, 3)) == []
    days = backfills.BackfillGroup("audit", (), tuple(f"2026-11-{d:02}" for d in range(10, 30)))
    assert backfills.covering_partitions(days, *WEEK) == [f"2026-11-{d}" for d in range(16, 23)]


def test_an_administrator_backfills_a_week_of_the_measures_and_the_run_completes(
    dagster_webserver, admin_demo
):
    builds = "select count(*) from reference.warehouse_builds"
    before = _warehouse(admin_demo, builds)[0]
    at = signed_in_app(admin_demo, "ADMIN")
    at.switch_page("app_pages/backfills.py").run()
    assert not at.exception and not at.info, [i.value for i in at.info]
    at.selectbox(key="bf_group").set_value("metrics").run()
    at.date_input(key="bf_days").set_value(WEEK).run()
    said = " ".join(c.value for c in at.caption)
    assert f"covering {WEEK[0]} to {WEEK[1]}: {NOVEMBER}" in said.replace("\\", ""), said
    at.button(key="bf_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    backfill_id = at.session_state["bf_launched"][0][0]
    user = at.session_state["auth_user"]
    deadline = time.monotonic() + 300
    while not (state := backfills.progress(user, backfill_id)).finished:
        assert time.monotonic() < deadline, f"backfill still {state.status} after 300 s: {state.runs}"
        time.sleep(3)
    assert state.status == "COMPLETED_SUCCESS", state
    assert state.partitions == 1 and state.runs == {"SUCCESS": 1}, "November, in one run"
    at.button(key="bf_refresh").click().run()
    assert "COMPLETED_SUCCESS" in set(at.dataframe[0].value["status"])
    # The run's dbt build was swapped into the live warehouse, November's measures in it. At least one: this
    # deployment's daemon also runs the 15-minute refresh (two dbt builds) when a quarter hour passes meanwhile.
    assert _warehouse(admin_demo, builds)[0] >= before + 1
    assert (
        _warehouse(
            admin_demo,
            f"select count(*) from marts.fct_practice_metrics where period_start >= '{NOVEMBER}' "
            "and period_grain = 'month' and metric_key = 'kept_visit_rate'",
        )[0]
        > 0
    )
    launches = _audit_rows("backfill.launch")
    assert [(r.actor_user_id, r.entity_id, r.outcome, r.detail["group"]) for r in launches] == [
        (user.user_id, backfill_id, "ok", "metrics")
    ]
    assert launches[0].detail["first_partition"] == launches[0].detail["last_partition"] == NOVEMBER
