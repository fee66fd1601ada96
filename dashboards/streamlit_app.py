"""The frame around every dashboard page: sign-in, the role's navigation, and shared state.

Each role sees only its pages (`dashboards.access.PAGES_BY_ROLE`); pages then pass the signed-in
user's clinician ids to the loaders, so changing a filter or a URL cannot reveal another clinician's
figures or clients.
"""

import ast
import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

from dashboards.access import ERA_UPLOAD_PAGE, ERA_UPLOAD_ROLES, PAGE_TITLES, PAGES_BY_ROLE  # noqa: E402
from dashboards.auth import current_user, idle_watch, sign_in_form, sign_out  # noqa: E402
from dashboards.components import prefetch  # noqa: E402
from dashboards.components.ui import NAV_NOTICE_KEY, plain  # noqa: E402
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
    "users_admin": ":material/manage_accounts:",
    "audit_log": ":material/policy:",
    "backfills": ":material/history:",
    "sent_mail": ":material/mail:",
    "productivity_report": ":material/speed:",
    "compliance_report": ":material/rule:",
    "demographics_report": ":material/diversity_3:",
    "quarterly_review": ":material/trending_up:",
    "report_builder": ":material/build:",
    "notification_preferences": ":material/tune:",
}


SIGN_IN_PATH = "sign-in"
# What Streamlit imports itself on a page's first table (st.dataframe converts through these).
STREAMLIT_LAZY_IMPORTS = ("pandas", "pyarrow.compute")


def _url_path(key: str) -> str:
    return key.replace("_", "-")


def _page(key: str) -> st.Page:
    return st.Page(
        f"app_pages/{key}.py", title=PAGE_TITLES[key], icon=PAGE_ICONS[key], url_path=_url_path(key)
    )


def _existing_pages() -> list[str]:
    return [key for key in PAGE_TITLES if (APP_DIR / "app_pages" / f"{key}.py").exists()]


def signed_out_navigation() -> list[st.Page]:
    """The sign-in, at its own address and (hidden) at every page's address.

    A bookmark keeps its address through the sign-in: the rerun after it resolves the same address
    against the role's pages (Streamlit knows a page by its url_path alone).
    """
    return [st.Page(sign_in_form, title="Sign in", url_path=SIGN_IN_PATH, default=True)] + [
        st.Page(sign_in_form, title="Sign in", url_path=_url_path(key), visibility="hidden")
        for key in _existing_pages()
    ]


def navigation_for(role: str) -> dict[str, list[st.Page]]:
    sections = {name: [_page(k) for k in keys] for name, keys in PAGES_BY_ROLE[role].items()}
    # The ERA upload page is added by the billing work; it joins the Billing section once it exists.
    if role in ERA_UPLOAD_ROLES and (APP_DIR / "app_pages" / f"{ERA_UPLOAD_PAGE}.py").exists():
        sections.setdefault("Billing", []).append(_page(ERA_UPLOAD_PAGE))
    return sections


def _redirect(default: st.Page, notice: str | None):
    def open_default() -> None:
        if notice:
            st.session_state[NAV_NOTICE_KEY] = notice
        st.switch_page(default)

    return open_default


def signed_in_navigation(role: str) -> dict[str, list[st.Page]]:
    """The role's pages, plus hidden stand-ins at the addresses of the others (and of the sign-in).

    A bookmark to a page outside the role (or a stale sign-in address) opens the role's first page
    with a word of explanation instead of Streamlit's "Page not found".
    """
    sections = navigation_for(role)
    default = next(iter(sections.values()))[0]
    shown = {page.url_path for pages in sections.values() for page in pages}
    elsewhere = [(SIGN_IN_PATH, None)] + [
        (_url_path(key), "That page is not part of your role's dashboards; here is your first page.")
        for key in _existing_pages()
        if _url_path(key) not in shown
    ]
    hidden = [
        st.Page(_redirect(default, notice), title="Redirect", url_path=path, visibility="hidden")
        for path, notice in elsewhere
    ]
    first = next(iter(sections))
    return sections | {first: sections[first] + hidden}


def page_imports() -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) of every top-level import of the pages, read from their source (they run on import)."""
    found = {(name, ()) for name in STREAMLIT_LAZY_IMPORTS}
    for key in _existing_pages():
        for node in ast.parse((APP_DIR / "app_pages" / f"{key}.py").read_text()).body:
            if isinstance(node, ast.Import):
                found.update((alias.name, ()) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                found.add((node.module, tuple(alias.name for alias in node.names)))
    return sorted(found)


@st.cache_resource(show_spinner=False)
def warm_imports() -> int:
    """Import what the pages need, once per server process, after the sign-in form has been sent.

    On a cold server the first page after sign-in otherwise spent most of its run importing pandas, the
    charts, the loaders and the ERA parser; here that happens while the first visitor types. It runs in
    the script itself, not a thread: imports racing the first page's own imports across threads can
    deadlock on circular ones, and a click on "Sign in" meanwhile only waits for the rest of it.
    """
    for module, names in page_imports():
        __import__(module, fromlist=names)  # the fromlist imports the submodules it names
    return len(sys.modules)


user = current_user()
if user is None:
    st.navigation(signed_out_navigation(), position="hidden").run()
    # The browser loads the pages' element code while the server imports the pages' modules.
    prefetch.elements()
    warm_imports()
else:
    with st.sidebar:
        st.write(f"Signed in as **{plain(user.display_name)}** ({user.role.replace('_', ' ').lower()})")
        left, right = st.columns(2)
        if left.button("Sign out", key="auth_sign_out"):
            sign_out()
            st.rerun()
        if right.button("Refresh data", key="shared_refresh", help="Re-read the warehouse now"):
            clear_all()
    idle_watch()
    clear_if_warehouse_changed()
    # Fully expanded: by default Streamlit folds a menu of more than twelve pages behind "View N more",
    # which hid the administrator's Reports and Administration sections.
    st.navigation(signed_in_navigation(user.role), expanded=True).run()
