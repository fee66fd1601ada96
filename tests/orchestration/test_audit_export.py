"""The nightly audit export writes each practice-local day once, read-only, and only verifies it afterwards."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat

import dagster as dg
import pytest

from operational_api import audit
from operational_api.audit_export import export_day
from operational_api.db import get_engine, migrate, session_scope
from operational_api.errors import PlatformError
from operational_api.models_audit import AuditExport
from orchestration.defs.audit.assets import audit_daily_export
from orchestration.lib.resources import OperationalStoreResource

TZ = "America/New_York"
DAY = dt.date(2026, 12, 2)
# UTC instants: the first is still 1 December in New York, the last is already 3 December.
TIMES = [
    dt.datetime(2026, 12, 2, 4, 59),
    dt.datetime(2026, 12, 2, 5, 0),
    dt.datetime(2026, 12, 2, 18, 0),
    dt.datetime(2026, 12, 3, 4, 59, 59),
    dt.datetime(2026, 12, 3, 5, 0),
]


@pytest.fixture
def store(var_dir):
    url = f"sqlite:///{var_dir / 'operational.db'}"
    engine = get_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        for i, when in enumerate(TIMES):
            audit.record(session, action="page.view", source=audit.DASHBOARDS, client_ids=[i], now=when)
    yield engine, url
    engine.dispose()


def _materialize(url: str, day: dt.date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [audit_daily_export],
        partition_key=day.isoformat(),
        resources={"store": OperationalStoreResource(database_url=url)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_day_is_exported_once_read_only_and_verified_on_rerun(store, var_dir):
    engine, url = store
    result = _materialize(url, DAY)
    assert result.success
    path = var_dir / "audit" / "2026" / "12" / "audit-2026-12-02.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == [2, 3, 4]  # the practice-local day, not the UTC one
    assert {"row_hash", "prev_hash", "client_ids"} <= set(lines[0])
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with session_scope(engine) as session:
        record = session.get(AuditExport, DAY)
        assert record.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (record.row_count, record.first_id, record.last_id) == (3, 2, 4)
        assert record.chain_hash == lines[-1]["row_hash"]
    before = path.read_bytes()
    again = _materialize(url, DAY)
    assert again.success
    metadata = again.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert metadata["files_written"].value == 0 and metadata["rows"].value == 3
    assert path.read_bytes() == before


def test_a_changed_file_fails_the_rerun_naming_the_day(store, var_dir):
    engine, url = store
    done = export_day(engine, DAY, timezone=TZ, now=dt.datetime(2026, 12, 4))
    done.path.chmod(0o644)
    done.path.write_text(done.path.read_text().replace('"page.view"', '"page.edit"', 1))
    with pytest.raises(
        PlatformError, match="audit export of 2026-12-02: .* was changed since it was written"
    ):
        export_day(engine, DAY, timezone=TZ, now=dt.datetime(2026, 12, 4))
    result = _materialize(url, DAY)
    assert not result.success


def test_a_day_is_exported_only_once_it_has_ended(store):
    engine, _ = store
    with pytest.raises(PlatformError, match="has not ended yet in America/New_York"):
        export_day(engine, DAY, timezone=TZ, now=dt.datetime(2026, 12, 3, 4, 0))
    empty = export_day(engine, dt.date(2026, 11, 20), timezone=TZ, now=dt.datetime(2026, 12, 4))
    assert empty.rows == 0 and empty.path.read_bytes() == b""
