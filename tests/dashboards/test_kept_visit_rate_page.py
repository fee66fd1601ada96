"""The KVR page renders from the warehouse, scoped to what the signed-in role may see."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from orchestration.lib.environment import current_environment
from orchestration.lib.warehouse import Warehouse
from tests.dashboards.conftest import APP, signed_in_app


def _latest(clinician_id: int | None, grain: str) -> float:
    scope = "scope = 'practice'" if clinician_id is None else f"scope = 'clinician' and clinician_id = {clinician_id}"
    return float(Warehouse(current_environment()).query(
        "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
        f"and {scope} and period_grain = '{grain}' order by period_start desc limit 1"
    ).item())


def test_administrator_sees_the_practice_kvr(built_demo, monkeypatch):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    at = signed_in_app(built_demo, "ADMIN")
    assert at.title[0].value == "Kept Visit Rate (KVR)"
    assert at.metric[0].value == f"{_latest(None, 'week'):.1f}%"
    assert len(at.get("plotly_chart")) == 1
    assert "Whole practice" in at.selectbox(key="kvr_clinician").options


def test_clinician_sees_only_their_own_kvr(built_demo, monkeypatch):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    at = signed_in_app(built_demo, "CLINICIAN")
    user = at.session_state["auth_user"]
    picker = at.selectbox(key="kvr_clinician")
    assert len(picker.options) == 1, "a clinician must not be offered anyone else"
    at.radio(key="kvr_grain").set_value("month").run()
    assert at.metric[0].value == f"{_latest(user.user_id, 'month'):.1f}%"


def test_wrong_password_is_refused_and_the_fifth_failure_locks(built_demo, monkeypatch):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    from tests.dashboards.conftest import demo_logins

    email, password = demo_logins(built_demo)["FRONT_DESK"]
    at = AppTest.from_file(APP, default_timeout=60).run()
    for _ in range(5):
        at.text_input(key="auth_email").input(email)
        at.text_input(key="auth_password").input("not-the-password")
        at.button[0].click().run()
    assert "locked" not in at.error[0].value
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    assert "locked" in at.error[0].value


def test_page_says_what_to_do_before_the_first_build(var_dir):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
