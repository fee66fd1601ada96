"""The measures' window (mentalspace_platform/measure_window.py): a change on a date recomputes the periods that
read that date, an undated change every period; landings record what their changes touch."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re

import polars as pl
import yaml
from sqlalchemy import select, update

from mentalspace_platform.environment import DBT_PROJECT_DIR
from mentalspace_platform.landing.operational import OPERATIONAL_TABLES, land_operational_tables
from mentalspace_platform.measure_window import (
    BUILT_AS_OF,
    IGNORED_COLUMNS,
    LAST_PERIOD,
    LOOKAHEAD_DAYS,
    NOT_FOLLOWED,
    UNWINDOWED_RAW_SCHEMAS,
    WINDOWED_FOLDER,
    Mark,
    measures_window,
    plan_measures_build,
    read_marks,
    record_measures_built,
    record_plan,
    recorded_plan,
    sources_read_by_windowed_models,
    tables_read_by_windowed_models,
    window_start,
)
from mentalspace_platform.warehouse import Warehouse
from operational_api.models import Base

T = Base.metadata.tables
TODAY = dt.date(2026, 11, 25)
BUILT = Mark("built", BUILT_AS_OF, TODAY - dt.timedelta(days=1), "project")


def test_a_change_recomputes_every_period_that_reads_its_date():
    changed = dt.date(2026, 3, 19)  # 46 days later than Sunday, February 1st
    first, last = measures_window([BUILT, Mark("m", "raw_operational", changed)], TODAY, "project")[0]
    assert last == LAST_PERIOD
    # A period ending up to LOOKAHEAD_DAYS before the change reads it (a booking rebooks visits 30 days before it);
    # its week may start before its month.
    reads_from = changed - dt.timedelta(days=LOOKAHEAD_DAYS + 1)
    assert first <= reads_from - dt.timedelta(days=reads_from.weekday())
    assert first <= reads_from.replace(day=1)
    assert first == window_start(changed) == dt.date(2026, 1, 26)  # the Monday before February 1st
    # Not wider than that: the periods starting before it are kept.
    assert first > changed - dt.timedelta(days=LOOKAHEAD_DAYS + 40)


def test_without_changes_the_periods_since_the_last_build_are_recomputed():
    # Measures change with the date (the running period, late sessions judged): the last build's "today" on.
    window, _ = measures_window([BUILT], TODAY, "project")
    assert window == (window_start(BUILT.changed_from), LAST_PERIOD)
    future = Mark("m", "raw_operational", TODAY + dt.timedelta(days=28))
    assert measures_window([BUILT, future], TODAY, "project")[0] == window


def test_an_undated_change_or_an_unknown_last_build_recomputes_every_period():
    undated = Mark("m", "raw_advancedmd", None)
    assert measures_window([BUILT, undated], TODAY, "project") == (
        None,
        "changes that may touch every period (raw_advancedmd)",
    )
    assert measures_window([], TODAY, "project")[0] is None
    # Built by another dbt project or other settings.
    assert measures_window([BUILT], TODAY, "another project")[0] is None


def _new_marks(warehouse: Warehouse, before: list[Mark]) -> list[Mark]:
    seen = {m.mark_id for m in before}
    return [m for m in read_marks(warehouse) if m.mark_id not in seen]


def _land(engine, warehouse, env) -> list[Mark]:
    before = read_marks(warehouse)
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=False)
    return _new_marks(warehouse, before)


def test_a_full_landing_touches_every_period(practice):
    engine, warehouse, env = practice
    before = read_marks(warehouse)
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=True)
    assert [(m.source, m.changed_from) for m in _new_marks(warehouse, before)] == [("raw_operational", None)]


def test_an_unchanged_store_touches_nothing(practice):
    engine, warehouse, env = practice
    assert _land(engine, warehouse, env) == []


def test_a_status_change_touches_its_appointments_dates(practice):
    engine, warehouse, env = practice
    appointments = T["appointments"]
    with engine.begin() as conn:
        row = (
            conn.execute(
                select(appointments)
                .where(appointments.c.status == "SCHEDULED")
                .order_by(appointments.c.start_at.desc())
            )
            .mappings()
            .first()
        )
        conn.execute(
            update(appointments)
            .where(appointments.c.id == row["id"])
            .values(status="CANCELLED", updated_at=dt.datetime(2026, 11, 25, 17))
        )
    (mark,) = _land(engine, warehouse, env)
    dates = [row[c].date() for c in ("start_at", "booked_at", "created_at") if row[c] is not None]
    assert mark.changed_from == min(dates)


def test_a_late_note_touches_its_appointments_date(practice):
    engine, warehouse, env = practice
    appointments, notes = T["appointments"], T["clinical_notes"]
    with engine.begin() as conn:
        note = (
            conn.execute(select(notes).where(notes.c.appointment_id.isnot(None)).order_by(notes.c.id))
            .mappings()
            .first()
        )
        appointment = (
            conn.execute(select(appointments).where(appointments.c.id == note["appointment_id"]))
            .mappings()
            .one()
        )
        # The note signed only now: its figures count on its appointment's date, which the note does not carry.
        conn.execute(
            update(notes)
            .where(notes.c.id == note["id"])
            .values(signed_at=dt.datetime(2026, 11, 25, 16), updated_at=dt.datetime(2026, 11, 25, 17))
        )
    (mark,) = _land(engine, warehouse, env)
    assert mark.changed_from is not None
    assert mark.changed_from <= appointment["start_at"].date()


def test_a_clients_change_touches_every_period_but_an_unexported_edit_nothing(practice):
    engine, warehouse, env = practice
    clients = T["clients"]
    stamp = dt.datetime(2026, 11, 25, 17)
    with engine.begin() as conn:
        client, phone = conn.execute(
            select(clients.c.id, clients.c.phone).where(clients.c.phone.is_not(None)).order_by(clients.c.id)
        ).first()
        # A new phone number: the export carries has_phone only, so the landed row differs by its stamp alone.
        conn.execute(
            update(clients).where(clients.c.id == client).values(phone=phone[::-1], updated_at=stamp)
        )
    assert _land(engine, warehouse, env) == []
    with engine.begin() as conn:
        conn.execute(
            update(clients)
            .where(clients.c.id == client)
            .values(phone=None, updated_at=stamp + dt.timedelta(hours=1))
        )
    (mark,) = _land(engine, warehouse, env)
    assert mark.changed_from is None and "clients" in mark.context


def test_a_sign_in_touches_nothing_but_a_users_change_every_period(practice):
    engine, warehouse, env = practice
    users = T["users"]
    stamp = dt.datetime(2026, 11, 25, 17)
    with engine.begin() as conn:
        user = conn.scalar(select(users.c.id).order_by(users.c.id))
        conn.execute(update(users).where(users.c.id == user).values(last_login_at=stamp, updated_at=stamp))
    assert _land(engine, warehouse, env) == []
    with engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user)
            .values(hired_date=dt.date(2020, 1, 1), updated_at=stamp + dt.timedelta(hours=1))
        )
    (mark,) = _land(engine, warehouse, env)
    assert mark.changed_from is None and "users" in mark.context


def test_the_ignored_columns_are_read_by_no_model():
    models = list((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    for columns in IGNORED_COLUMNS.values():
        # A change stamp: staging passes it along, the measures never read it.
        assert not [p.name for p in models if "metrics" in p.parts and "updated_at" in p.read_text()]
        read = {(p.name, c) for p in models for c in columns - {"updated_at"} if c in p.read_text()}
        assert not read


def test_a_table_without_change_column_is_dated_by_its_changed_rows(practice):
    engine, warehouse, env = practice
    applications = T["payment_applications"]
    with engine.begin() as conn:
        applied = (
            conn.execute(select(applications).order_by(applications.c.applied_at.desc())).mappings().first()
        )
        conn.execute(
            update(applications)
            .where(applications.c.id == applied["id"])
            .values(applied_amount=applied["applied_amount"] + 1)
        )
    (mark,) = _land(engine, warehouse, env)
    # Its own date, or earlier through what it refers to and what refers to it; not every period.
    assert mark.changed_from is not None and mark.changed_from <= applied["applied_at"].date()


def test_a_change_no_windowed_model_reads_touches_nothing(practice):
    # A payment's own row (its amount, its date) reaches no measure: they read its applications to charges.
    engine, warehouse, env = practice
    payments = T["payments"]
    with engine.begin() as conn:
        payment = conn.execute(select(payments).order_by(payments.c.payment_date)).mappings().first()
        conn.execute(
            update(payments)
            .where(payments.c.id == payment["id"])
            .values(
                payment_amount=payment["payment_amount"] + 1,
                payment_date=payment["payment_date"] - dt.timedelta(days=400),
            )
        )
    assert _land(engine, warehouse, env) == []


def test_a_raw_write_that_does_not_date_itself_touches_every_period(practice):
    _, warehouse, _ = practice
    before = read_marks(warehouse)
    warehouse.replace_table("raw_advancedmd", "visits", [pl.DataFrame({"id": [1]})])
    assert [(m.source, m.changed_from) for m in _new_marks(warehouse, before)] == [("raw_advancedmd", None)]
    # Writes elsewhere (what dbt builds, the marks themselves, an 835 file's data) do not.
    warehouse.replace_table("reference", "anything", [pl.DataFrame({"id": [1]})])
    warehouse.replace_table("raw_era", "remittances", [pl.DataFrame({"id": [1]})])
    assert len(read_marks(warehouse)) == len(before) + 1


def test_no_windowed_model_reads_the_unwindowed_raw_schemas():
    # From the SQL text, so a source read only in some configuration (a jinja branch) counts too.
    models = {p.stem: p.read_text() for p in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/era/_era__sources.yml").read_text())[
        "sources"
    ]
    assert {s["schema"] for s in sources} == UNWINDOWED_RAW_SCHEMAS
    names = [s["name"] for s in sources]
    readers = {m for m, sql in models.items() if any(re.search(rf"source\(\s*'{n}'", sql) for n in names)}
    assert readers  # the check below looks at something
    unread = list(readers)
    while unread:
        ref = re.compile(rf"ref\(\s*'{unread.pop()}'\s*\)")
        for m, sql in models.items():
            if m not in readers and ref.search(sql):
                readers.add(m)
                unread.append(m)
    windowed = {m for m, sql in models.items() if "period_window" in sql or m.startswith("mtr_")}
    assert windowed and not readers & windowed, readers & windowed


def test_the_tables_windowed_models_read_agree_with_dbts_manifest(parsed_dbt_manifest):
    read = sources_read_by_windowed_models()
    # dbt's own graph of the project (this configuration's jinja branches): every source a windowed model depends
    # on, transitively, through models and the macros they call, must be among those found in the SQL text.
    manifest = json.loads(parsed_dbt_manifest.read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}
    windowed = [
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and (
            node["original_file_path"].startswith(WINDOWED_FOLDER)
            or node["config"].get("incremental_strategy") == "period_window"
        )
    ]
    ancestors, unread = set(windowed), list(windowed)
    while unread:
        for parent in nodes[unread.pop()].get("depends_on", {}).get("nodes", []):
            if parent not in ancestors:
                ancestors.add(parent)
                unread.append(parent)
    in_manifest = {
        (nodes[uid]["source_name"], nodes[uid]["name"]) for uid in ancestors if uid.startswith("source.")
    }
    assert in_manifest and in_manifest <= read, in_manifest - read
    # A table read only through a macro counts (insurance_verification.sql reads the verifications).
    assert {"insurance_verifications", "appointments", "charges"} <= tables_read_by_windowed_models()
    # The alert sync restamps the store's open alerts after every refresh; no measure reads them.
    assert "compliance_alerts" not in tables_read_by_windowed_models()
    assert not {source for source, _ in read} & {"era"}


def test_the_measures_build_consumes_only_the_marks_its_refresh_planned_from(practice):
    # A refresh's models build windows the by-period intermediates from the marks it reads; a mark landed before the
    # measures' build (an AdvancedMD sync) must outlive that build, whose intermediates never saw its data.
    engine, warehouse, env = practice
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=True)
    planned = plan_measures_build(warehouse, env)
    assert {m.source for m in planned.marks} == {"raw_operational"} and planned.window is None
    record_plan(warehouse, "run-1", planned)
    warehouse.replace_table("raw_advancedmd", "visits", [pl.DataFrame({"id": [1]})])

    assert recorded_plan(warehouse, "another run") is None
    plan = recorded_plan(warehouse, "run-1")
    assert plan == planned
    record_measures_built(warehouse, plan)
    assert sorted((m.source, m.changed_from) for m in read_marks(warehouse)) == [
        (BUILT_AS_OF, planned.today),
        ("raw_advancedmd", None),
    ]
    # So the next refresh recomputes what the AdvancedMD sync touches.
    assert plan_measures_build(warehouse, env).window is None


def test_a_measures_table_emptied_since_the_last_build_recomputes_every_period(practice):
    # PostgreSQL empties the warehouse's unlogged tables when it recovers from a crash, and leaves the marks: the next
    # build must not trust a window over periods that are gone.
    engine, warehouse, env = practice
    land_operational_tables(engine, warehouse, env, OPERATIONAL_TABLES, full=True)
    record_measures_built(warehouse, plan_measures_build(warehouse, env))
    measures = pl.DataFrame({"metric_key": ["no_show_rate"], "period_start": [TODAY]})
    warehouse.replace_table("marts", "fct_practice_metrics", [measures])
    assert plan_measures_build(warehouse, env).window is not None

    warehouse.replace_table("marts", "fct_practice_metrics", [measures.clear()])
    plan = plan_measures_build(warehouse, env)
    assert plan.window is None and "empty" in plan.reason


def test_the_lookahead_covers_the_projects_windows(practice):
    engine, *_ = practice
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    rules = T["compliance_rules"]
    with engine.connect() as conn:
        deadline = conn.scalar(
            select(rules.c.value).where(
                rules.c.rule_type == "SUPERVISION_NOTE", rules.c.parameter == "deadline_days"
            )
        )
    with (DBT_PROJECT_DIR / "seeds" / "metric_dictionary.csv").open() as seed:
        settling = max(int(row["alert_lag_days"] or 0) for row in csv.DictReader(seed))
    # A booking up to rebook_window_days after a visit rebooks it; a supervision note is late after the deadline;
    # a period settles alert_lag_days after its end.
    assert settling <= LOOKAHEAD_DAYS
    assert project["vars"]["rebook_window_days"] <= LOOKAHEAD_DAYS
    assert deadline is not None and deadline <= LOOKAHEAD_DAYS


def test_the_references_not_followed_are_read_by_no_measure():
    # Their names once staged; the models that may carry them (staging, the appointments fact they ride along to,
    # and the compliance alerts, rebuilt whole by every refresh).
    staged = {
        "series_id": "series_id",
        "shared_slot_id": "shared_slot_id",
        "rescheduled_from_id": "rescheduled_from_appointment_id",
        "policy_id": "insurance_policy_id",
    }
    assert {column for _, column in NOT_FOLLOWED} == set(staged)
    readers = {
        path.name
        for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")
        if "staging" not in path.parts and any(name in path.read_text() for name in staged.values())
    }
    assert readers <= {
        "int_appointments_of_record.sql",
        "fct_appointments.sql",
        "int_compliance_alerts_data_quality.sql",
    }
