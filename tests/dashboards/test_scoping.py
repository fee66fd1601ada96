"""A user cannot see another clinician's figures or clients by changing a filter, the URL, or session
state: pages fall back to what the user may see and say so, and the loaders refuse out-of-scope ids."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards.data import alerts, metrics, practice
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from tests.dashboards.conftest import signed_in_app, table_with

AS_OF = dt.date(2026, 11, 25)
REFUSED = "You can only view figures of clinicians you are responsible for"


def warehouse(sql: str, params: list | None = None):
    return Warehouse(current_environment()).query(sql, params)


def other_clinician(not_in: set[int]) -> int:
    ids = warehouse("select clinician_id from marts.dim_clinicians where is_active order by clinician_id")[
        "clinician_id"
    ]
    return next(int(i) for i in ids if int(i) not in not_in)


def client_names(clinician_id: int) -> set[str]:
    """Display names of the clients a clinician may see: attributed to them, or seen or written up by them."""
    return set(
        warehouse(
            "select display_name from marts.dim_clients where clinician_id = ? or client_id in ("
            "select client_id from marts.fct_appointments where clinician_id = ? union "
            "select client_id from marts.fct_clinical_notes where clinician_id = ?)",
            [clinician_id, clinician_id, clinician_id],
        )["display_name"]
    )


def shown_clients(at) -> set[str]:
    return {name for d in at.dataframe if "client" in d.value.columns for name in d.value["client"]}


def test_clinician_url_parameter_for_another_clinician_is_refused(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    me = at.session_state["auth_user"].user_id
    other = other_clinician({me})
    at.switch_page("app_pages/my_practice.py")
    at.query_params["clinician"] = str(other)
    at.run()
    assert not at.exception
    assert any(REFUSED in w.value for w in at.warning)
    week_kvr = float(
        warehouse(
            "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
            "and period_grain = 'week' and period_start = ? and scope = 'clinician' and clinician_id = ?",
            [dt.date(2026, 11, 23), me],
        ).item()
    )
    assert {m.label: m.value for m in at.metric}["KVR (this week)"] == f"{week_kvr:.1f}%"
    assert shown_clients(at) - client_names(me) <= {None}, "only the clinician's own clients are listed"
    assert not (shown_clients(at) & (client_names(other) - client_names(me)))


def test_clinician_session_state_tampering_is_refused(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    me = at.session_state["auth_user"].user_id
    other = other_clinician({me})
    at.switch_page("app_pages/my_practice.py").run()
    at.session_state["mp_clinician"] = other
    at.run()
    assert not at.exception
    assert any(REFUSED in w.value for w in at.warning)
    assert not (shown_clients(at) & (client_names(other) - client_names(me)))
    # The explorer too: neither another clinician nor the practice-wide figure.
    at.switch_page("app_pages/metric_explorer.py").run()
    for planted in (other, None):
        at.session_state["mx_clinician"] = planted
        at.run()
        assert not at.exception
        table = table_with(at, "period_start", "numerator")
        mine = warehouse(
            "select numerator from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
            "and period_grain = 'week' and scope = 'clinician' and clinician_id = ? "
            "order by period_start desc",
            [me],
        )
        assert list(table["numerator"]) == pytest.approx([float(v) for v in mine["numerator"]])


def test_clinician_cannot_ask_the_explorer_for_the_practice_figure(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    at.switch_page("app_pages/metric_explorer.py")
    at.query_params["clinician"] = "practice"
    at.run()
    assert any(REFUSED in w.value for w in at.warning)
    assert "Whole practice" not in at.caption[0].value


def test_supervisor_cannot_open_a_clinician_outside_their_team(demo_env):
    at = signed_in_app(demo_env, "SUPERVISOR")
    user = at.session_state["auth_user"]
    outsider = other_clinician(set(user.visible_clinician_ids))
    at.switch_page("app_pages/my_practice.py")
    at.query_params["clinician"] = str(outsider)
    at.run()
    assert any(REFUSED in w.value for w in at.warning)
    team_names = set(
        warehouse(
            "select clinician_name from marts.dim_clinicians where clinician_id in "
            f"({', '.join(str(i) for i in user.visible_clinician_ids)})"
        )["clinician_name"]
    )
    assert set(at.selectbox(key="mp_clinician").options) == team_names, "the picker offers the team only"
    assert not (
        shown_clients(at)
        & (client_names(outsider) - set().union(*(client_names(c) for c in user.visible_clinician_ids)))
    )
    # A supervisee is allowed: the URL opens their page.
    supervisee = next(c for c in user.visible_clinician_ids if c != user.user_id)
    at.query_params["clinician"] = str(supervisee)
    at.session_state["mp_clinician"] = supervisee
    at.run()
    assert not any(REFUSED in w.value for w in at.warning)
    assert at.selectbox(key="mp_clinician").value == supervisee


def test_loaders_return_nothing_outside_the_scope(demo_env):
    clinicians = warehouse("select clinician_id from marts.dim_clinicians order by clinician_id")[
        "clinician_id"
    ]
    me, other = int(clinicians[0]), int(clinicians[1])
    assert metrics.metric_series("kept_visit_rate", "week", other, (me,)).is_empty()
    assert metrics.metric_series("kept_visit_rate", "week", None, (me,)).is_empty()
    assert not metrics.metric_series("kept_visit_rate", "week", me, (me,)).is_empty()
    rows = metrics.metric_rows(
        ("kept_visit_rate",), "month", (me,), dt.date(2026, 8, 1), dt.date(2026, 11, 1), include_practice=True
    )
    assert set(rows["scope"]) == {"clinician"} and set(rows["clinician_id"]) == {me}
    assert set(practice.clients_not_rebooked((me,), AS_OF)["clinician_id"]) <= {me}
    assert set(practice.unsigned_notes((me,), AS_OF)["clinician_id"]) <= {me}
    assert metrics.clinicians(()).is_empty()
    visible = alerts.open_conditions((me,), None)
    assert set(visible["target_user_id"]) <= {me}
    with pytest.raises(PermissionError):
        practice.load_my_practice(other, (me,), AS_OF)


def test_an_alert_outside_the_scope_cannot_be_acknowledged(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    me = at.session_state["auth_user"].user_id
    foreign = warehouse(
        "select alert_key from marts.fct_compliance_alerts where target_user_id <> ? "
        "or target_user_id is null limit 1",
        [me],
    ).item()
    with pytest.raises(alerts.AlertNotVisible):
        alerts.act("acknowledge", foreign, (me,), None, me)
