"""Several client processes share one rate-limit budget per office key (file state, or the store's row).

Real processes against the real simulator on loopback, all on one scaled clock (simulated Monday 09:00
Mountain, peak, running 6x faster than the wall): tier 2 allows 12 calls per minute at peak.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.advancedmd.clock import ScaledClock
from ingest.advancedmd.simulator import SimulatorConfig, SimulatorDataset, start_simulator
from tests.conftest import STEP_TIMEOUT
from tests.servers import start_workers

PEAK_START = datetime(2025, 3, 10, 9, 0, tzinfo=ZoneInfo("America/Denver"))  # Monday, peak
SPEED = 6.0
PROCESSES, CALLS = 3, 8  # 24 tier-2 calls: two minutes' worth at 12 per minute
TIER2_PEAK = 12


def _run_workers(limiter: str, tmp_path, database_url: str = "") -> tuple[list[float], list[str], int]:
    clock = ScaledClock(PEAK_START, SPEED)
    dataset = SimulatorDataset.synthetic(seed=5, n_patients=10, n_days=3)
    config = SimulatorConfig(seed=5)
    with start_simulator(dataset, config, clock=clock) as sim:
        spec = {
            "login_url": sim.login_url,
            "username": config.username,
            "password": config.password,
            "office_key": dataset.office_key,
            "clock_start": PEAK_START.isoformat(),
            "clock_speed": SPEED,
            "clock_epoch": clock.epoch,
            # The margin is simulated seconds: 2 s is a third of a real second of scheduling slack here.
            "margin_seconds": 2.0,
            "limiter": limiter,
            "state_dir": str(tmp_path / "rate_limits"),
            "database_url": database_url,
            "calls": CALLS,
            "visit_date": PEAK_START.date().isoformat(),
        }
        procs = start_workers("tests.ingest.limiter_worker", spec, PROCESSES)
        sent: list[float] = []
        errors: list[str] = []
        for proc in procs:
            out, err = proc.communicate(timeout=STEP_TIMEOUT)
            assert proc.returncode == 0, err[-2000:]
            result = json.loads(out.strip().splitlines()[-1])
            sent += result["sent"]
            errors += result["errors"]
        time.sleep(0.05)
        violations = sim.counters.violations_by_tier.get(2, 0)
    return sorted(sent), errors, violations


def _assert_shared_budget(sent: list[float], errors: list[str], violations: int) -> None:
    assert violations == 0 and errors == []
    assert len(sent) == PROCESSES * CALLS
    # Never more than 12 in any 60 s, and the budget used: the second dozen goes out in the next minute.
    assert all(sent[i + TIER2_PEAK] - sent[i] >= 60 for i in range(len(sent) - TIER2_PEAK))
    span = sent[-1] - sent[0]
    assert 60 <= span <= 60 + 30, f"24 calls took {span:.0f} simulated seconds"


def test_processes_sharing_the_file_state_never_exceed_a_tier_and_use_its_budget(tmp_path):
    _assert_shared_budget(*_run_workers("file", tmp_path))


@pytest.mark.postgres
def test_processes_sharing_the_store_row_never_exceed_a_tier(tmp_path, pg_database):
    from operational_api.db import get_engine, migrate

    migrate(get_engine(pg_database))
    _assert_shared_budget(*_run_workers("sql", tmp_path, pg_database))


def test_processes_with_their_own_limiters_do_exceed_it(tmp_path):
    """The failure the shared state prevents (and proof the test above can fail)."""
    _, errors, violations = _run_workers("local", tmp_path)
    assert violations > 0 and errors
