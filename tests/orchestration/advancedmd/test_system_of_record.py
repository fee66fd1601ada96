"""Issue 16: the same practice gives the same measures whether the store or AdvancedMD is the system of record for
scheduling and billing.

One small practice (2 clinicians, one month) is loaded into the store, and the simulator is seeded from the
store's rows (`dataset_from_store`). Build 1 reads the store. Then AdvancedMD is synced (visits, charges, provider
links, gettxhistory), and the store's scheduling and billing records are made wrong where AdvancedMD is the
record: final statuses swapped, every charge moved to one clinician, charge amounts multiplied,
payments and adjustments deleted (the clinicians have NPIs, so AdvancedMD's providers link by NPI). Build 2 runs with
MENTALSPACE_SCHEDULING_RECORD / MENTALSPACE_BILLING_RECORD = advancedmd, so every visit, charge and payment
figure can only be right if it comes from AdvancedMD; the store still holds what AdvancedMD does not
(documentation, confirmation, online booking, arrival times, claims). Every measure of
marts.fct_practice_metrics must be equal.

On DuckDB, and on PostgreSQL (store and warehouse) when MENTALSPACE_TEST_PG_URL is set.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest

from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.simulator import (
    SimulatorConfig,
    dataset_from_store,
    simulator_clock_start,
    start_simulator,
)
from operational_api.synthetic import Practice
from tests.orchestration.advancedmd.conftest import AS_OF, SPEC, AmdWorld, _use_postgres

METRIC_KEY = ("metric_key", "scope", "period_grain", "period_start", "clinician_id")
METRIC_VALUES = ("numerator", "denominator", "metric_value", "previous_value", "rag_status")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, var_dir, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AmdWorld]:
    """The store loaded with the practice; the simulator seeded from the store's rows, off-peak, fake clock."""
    if request.param == "postgres":
        _use_postgres(monkeypatch, request.getfixturevalue("pg_database"))
    from operational_api.bulk import load_tables
    from operational_api.db import get_engine, migrate
    from orchestration.defs.advancedmd.definitions import standalone_definitions
    from orchestration.defs.advancedmd.resources import (
        SimulatedAdvancedMDResource,
        attach_simulator,
        detach_simulator,
    )

    monkeypatch.setenv("MENTALSPACE_AS_OF_DATE", AS_OF.isoformat())
    monkeypatch.setenv("MENTALSPACE_PRACTICE_TZ", SPEC.timezone)
    engine = get_engine()
    migrate(engine)
    load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    _give_clinicians_npis(engine)
    dataset = dataset_from_store(engine, timezone=SPEC.timezone, as_of=AS_OF)
    engine.dispose()
    clock = FakeClock(simulator_clock_start(AS_OF))
    name = f"test-{uuid.uuid4().hex[:8]}"
    with start_simulator(dataset, SimulatorConfig(seed=7, page_size=25), clock=clock) as sim:
        attach_simulator(name, sim)
        try:
            defs = standalone_definitions(SimulatedAdvancedMDResource(simulator=name))
            with dg.DagsterInstance.ephemeral() as instance:
                yield AmdWorld(sim, clock, defs, instance, request.param)
        finally:
            detach_simulator(name)


def _npi(serial: int) -> str:
    """A valid NPI (Luhn over the 80840 prefix) from a serial number."""
    body = f"1{serial:08d}"
    digits = [int(d) for d in "80840" + body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        doubled = d * 2 if i % 2 == 0 else d
        total += doubled - 9 if doubled > 9 else doubled
    return body + str((10 - total % 10) % 10)


def _give_clinicians_npis(engine) -> None:
    """A real practice's clinicians have NPIs, and AdvancedMD's provider profiles carry them: the link by NPI."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        ids = conn.execute(
            sa.text("select id from users where role in ('CLINICIAN', 'SUPERVISOR')")
        ).scalars()
        for uid in list(ids):
            conn.execute(sa.text("update users set npi = :npi where id = :id"), {"npi": _npi(uid), "id": uid})


def _land_operational(world: AmdWorld) -> None:
    from mentalspace_platform.environment import current_environment
    from orchestration.defs.operational.assets import operational_tables
    from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

    resources = {
        "store": OperationalStoreResource(database_url=current_environment().database_url),
        "warehouse": WarehouseResource(),
    }
    assert dg.materialize([operational_tables], resources=resources, instance=world.instance).success


OF_RECORD_MODELS = (
    "int_advancedmd_visits_linked",
    "int_advancedmd_charges_linked",
    "int_advancedmd_transactions_linked",
    "int_appointments_of_record",
    "int_charges_of_record",
    "int_payments_of_record",
    "int_payment_applications_of_record",
    "int_charge_adjustments_of_record",
)


def _dbt(command: str, select: tuple[str, ...], exclude: tuple[str, ...], **env_vars: str) -> None:
    from mentalspace_platform.environment import DBT_PROJECT_DIR, current_environment
    from orchestration.defs.dbt.project import DBT_EXECUTABLE

    env = {**os.environ, **current_environment().dbt_env(), **env_vars}
    result = subprocess.run(
        [
            DBT_EXECUTABLE,
            command,
            "--select",
            *select,
            "--exclude",
            *exclude,
            "--target",
            env["DBT_TARGET"],
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, "\n".join(
        line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL" in line
    )[-3000:]


def _dbt_build(**env_vars: str) -> None:
    """The measures and the facts they read (models only: the data tests of the unchanged models run elsewhere);
    with AdvancedMD as the record, the data tests of the models that merge the two systems too."""
    _dbt(
        "build",
        ("+fct_practice_metrics", "+fct_payments"),
        ("resource_type:test", "resource_type:unit_test"),
        **env_vars,
    )
    if env_vars:
        _dbt("test", OF_RECORD_MODELS, ("resource_type:unit_test",), **env_vars)


def _query(sql: str) -> list[dict[str, Any]]:
    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.warehouse import Warehouse

    return Warehouse(current_environment()).query(sql).to_dicts()


def _metrics() -> dict[tuple, tuple]:
    rows = _query(f"select {', '.join(METRIC_KEY + METRIC_VALUES)} from marts.fct_practice_metrics")
    out: dict[tuple, tuple] = {}
    for row in rows:
        key = tuple(row[c] for c in METRIC_KEY)
        assert key not in out, key
        out[key] = tuple(
            Decimal(str(row[c])).quantize(Decimal("0.0001"))
            if isinstance(row[c], float | Decimal)
            else row[c]
            for c in METRIC_VALUES
        )
    return out


def _sync_everything(world: AmdWorld, practice: Practice) -> None:
    """Visits and charges of the practice's whole schedule, the provider links, and every patient's gettxhistory."""
    from orchestration.defs.advancedmd.assets import advancedmd_transactions, advancedmd_visit_updates

    appts = practice.tables["appointments"]
    starts = [row[appts.columns.index("start_at")] for row in appts.rows]
    first, last = min(starts).date() - dt.timedelta(days=1), max(starts).date() + dt.timedelta(days=1)
    config = {
        "ops": {
            advancedmd_visit_updates.op.name: {
                "config": {"initial_start": first.isoformat(), "initial_end": last.isoformat()}
            }
        }
    }
    assert world.run("advancedmd_sync_job", run_config=config).success
    config = {"ops": {advancedmd_transactions.op.name: {"config": {"days_back": (AS_OF - first).days + 1}}}}
    assert world.run("advancedmd_transactions_job", run_config=config).success


def _spoil_the_stores_scheduling_and_billing() -> None:
    """Make every field AdvancedMD is the record for wrong in the store, and delete the money movements."""
    import sqlalchemy as sa

    from operational_api.db import get_engine

    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "update appointments set status = case status when 'COMPLETED' then 'NO_SHOW'"
                " when 'NO_SHOW' then 'COMPLETED' when 'CANCELLED' then 'COMPLETED' else status end"
            )
        )
        conn.execute(sa.text("update charges set charge_amount = charge_amount * 10"))
        # Every charge on one clinician (appointments cannot be moved: the store refuses double bookings; every
        # provider linked by NPI, asserted below, shows their clinician is the link's).
        conn.execute(
            sa.text("update charges set clinician_id = (select min(clinician_id) from appointments)")
        )
        for table in ("payment_applications", "charge_adjustments", "payments"):
            conn.execute(sa.text(f"delete from {table}"))  # noqa: S608 - fixed names
    engine.dispose()


def test_measures_are_equal_with_the_store_or_advancedmd_as_the_system_of_record(world, practice):
    from orchestration.defs.advancedmd.assets import advancedmd_landing_tables
    from orchestration.lib.resources import WarehouseResource

    assert dg.materialize(
        [advancedmd_landing_tables], resources={"warehouse": WarehouseResource()}, instance=world.instance
    ).success
    _land_operational(world)
    _dbt_build()
    from_store = _metrics()
    assert any(k[0] == "kept_visit_rate" for k in from_store)

    _sync_everything(world, practice)
    _spoil_the_stores_scheduling_and_billing()
    _land_operational(world)  # the spoiled store, and the patient and provider links, reach raw_operational
    _dbt_build(MENTALSPACE_SCHEDULING_RECORD="advancedmd", MENTALSPACE_BILLING_RECORD="advancedmd")
    from_advancedmd = _metrics()

    # The second build read AdvancedMD: its visits are the appointments (moved originals, which AdvancedMD's date
    # read never returns, stay the store's), its transactions the payments.
    [counts] = _query(
        "select (select count(*) from marts.fct_appointments where appointment_status <> 'RESCHEDULED')"
        " as appointments,"
        " (select count(*) from intermediate.int_advancedmd_visits_linked where appointment_status <> 'RESCHEDULED')"
        " as visits,"
        " (select count(*) from marts.fct_payments where payment_id < 0) as amd_payments,"
        " (select count(*) from marts.fct_payments) as payments"
    )
    assert counts["appointments"] == counts["visits"] > 0
    assert counts["amd_payments"] == counts["payments"] > 0
    # Every provider profile linked by NPI, every patient by chart number: nothing came from a fallback.
    [links] = _query(
        "select (select count(*) from staging.stg_operational__advancedmd_provider_links"
        "  where sync_status = 'LINKED' and link_source = 'NPI') as providers_linked,"
        " (select count(*) from staging.stg_operational__advancedmd_provider_links) as providers,"
        " (select count(*) from staging.stg_operational__advancedmd_patients where sync_status <> 'LINKED')"
        " as patients_unlinked"
    )
    assert links["providers_linked"] == links["providers"] > 0 and links["patients_unlinked"] == 0

    assert from_advancedmd.keys() == from_store.keys(), (
        sorted(from_store.keys() - from_advancedmd.keys())[:10],
        sorted(from_advancedmd.keys() - from_store.keys())[:10],
    )
    differing = {
        k: (from_store[k], from_advancedmd[k]) for k in from_store if from_store[k] != from_advancedmd[k]
    }
    by_metric: dict[str, int] = {}
    for key in differing:
        by_metric[key[0]] = by_metric.get(key[0], 0) + 1
    assert not differing, f"{by_metric}; e.g. {sorted(differing.items(), key=str)[:5]}"
