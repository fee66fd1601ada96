"""The Dagster wiring: a digest partition run sends what is missing and its check passes; a backfill of the same
day sends nothing; an active clinician left without a digest fails the check; schedules pick the right period."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from sqlalchemy import update

from operational_api.db import session_scope
from operational_api.models import User
from orchestration.defs.notifications import definitions as notify
from orchestration.lib.resources import OperationalStoreResource


def _run(store, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [notify.daily_digest],
        partition_key=day,
        resources={"store": OperationalStoreResource(database_url=str(store.url))},
        instance=dg.DagsterInstance.ephemeral(),
    )


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_digest_partition_and_its_check(store, mail_server, monkeypatch):
    monkeypatch.setenv("SMTP_URL", mail_server.url)
    first = _run(store, "2026-11-24")
    assert first.success and _check(first).passed
    assert first.get_asset_materialization_events()[0].materialization.metadata["sent"].value == 3
    backfill = _run(store, "2026-11-24")
    assert _check(backfill).passed
    assert backfill.get_asset_materialization_events()[0].materialization.metadata["sent"].value == 0
    assert len(mail_server.messages()) == 3

    # Ben left the store's active staff after the warehouse was built: still an active clinician there.
    with session_scope(store) as s:
        s.execute(update(User).where(User.id == 4).values(is_active=False))
    evaluation = _check(_run(store, "2026-11-23"))
    assert not evaluation.passed
    assert evaluation.metadata["missing_user_ids"].value == "4"


def test_schedules_pick_the_period():
    tz = notify.TZ

    def evaluate(schedule, local: str) -> dg.RunRequest:
        when = dt.datetime.fromisoformat(local).replace(tzinfo=__import__("zoneinfo").ZoneInfo(tz))
        with dg.build_schedule_context(scheduled_execution_time=when) as context:
            return schedule(context)

    assert evaluate(notify.daily_digest_schedule, "2026-11-24 07:00").partition_key == "2026-11-24"
    assert evaluate(notify.monday_report_schedule, "2026-11-23 07:00").partition_key == "2026-11-16"
    assert evaluate(notify.supervision_report_schedule, "2026-12-01 07:00").partition_key == "2026-11-01"
