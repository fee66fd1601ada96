"""Charges out: completed, signed, not-on-hold sessions reach AdvancedMD through savecharges exactly once.

The practice's charges are in the store only (billing kept in the store); the simulator serves the same
practice without them, so every charge AdvancedMD ends up holding came from the asset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from ingest.advancedmd.simulator import dataset_from_practice
from operational_api.synthetic import Practice
from tests.orchestration.advancedmd.conftest import (
    AmdWorld,
    billable_appointments,
    simulated_world,
    store_rows,
)

JOB = "advancedmd_charges_out_job"


@pytest.fixture
def world(request: pytest.FixtureRequest, var_dir, practice: Practice, monkeypatch) -> Iterator[AmdWorld]:
    """The store holding the practice; the simulator serving it without the store's charges."""
    with simulated_world(
        request, monkeypatch, lambda _: dataset_from_practice(practice, post_charges=False)
    ) as world:
        yield world


def _submissions() -> dict[int, tuple]:
    rows = store_rows(
        "select charge_id, status, advancedmd_visit_id, advancedmd_charge_ids, refused_field"
        " from advancedmd_charge_submissions"
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def _amd_charges(world: AmdWorld) -> dict[int, Counter[str]]:
    """AdvancedMD's live charges per visit: CPT counts."""
    out: dict[int, Counter[str]] = {}
    for c in world.ds.live_charges():
        out.setdefault(c.visit_id, Counter())[c.cpt_code] += 1
    return out


def test_signed_completed_sessions_are_submitted_once_and_held_ones_never(world: AmdWorld):
    world.sync()
    billable = billable_appointments()
    assert len(billable) > 5
    held, refused, *_ = sorted(billable)
    store_rows("update charges set is_billing_hold = true where appointment_id = :a", a=held)
    store_rows("update charges set cpt_code = '99999' where appointment_id = :a", a=refused)
    # With AdvancedMD as billing's system of record nothing is pushed (charges are entered there).
    store_rows(
        "insert into practice_settings (key, value, updated_at) "
        "values ('system_of_record.billing', 'advancedmd', current_timestamp)"
    )
    world.run(JOB)
    assert world.sim.counters.by_action.get("savecharges", 0) == 0 and not _submissions()
    store_rows("update practice_settings set value = 'store' where key = 'system_of_record.billing'")

    world.run(JOB)

    subs = _submissions()
    amd = _amd_charges(world)
    assert not any(cid in subs for cid, _ in billable[held])  # on hold: never sent, not even recorded
    assert {subs[cid][0] for cid, _ in billable[refused]} == {"REFUSED"}
    assert subs[billable[refused][0][0]][3] == "lines[0].cpt_code"  # the field, named
    sent = {aid: charges for aid, charges in billable.items() if aid not in (held, refused)}
    visit_of = {}
    for aid, charges in sent.items():
        rows = {subs[cid] for cid, _ in charges}
        assert len(rows) == 1, rows  # one submission per appointment
        status, visit_id, ids, _ = next(iter(rows))
        assert status == "SUBMITTED" and visit_id and ids
        visit_of[aid] = visit_id
        assert amd[visit_id] == Counter(cpt for _, cpt in charges)
        live = sorted(c.charge_id for c in world.ds.live_charges() if c.visit_id == visit_id)
        assert sorted(int(i) for i in ids.split(",")) == live
    # Nothing else reached AdvancedMD: no held, refused or unbillable visit has charges.
    assert set(amd) == set(visit_of.values())
    calls = world.sim.counters.by_action.get("savecharges", 0)

    world.run(JOB)  # a re-run sends nothing

    assert world.sim.counters.by_action.get("savecharges", 0) == calls
    assert _amd_charges(world) == amd and _submissions() == subs

    # A run that died after AdvancedMD took the charges but before our rows: the next run recovers the ids
    # without a second set.
    lost = next(iter(sent))
    store_rows(
        "delete from advancedmd_charge_submissions where charge_id in ("
        + ",".join(str(cid) for cid, _ in sent[lost])
        + ")"
    )
    result = world.run(JOB)

    md = {
        e.event_specific_data.materialization.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }["advancedmd/charge_submissions"]
    assert md["duplicates_recovered"].value == 1 and md["visits_submitted"].value == 1
    assert _amd_charges(world) == amd
    assert _submissions()[sent[lost][0][0]][0] == "SUBMITTED"


def test_a_run_skips_while_another_holds_the_office_keys_charges_out_lock(world: AmdWorld):
    """Two concurrent runs would both find the same visits pending (the second replacing the first's charges)."""
    from operational_api.db import get_engine
    from orchestration.defs.advancedmd.locks import office_lock

    world.sync()
    engine = get_engine()
    with office_lock(engine, world.ds.office_key, "charges_out") as held:
        assert held
        result = world.run(JOB)
    (md,) = [
        e.event_specific_data.materialization.metadata for e in result.get_asset_materialization_events()
    ]
    assert md["skipped"].value == "another run is submitting"
    assert world.sim.counters.by_action.get("savecharges", 0) == 0 and not _submissions()
    world.run(JOB)  # the lock released: this run submits
    assert world.sim.counters.by_action.get("savecharges", 0) > 0
    engine.dispose()


@pytest.mark.parametrize("store", ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_office_lock_is_held_by_one_at_a_time_and_waits_for_its_turn(var_dir, store, request):
    """The lock the syncs take turns on (``locks.py``): one holder; a waiter gets it once the holder is done.
    Embedded: an flock per open file; PostgreSQL: a session advisory lock per pooled connection."""
    import threading
    import time

    from operational_api.db import get_engine
    from orchestration.defs.advancedmd.locks import office_lock

    engine = get_engine(request.getfixturevalue("pg_database")) if store == "postgres" else get_engine()
    with office_lock(engine, "991001", "visits") as first:
        with (
            office_lock(engine, "991001", "visits") as second,
            office_lock(engine, "991002", "visits") as other,
        ):
            assert first and not second and other  # per office key
        released = threading.Event()

        def wait_for_turn(out: list) -> None:
            with office_lock(engine, "991001", "visits", wait_seconds=30) as held:
                out.append((held, released.is_set()))

        got: list = []
        waiter = threading.Thread(target=wait_for_turn, args=(got,))
        waiter.start()
        time.sleep(0.5)
        assert not got  # still waiting
        released.set()
    waiter.join(timeout=10)
    assert got == [(True, True)]
    engine.dispose()
