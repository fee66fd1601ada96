"""Treatment and safety plans, supervision sessions and staff records through the service layer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from operational_api.models import SafetyPlan, TreatmentPlan
from operational_api.services import notes, plans, staff, supervision
from operational_api.services.clinical_common import rule_value
from operational_api.services.notes import NoteDraftInput
from operational_api.services.plans import PlanInput, PlanReviewInput
from operational_api.services.staff import BreachInput, CaseInputInput, GoalInput, TrainingInput
from operational_api.services.supervision import SupervisionSessionInput
from tests.operational_api.services.conftest import NOW, run


def test_treatment_plan_review_dates_follow_the_rule_and_a_new_plan_supersedes(practice, refused):
    actor = practice.actor("clinician")
    client = practice.clients["c"].id
    interval = run(practice.engine, lambda s: rule_value(s, "TREATMENT_PLAN_REVIEW", "review_interval_days"))
    first = run(
        practice.engine,
        lambda s: plans.create_treatment_plan(
            s, actor, PlanInput(client_id=client, effective_date=dt.date(2026, 9, 1)), now=NOW
        ),
    )
    assert first.review_due_date == dt.date(2026, 9, 1) + dt.timedelta(days=interval)
    reviewed = run(
        practice.engine,
        lambda s: plans.review_treatment_plan(
            s,
            actor,
            first.id,
            PlanReviewInput(reviewed_date=dt.date(2026, 11, 20)),
            expected_version=1,
            now=NOW,
        ),
    )
    assert (reviewed.review_due_date, reviewed.version) == (
        dt.date(2026, 11, 20) + dt.timedelta(days=interval),
        2,
    )
    refused(
        lambda s: plans.review_treatment_plan(
            s,
            actor,
            first.id,
            PlanReviewInput(reviewed_date=dt.date(2026, 11, 21)),
            expected_version=1,
            now=NOW,
        ),
        "treatment_plan.version_conflict",
        412,
    )
    second = run(
        practice.engine,
        lambda s: plans.create_treatment_plan(
            s, actor, PlanInput(client_id=client, effective_date=dt.date(2026, 11, 30)), now=NOW
        ),
    )
    with practice.engine.connect() as conn:
        superseded = conn.execute(
            select(TreatmentPlan.superseded_date).where(TreatmentPlan.id == first.id)
        ).scalar_one()
    assert superseded == dt.date(2026, 11, 30) and second.superseded_date is None
    refused(
        lambda s: plans.review_treatment_plan(
            s, actor, first.id, PlanReviewInput(reviewed_date=dt.date(2026, 12, 1)), now=NOW
        ),
        "treatment_plan.superseded",
        409,
    )
    refused(
        lambda s: plans.create_treatment_plan(
            s, actor, PlanInput(client_id=client, effective_date=dt.date(2026, 10, 1)), now=NOW
        ),
        "treatment_plan.backdated",
        409,
    )


def test_safety_plan_rules(practice, refused):
    actor = practice.actor("clinician")
    client = practice.clients["c"].id
    soap = run(
        practice.engine,
        lambda s: notes.create_note_draft(
            s, actor, NoteDraftInput(client_id=client, note_type="SOAP_NOTE"), now=NOW
        ),
    )
    refused(
        lambda s: plans.create_safety_plan(
            s,
            actor,
            PlanInput(client_id=client, effective_date=dt.date(2026, 11, 1), note_id=soap.id),
            now=NOW,
        ),
        "plan.note_mismatch",
        422,
    )
    refused(
        lambda s: plans.create_safety_plan(
            s,
            practice.actor("billing"),
            PlanInput(client_id=client, effective_date=dt.date(2026, 11, 1)),
            now=NOW,
        ),
        "role.forbidden",
        403,
    )
    refused(
        lambda s: plans.create_safety_plan(
            s,
            practice.actor("associate"),
            PlanInput(client_id=client, effective_date=dt.date(2026, 11, 1)),
            now=NOW,
        ),
        "client.not_found",
        404,
    )
    made = run(
        practice.engine,
        lambda s: plans.create_safety_plan(
            s, actor, PlanInput(client_id=client, effective_date=dt.date(2026, 11, 1)), now=NOW
        ),
    )
    days = run(practice.engine, lambda s: rule_value(s, "SAFETY_PLAN", "review_interval_days"))
    assert made.review_due_date == dt.date(2026, 11, 1) + dt.timedelta(days=days)
    with practice.engine.connect() as conn:
        assert conn.execute(select(SafetyPlan.id).where(SafetyPlan.client_id == client)).scalars().all() == [
            made.id
        ]


def test_supervision_session_rules(practice, refused):
    sup = practice.actor("supervisor")
    associate = practice.users["associate"].id
    payload = SupervisionSessionInput(
        supervisee_id=associate, session_date=dt.date(2026, 11, 27), duration_hours=Decimal("1.5")
    )
    refused(
        lambda s: supervision.log_supervision_session(s, practice.actor("clinician"), payload, now=NOW),
        "user.not_found",
        404,
    )
    refused(
        lambda s: supervision.log_supervision_session(
            s, sup, payload.model_copy(update={"session_date": dt.date(2026, 12, 5)}), now=NOW
        ),
        "supervision.future_date",
        422,
    )
    refused(
        lambda s: supervision.log_supervision_session(
            s, practice.actor("admin"), payload.model_copy(update={"supervisor_id": practice.users["clinician"].id}),
            now=NOW,
        ),
        "supervision.not_supervisee",
        409,
    )  # fmt: skip
    row = run(practice.engine, lambda s: supervision.log_supervision_session(s, sup, payload, now=NOW))
    assert (row.supervisor_id, row.duration_hours, row.is_note_signed) == (
        practice.users["supervisor"].id,
        Decimal("1.50"),
        False,
    )
    refused(
        lambda s: supervision.sign_supervision_note(s, practice.actor("associate"), row.id, now=NOW),
        "supervision.not_supervisor",
        409,
    )
    signed = run(practice.engine, lambda s: supervision.sign_supervision_note(s, sup, row.id, now=NOW))
    assert (signed.is_note_signed, signed.signed_at) == (True, NOW)
    refused(
        lambda s: supervision.sign_supervision_note(s, sup, row.id, now=NOW),
        "supervision.already_signed",
        409,
    )
    listed = run(
        practice.engine, lambda s: [r.id for r in supervision.list_supervision_sessions(s, sup).items]
    )
    assert listed == [row.id]


def test_hipaa_training_expiry_comes_from_the_rule(practice, refused):
    days = run(practice.engine, lambda s: rule_value(s, "HIPAA_TRAINING", "validity_days"))
    me = practice.users["frontdesk"].id
    row = run(
        practice.engine,
        lambda s: staff.record_hipaa_training(
            s,
            practice.actor("frontdesk"),
            TrainingInput(user_id=me, completed_date=dt.date(2026, 11, 2)),
            now=NOW,
        ),
    )
    assert row.expires_date == dt.date(2026, 11, 2) + dt.timedelta(days=days)
    refused(
        lambda s: staff.record_hipaa_training(
            s,
            practice.actor("frontdesk"),
            TrainingInput(user_id=practice.users["billing"].id, completed_date=dt.date(2026, 11, 2)),
            now=NOW,
        ),
        "training.not_own",
        403,
    )


def test_breach_steps_run_in_order_once(practice, refused):
    report = BreachInput(severity="HIGH", category="misdirected_fax", detected_at=NOW - dt.timedelta(hours=3))
    incident = run(
        practice.engine, lambda s: staff.report_breach(s, practice.actor("frontdesk"), report, now=NOW)
    )
    admin = practice.actor("admin")
    refused(
        lambda s: staff.advance_breach(s, admin, incident.id, "resolve", now=NOW), "breach.transition", 409
    )
    refused(
        lambda s: staff.advance_breach(s, practice.actor("billing"), incident.id, "respond", now=NOW),
        "role.forbidden",
        403,
    )
    run(practice.engine, lambda s: staff.advance_breach(s, admin, incident.id, "respond", now=NOW))
    refused(
        lambda s: staff.advance_breach(s, admin, incident.id, "respond", now=NOW), "breach.transition", 409
    )
    done = run(practice.engine, lambda s: staff.advance_breach(s, admin, incident.id, "resolve", now=NOW))
    assert done.responded_at == done.resolved_at == NOW


def test_case_input_and_goals(practice, refused):
    client = practice.clients["a"].id
    payload = CaseInputInput(client_id=client, discipline="PSYCHIATRY", input_date=dt.date(2026, 11, 30))
    refused(
        lambda s: staff.add_case_input(s, practice.actor("clinician"), payload, now=NOW),
        "client.not_found",
        404,
    )
    made = run(
        practice.engine, lambda s: staff.add_case_input(s, practice.actor("supervisor"), payload, now=NOW)
    )
    assert made.contributor_id == practice.users["supervisor"].id

    goal = GoalInput(
        user_id=practice.users["associate"].id,
        metric_key="kept_visit_rate",
        target_value=Decimal("85"),
        start_date=dt.date(2026, 12, 1),
        end_date=dt.date(2026, 12, 31),
    )
    refused(lambda s: staff.create_goal(s, practice.actor("clinician"), goal, now=NOW), "role.forbidden", 403)
    created = run(
        practice.engine, lambda s: staff.create_goal(s, practice.actor("supervisor"), goal, now=NOW)
    )
    run(
        practice.engine,
        lambda s: staff.set_goal_status(s, practice.actor("supervisor"), created.id, "ACHIEVED", now=NOW),
    )
    refused(
        lambda s: staff.set_goal_status(s, practice.actor("admin"), created.id, "MISSED", now=NOW),
        "goal.transition",
        409,
    )
