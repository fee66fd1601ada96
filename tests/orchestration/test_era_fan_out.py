"""Ten 835 files dropped in the inbox at once are posted by ten concurrent runs, each in its own process as
Dagster's run launcher starts them, on PostgreSQL (store and warehouse): no deadlock, no lost file, no double post.

Two of the files remit the same claims (the same payer's answer sent twice under another interchange number), so
the runs also race for the same charges: whichever posts first pays them and the other must send them to review.
The outcome is held to the same ten files posted one after another on a copy of the same store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import (
    DEPLOYMENT_VARS,
    PG_ADMIN_URL,
    REPO_ROOT,
    STEP_TIMEOUT,
    adopt_run_parse_pg,
    new_pg_database,
)

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="MENTALSPACE_TEST_PG_URL is not set")

FILES = 10
# One run, as the run launcher would start it: its own process and instance, waiting at the gate so that every
# run is past its imports when they start together. Given several files, their runs one after another in the one
# process, each with an instance of its own.
RUN = """
import sys, time
from pathlib import Path
import dagster as dg
from orchestration.definitions import defs

gate, file_hashes = Path(sys.argv[1]), sys.argv[2:]
job = defs.resolve_job_def("era_file_job")
while not gate.exists():
    time.sleep(0.02)
for file_hash in file_hashes:
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("era_files", [file_hash])
        result = job.execute_in_process(instance=instance, partition_key=file_hash, raise_on_error=False)
        for event in result.all_events:
            if event.is_step_failure:
                print(event.step_key, event.step_failure_data.error.message.splitlines()[0], file=sys.stderr)
    if not result.success:
        sys.exit(1)
"""


def _env(var: Path, store_url: str, warehouse_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    return {
        **clean,
        "MENTALSPACE_VAR_DIR": str(var),
        "DATABASE_URL": store_url,
        "MENTALSPACE_WAREHOUSE_URL": warehouse_url,
        "DBT_TARGET": "prod",
    }


def _remittances(store_url: str, out: Path) -> list[Path]:
    """Nine files over disjoint claims, and a tenth remitting the first file's claims again."""
    from edi835.generate import RemittanceOptions
    from operational_api.db import get_engine
    from operational_api.era.remittances import claim_specs_from_store, write_remittance

    engine = get_engine(store_url)
    specs = claim_specs_from_store(engine)
    engine.dispose()
    assert len(specs) >= 2 * (FILES - 1), len(specs)
    chunk = len(specs) // (FILES - 1)
    paths = [
        write_remittance(
            specs[i * chunk : (i + 1) * chunk],
            out,
            RemittanceOptions(seed=i + 1, interchange_control_number=100 + i),
            stem=f"era_{i}",
        ).path
        for i in range(FILES - 1)
    ]
    again = RemittanceOptions(seed=1, interchange_control_number=999)
    paths.append(write_remittance(specs[:chunk], out, again, stem="era_again").path)
    return paths


def _outcome(store_url: str) -> dict[str, object]:
    from operational_api.db import get_engine

    engine = get_engine(store_url)
    with engine.connect() as conn:
        outcome = {
            "files": conn.execute(text("select count(*), count(distinct file_hash) from era_files"))
            .one()
            ._tuple(),
            "payments": conn.execute(
                text(
                    "select count(*), coalesce(sum(payment_amount), 0) from payments where era_file_id is not null"
                )
            )
            .one()
            ._tuple(),
            "applied": conn.execute(
                text("select count(*), coalesce(sum(applied_amount), 0) from payment_applications")
            )
            .one()
            ._tuple(),
            "files_by_status": dict(
                conn.execute(text("select matching_status, count(*) from era_files group by 1")).all()
            ),
            "claims_by_review": dict(
                conn.execute(text("select review_status, count(*) from era_claims group by 1")).all()
            ),
            "overpaid_charges": conn.execute(
                text(
                    "select count(*) from charges c where c.charge_amount < "
                    "(select coalesce(sum(a.applied_amount), 0) from payment_applications a where a.charge_id = c.id)"
                )
            ).scalar(),
        }
    engine.dispose()
    return outcome


def test_ten_files_at_once_post_as_they_would_one_after_another(tmp_path, tmp_path_factory):
    from operational_api.bulk import load_tables
    from operational_api.db import get_engine, migrate
    from operational_api.synthetic import PracticeSpec, generate

    with (
        new_pg_database() as template_url,
        new_pg_database() as warehouse_url,
        new_pg_database() as serial_warehouse_url,
    ):
        engine = get_engine(template_url)
        migrate(engine)
        practice = generate(PracticeSpec(clinicians=2, months=3, seed=7))
        load_tables(engine, {n: (t.columns, t.rows) for n, t in practice.tables.items()})
        engine.dispose()
        files = _remittances(template_url, tmp_path / "files")
        template = template_url.rpartition("/")[2]
        with (
            new_pg_database(template=template) as store_url,
            new_pg_database(template=template) as serial_url,
        ):
            # At once: every file in the inbox, one run per file, released together.
            var = tmp_path / "var"
            # The dbt parse a code location makes once before it launches runs (the definitions read dbt's
            # manifest): the run's, adopted here, or each of the ten runs, finding none in the new var/ folder,
            # parses the whole project at once.
            adopt_run_parse_pg(var, warehouse_url, tmp_path_factory)
            env = _env(var, store_url, warehouse_url)
            stored = subprocess.run(
                [sys.executable, "-c", _SUBMIT, *map(str, files)],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert len(set(stored)) == FILES
            gate = tmp_path / "go"
            # Output to files, not pipes: a run blocked writing a full pipe while holding a lock would stall
            # the others behind it, a deadlock of the test's own making.
            logs = [tmp_path / f"run_{i}.log" for i in range(FILES)]
            runs = []
            for file_hash, log in zip(stored, logs, strict=True):
                with open(log, "w") as out:
                    runs.append(
                        subprocess.Popen(
                            [sys.executable, "-c", RUN, str(gate), file_hash],
                            cwd=REPO_ROOT,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            time.sleep(1)
            gate.touch()
            failures = []
            for run, log in zip(runs, logs, strict=True):
                if run.wait(timeout=STEP_TIMEOUT) != 0:
                    failures.append(log.read_text().strip().splitlines()[-3:])
            assert not failures, failures

            # One after another, on the copy.
            serial_var = tmp_path / "serial_var"
            adopt_run_parse_pg(serial_var, serial_warehouse_url, tmp_path_factory)
            serial_env = _env(serial_var, serial_url, serial_warehouse_url)
            serial_stored = subprocess.run(
                [sys.executable, "-c", _SUBMIT, *map(str, files)],
                cwd=REPO_ROOT,
                env=serial_env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert serial_stored == stored
            (tmp_path / "serial_go").touch()
            done = subprocess.run(
                [sys.executable, "-c", RUN, str(tmp_path / "serial_go"), *serial_stored],
                cwd=REPO_ROOT,
                env=serial_env,
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr[-2000:]

            at_once, one_by_one = _outcome(store_url), _outcome(serial_url)
            assert at_once == one_by_one
            assert at_once["files"] == (FILES, FILES)
            assert at_once["overpaid_charges"] == 0
            # The tenth file's claims were paid once, by whichever of the two files posted first.
            assert at_once["files_by_status"].get("NEEDS_REVIEW", 0) >= 1, at_once

            # Every file landed in the warehouse once, with every claim payment the file holds.
            import psycopg

            import edi835

            expected = {
                file_hash: edi835.parse_file(path).tables["claims"].height
                for file_hash, path in zip(stored, files, strict=True)
            }
            with psycopg.connect(warehouse_url) as con:
                assert dict(_landed_claims(con)) == expected


_SUBMIT = """
import sys
from pathlib import Path
from operational_api.era_inbox import submit

for name in sys.argv[1:]:
    path = Path(name)
    print(submit(path.read_bytes(), path.name).file_hash)
"""


def _landed_claims(con) -> list[tuple[str, int]]:
    # The raw schema's name depends on the target's schema prefix: find it rather than restate the rule.
    (schema,) = con.execute(
        "select table_schema from information_schema.tables where table_name = 'claim_payments' "
        "and table_schema like '%raw_era'"
    ).fetchone()
    return con.execute(
        f'select source_file_id, count(*) from "{schema}".claim_payments group by 1'
    ).fetchall()
