"""The embedded Dagster instance and dbt resource: our speed-ups keep Dagster's behaviour."""

from __future__ import annotations

import re
import subprocess

import dagster as dg

from mentalspace_cli.main import _dagster_home
from mentalspace_platform.environment import DBT_PROJECT_DIR
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DbtCli
from orchestration.lib.event_log_storage import OPEN_SHARDS, PooledSqliteEventLogStorage


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=counted)
def counted_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def test_event_log_keeps_every_event_across_many_runs(var_dir, monkeypatch):
    home = _dagster_home()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    job = dg.Definitions(
        assets=[counted], asset_checks=[counted_has_rows]
    ).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        run_ids = [job.execute_in_process(instance=instance).run_id for _ in range(OPEN_SHARDS + 3)]
        assert len(instance.event_log_storage._engines) <= OPEN_SHARDS + 1  # run shards + the index

    # A second process (the web UI, the daemon) reads what the first one wrote, evicted shards included.
    with dg.DagsterInstance.from_config(str(home)) as reader:
        assert reader.get_latest_materialization_event(counted.key).run_id == run_ids[-1]
        for run_id in run_ids:
            assert reader.get_run_by_id(run_id).is_success
            kinds = {e.dagster_event_type for e in reader.all_logs(run_id) if e.dagster_event}
            assert {
                dg.DagsterEventType.ASSET_MATERIALIZATION,
                dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            } <= kinds
        reader.wipe()  # closes the pooled connections before Dagster unlinks the run files
        assert reader.get_latest_materialization_event(counted.key) is None


def test_the_event_log_remembers_tables_found_but_asks_again_for_one_missing(var_dir, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(_dagster_home()))
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert storage.has_table("asset_check_executions") and storage.has_table("asset_check_executions")
        assert storage._tables_found >= {"asset_check_executions"}
        assert not storage.has_table("made_later")
        with storage.index_connection() as conn:
            conn.exec_driver_sql("create table made_later (id integer)")
        assert storage.has_table("made_later")  # as after `dagster instance migrate`


def test_dbt_resource_reports_the_dbt_on_disk_and_skips_the_in_process_adapter():
    printed = subprocess.run([DBT_EXECUTABLE, "--version"], capture_output=True, text=True, check=True).stdout
    on_disk = re.search(r"installed:\s*(\d+\.\d+\.\d+)", printed).group(1)
    resource = DbtCli(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
    assert str(resource._cli_version) == on_disk
    # The hooks we override must still exist upstream, or the overrides silently stop saving time.
    from dagster_dbt import DbtCliResource

    assert hasattr(DbtCliResource, "_initialize_dbt_core_adapter") and hasattr(DbtCliResource, "_cli_version")
    assert resource._initialize_dbt_core_adapter(["build"]) is None
