"""The frame around every dashboard page: page set-up and navigation.

Sign-in and role scoping arrive with the dashboards issue; until then every page is the
administrator's view.
"""

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="MentalSpace practice dashboards", layout="wide")

PAGES = {
    "Practice Overview": [
        st.Page("app_pages/kept_visit_rate.py", title="Kept Visit Rate", url_path="kept-visit-rate", default=True),
    ],
}

st.navigation(PAGES).run()
