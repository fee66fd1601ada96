"""A module's own copy of the run's small built practice, with this process and the Dagster definitions on it."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
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
    changes; the definitions are reloaded for this copy's environment."""
    var = copy_practice(built_practice, tmp_path_factory.mktemp("practice_copy") / "var")
    with pytest.MonkeyPatch.context() as mp:
        for name in DEPLOYMENT_VARS:
            mp.delenv(name, raising=False)
        mp.setenv("MENTALSPACE_VAR_DIR", str(var))
        mp.setenv("MENTALSPACE_AS_OF_DATE", AS_OF)
        for name, value in current_environment().dbt_env().items():
            mp.setenv(name, value)
        yield var, load_definitions()


def load_definitions() -> dg.Definitions:
    """The Dagster definitions reloaded for this process's current environment.

    The dbt assets module first: it binds the dbt project (target, target path, manifest) when imported, so a
    reload of `orchestration.definitions` alone kept the first environment's warehouse (a PostgreSQL test after
    a DuckDB one in the same worker ran dbt against DuckDB)."""
    importlib.reload(importlib.import_module("orchestration.defs.dbt.assets"))
    return importlib.reload(importlib.import_module("orchestration.definitions")).defs
