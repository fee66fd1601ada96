"""A hand-built practice goes store -> Dagster -> warehouse -> dbt, and the KVR comes out exactly right,
on the embedded path (SQLite + DuckDB) and the production path (PostgreSQL + dbt-postgres)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import Appointment, Client, User
from tests.conftest import run_cli

TZ = ZoneInfo("America/New_York")


def _utc(local: str) -> dt.datetime:
    """Practice-local wall-clock time as the naive UTC the store keeps."""
    aware = dt.datetime.fromisoformat(local).replace(tzinfo=TZ)
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def build_hand_practice(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    with session_scope(engine) as s:
        s.add_all(
            [
                User(
                    id=1,
                    email="a@x.example",
                    first_name="Ada",
                    last_name="Alpha",
                    role="CLINICIAN",
                    license_type="LPC",
                ),
                User(
                    id=2,
                    email="b@x.example",
                    first_name="Bo",
                    last_name="Beta",
                    role="CLINICIAN",
                    license_type="LMSW",
                ),
            ]
        )
        s.flush()
        s.add_all(
            [
                Client(id=1, first_name="Cy", last_name="One", status="ACTIVE"),
                Client(id=2, first_name="Di", last_name="Two", status="ACTIVE"),
            ]
        )
        s.flush()
        appointments = [
            # id, clinician, client, local start, status, rescheduled_from
            (1, 1, 1, "2026-03-02 10:00", "COMPLETED", None),
            (2, 1, 1, "2026-03-03 10:00", "NO_SHOW", None),
            (3, 1, 1, "2026-03-04 10:00", "CANCELLED", None),
            (4, 1, 1, "2026-03-05 10:00", "RESCHEDULED", None),  # original: excluded
            (5, 1, 1, "2026-03-06 10:00", "COMPLETED", 4),  # its replacement carries the outcome
            (6, 1, 2, "2026-02-28 22:30", "COMPLETED", None),  # Saturday night local = March 1 UTC: February
            (7, 1, 2, "2026-03-04 15:00", "SCHEDULED", None),  # never closed out: not final
            (8, 2, 2, "2026-03-02 11:00", "COMPLETED", None),  # client 2 also sees clinician 2
            (9, 2, 2, "2026-03-09 11:00", "COMPLETED", None),  # after the DST change
            (10, 2, 2, "2026-03-10 11:00", "NO_SHOW", None),
            (11, 1, 1, "2026-12-01 10:00", "SCHEDULED", None),  # future
            (
                12,
                2,
                1,
                "2026-03-08 23:30",
                "COMPLETED",
                None,
            ),  # Sunday night local = Monday UTC: week of Mar 2
        ]
        for aid, clinician, client, local, status, original in appointments:
            start = _utc(local)
            s.add(
                Appointment(
                    id=aid,
                    client_id=client,
                    clinician_id=clinician,
                    appointment_type="THERAPY_SESSION",
                    status=status,
                    start_at=start,
                    end_at=start + dt.timedelta(minutes=50),
                    booked_at=start - dt.timedelta(days=7),
                    rescheduled_from_id=original,
                )
            )
    engine.dispose()


EXPECTED = {
    # (scope, clinician, grain, period_start): (numerator, denominator, value)
    ("clinician", 1, "week", "2026-02-23"): (1, 1, "100.00"),
    ("clinician", 1, "week", "2026-03-02"): (2, 4, "50.00"),
    ("clinician", 1, "month", "2026-02-01"): (1, 1, "100.00"),
    ("clinician", 1, "month", "2026-03-01"): (2, 4, "50.00"),
    ("clinician", 2, "week", "2026-03-02"): (2, 2, "100.00"),
    ("clinician", 2, "week", "2026-03-09"): (1, 2, "50.00"),
    ("clinician", 2, "month", "2026-03-01"): (3, 4, "75.00"),
    ("practice", None, "week", "2026-02-23"): (1, 1, "100.00"),
    ("practice", None, "week", "2026-03-02"): (4, 6, "66.67"),
    ("practice", None, "week", "2026-03-09"): (1, 2, "50.00"),
    ("practice", None, "month", "2026-02-01"): (1, 1, "100.00"),
    ("practice", None, "month", "2026-03-01"): (5, 8, "62.50"),
}


def _check_kvr(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli("build", env=env)
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    frame = Warehouse(current_environment()).query(
        "select scope, clinician_id, period_grain, cast(period_start as varchar) as period_start, numerator, "
        "denominator, metric_value, change_from_previous from marts.fct_practice_metrics "
        "where metric_key = 'kept_visit_rate' and period_grain in ('week', 'month')"
    )
    got = {
        (r["scope"], r["clinician_id"], r["period_grain"], r["period_start"]): (
            int(r["numerator"]),
            int(r["denominator"]),
            f"{Decimal(str(r['metric_value'])):.2f}",
        )
        for r in frame.iter_rows(named=True)
    }
    assert got == EXPECTED
    march = frame.filter((frame["scope"] == "practice") & (frame["period_grain"] == "month")).sort(
        "period_start"
    )
    assert f"{Decimal(str(march['change_from_previous'][-1])):.2f}" == "-37.50"


def test_kvr_exact_on_sqlite_and_duckdb(parsed_var_dir, monkeypatch):
    env = {"MENTALSPACE_VAR_DIR": str(parsed_var_dir)}
    build_hand_practice(f"sqlite:///{parsed_var_dir / 'operational.db'}")
    _check_kvr(env, monkeypatch)


@pytest.mark.postgres
def test_kvr_exact_on_postgres(var_dir, parsed_pg_database, monkeypatch):
    env = {
        "MENTALSPACE_VAR_DIR": str(var_dir),
        "DATABASE_URL": parsed_pg_database,
        "DBT_TARGET": "prod",
        "MENTALSPACE_WAREHOUSE_URL": parsed_pg_database,
    }
    build_hand_practice(parsed_pg_database)
    _check_kvr(env, monkeypatch)
