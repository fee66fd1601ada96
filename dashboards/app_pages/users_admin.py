"""Users (administrators): staff accounts, roles, licences, supervisor links, lockouts, MFA and HIPAA training.

Everything goes through operational_api/services/users.py, the same functions `mentalspace users ...` calls:
each change is one transaction with its audit row, and a refused one is audited on its own. The list is read
live from the operational store (these are accounts, not warehouse figures).
"""

import datetime as dt

import polars as pl
import streamlit as st

from dashboards import auth
from dashboards.auth import store_engine
from dashboards.components import ui
from operational_api.auth import STAFF_ROLES
from operational_api.db import session_scope
from operational_api.services import users as admin
from operational_api.services.errors import ServiceError

PAGE = "users_admin"
SOURCE = "dashboards"
NOTICE_KEY = "users_admin_notice"


def _now() -> dt.datetime:
    return auth.clock().astimezone(dt.UTC).replace(tzinfo=None)


def _act(user, action: str, change, done: str) -> None:
    """Run one change as the signed-in administrator; say what happened (or why not) on the next run."""
    now = _now()
    engine = store_engine()
    try:
        with session_scope(engine) as session:
            change(session, now)
    except ServiceError as exc:
        with session_scope(engine) as session:
            admin.record_refusal(session, user, action, exc, source=SOURCE, now=now)
        st.error(exc.message)
        return
    st.session_state[NOTICE_KEY] = done
    st.rerun()


def _frame(rows: list[admin.UserSummary]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [r.user_id for r in rows],
            "name": [r.name for r in rows],
            "email": [r.email for r in rows],
            "role": [r.role for r in rows],
            "licence": [r.license_type for r in rows],
            "supervisor_id": [r.supervisor_id for r in rows],
            "active": [r.is_active for r in rows],
            "locked": [r.locked for r in rows],
            "mfa_set_up": [r.mfa_enrolled for r in rows],
            "training_expires": [r.training_expires for r in rows],
            "exception_until": [r.exception_until for r in rows],
            "last_sign_in": [r.last_login_at for r in rows],
        },
        schema_overrides={
            "training_expires": pl.Date,
            "exception_until": pl.Datetime,
            "last_sign_in": pl.Datetime,
        },
    )


def body(user, _scope) -> None:
    st.title("Users")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice)
    with session_scope(store_engine()) as session:
        rows = admin.list_users(session, user, now=_now())
    ui.table(_frame(rows), key="users_list", empty="No staff users yet.", file_name="users.csv")
    _change_section(user, rows)
    _create_section(user, rows)


def _change_section(user, rows: list[admin.UserSummary]) -> None:
    if not rows:
        return
    st.subheader("Change a user")
    by_id = {r.user_id: r for r in rows}
    chosen = st.selectbox(
        "User",
        list(by_id),
        format_func=lambda i: f"{i} · {by_id[i].name} · {by_id[i].email} ({by_id[i].role})",
        key="users_pick",
    )
    target = by_id[chosen]
    who = f"user {target.user_id} ({target.email})"
    role_tab, licence_tab, supervisor_tab, access_tab, training_tab = st.tabs(
        ["Role", "Licence", "Supervisor", "Sign-in", "HIPAA training"]
    )
    with role_tab:
        role = st.selectbox("Role", STAFF_ROLES, index=STAFF_ROLES.index(target.role), key="users_role")
        if st.button("Set role", key="users_set_role"):
            _act(
                user,
                "user.set_role",
                lambda s, now: admin.set_role(s, user, target.user_id, role, source=SOURCE, now=now),
                f"{who} is now {role}.",
            )
    with licence_tab:
        options = ["none", *admin.LICENCES]
        current = target.license_type or "none"
        licence = st.selectbox("Licence", options, index=options.index(current), key="users_licence")
        if st.button("Set licence", key="users_set_licence"):
            value = None if licence == "none" else licence
            _act(
                user,
                "user.set_licence",
                lambda s, now: admin.set_licence(s, user, target.user_id, value, source=SOURCE, now=now),
                f"{who}: licence {licence}.",
            )
    with supervisor_tab:
        supervisors = [r.user_id for r in rows if r.role in ("SUPERVISOR", "ADMIN") and r.is_active]
        options = [None, *supervisors]
        supervisor = st.selectbox(
            "Supervisor",
            options,
            index=options.index(target.supervisor_id) if target.supervisor_id in options else 0,
            format_func=lambda i: "none" if i is None else f"{i} · {by_id[i].name}",
            key="users_supervisor",
        )
        if st.button("Link supervisor", key="users_link_supervisor"):
            _act(
                user,
                "user.link_supervisor",
                lambda s, now: admin.link_supervisor(
                    s, user, target.user_id, supervisor, source=SOURCE, now=now
                ),
                f"{who}: supervisor {supervisor or 'none'}.",
            )
    with access_tab:
        left, middle, right = st.columns(3)
        if left.button("Unlock", key="users_unlock", disabled=not target.locked):
            _act(
                user,
                "user.unlock",
                lambda s, now: admin.unlock_user(s, user, target.user_id, source=SOURCE, now=now),
                f"{who} unlocked.",
            )
        if middle.button("Reset MFA", key="users_reset_mfa", help="They set up their authenticator again."):
            _act(
                user,
                "user.reset_mfa",
                lambda s, now: admin.reset_mfa(s, user, target.user_id, source=SOURCE, now=now),
                f"{who}: MFA reset; they set it up again at their next sign-in.",
            )
        if right.button("Deactivate", key="users_deactivate", disabled=not target.is_active):
            _act(
                user,
                "user.deactivate",
                lambda s, now: admin.deactivate_user(s, user, target.user_id, source=SOURCE, now=now),
                f"{who} deactivated.",
            )
        with st.form("users_password_form", clear_on_submit=True):
            password = st.text_input("New password", type="password", key="users_new_password")
            if st.form_submit_button("Set password"):
                _act(
                    user,
                    "user.set_password",
                    lambda s, now: admin.set_password(
                        s, user, target.user_id, password, source=SOURCE, now=now
                    ),
                    f"{who}: password set.",
                )
    with training_tab:
        with st.form("users_training_form"):
            completed = st.date_input("Training completed on", value=_now().date(), key="users_training_done")
            if st.form_submit_button("Record training"):
                _act(
                    user,
                    "user.record_training",
                    lambda s, now: admin.record_training(
                        s, user, target.user_id, completed, source=SOURCE, now=now
                    ),
                    f"{who}: HIPAA training recorded (valid a year).",
                )
        with st.form("users_exception_form"):
            st.caption(
                f"An exception lets them sign in without current training for at most "
                f"{admin.MAX_TRAINING_EXCEPTION.days} days; it is audited with its reason."
            )
            until = st.date_input(
                "Until (end of day, UTC)",
                value=_now().date() + dt.timedelta(days=7),
                key="users_exception_until",
            )
            reason = st.text_input("Reason", key="users_exception_reason")
            if st.form_submit_button("Grant exception"):
                end = dt.datetime.combine(until, dt.time(23, 59, 59))
                _act(
                    user,
                    "user.training_exception",
                    lambda s, now: admin.grant_training_exception(
                        s, user, target.user_id, until=end, reason=reason, source=SOURCE, now=now
                    ),
                    f"{who}: may sign in without current training until {end:%Y-%m-%d %H:%M} UTC.",
                )


def _create_section(user, rows: list[admin.UserSummary]) -> None:
    st.subheader("Add a user")
    supervisors = {r.user_id: r.name for r in rows if r.role in ("SUPERVISOR", "ADMIN") and r.is_active}
    with st.form("users_create_form", clear_on_submit=False):
        email = st.text_input("Email", key="users_new_email")
        first, last = st.columns(2)
        first_name = first.text_input("First name", key="users_new_first")
        last_name = last.text_input("Last name", key="users_new_last")
        role = st.selectbox("Role", STAFF_ROLES, index=STAFF_ROLES.index("CLINICIAN"), key="users_new_role")
        licence = st.selectbox("Licence", ["none", *admin.LICENCES], key="users_new_licence")
        supervisor = st.selectbox(
            "Supervisor",
            [None, *supervisors],
            format_func=lambda i: "none" if i is None else f"{i} · {supervisors[i]}",
            key="users_new_supervisor",
        )
        password = st.text_input("Initial password", type="password", key="users_new_password_initial")
        submitted = st.form_submit_button("Add user")
    if not submitted:
        return
    try:
        payload = admin.NewUser(
            email=email,
            first_name=first_name,
            last_name=last_name,
            role=role,
            license_type=None if licence == "none" else licence,
            supervisor_id=supervisor,
            password=password or None,
        )
    except ValueError as exc:
        st.error(f"Cannot add the user: {str(exc).splitlines()[-1].strip()}")
        return
    _act(
        user,
        "user.create",
        lambda s, now: admin.create_user(s, user, payload, source=SOURCE, now=now),
        f"{email.strip().lower()} added; they set up MFA at their first sign-in once their HIPAA training is recorded.",
    )


ui.run_page(PAGE, body)
