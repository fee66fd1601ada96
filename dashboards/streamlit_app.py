"""The frame around every dashboard page: sign-in, the role's navigation, and shared state.

Each role sees only its pages; pages then scope their data to `visible_clinician_ids` of the
signed-in user, so changing a filter or a URL cannot reveal another clinician's figures.
"""

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

from dashboards.auth import current_user, sign_in_form, sign_out  # noqa: E402

st.set_page_config(page_title="MentalSpace practice dashboards", layout="wide")

KVR = st.Page("app_pages/kept_visit_rate.py", title="Kept Visit Rate", url_path="kept-visit-rate")

# Navigation sections per role (PRD Module 1 roles; STYLE.md section names).
PAGES_BY_ROLE = {
    "ADMIN": {"Practice Overview": [KVR]},
    "SUPERVISOR": {"My Team": [KVR]},
    "CLINICIAN": {"My Practice": [KVR]},
    "BILLING": {"Billing": [KVR]},
    "FRONT_DESK": {"Schedule": [KVR]},
}

user = current_user()
if user is None:
    st.navigation([st.Page(sign_in_form, title="Sign in", url_path="sign-in")]).run()
else:
    with st.sidebar:
        st.write(f"Signed in as **{user.display_name}** ({user.role.replace('_', ' ').lower()})")
        if st.button("Sign out", key="auth_sign_out"):
            sign_out()
            st.rerun()
    st.navigation(PAGES_BY_ROLE[user.role]).run()
