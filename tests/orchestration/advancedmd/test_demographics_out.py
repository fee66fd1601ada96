"""Demographics both ways: changes made through the operational API's services reach AdvancedMD once; AdvancedMD's
changes land through the patient sync; both sides changed = a conflict for a person, neither side overwritten.

The store holds the synthetic practice, the simulator serves the same practice; every run is the hourly
`advancedmd_patients_job` (pull, links, push) through Dagster, and the simulator's own records are the oracle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import text

from tests.orchestration.advancedmd.conftest import AmdWorld

JOB = "advancedmd_patients_job"


def _engine():
    from operational_api.db import get_engine

    return get_engine()


def _as_admin(change: Callable) -> None:
    """Run a services-layer change as the practice's administrator, in one transaction (as the API does)."""
    from operational_api.auth import SignedInUser
    from operational_api.db import session_scope

    engine = _engine()
    with engine.connect() as conn:
        admin_id = conn.execute(text("select min(id) from users where role = 'ADMIN'")).scalar_one()
    with session_scope(engine) as session:
        change(
            session,
            SignedInUser(admin_id, "ADMIN", "Admin", None),
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
    engine.dispose()


def _links() -> dict[int, int]:
    engine = _engine()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select client_id, advancedmd_patient_id from advancedmd_patients where sync_status = 'LINKED'"
            )
        ).all()
    engine.dispose()
    return {int(c): int(p) for c, p in rows}


def _sync_rows() -> dict[int, dict]:
    engine = _engine()
    with engine.connect() as conn:
        rows = conn.execute(text("select * from advancedmd_demographic_sync")).mappings().all()
    engine.dispose()
    return {r["client_id"]: dict(r) for r in rows}


def _calls(amd: AmdWorld, action: str) -> int:
    return amd.sim.counters.by_action.get(action, 0)


def _push(amd: AmdWorld) -> dict:
    amd.advance(61)  # an hour later: the next hourly run
    result = amd.run(JOB)
    assert result.success
    from orchestration.defs.advancedmd.keys import DEMOGRAPHICS_OUT

    (mat,) = [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == DEMOGRAPHICS_OUT
    ]
    return {k: v.value for k, v in mat.metadata.items()}


def _city(client_id: int) -> str | None:
    engine = _engine()
    with engine.connect() as conn:
        city = conn.execute(text("select city from clients where id = :i"), {"i": client_id}).scalar_one()
    engine.dispose()
    return city


def test_demographics_go_both_ways_and_conflicts_wait_for_a_person(amd: AmdWorld):
    from ingest.advancedmd.demographics import open_conflicts
    from operational_api.services import clients as svc

    assert amd.sync().success
    links = _links()
    assert len(links) >= 4
    # The sync job's first run recorded the baseline of every linked client and sent nothing.
    assert set(_sync_rows()) == set(links) and _calls(amd, "updatepatient") == 0
    pushed_id, amd_side_id, both_id, insured_id = sorted(links)[:4]
    ds = amd.ds

    # 1. An API change is pushed, once.
    _as_admin(
        lambda s, actor, now: svc.update_client(
            s,
            actor,
            pushed_id,
            svc.ClientUpdate(city="Macon", zip_code="31201"),
            expected_version=None,
            now=now,
        )
    )
    meta = _push(amd)
    assert meta["pushed_patients"] == 1 and _calls(amd, "updatepatient") == 1
    patient = ds.patients[links[pushed_id]]
    assert (patient.city, patient.zip_code) == ("MACON", "31201")
    again = _push(amd)  # idempotent: nothing new to send
    assert again["pushed_patients"] == 0 and _calls(amd, "updatepatient") == 1
    # Our own write came back through the patient sync and is not mistaken for an AdvancedMD change.
    assert again["accepted_from_advancedmd"] == 0 and again["conflicts_new"] == 0
    assert all(isinstance(v, int) for v in again.values()), "metadata carries counts only"

    # 2. An AdvancedMD change lands and is not pushed back over.
    before = _city(amd_side_id)
    ds.update_patient(links[amd_side_id], at=amd.clock.now(), city="ATHENS")
    meta = _push(amd)
    assert meta["accepted_from_advancedmd"] == 1 and _calls(amd, "updatepatient") == 1
    landed = amd.table("patients", "patient_id")[links[amd_side_id]]
    assert landed["changed_at"] == ds.patients[links[amd_side_id]].changed_at.astimezone(dt.UTC).replace(
        tzinfo=None
    )
    assert ds.patients[links[amd_side_id]].city == "ATHENS" and _city(amd_side_id) == before

    # 3. Both sides changed the same person: a conflict, neither side overwritten, nothing sent.
    _as_admin(
        lambda s, actor, now: svc.update_client(
            s, actor, both_id, svc.ClientUpdate(city="Savannah"), expected_version=None, now=now
        )
    )
    ds.update_patient(links[both_id], at=amd.clock.now(), city="AUGUSTA")
    meta = _push(amd)
    assert meta["conflicts_new"] == 1 and _calls(amd, "updatepatient") == 1
    assert ds.patients[links[both_id]].city == "AUGUSTA" and _city(both_id) == "Savannah"
    (conflict,) = open_conflicts(_engine())
    assert conflict["client_id"] == both_id and conflict["conflict_fields"] == "city"
    assert _push(amd)["conflicts_open"] == 1 and _calls(amd, "updatepatient") == 1  # waits for a person
    # The person keeps the store's value: the next run pushes it.
    from mentalspace_cli.main import main

    with pytest.raises(SystemExit) as refused:
        main(["amd", "resolve-demographics", str(both_id), "--keep", "nobody"])
    assert refused.value.code == 2
    assert main(["amd", "resolve-demographics", str(both_id), "--keep", "store"]) == 0
    assert (
        main(["amd", "resolve-demographics", str(both_id), "--keep", "store"]) == 2
    )  # nothing left to decide
    assert _push(amd)["pushed_patients"] == 1 and ds.patients[links[both_id]].city == "SAVANNAH"
    assert open_conflicts(_engine()) == []

    # 4. An insurance update (a new primary policy through the API) is pushed with updateinsurance.
    patient = ds.patients[links[insured_id]]
    coverage = next(i for i in patient.insurances if i.active and i.sequence == 1)
    engine = _engine()
    with engine.connect() as conn:
        payer_id = conn.execute(
            text("select payer_id from insurance_policies where client_id = :c order by rank limit 1"),
            {"c": insured_id},
        ).scalar()
    engine.dispose()
    assert payer_id is not None, "the first linked client should be insured"
    today = amd.clock.now().date()
    _as_admin(
        lambda s, actor, now: svc.add_policy(
            s,
            actor,
            insured_id,
            svc.PolicyCreate(
                payer_id=payer_id,
                rank=1,
                member_id="ZX99887766",
                group_number="GRP-42",
                effective_date=today - dt.timedelta(days=1),
            ),
            now=now,
        )
    )
    meta = _push(amd)
    assert meta["pushed_coverages"] == 1 and _calls(amd, "updateinsurance") == 1
    assert (coverage.subscriber_id, coverage.group_number) == ("ZX99887766", "GRP-42")
    assert _push(amd)["pushed_coverages"] == 0 and _calls(amd, "updateinsurance") == 1


@pytest.mark.parametrize("amd", ["duckdb"], indirect=True)
def test_a_change_made_in_advancedmd_after_the_pull_is_refused_and_becomes_a_conflict(amd: AmdWorld):
    """AdvancedMD's stale-change refusal guards the window between our pull and our push."""
    import random

    from ingest.advancedmd.client import AdvancedMDClient
    from ingest.advancedmd.demographics import push_demographics
    from ingest.advancedmd.ratelimit import RateLimiter
    from operational_api.services import clients as svc

    assert amd.sync().success
    _push(amd)
    links = _links()
    client_id = sorted(links)[0]
    pid = links[client_id]
    _as_admin(
        lambda s, actor, now: svc.update_client(
            s, actor, client_id, svc.ClientUpdate(city="Rome"), expected_version=None, now=now
        )
    )
    landed = {p: r["changed_at"] for p, r in amd.table("patients", "patient_id").items()}
    amd.advance(1)
    amd.ds.update_patient(pid, at=amd.clock.now(), city="DALTON")  # after the pull: not landed
    client = AdvancedMDClient(
        amd.sim.credentials(),
        clock=amd.clock,
        rate_limiter=RateLimiter(amd.clock),
        rng=random.Random(0),
        timeout=5,
    )
    with client:
        counts = push_demographics(client, _engine(), links, landed, {}, today=amd.clock.now().date())
    assert counts.conflicts_new == 1 and counts.pushed_patients == 0
    assert amd.ds.patients[pid].city == "DALTON" and _city(client_id) == "Rome"
    assert _sync_rows()[client_id]["conflict_fields"] == "city"
