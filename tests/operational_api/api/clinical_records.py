"""Records of the clinical and billing scope kinds for the authorization matrix: one of clinician A's and one of
clinician B's per kind (test_authorization_matrix.matrix_records merges them in)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from operational_api.models import (
    BreachIncident,
    Charge,
    Claim,
    ClinicalNote,
    Payment,
    PerformanceGoal,
    SupervisionSession,
    TreatmentPlan,
)


def clinical_records(session, world, now: dt.datetime, client_ids: list[int]) -> dict[str, list[int]]:
    """kind -> [A's record, B's record]; `client_ids` are A's and B's clients, in that order."""
    out: dict[str, list[int]] = {}
    supervisors = {world.clinician_a: world.users["SUPERVISOR"], world.clinician_b: world.users["ADMIN"]}
    for clinician, client_id in zip((world.clinician_a, world.clinician_b), client_ids, strict=True):
        note = ClinicalNote(
            client_id=client_id, clinician_id=clinician, note_type="PROGRESS_NOTE", status="DRAFT",
            content="Matrix note.", created_at=now, updated_at=now,
        )  # fmt: skip
        plan = TreatmentPlan(
            client_id=client_id, clinician_id=clinician, effective_date=dt.date(2026, 5, 1),
            review_due_date=dt.date(2026, 7, 30),
        )  # fmt: skip
        charge = Charge(
            client_id=client_id, clinician_id=clinician, service_date=dt.date(2026, 5, 29), cpt_code="90834",
            units=1, charge_amount=Decimal("130.00"), status="UNBILLED", created_at=now, updated_at=now,
        )  # fmt: skip
        claim = Claim(
            client_id=client_id, payer_id=world.payer_id, claim_control_number=f"MX{uuid.uuid4().hex[:12]}",
            status="SUBMITTED", total_charge_amount=Decimal("130.00"), submitted_at=now,
        )  # fmt: skip
        payment = Payment(
            client_id=client_id, payment_amount=Decimal("20.00"), payment_method="CASH",
            payment_date=now.date(), created_at=now,
        )  # fmt: skip
        supervision = SupervisionSession(
            supervisee_id=clinician, supervisor_id=supervisors[clinician], session_date=dt.date(2026, 5, 28),
            duration_hours=Decimal("1.00"), session_type="INDIVIDUAL", is_note_signed=False,
        )  # fmt: skip
        breach = BreachIncident(severity="LOW", category="matrix", detected_at=now)
        goal = PerformanceGoal(
            user_id=clinician, metric_key="kept_visit_rate", target_value=Decimal("85"),
            start_date=dt.date(2026, 6, 1), end_date=dt.date(2026, 6, 30), status="ACTIVE",
            created_at=now, updated_at=now,
        )  # fmt: skip
        rows = {
            "note": note, "treatment_plan": plan, "charge": charge, "claim": claim, "payment": payment,
            "supervision_session": supervision, "breach_incident": breach, "performance_goal": goal,
        }  # fmt: skip
        session.add_all(rows.values())
        session.flush()
        for kind, row in rows.items():
            out.setdefault(kind, []).append(row.id)
    return out
