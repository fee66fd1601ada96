"""An AdvancedMD simulator serving the synthetic practice, a store holding the same practice, a warehouse
(DuckDB, or PostgreSQL when MENTALSPACE_TEST_PG_URL is set), and an oracle for what must land.

The oracle is written from the simulator's own records and the landing's documented projection (no
PHI, naive UTC instants, codes upper case), not from the landing code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.simulator import (
    SimulatorConfig,
    SimulatorDataset,
    SimulatorHandle,
    dataset_from_practice,
    simulator_clock_start,
    start_simulator,
)
from ingest.advancedmd.simulator.dataset import CHARGE, PATIENT, VISIT
from operational_api.synthetic import Practice, PracticeSpec, generate
from tests.conftest import (
    PG_ADMIN_URL,
    STEP_TIMEOUT,
    adopt_run_parse_pg,
    fresh_sqlite_store,
    new_pg_database,
    run_dbt_parse,
    warm_dbt_executable,
)
from tests.dbt_parse import adopt_dbt_parse
from tests.ingest.conftest import expected_charge, expected_patient, expected_visit

AS_OF = dt.date(2025, 3, 7)  # a Friday
SPEC = PracticeSpec(clinicians=2, months=1, seed=7, as_of=AS_OF)
WINDOW = (AS_OF - dt.timedelta(days=29), AS_OF + dt.timedelta(days=14))  # the initial visit load
DATEVISITS_STATUSES = {0, 1, 2, 3, 10, 12}
CPT_RE = r"^(\d{5}|\d{4}[FTU]|[A-V]\d{4}|[A-Z][A-Z0-9]{1,9})$"  # procedure codes the landing accepts
PHI_COLUMNS = {
    "last_name",
    "first_name",
    "middle_name",
    "dob",
    "address1",
    "address2",
    "city",
    "zip_code",
    "home_phone",
    "office_phone",
    "email",
    "subscriber_id",
    "group_number",
    "name",
}


@pytest.fixture(scope="session")
def practice() -> Practice:
    return generate(SPEC)


@dataclass
class AmdWorld:
    """Everything a test needs: the running simulator, its clock, the definitions to run, the instance."""

    sim: SimulatorHandle
    clock: FakeClock
    defs: dg.Definitions
    instance: dg.DagsterInstance
    backend: str

    @property
    def ds(self) -> SimulatorDataset:
        return self.sim.dataset

    def run(self, job: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
        from orchestration.lib.runner import run_job

        return run_job(self.defs, job, instance=self.instance, **kwargs)

    def sync(self) -> dg.ExecuteInProcessResult:
        """One `advancedmd_sync_job` run; the first is the initial load of WINDOW."""
        from orchestration.defs.advancedmd.assets import advancedmd_visit_updates

        config = {
            "ops": {
                advancedmd_visit_updates.op.name: {
                    "config": {"initial_start": WINDOW[0].isoformat(), "initial_end": WINDOW[1].isoformat()}
                }
            }
        }
        return self.run("advancedmd_sync_job", run_config=config)

    def advance(self, minutes: float = 5) -> None:
        self.clock.advance(minutes * 60)

    def table(self, name: str, key: str) -> dict[int, dict[str, Any]]:
        """A raw_advancedmd table by id, without the lineage columns."""
        rows = warehouse_rows(f"select * from raw_advancedmd.{name}")
        out = {}
        for row in rows:
            assert row.pop("office_key") == self.ds.office_key
            assert row.pop("batch_id") and row.pop("landed_at")
            assert row[key] not in out, f"{name}: duplicate {key} {row[key]}"
            out[row[key]] = row
        return out

    def quarantine(self) -> list[dict[str, Any]]:
        return warehouse_rows(
            "select entity, record_id, reason, record_version, batch_id from raw_advancedmd.quarantine"
            " order by entity, record_id"
        )


def _use_postgres(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MENTALSPACE_WAREHOUSE_URL", url)
    monkeypatch.setenv("DBT_TARGET", "prod")
    monkeypatch.setenv("MENTALSPACE_ADVANCEDMD", "simulator")


# The store holding the practice: loaded once per worker (a SQLite file, a PostgreSQL template database) and copied
# per test, instead of migrated and loaded by every test.


@pytest.fixture(scope="session")
def practice_sqlite(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, practice: Practice
) -> Path:
    """A SQLite store holding the practice; `practice_store` copies it."""
    from operational_api.bulk import load_tables
    from operational_api.db import get_engine

    path = tmp_path_factory.mktemp("amd-practice") / "operational.db"
    engine = get_engine(fresh_sqlite_store(migrated_sqlite, path))
    load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    engine.dispose()  # the last connection checkpoints the WAL: the file alone is the whole store
    return path


@pytest.fixture(scope="session")
def practice_pg(migrated_pg: str, practice: Practice) -> Iterator[str]:
    """The name of a PostgreSQL store holding the practice, closed to connections: `practice_store` copies it."""
    import psycopg

    from operational_api.bulk import load_tables
    from operational_api.db import get_engine

    with new_pg_database(template=migrated_pg) as url:
        engine = get_engine(url)
        load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
        engine.dispose()
        name = url.rpartition("/")[2]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as con:
            con.execute(f'alter database "{name}" with allow_connections false')
        yield name


def practice_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """Give this test its own store holding the practice: var/'s SQLite file ("duckdb", the embedded path), or a
    PostgreSQL database that is the store and the warehouse ("postgres"), dropped after the test; var/ holding the
    run's parse of the dbt project for it."""
    from operational_api.settings import var_dir

    if backend == "postgres":
        copies = contextlib.ExitStack()
        request.addfinalizer(copies.close)
        url = copies.enter_context(new_pg_database(template=request.getfixturevalue("practice_pg")))
        _use_postgres(monkeypatch, url)
        adopt_run_parse_pg(var_dir(), url, request.getfixturevalue("tmp_path_factory"))
    else:
        fresh_sqlite_store(request.getfixturevalue("practice_sqlite"), var_dir() / "operational.db")
        # The tests' own dbt commands (`dbt`) run on the live warehouse file.
        adopt_dbt_parse(var_dir(), run_dbt_parse(request.getfixturevalue("tmp_path_factory")), staged=False)


@contextlib.contextmanager
def simulated_world(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    make_dataset: Callable[[Any], SimulatorDataset],
    clock_start: dt.datetime | None = None,
) -> Iterator[AmdWorld]:
    """This test's store holding the practice (`practice_store`, on the backend of the fixture's param, else
    "duckdb"); the simulator serving `make_dataset(the store's engine)` on loopback on a fake clock at
    `clock_start` (off-peak on AS_OF unless given); the AdvancedMD definitions on it, an ephemeral instance."""
    from operational_api.db import get_engine
    from orchestration.defs.advancedmd.definitions import standalone_definitions
    from orchestration.defs.advancedmd.resources import (
        SimulatedAdvancedMDResource,
        attach_simulator,
        detach_simulator,
    )

    backend = getattr(request, "param", "duckdb")
    practice_store(request, monkeypatch, backend)
    engine = get_engine()
    dataset = make_dataset(engine)
    engine.dispose()
    clock = FakeClock(clock_start or simulator_clock_start(AS_OF))
    name = f"test-{uuid.uuid4().hex[:8]}"
    with start_simulator(dataset, SimulatorConfig(seed=7, page_size=25), clock=clock) as sim:
        attach_simulator(name, sim)
        try:
            defs = standalone_definitions(SimulatedAdvancedMDResource(simulator=name))
            with dg.DagsterInstance.ephemeral() as instance:
                yield AmdWorld(sim, clock, defs, instance, backend)
        finally:
            detach_simulator(name)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def amd(
    request: pytest.FixtureRequest, var_dir, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AmdWorld]:
    """The store holding the practice, the simulator serving it on loopback, off-peak on a fake clock."""
    with simulated_world(request, monkeypatch, lambda _: dataset_from_practice(practice)) as world:
        yield world


# ---------------------------------------------------------------------------------------- the warehouse


def warehouse_rows(sql: str) -> list[dict[str, Any]]:
    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.warehouse import Warehouse

    return Warehouse(current_environment()).query(sql).to_dicts()


def land_operational(world: AmdWorld) -> None:
    """The store's tables landed in raw_operational (the Dagster asset, on the world's instance)."""
    from mentalspace_platform.environment import current_environment
    from orchestration.defs.operational.assets import operational_tables
    from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

    resources = {
        "store": OperationalStoreResource(database_url=current_environment().database_url),
        "warehouse": WarehouseResource(),
    }
    assert dg.materialize([operational_tables], resources=resources, instance=world.instance).success


def create_advancedmd_landing_tables(world: AmdWorld) -> None:
    """The empty raw_advancedmd tables, as `mentalspace build` creates them before any sync."""
    from orchestration.defs.advancedmd.assets import advancedmd_landing_tables
    from orchestration.lib.resources import WarehouseResource

    assert dg.materialize(
        [advancedmd_landing_tables], resources={"warehouse": WarehouseResource()}, instance=world.instance
    ).success


# The AdvancedMD staging models and int_appointments_unioned with everything it reads.
UNIONED_APPOINTMENTS = ("path:models/staging/advancedmd", "+int_appointments_unioned")


def dbt(command: str, select: tuple[str, ...], exclude: tuple[str, ...] = (), **env_vars: str) -> None:
    """One dbt command on this test's warehouse (`env_vars` added to its environment); fails the test with dbt's
    error and failure lines."""
    from mentalspace_platform.environment import DBT_PROJECT_DIR, current_environment

    env = {**os.environ, **current_environment().dbt_env(), **env_vars}
    result = subprocess.run(
        [
            warm_dbt_executable(),
            command,
            "--select",
            *select,
            *(("--exclude", *exclude) if exclude else ()),
            "--target",
            env["DBT_TARGET"],
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, "\n".join(
        line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL" in line
    )[-3000:]


# ---------------------------------------------------------------------------------------- oracle


def _naive(at: dt.datetime | None) -> dt.datetime | None:
    return None if at is None else at.astimezone(dt.UTC).replace(tzinfo=None)


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def landed_patient(ds: SimulatorDataset, patient_id: int) -> dict[str, Any]:
    p = expected_patient(ds.patients[patient_id], ds)
    return {
        "patient_id": p.patient_id,
        "chart": p.chart,
        "sex": p.sex,
        "state": p.state,
        "provider_id": p.provider_id,
        "provider_code": p.provider_code,
        "fin_class_code": p.fin_class_code,
        "has_date_of_birth": p.dob is not None,
        "has_address": p.address1 is not None,
        "has_phone": p.home_phone is not None or p.office_phone is not None,
        "has_email": p.email is not None,
        "created_at": _naive(p.created_at),
        "changed_at": _naive(p.changed_at),
    }


def landed_coverages(ds: SimulatorDataset, patient_id: int) -> dict[int, dict[str, Any]]:
    p = expected_patient(ds.patients[patient_id], ds)
    return {
        i.insurance_id: {
            "insurance_id": i.insurance_id,
            "patient_id": i.patient_id,
            "sequence": i.sequence,
            "carrier_code": i.carrier_code,
            "carrier_name": i.carrier_name,
            "relationship": i.relationship,
            "copay": _money(i.copay),
            "effective_start": i.effective_start,
            "effective_end": i.effective_end,
            "active": i.active,
            "has_subscriber_id": i.subscriber_id is not None,
            "has_group_number": i.group_number is not None,
        }
        for i in p.insurances
    }


def landed_visit(ds: SimulatorDataset, visit_id: int) -> dict[str, Any]:
    v = expected_visit(ds.visits[visit_id], ds)
    return {
        "visit_id": v.visit_id,
        "patient_id": v.patient_id,
        "visit_date": v.visit_date,
        "start_local": v.start,
        "duration_minutes": v.duration_minutes,
        "appt_status": v.appt_status,
        "appointment_type": v.appointment_type,
        "column_heading": v.column_heading,
        "provider_code": v.provider_code,
        "facility_code": v.facility_code,
        "charges_posted": v.charges_posted,
        "created_at": _naive(v.created_at),
        "modified_at": _naive(v.modified_at),
        "arrive_local": v.arrive_time,
        "seen_local": v.seen_time,
        "confirmed_at": _naive(v.confirmed_at),
        "created_by": v.created_by,
        # Georgia's MINOR_CONSENT.adult_age_years (18, migration 0002): adult from the 18th birthday on.
        "client_is_minor_on_visit_date": None
        if v.patient_dob is None
        else (
            v.visit_date.year
            - v.patient_dob.year
            - ((v.visit_date.month, v.visit_date.day) < (v.patient_dob.month, v.patient_dob.day))
        )
        < 18,
    }


def landed_charge(ds: SimulatorDataset, charge_id: int) -> dict[str, Any]:
    c = expected_charge(ds.charges[charge_id])
    return {
        "charge_id": c.charge_id,
        "visit_id": c.visit_id,
        "patient_id": c.patient_id,
        "visit_date": ds.visits[c.visit_id].visit_date,
        "cpt_code": c.cpt_code,
        "modifiers": ",".join(c.modifiers) or None,
        "units": c.units,
        "fee": _money(c.fee),
        "diagnosis_codes": ",".join(c.diagnosis_codes) or None,
        "begin_date_of_service": c.begin_date_of_service,
        "end_date_of_service": c.end_date_of_service,
        "posting_date": c.posting_date,
        "place_of_service": c.place_of_service,
        "created_at": _naive(c.created_at),
        "changed_at": _naive(c.changed_at),
    }


def is_cpt(code: str) -> bool:
    import re

    return re.match(CPT_RE, code) is not None


def expected_state(
    ds: SimulatorDataset, window: tuple[dt.date, dt.date] = WINDOW
) -> dict[str, dict[int, Any]]:
    """What the warehouse must hold after an initial load of ``window`` plus incremental runs that only
    touched visits inside it: live patients and coverages; live visits of the window in the statuses
    getdatevisits answers; their live charges with a valid procedure code (the rest are quarantined)."""
    patients = {p.patient_id: landed_patient(ds, p.patient_id) for p in ds.live_patients()}
    coverages = {cid: c for pid in patients for cid, c in landed_coverages(ds, pid).items()}
    visits = {
        v.visit_id: landed_visit(ds, v.visit_id)
        for v in ds.live_visits()
        if window[0] <= v.visit_date <= window[1] and v.appt_status in DATEVISITS_STATUSES
    }
    charges = {
        c.charge_id: landed_charge(ds, c.charge_id)
        for c in ds.live_charges()
        if c.visit_id in visits and is_cpt(c.cpt_code)
    }
    return {"patients": patients, "insurance": coverages, "visits": visits, "charges": charges}


def assert_tables_equal(
    got: dict[int, dict[str, Any]], expected: dict[int, dict[str, Any]], what: str
) -> None:
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    assert not missing and not extra, f"{what}: missing {missing[:10]}, unexpected {extra[:10]}"
    for rid, exp in expected.items():
        row = {k: (_money(v) if isinstance(v, Decimal) else v) for k, v in got[rid].items()}
        assert set(row) == set(exp), f"{what}: columns {sorted(set(row) ^ set(exp))}"
        diff = {k: (row[k], exp[k]) for k in exp if row[k] != exp[k]}
        assert not diff, f"{what} {rid} differs: {diff}"


# ---------------------------------------------------------------------------------------- store


def store_rows(sql: str, **params) -> list:
    """The rows of one statement on this test's store, in its own transaction (none for a write)."""
    from sqlalchemy import text

    from operational_api.db import get_engine

    engine = get_engine()
    with engine.begin() as conn:
        result = conn.execute(text(sql), params)
        rows = result.all() if result.returns_rows else []
    engine.dispose()
    return rows


def billable_appointments() -> dict[int, list[tuple[int, str]]]:
    """Completed appointments of the initial WINDOW with a signed note, by id: their charges (id, CPT)."""
    from zoneinfo import ZoneInfo

    from mentalspace_platform.environment import current_environment

    tz = ZoneInfo(current_environment().practice_timezone)
    out: dict[int, list[tuple[int, str]]] = {}
    for aid, start, cid, cpt in store_rows(
        """
        select a.id, a.start_at, c.id, c.cpt_code from appointments a join charges c on c.appointment_id = a.id
        where a.status = 'COMPLETED' and exists (select 1 from clinical_notes n where n.appointment_id = a.id
              and n.status in ('SIGNED', 'AMENDED') and n.signed_at is not null)
        order by a.id, c.id
        """
    ):
        start = start if isinstance(start, dt.datetime) else dt.datetime.fromisoformat(start)
        if WINDOW[0] <= start.replace(tzinfo=dt.UTC).astimezone(tz).date() <= WINDOW[1]:
            out.setdefault(aid, []).append((cid, cpt))
    return out


__all__ = [
    "AS_OF",
    "CHARGE",
    "PATIENT",
    "PHI_COLUMNS",
    "SPEC",
    "VISIT",
    "WINDOW",
    "AmdWorld",
    "billable_appointments",
    "store_rows",
]
