"""No client name or date of birth in anything the end-to-end demo build wrote about itself: its console output
(every log line and message of `mentalspace build`), the Dagster event logs and compute logs, dbt's logs and
artefacts, and the audit files. The data stores themselves (operational store, warehouse, 835 inbox) are left out:
PHI belongs in the store, and the warehouse's own test covers what it may hold."""

from __future__ import annotations

import datetime as dt

from operational_api.db import get_engine
from tests.operational_api.phi_scan import PhiNeedles, scan_tree

# Data, not logs: the store, the warehouse and the ERA files hold (or may hold) PHI by design.
DATA = {"operational.db", "warehouse.duckdb", "era", "operational.db-wal", "operational.db-shm"}


def test_the_scanner_finds_a_planted_name_and_date_of_birth(tmp_path):
    needles = PhiNeedles.build([("Maria", "Okafor")], ["Ruth Okafor"], [dt.date(1984, 3, 9)])
    (tmp_path / "run.log").write_text("posted claim for OKAFOR, Maria born 03/09/1984\n")
    (tmp_path / "ok.log").write_text("maria okafor-like words apart: Maria met someone; 1984-03-10\n")
    assert scan_tree(needles, tmp_path) == {"run.log": ["03/09/1984", "okafor maria"]}


def test_no_client_name_or_dob_in_the_demo_builds_logs_and_events(built_demo):
    engine = get_engine(f"sqlite:///{built_demo / 'operational.db'}")
    needles = PhiNeedles.from_store(engine)
    engine.dispose()
    assert len(needles.names) > 100 and len(needles.dobs) > 50, "the demo's clients were read"
    scanned = [
        p for p in built_demo.rglob("*") if p.is_file() and not DATA & set(p.relative_to(built_demo).parts)
    ]
    assert any("dagster" in p.parts for p in scanned) and any("dbt_logs" in p.parts for p in scanned)
    assert (built_demo / "build_output.log").exists(), "the build's console output is kept for this scan"
    assert scan_tree(needles, built_demo, skip=DATA) == {}
