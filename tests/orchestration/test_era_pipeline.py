"""An 835 dropped in the inbox becomes one partition, lands in raw_era, and the same file twice lands once."""

from __future__ import annotations

import importlib
import shutil

import dagster as dg
import pytest

from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.era_inbox import inbox_dir, submit
from tests.conftest import EDI835_SAMPLES, copy_practice, needs_shared_samples, run_cli

SAMPLE = EDI835_SAMPLES / "linuxforhealth-835-managed-care.edi"
SAMPLE_2 = EDI835_SAMPLES / "edi835parser-emedny-5010.edi"


@pytest.fixture
def built(var_dir, built_practice):
    """This test's own copy of the run's small built practice (a build is the slow part; tests post into it)."""
    return copy_practice(built_practice, var_dir)


def _sensor_tick(defs, instance):
    # Called directly: the daemon adds the requested partitions before it validates the runs.
    result = defs.resolve_sensor_def("era_inbox_sensor")(dg.build_sensor_context(instance=instance))
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result.run_requests or []


@needs_shared_samples  # skipped before the build fixture runs, not failed after it
def test_inbox_file_lands_once_and_balances(built):
    defs = importlib.reload(importlib.import_module("orchestration.definitions")).defs
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("era_file_job")

    submit(SAMPLE.read_bytes(), SAMPLE.name)
    shutil.copy(SAMPLE_2, inbox_dir() / SAMPLE_2.name)  # a file dropped straight into the inbox
    requests = _sensor_tick(defs, instance)
    assert len(requests) == 2
    for request in requests:
        result = job.execute_in_process(instance=instance, partition_key=request.partition_key)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)

    warehouse = Warehouse(current_environment())
    counts = warehouse.query("select source_file_id, count(*) as n from raw_era.claim_payments group by 1")
    assert sorted(counts["n"].to_list()) == [2, 3]

    # The same bytes again, under another name: no new partition, no new run.
    submit(SAMPLE.read_bytes(), "renamed-copy.835")
    assert _sensor_tick(defs, instance) == []
    assert len(instance.get_dynamic_partitions("era_files")) == 2
    # Re-running a partition replaces its rows instead of adding to them.
    job.execute_in_process(instance=instance, partition_key=requests[0].partition_key)
    again = warehouse.query("select count(*) as n from raw_era.claim_payments").item()
    assert again == 5


def test_generated_remittance_posts_once_through_the_sensor_and_the_page(built, tmp_path):
    from sqlalchemy import func, select

    from operational_api.db import get_engine, store_origin
    from operational_api.era.posting import post_bytes
    from operational_api.era.remittances import claim_specs_from_store, write_remittance
    from operational_api.models import EraFile, PaymentApplication

    defs = importlib.reload(importlib.import_module("orchestration.definitions")).defs
    instance = dg.DagsterInstance.ephemeral()
    engine = get_engine()
    # A built synthetic practice is still the generator's (the build's alert sync adds only derived rows),
    # so `make build` may replace it.
    assert store_origin(engine).generated
    specs = claim_specs_from_store(engine, limit=40)
    written = write_remittance(specs, tmp_path)
    data = written.path.read_bytes()

    submit(data, written.path.name)
    (request,) = _sensor_tick(defs, instance)
    result = defs.resolve_job_def("era_file_job").execute_in_process(
        instance=instance, partition_key=request.partition_key
    )
    assert result.success
    posted = result.asset_materializations_for_node("era__posted_remittance")[0].metadata
    assert posted["already_posted"].value is False
    assert posted["auto_posted"].value > 0
    with engine.connect() as conn:
        applications = conn.execute(select(func.count(PaymentApplication.id))).scalar()
        files = conn.execute(select(func.count(EraFile.id))).scalar()

    # The billing page posts the same bytes: nothing is posted twice.
    again = post_bytes(engine, data, "uploaded-again.835")
    assert again.already_posted
    submit(data, "dropped-again.835")
    assert _sensor_tick(defs, instance) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count(PaymentApplication.id))).scalar() == applications
        assert conn.execute(select(func.count(EraFile.id))).scalar() == files == 1

    # Posted payments are the practice's own records now: a fresh build refuses to replace them.
    assert not store_origin(engine).generated
    refused = run_cli(
        "build",
        "--fresh",
        "--clinicians",
        "2",
        "--months",
        "1",
        "--as-of",
        "2026-11-25",
        env={"MENTALSPACE_VAR_DIR": str(built)},
    )
    assert refused.returncode == 2 and "not made by the generator" in refused.stderr, refused.stderr
    with engine.connect() as conn:
        assert conn.execute(select(func.count(PaymentApplication.id))).scalar() == applications
