"""A module's own copy of the run's small built practice, with this process and the Dagster definitions on it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from mentalspace_platform.environment import current_environment
from tests.conftest import DEPLOYMENT_VARS, SMALL_PRACTICE, copy_practice

AS_OF = SMALL_PRACTICE[SMALL_PRACTICE.index("--as-of") + 1]


@pytest.fixture(scope="module")
def practice_copy(tmp_path_factory, built_practice) -> Iterator[tuple[Path, dg.Definitions]]:
    """(var/, definitions) of the module's own copy of the run's small built practice (SMALL_PRACTICE): its tests
    change it. Runs keep the build's "today" (AS_OF), so old and new warehouses differ only by what a test
    changes; the definitions are imported afresh for this copy's environment."""
    var = copy_practice(built_practice, tmp_path_factory.mktemp("practice_copy") / "var")
    with deployment({"MENTALSPACE_VAR_DIR": str(var), "MENTALSPACE_AS_OF_DATE": AS_OF}) as defs:
        yield var, defs


@contextmanager
def deployment(variables: dict[str, str]) -> Iterator[dg.Definitions]:
    """This process pointed at the deployment `variables` name (and nothing else), with the Dagster definitions
    imported afresh for it."""
    with pytest.MonkeyPatch.context() as mp:
        for name in DEPLOYMENT_VARS:
            mp.delenv(name, raising=False)
        for name, value in variables.items():
            mp.setenv(name, value)
        for name, value in current_environment().dbt_env().items():
            mp.setenv(name, value)
        # Every orchestration module afresh: a reload of the definitions alone kept the dbt project (its target)
        # of whichever test of this worker imported it first, a PostgreSQL one included.
        with fresh_definitions() as defs:
            yield defs


def run_refresh(
    defs: dg.Definitions, run_config: dict | None = None
) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    """One `warehouse_refresh_job` run in this process, on an instance of its own (for reading the run's logs),
    which must succeed; the 15-minute schedule's refresh with `REALTIME_REFRESH`, a full one without."""
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("warehouse_refresh_job").execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    return result, instance


@contextmanager
def fresh_definitions() -> Iterator[dg.Definitions]:
    """The Dagster definitions imported afresh for this process's current environment, as a new code location
    loads them; the process's own orchestration modules are put back on exit.

    A reload of `orchestration.definitions` alone keeps the dbt project (target, target path, manifest) that
    `orchestration.defs.dbt.assets` bound when first imported: a PostgreSQL deployment after a DuckDB one in the
    same worker ran dbt against DuckDB. Reloading that module too gives the refresh job a second definition that
    the modules importing it still hold, so every orchestration module is imported afresh instead."""
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "orchestration"}
    for name in saved:
        del sys.modules[name]
    try:
        yield importlib.import_module("orchestration.definitions").defs
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "orchestration"]:
            del sys.modules[name]
        sys.modules.update(saved)
