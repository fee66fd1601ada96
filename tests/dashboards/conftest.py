"""Dashboard fixtures: a built demo practice and signed-in AppTests."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT, run_cli

APP = str(REPO_ROOT / "dashboards" / "streamlit_app.py")


@pytest.fixture(autouse=True)
def _fresh_streamlit_cache():
    # Streamlit's caches live for the process; tests point at different warehouses.
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory) -> Path:
    var = tmp_path_factory.mktemp("var")
    result = run_cli("build", "--fresh", "--clinicians", "4", "--months", "3", "--as-of", "2026-11-25",
                     env={"MENTALSPACE_VAR_DIR": str(var)})
    assert result.returncode == 0, result.stderr[-2000:]
    return var


def demo_logins(var: Path) -> dict[str, tuple[str, str]]:
    lines = (var / "demo_logins.txt").read_text().splitlines()
    return {role: (email, password) for role, email, password in (line.split("\t") for line in lines)}


def signed_in_app(var: Path, role: str) -> AppTest:
    """An AppTest signed in through the real sign-in form as the demo user of `role`."""
    email, password = demo_logins(var)[role]
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="auth_email").input(email)
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at
