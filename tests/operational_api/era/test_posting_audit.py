"""ERA posting writes its audit rows in its own transactions: a posted file, a resolved claim (with its client),
a claim set aside; nothing for a file already posted or a posting that failed half-way."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from operational_api import audit
from operational_api.audit import AuditEvent
from operational_api.audit_chain import verify
from operational_api.db import session_scope
from operational_api.era import posting
from operational_api.era.posting import mark_unmatchable, post_remittance, resolve_review, review_queue
from operational_api.era.remittances import load_specs_into_store
from operational_api.models import Claim
from tests.operational_api.era.conftest import as_printed, spec
from tests.operational_api.era.test_posting import DAY, HARD, PAID, STORE, _standard_file, _write


def _audit_rows(engine) -> list[tuple]:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(r.action, r.source, r.entity, r.entity_id, r.client_ids, r.detail) for r in rows]


def test_a_posting_is_audited_once_and_a_failed_one_not_at_all(engine, tmp_path, monkeypatch):
    load_specs_into_store(engine, STORE)
    path, _ = _standard_file(tmp_path)
    monkeypatch.setattr(posting, "CHUNK_CLAIMS", 2)

    def crash(stage, done, total):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        post_remittance(engine, path, on_progress=crash)
    assert _audit_rows(engine) == []
    monkeypatch.undo()
    result = post_remittance(engine, path, audit_source=audit.CLI)
    assert post_remittance(engine, path).already_posted
    [(action, source, entity, entity_id, client_ids, detail)] = _audit_rows(engine)
    assert (action, source, entity, entity_id, client_ids) == (
        "era.post",
        "cli",
        "era_file",
        str(result.era_file_id),
        "[]",
    )
    assert detail["claims"] == result.claim_count and detail["auto_posted"] == result.auto_posted
    assert verify(engine).rows == 1


def test_resolving_and_setting_aside_are_audited_with_the_client(engine, tmp_path):
    load_specs_into_store(engine, STORE)
    hard = as_printed(HARD, scenario="paid", claim_control_number="EQQ26001999", patient_last_name="Eastbrok",
                      member_id=None)  # fmt: skip
    stranger = dataclasses.replace(
        spec(99, 99, "Nobody", "Known", None, DAY, (("90834", "130"),)),
        claim_control_number="ZZ1",
        scenario="paid",
    )
    path, _ = _write(tmp_path, [as_printed(PAID, scenario="paid"), hard, stranger])
    post_remittance(engine, path, uploaded_by=None)
    queue = {item.claim_control_number: item for item in review_queue(engine)}
    resolve_review(engine, queue["EQQ26001999"].era_claim_id, charge_id=50, audit_source=audit.DASHBOARDS)
    mark_unmatchable(engine, queue["ZZ1"].era_claim_id, audit_source=audit.DASHBOARDS)
    with engine.connect() as conn:
        client = conn.execute(select(Claim.client_id).where(Claim.id == 5)).scalar_one()
    rows = _audit_rows(engine)
    assert [(r[0], r[1], r[3], r[4]) for r in rows[1:]] == [
        ("era.resolve", "dashboards", str(queue["EQQ26001999"].era_claim_id), f"[{client}]"),
        ("era.unmatchable", "dashboards", str(queue["ZZ1"].era_claim_id), "[]"),
    ]
    assert rows[1][5] == {"claim_id": 5, "charge_ids": [50]}
    assert "Eastbro" not in repr(rows)  # ids only, never the remittance's patient names
