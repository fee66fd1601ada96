"""The administrators' Users page (AppTest): lists the staff, changes them through the service layer with an
audit row each, and refuses to deactivate the last administrator. (Other roles do not get the page:
test_pages.py checks every page outside each role's navigation.)"""

from __future__ import annotations

import sqlite3
import uuid

from tests.dashboards.conftest import demo_logins, signed_in_app, user_id


def _audit(var, action: str) -> list[tuple]:
    with sqlite3.connect(var / "operational.db") as con:
        return con.execute(
            "select actor_user_id, entity_id, outcome from audit_events where action = ? order by id",
            (action,),
        ).fetchall()


def test_administrator_manages_users_and_cannot_remove_the_last_administrator(demo_env):
    at = signed_in_app(demo_env, "ADMIN")
    at.switch_page("app_pages/users_admin.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Users"
    listed = next(f.value for f in at.dataframe if "mfa_set_up" in f.value.columns)
    admin_email = demo_logins(demo_env)["ADMIN"][0]
    admin_id = user_id(demo_env, admin_email)
    assert admin_email in set(listed["email"])
    assert "password_hash" not in listed.columns and "mfa_secret" not in listed.columns

    at.selectbox(key="users_pick").set_value(admin_id).run()
    at.button(key="users_deactivate").click().run()
    assert any("last active administrator" in e.value for e in at.error), [e.value for e in at.error]
    assert _audit(demo_env, "user.deactivate")[-1] == (admin_id, None, "refused")

    # A spare supervisor: not a demo sign-in, not used by the other tests.
    with sqlite3.connect(demo_env / "operational.db") as con:
        spare = con.execute("select max(id) from users where role = 'SUPERVISOR'").fetchone()[0]
    at.selectbox(key="users_pick").set_value(spare).run()
    at.button(key="users_reset_mfa").click().run()
    assert not at.exception, at.exception
    assert any("MFA reset" in s.value for s in at.success)
    assert _audit(demo_env, "user.reset_mfa")[-1] == (admin_id, str(spare), "ok")


def test_administrator_adds_a_user_with_the_password_policy_enforced(demo_env):
    at = signed_in_app(demo_env, "ADMIN")
    at.switch_page("app_pages/users_admin.py").run()
    email = f"new.hire.{uuid.uuid4().hex[:8]}@practice.example"  # a reused demo folder keeps earlier hires
    at.text_input(key="users_new_email").input(email.upper())
    at.text_input(key="users_new_first").input("New")
    at.text_input(key="users_new_last").input("Hire")
    at.selectbox(key="users_new_role").set_value("FRONT_DESK")
    at.text_input(key="users_new_password_initial").input("Password2026!")
    at.button(key="FormSubmitter:users_create_form-Add user").click().run()
    assert any("common-password list" in e.value for e in at.error), [e.value for e in at.error]
    at.text_input(key="users_new_password_initial").input("Quiet-River-77?")
    at.button(key="FormSubmitter:users_create_form-Add user").click().run()
    assert not at.exception, at.exception
    assert any(f"{email} added" in s.value for s in at.success), [e.value for e in at.error]
    new_id = user_id(demo_env, email)
    admin_id = user_id(demo_env, demo_logins(demo_env)["ADMIN"][0])
    assert _audit(demo_env, "user.create")[-1] == (admin_id, str(new_id), "ok")
    assert _audit(demo_env, "user.create")[-2] == (admin_id, None, "refused")
