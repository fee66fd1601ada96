"""A backfill of some months of the measures (month partitions, one dbt build for the range) gives, for the periods
starting in them, exactly what a full rebuild gives, and leaves every other period's rows as they were; a run
without partitions (the refresh, `mentalspace build`) still rebuilds every period. Both write a copy of the
embedded warehouse and swap it in, as every Dagster run does (tests/orchestration/test_dagster_swap.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.lib.runner import run_job

# Two month partitions in one run (the small practice, as of 2026-11-25, has periods in October and November);
# December has no periods yet (after the as-of date).
RANGE = ("2026-11-01", "2026-12-01")
METRICS = "select * from marts.fct_practice_metrics order by all"
KEY = ["metric_key", "scope", "period_grain", "period_start", "clinician_id"]


def _metrics(var: Path) -> dict[tuple, dict]:
    with duckdb.connect(str(var / "warehouse.duckdb"), read_only=True) as con:
        cursor = con.execute(METRICS)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    records = [dict(zip(names, row, strict=True)) for row in rows]
    table = {tuple(r[k] for k in KEY): r for r in records}
    assert len(table) == len(rows), "one row per measure, scope, period and clinician"
    return table


def _in_range(key: tuple) -> bool:
    return str(key[3]) >= RANGE[0]


def test_a_backfill_of_a_range_of_months_equals_a_full_rebuild_of_them(practice_copy):
    var, defs = practice_copy
    instance = dg.DagsterInstance.ephemeral()
    before = _metrics(var)
    # Kept visits of November's last week become no-shows: KVR, no-show rate, sessions, revenue... of November's
    # days, weeks and month change; no earlier period reads them.
    with sqlite3.connect(var / "operational.db") as con:
        changed = con.execute(
            "update appointments set status = 'NO_SHOW' where status = 'COMPLETED' "
            "and start_at >= '2026-11-16' and start_at < '2026-11-25'"
        ).rowcount
    assert changed > 0
    # The appointments land and the models between them and the measures are rebuilt (a refresh's first steps,
    # cut to what the change touches): the backfill and the full rebuild below then read the same inputs.
    upstream = [
        dg.AssetKey(["operational", "appointments"]),
        dg.AssetKey(["staging", "stg_operational__appointments"]),
        dg.AssetKey(["intermediate", "int_appointments_unioned"]),
        dg.AssetKey(["marts", "fct_appointments"]),
    ]
    landed = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=upstream, raise_on_error=False
    )
    assert landed.success, [e.message for e in landed.all_events if e.is_step_failure]
    assert _metrics(var) == before

    # A row of October, outside the range, that no build would write: it survives the backfill.
    sentinel = next(k for k in before if k[0] == "kept_visit_rate" and str(k[3]) < RANGE[0])
    with duckdb.connect(str(var / "warehouse.duckdb")) as con:
        con.execute(
            "update marts.fct_practice_metrics set numerator = -1 where metric_key = ? and scope = ? "
            "and period_grain = ? and period_start = ? and clinician_id is not distinct from ?",
            list(sentinel),
        )

    backfill = run_job(defs, "metrics_backfill_job", partition_range=RANGE, instance=instance)
    materialized = {
        (e.asset_key.to_user_string(), e.partition)
        for e in backfill.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert {p for k, p in materialized if k == "marts/fct_practice_metrics"} == set(RANGE)
    backfilled = _metrics(var)
    assert not list(var.glob(".warehouse.duckdb.building*")), "the backfill's copy was swapped in"
    assert backfilled[sentinel]["numerator"] == -1, "October was not rebuilt"

    run_job(defs, "metrics_backfill_job", instance=instance)  # no partitions: every period, from scratch
    rebuilt = _metrics(var)
    assert rebuilt[sentinel] == before[sentinel]

    november = {k for k in rebuilt if _in_range(k)}
    assert november and {k for k in backfilled if _in_range(k)} == november
    assert {k: backfilled[k] for k in november} == {k: rebuilt[k] for k in november}
    assert {k: backfilled[k] for k in november} != {k: before[k] for k in november if k in before}
    # Every measure of every period, the sentinel aside, is the full rebuild's.
    assert {k: v for k, v in backfilled.items() if k != sentinel} == {
        k: v for k, v in rebuilt.items() if k != sentinel
    }


def test_the_cli_backfills_the_months_covering_its_dates(var_dir, capsys):
    from mentalspace_cli.main import main
    from mentalspace_cli.metrics import months_covering

    assert months_covering(dt.date(2026, 11, 16), dt.date(2026, 11, 22)) == ("2026-11-01", "2026-11-01")
    assert months_covering(dt.date(2026, 10, 29), dt.date(2026, 12, 2)) == ("2026-10-01", "2026-12-01")
    assert main(["metrics", "backfill", "--start", "2026-11-22", "--end", "2026-11-16"]) == 2
    assert main(["metrics", "backfill", "--start", "2026-11-22"]) == 2
    assert main(["metrics", "backfill", "--full", "--start", "2026-11-22", "--end", "2026-11-23"]) == 2
    assert main(["metrics", "backfill", "--start", "2019-01-01", "--end", "2019-01-02"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "error: --end 2026-11-16 is before --start 2026-11-22",
        "error: give both --start and --end",
        "error: give --start D --end D, or --full",
        "error: the measures' months run from 2023-01-01 to "
        + errors[3].split(" to ")[1].split(";")[0]
        + "; 2019-01-01..2019-01-02 is outside",
    ]


def test_a_range_of_months_is_one_window_of_periods_and_no_range_a_full_rebuild(var_dir):
    from orchestration.defs.dbt.partitions import METRIC_MONTHS, MeasuresBuild, metric_window_build

    first, last = (METRIC_MONTHS.time_window_for_partition_key(key) for key in RANGE)
    window = dg.TimeWindow(first.start, last.end)  # what a run of the range sees
    assert metric_window_build(window) == MeasuresBuild(
        [], {"MENTALSPACE_PERIOD_START": "2026-11-01", "MENTALSPACE_PERIOD_END": "2026-12-31"}
    )
    assert metric_window_build(None) == MeasuresBuild(["--full-refresh"], {})
