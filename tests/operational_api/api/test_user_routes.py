"""Staff administration over HTTP (POST /users, PATCH /users/{id}) through services/users.py: each change audited,
refusals as problem+json that change nothing. Who may call them is the authorization matrix's job."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select

from operational_api.audit import AuditEvent
from operational_api.db import session_scope
from operational_api.models import HipaaTraining, User
from tests.operational_api.api.conftest import PASSWORD, START, Api


def _problem(response: httpx.Response, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule


def _actions(api: Api, user_id: int) -> list[str]:
    """The administration rows about the user (their sign-in attempts are audited too)."""
    with session_scope(api.engine) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_id == str(user_id), AuditEvent.action.like("user.%"))
                .order_by(AuditEvent.id)
            )
        )


def test_an_administrator_adds_changes_and_deactivates_a_user(api: Api):
    admin = api.as_role("ADMIN")
    email = f"new-{uuid.uuid4().hex[:6]}@example.test"
    body = {
        "email": email,
        "first_name": "New",
        "last_name": "Hire",
        "role": "CLINICIAN",
        "password": PASSWORD,
    }
    _problem(admin.post("/users", json={**body, "password": "short"}), 422, "user.password_policy")
    made = admin.post("/users", json={**body, "license_type": "LPC_ASSOCIATE"})
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]
    assert made.json()["role"] == "CLINICIAN" and "password" not in made.text

    # Trained, but no MFA yet: the API sends them to the dashboards to enrol.
    _problem(api.sign_in(user_id), 403, "staff.hipaa_training_required")
    changed = admin.patch(
        f"/users/{user_id}",
        json={
            "role": "SUPERVISOR",
            "license_type": "LPC",
            "supervisor_id": None,
            "hipaa_training_completed": "2026-05-20",
        },
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["license_type"]) == ("SUPERVISOR", "LPC")
    _problem(api.sign_in(user_id), 403, "auth.mfa_enrolment_required")

    # A refused change in the same request leaves the earlier ones undone (one transaction).
    refused = admin.patch(f"/users/{user_id}", json={"role": "CLINICIAN", "supervisor_id": user_id})
    assert refused.status_code == 422 and refused.json()["field"] == "supervisor_id", refused.text
    _problem(admin.patch(f"/users/{user_id}", json={"is_active": True}), 422, "request.invalid")
    assert admin.patch(f"/users/{user_id}", json={"is_active": False}).json()["is_active"] is False
    with session_scope(api.engine) as session:
        user = session.get(User, user_id)
        assert (user.role, user.is_active) == ("SUPERVISOR", False)
        assert session.scalar(select(HipaaTraining.expires_date).where(HipaaTraining.user_id == user_id))
    assert _actions(api, user_id) == [
        "user.create",
        "user.set_role",
        "user.set_licence",
        "user.link_supervisor",
        "user.record_training",
        "user.deactivate",
    ]


def test_staff_made_or_changed_carry_the_api_clock_for_updated_since(api: Api):
    """GET /users?updated_since= reads users.updated_at: like every other entity's, it is the services' injected
    `now` (the time the API acted), not the server's wall clock that the column's defaults would write."""
    api.clock.now = START + dt.timedelta(days=3)
    body = {"email": f"clock-{uuid.uuid4().hex[:6]}@example.test", "first_name": "Clock", "last_name": "Hire"}
    made = api.as_role("ADMIN").post("/users", json={**body, "role": "CLINICIAN", "password": PASSWORD})
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]

    def listed_since(since: dt.datetime) -> bool:
        page = api.as_role("ADMIN").get("/users", params={"updated_since": since.isoformat(), "limit": 500})
        assert page.status_code == 200 and page.json()["next_cursor"] is None, page.text
        return user_id in {u["id"] for u in page.json()["items"]}

    minute = dt.timedelta(minutes=1)
    assert listed_since(api.clock.now - minute) and not listed_since(api.clock.now + minute)
    api.clock.now += dt.timedelta(days=1)
    changed = api.as_role("ADMIN").patch(f"/users/{user_id}", json={"role": "SUPERVISOR"})
    assert changed.status_code == 200, changed.text
    assert listed_since(api.clock.now - minute) and not listed_since(api.clock.now + minute)
