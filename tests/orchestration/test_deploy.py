"""The production Dagster deployment (deploy/): its instance config is valid Dagster config, its run queue limits
name the tags our jobs carry (in dagster.yaml and the Helm values alike), and on PostgreSQL a real ERA run
succeeds with its run and events stored in PostgreSQL."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from urllib.parse import urlparse

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator

from orchestration.lib.run_queue import (
    ADVANCEDMD_OFFICE_TAG,
    ADVANCEDMD_RUN_TAGS,
    ERA_POSTING_TAG,
    ERA_POSTING_TAGS,
    WAREHOUSE_REFRESH_TAG,
    WAREHOUSE_REFRESH_TAGS,
)
from tests.conftest import (
    DEPLOYMENT_VARS,
    EDI835_SAMPLES,
    PG_ADMIN_URL,
    REPO_ROOT,
    copy_practice,
    needs_shared_samples,
    new_pg_database,
)

DEPLOY = REPO_ROOT / "deploy"
PG_VARS = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)
SAMPLE = EDI835_SAMPLES / "linuxforhealth-835-managed-care.edi"
# Jobs by the queue limit they fall under.
JOBS_BY_TAGS = {
    "warehouse_refresh_job": WAREHOUSE_REFRESH_TAGS,
    "era_file_job": ERA_POSTING_TAGS,
    "advancedmd_sync_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_patients_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_visits_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_visit_days_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_eligibility_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_claims_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_transactions_job": ADVANCEDMD_RUN_TAGS,
    "advancedmd_charges_out_job": ADVANCEDMD_RUN_TAGS,
}


def _deploy_config() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def test_production_dagster_yaml_is_valid_instance_config_on_postgresql():
    config, custom_class = dagster_instance_config(str(DEPLOY))
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}
    # Credentials only through the environment.
    assert {
        value["env"] for value in config["storage"]["postgres"]["postgres_db"].values() if "env" in value
    } == set(PG_VARS)
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_run_queue_limits_name_the_tags_our_jobs_carry_in_dagster_yaml_and_the_helm_values(parsed_var_dir):
    limits = _deploy_config()["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {limit["key"] for limit in limits} == {
        WAREHOUSE_REFRESH_TAG,
        ERA_POSTING_TAG,
        ADVANCEDMD_OFFICE_TAG,
    }
    by_key = {limit["key"]: limit for limit in limits}
    assert by_key[WAREHOUSE_REFRESH_TAG]["limit"] == 1
    assert by_key[ADVANCEDMD_OFFICE_TAG] == {
        "key": ADVANCEDMD_OFFICE_TAG,
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    }
    helm = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    queued = helm["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["tagConcurrencyLimits"] == limits
    assert queued["maxConcurrentRuns"] == _deploy_config()["concurrency"]["runs"]["max_concurrent_runs"]
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm["postgresql"]["enabled"] is False

    defs = importlib.import_module("orchestration.definitions").defs
    for job_name, tags in JOBS_BY_TAGS.items():
        job_tags = defs.resolve_job_def(job_name).tags
        assert tags.items() <= job_tags.items(), (job_name, job_tags)


def test_the_run_queue_of_deploy_dagster_yaml_loads_into_an_instance(tmp_path):
    # Everything but the storage, on SQLite: the queue needs no database server to be checked.
    config = _deploy_config()
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 10
        assert {limit["key"] for limit in queue.tag_concurrency_limits} == {
            WAREHOUSE_REFRESH_TAG,
            ERA_POSTING_TAG,
            ADVANCEDMD_OFFICE_TAG,
        }
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


# Skipped before any fixture runs (the session's built practice included).
needs_dagster_postgres = pytest.mark.skipif(
    importlib.util.find_spec("dagster_postgres") is None, reason="dagster-postgres is not installed"
)
needs_postgres = pytest.mark.skipif(not PG_ADMIN_URL, reason="MENTALSPACE_TEST_PG_URL is not set")


@pytest.fixture
def production_instance(tmp_path, monkeypatch):
    """deploy/dagster.yaml as DAGSTER_HOME, its DAGSTER_PG_* pointing at a brand-new PostgreSQL database."""
    with new_pg_database() as url:
        parts = urlparse(url)
        monkeypatch.setenv("DAGSTER_PG_HOST", parts.hostname or "127.0.0.1")
        monkeypatch.setenv("DAGSTER_PG_PORT", str(parts.port or 5432))
        monkeypatch.setenv("DAGSTER_PG_USERNAME", parts.username or "postgres")
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", parts.password or "")
        monkeypatch.setenv("DAGSTER_PG_DB", parts.path.lstrip("/"))
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance, url


@needs_postgres
@needs_dagster_postgres
@needs_shared_samples
def test_an_era_run_on_the_production_instance_stores_its_run_and_events_in_postgresql(
    production_instance, built_practice, tmp_path, monkeypatch
):
    from operational_api.era_inbox import submit

    instance, url = production_instance
    var = copy_practice(built_practice, tmp_path / "var")
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(var))
    defs = importlib.reload(importlib.import_module("orchestration.definitions")).defs

    stored = submit(SAMPLE.read_bytes(), SAMPLE.name)
    instance.add_dynamic_partitions("era_files", [stored.file_hash])
    result = defs.resolve_job_def("era_file_job").execute_in_process(
        instance=instance, partition_key=stored.file_hash
    )
    assert result.success
    assert instance.get_run_by_id(result.run_id).tags[ERA_POSTING_TAG] == "true"

    with psycopg.connect(url) as con:
        status = con.execute("select status from runs where run_id = %s", (result.run_id,)).fetchone()
        events = con.execute(
            "select count(*), count(*) filter (where dagster_event_type = 'ASSET_MATERIALIZATION') "
            "from event_logs where run_id = %s",
            (result.run_id,),
        ).fetchone()
    assert status == ("SUCCESS",)
    assert events[0] > 10 and events[1] >= 1, events
