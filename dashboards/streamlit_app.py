"""The frame around every dashboard page: sign-in, the role's navigation, and shared state.

Each role sees only its pages (`dashboards.access.PAGES_BY_ROLE`); pages then pass the signed-in
user's clinician ids to the loaders, so changing a filter or a URL cannot reveal another clinician's
figures or clients.
"""

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

from dashboards.access import ERA_UPLOAD_PAGE, ERA_UPLOAD_ROLES, PAGE_TITLES, PAGES_BY_ROLE  # noqa: E402
from dashboards.auth import current_user, sign_in_form, sign_out  # noqa: E402
from dashboards.data.cache import clear_all, clear_if_warehouse_changed  # noqa: E402

APP_DIR = Path(__file__).resolve().parent
st.set_page_config(page_title="MentalSpace practice dashboards", layout="wide")

PAGE_ICONS = {
    "my_practice": ":material/person:",
    "my_team": ":material/groups:",
    "practice_overview": ":material/dashboard:",
    "metric_explorer": ":material/query_stats:",
    "compliance_alerts": ":material/notifications:",
    "reports": ":material/summarize:",
    "schedule": ":material/calendar_month:",
    "front_desk_tasks": ":material/checklist:",
    ERA_UPLOAD_PAGE: ":material/upload_file:",
}


def _page(key: str) -> st.Page:
    return st.Page(f"app_pages/{key}.py", title=PAGE_TITLES[key], icon=PAGE_ICONS[key], url_path=key.replace("_", "-"))


def navigation_for(role: str) -> dict[str, list[st.Page]]:
    sections = {name: [_page(k) for k in keys] for name, keys in PAGES_BY_ROLE[role].items()}
    # The ERA upload page is added by the billing work; it joins the Billing section once it exists.
    if role in ERA_UPLOAD_ROLES and (APP_DIR / "app_pages" / f"{ERA_UPLOAD_PAGE}.py").exists():
        sections.setdefault("Billing", []).append(_page(ERA_UPLOAD_PAGE))
    return sections


user = current_user()
if user is None:
    st.navigation([st.Page(sign_in_form, title="Sign in", url_path="sign-in")]).run()
else:
    with st.sidebar:
        st.write(f"Signed in as **{user.display_name}** ({user.role.replace('_', ' ').lower()})")
        left, right = st.columns(2)
        if left.button("Sign out", key="auth_sign_out"):
            sign_out()
            st.rerun()
        if right.button("Refresh data", key="shared_refresh", help="Re-read the warehouse now"):
            clear_all()
    clear_if_warehouse_changed()
    st.navigation(navigation_for(user.role)).run()
