"""The AdvancedMD session shared across clients and processes (issue 16): AdvancedMD certifies a client that
caches its token until the end of the day; logging in per run or per step is named as a failure cause.

Real clients against the real loopback simulator; the store is the real file (or the store's table).
"""

from __future__ import annotations

import json
import logging
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.advancedmd.client import Session
from ingest.advancedmd.clock import FakeClock, ScaledClock
from ingest.advancedmd.sessions import FileSessionStore, SessionStore, StoredSession
from ingest.advancedmd.simulator import SimulatorConfig, SimulatorDataset, SimulatorHandle, start_simulator
from tests.conftest import STEP_TIMEOUT
from tests.ingest.conftest import make_client
from tests.servers import start_workers

PT = ZoneInfo("America/Los_Angeles")
PROCESSES, CALLS = 4, 3


def _run_processes(tmp_path: Path, store: str, database_url: str = "") -> tuple[list[dict], int]:
    start = datetime(2025, 3, 10, 2, 0, tzinfo=ZoneInfo("America/Denver"))  # off-peak
    clock = ScaledClock(start, 1.0)
    dataset = SimulatorDataset.synthetic(seed=5, n_patients=10, n_days=3)
    config = SimulatorConfig(seed=5)
    with start_simulator(dataset, config, clock=clock) as sim:
        spec = {
            "login_url": sim.login_url,
            "username": config.username,
            "password": config.password,
            "office_key": dataset.office_key,
            "clock_start": start.isoformat(),
            "clock_speed": 1.0,
            "clock_epoch": clock.epoch,
            "store": store,
            "state_dir": str(tmp_path / "sessions"),
            "limits_dir": str(tmp_path / "rate_limits"),
            "database_url": database_url,
            "calls": CALLS,
        }
        # Started together: they all find no session at once, and must not all log in.
        procs = start_workers("tests.ingest.session_worker", spec, PROCESSES)
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=STEP_TIMEOUT)
            assert proc.returncode == 0, err[-2000:]
            assert not re.search(dataset.office_key + "[a-z0-9]{24}", out + err)  # no token, anywhere
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results, sim.counters.logins


def test_processes_sharing_the_file_store_log_in_once(tmp_path: Path) -> None:
    results, server_logins = _run_processes(tmp_path, "file")
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    assert server_logins == 1 and sum(r["logins"] for r in results) == 1, results
    path = tmp_path / "sessions" / "991001.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.postgres
def test_processes_sharing_the_store_table_log_in_once(tmp_path: Path, pg_database: str) -> None:
    from operational_api.db import get_engine, migrate

    engine = get_engine(pg_database)
    migrate(engine)
    engine.dispose()
    results, server_logins = _run_processes(tmp_path, "sql", pg_database)
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    assert server_logins == 1 and sum(r["logins"] for r in results) == 1, results


def _store(tmp_path: Path) -> SessionStore:
    return FileSessionStore(tmp_path / "sessions")


def test_without_a_store_every_client_logs_in(sim: SimulatorHandle, clock: FakeClock) -> None:
    """The failure the store prevents (and proof the tests above can fail)."""
    for _ in range(3):
        make_client(sim, clock).lookup_patients()
    assert sim.counters.logins == 3


def test_after_the_session_ends_one_relogin_and_a_stale_token_is_not_discarded(
    sim: SimulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    store = _store(tmp_path)
    a = make_client(sim, clock, session_store=store)
    b = make_client(sim, clock, session_store=store)
    a.lookup_patients()
    b.lookup_patients()
    assert (a.stats.logins, b.stats.logins, sim.counters.logins) == (1, 0, 1)
    first = a.session
    assert first is not None and b.session is not None and b.session.token == first.token

    sim.expire_sessions()
    assert a.lookup_patients().item_count == 40  # the call that met the timeout succeeds
    assert (a.stats.logins, a.stats.session_relogins, sim.counters.logins) == (2, 1, 2)
    second = store.load("991001")
    assert second is not None and second.session.token != first.token

    # b still holds the first token: its failure must not throw away a's new session, which b adopts.
    assert b.lookup_patients().item_count == 40
    assert b.stats.logins == 0 and sim.counters.logins == 2
    assert store.load("991001") == second
    assert not store.discard("991001", first.token)


def test_a_session_is_not_reused_past_midnight_pacific(
    small_dataset: SimulatorDataset, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 23, 30, tzinfo=PT))
    with start_simulator(small_dataset, SimulatorConfig(seed=5), clock=clock) as sim:
        store = _store(tmp_path)
        # A writer with a later "end of day" (a misconfigured token time zone) stores a session said to be good
        # until 03:00 Pacific; a reader applies its own rule to the issue time, not the writer's refresh time.
        lenient = make_client(sim, clock, session_store=store, token_tz="Pacific/Honolulu")
        lenient.lookup_patients()
        stored = store.load("991001")
        assert stored is not None and stored.session.refresh_at > datetime(2025, 3, 11, 0, 0, tzinfo=PT)

        reader = make_client(sim, clock, session_store=store)
        reader.lookup_patients()
        assert reader.stats.logins == 0  # before midnight: reused

        clock.advance_to(datetime(2025, 3, 11, 0, 0, 30, tzinfo=PT))
        late = make_client(sim, clock, session_store=store)
        late.lookup_patients()
        assert late.stats.logins == 1 and sim.counters.session_timeouts == 0
        renewed = store.load("991001")
        assert renewed is not None and renewed.session.issued_at == clock.now()


def test_another_accounts_session_is_not_used(sim: SimulatorHandle, clock: FakeClock, tmp_path: Path) -> None:
    store = _store(tmp_path)
    make_client(sim, clock, session_store=store).lookup_patients()
    other = make_client(sim, clock, session_store=store, office_key="991001")
    other._account = "another"  # as if the login URL or user differed
    other.lookup_patients()
    assert other.stats.logins == 1


def test_the_token_stays_out_of_logs_reprs_and_the_warehouse(
    sim: SimulatorHandle, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    caplog.set_level(logging.DEBUG)
    client = make_client(sim, clock, session_store=store)
    client.lookup_patients()
    sim.expire_sessions()
    client.lookup_patients()
    stored = store.load("991001")
    assert stored is not None
    token = stored.session.token
    assert token not in caplog.text and token not in repr(stored) and token not in repr(client.session)

    from operational_api.export import exported_tables

    assert "advancedmd_sessions" not in {t.name for t in exported_tables()}


def test_a_lock_held_elsewhere_is_waited_for_only_until_the_deadline(
    sim: SimulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    from ingest.advancedmd.errors import DeadlineExceededError

    store = _store(tmp_path)
    # Its own store object, as another process would have: the lock is the file's, not this process's.
    client = make_client(
        sim, clock, session_store=_store(tmp_path), deadline=clock.now() + timedelta(seconds=30)
    )
    with store.locked("991001", lambda: True) as held:  # another process logging in, for ever
        assert held.acquired
        clock.advance(31)
        with pytest.raises(DeadlineExceededError):
            client.lookup_patients()
    assert sim.counters.logins == 0


@pytest.fixture(params=["file", pytest.param("sql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SessionStore, SessionStore]]:
    """Two handles on one store, as two processes would hold them."""
    if request.param == "file":
        yield _store(tmp_path), _store(tmp_path)
        return
    from operational_api.db import get_engine, migrate

    url = request.getfixturevalue("pg_database")
    engine = get_engine(url)
    migrate(engine)
    from ingest.advancedmd.sessions_sql import SqlSessionStore

    yield SqlSessionStore(engine), SqlSessionStore(get_engine(url))
    engine.dispose()


def _stored(token: str) -> StoredSession:
    now = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    session = Session(
        token, "https://api-1.example/processrequest/api-1/TEMP", now, now + timedelta(hours=15), now
    )
    return StoredSession("acct", session)


def test_a_store_keeps_one_session_and_discards_only_the_token_that_failed(any_store) -> None:
    mine, theirs = any_store
    assert mine.load("991001") is None
    with mine.locked("991001", lambda: False) as view:
        assert view.acquired and view.current is None
        view.replacement = _stored("991001first")
    assert theirs.load("991001") == _stored("991001first")
    assert not theirs.discard("991001", "991001other")  # not the token that failed: kept
    with theirs.locked("991001", lambda: False) as view:
        assert view.current == _stored("991001first")
        # While another holds the lock (logging in), discarding does not wait; nor does a second locker.
        assert not mine.discard("991001", "991001first")
        with mine.locked("991001", lambda: True) as blocked:
            assert not blocked.acquired
            blocked.replacement = _stored("991001lost")
        view.replacement = _stored("991001second")
    assert mine.load("991001") == _stored("991001second")
    assert mine.discard("991001", "991001second")
    assert theirs.load("991001") is None
