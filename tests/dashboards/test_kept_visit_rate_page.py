"""The KVR page renders from the warehouse and shows the figures the marts hold."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from orchestration.lib.environment import current_environment
from orchestration.lib.warehouse import Warehouse
from tests.conftest import REPO_ROOT, run_cli

APP = str(REPO_ROOT / "dashboards" / "streamlit_app.py")


@pytest.fixture(autouse=True)
def _fresh_streamlit_cache():
    # Streamlit's caches live for the process; each test points at a different warehouse.
    st.cache_data.clear()


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    result = run_cli("build", "--fresh", "--clinicians", "3", "--months", "3", "--as-of", "2026-11-25",
                     env={"MENTALSPACE_VAR_DIR": str(var)})
    assert result.returncode == 0, result.stderr[-2000:]
    return var


def test_page_shows_the_practice_kvr_from_the_warehouse(built_demo, monkeypatch):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    latest = Warehouse(current_environment()).query(
        "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
        "and scope = 'practice' and period_grain = 'week' order by period_start desc limit 1"
    ).item()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Kept Visit Rate (KVR)"
    assert at.metric[0].value == f"{float(latest):.1f}%"
    assert len(at.get("plotly_chart")) == 1


def test_page_shows_a_clinicians_own_kvr(built_demo, monkeypatch):
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    warehouse = Warehouse(current_environment())
    clinician = warehouse.query("select clinician_id, clinician_name from marts.dim_clinicians order by 1 limit 1").row(0)
    latest = warehouse.query(
        "select metric_value from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
        "and scope = 'clinician' and clinician_id = ? and period_grain = 'month' order by period_start desc limit 1",
        [clinician[0]],
    ).item()
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key="kvr_clinician").select(clinician[1]).run()
    at.radio(key="kvr_grain").set_value("month").run()
    assert at.metric[0].value == f"{float(latest):.1f}%"


def test_page_says_what_to_do_before_the_first_build(var_dir):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "make build" in at.info[0].value
