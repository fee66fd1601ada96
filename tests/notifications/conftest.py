"""The hand-built practice (tests/notifications/practice.py) built once per run through the real CLI; each test
gets its own copy of the store (the outbox is written) and reads the shared warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from operational_api.db import get_engine
from operational_api.notifications.loopback import LoopbackSmtp
from operational_api.notifications.smtp import parse_smtp_url
from tests.conftest import (
    DEPLOYMENT_VARS,
    REPO_ROOT,
    STEP_TIMEOUT,
    copy_store,
    run_cli,
    run_dbt_parse,
    shared_build,
    shared_once,
)
from tests.dbt_parse import adopt_dbt_parse
from tests.notifications import practice

BUILD_THE_PRACTICE = "import sys; from tests.notifications import practice; practice.build(sys.argv[1])"


@shared_build
def built_practice(tmp_path_factory) -> Path:
    """var/ of the hand-built practice, store -> warehouse -> dbt (MENTALSPACE_TEST_NOTIFY_PRACTICE reuses one)."""
    reuse = os.environ.get("MENTALSPACE_TEST_NOTIFY_PRACTICE")
    if reuse:
        return Path(reuse)

    def make(var: Path) -> None:
        adopt_dbt_parse(var, run_dbt_parse(tmp_path_factory))
        # In a process of its own: this runs beside the worker's tests (built ahead of need, in a thread), and
        # alembic's migration context is process-wide ("KeyError: 'config'" in a test migrating meanwhile).
        subprocess.run(
            [sys.executable, "-c", BUILD_THE_PRACTICE, f"sqlite:///{var / 'operational.db'}"],
            cwd=REPO_ROOT,
            check=True,
            timeout=STEP_TIMEOUT,
        )
        result = run_cli(
            "build",
            env={"MENTALSPACE_VAR_DIR": str(var), "MENTALSPACE_AS_OF_DATE": practice.AS_OF.isoformat()},
        )
        assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]

    return shared_once(tmp_path_factory, "notify-practice", make)


@pytest.fixture
def store(built_practice, tmp_path, monkeypatch):
    """A private copy of the practice's store (with its alerts) and this process pointed at the warehouse."""
    for name in (*DEPLOYMENT_VARS, "SMTP_URL", "SMTP_USERNAME", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    copy = tmp_path / "operational.db"
    copy_store(built_practice / "operational.db", copy)
    url = f"sqlite:///{copy}"
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_practice))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MENTALSPACE_AS_OF_DATE", practice.AS_OF.isoformat())
    engine = get_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def mail_server(tmp_path):
    with LoopbackSmtp(tmp_path / "mail") as server:
        yield server


@pytest.fixture
def smtp(mail_server):
    return parse_smtp_url(mail_server.url)
