"""Dashboard fixtures: one built demo practice shared by the whole run, and signed-in AppTests.

The demo is built once per test run through the real CLI, even with pytest-xdist (tests/conftest.py,
build_once). Tests that change it (alert lifecycle, lockouts) touch rows no other test reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from sqlalchemy import Connection, create_engine, insert, text
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.testing.v1 import AppTest

from dashboards.components.ui import LINE_BREAK
from operational_api import mfa
from operational_api.db import get_engine
from operational_api.models_credentials import MfaRecoveryCode
from operational_api.settings import database_url
from tests.conftest import (
    DBT_FILE_LOG_LEVEL_VAR,
    DEPLOYMENT_VARS,
    REPO_ROOT,
    build_once,
    copy_practice,
    shared_build,
)

APP = str(REPO_ROOT / "dashboards" / "streamlit_app.py")
# How long one script run of the app may take before AppTest calls it hung: a page runs in seconds on an idle
# machine, but 60 s timed out at load 25-50 (several suites on 2 cores).
PAGE_RUN_TIMEOUT = 300


def new_app() -> AppTest:
    """The dashboards' app under AppTest, not run yet."""
    at = AppTest.from_file(APP, default_timeout=PAGE_RUN_TIMEOUT)
    # Streamlit (1.67) makes each new AppTest scan every installed distribution for custom components on its first
    # run: about 1.5 CPU-s per signed-in test here, 72 of the 82 CPU-s of test_audit_trail's 40 page views. The
    # installed packages do not change within a run, so the run's AppTests share one registry, as the app's
    # server shares one across its sessions (a private attribute: were it renamed, only the time would suffer).
    at._bidi_component_manager = _component_registry()
    return at


@functools.cache
def _component_registry() -> BidiComponentManager:
    registry = BidiComponentManager()
    registry.discover_and_register_components(start_file_watching=False)
    return registry


# Nine clinicians give two supervisors, so a supervisor has clinicians outside their team.
DEMO_ARGS = ("--clinicians", "9", "--months", "3", "--as-of", "2026-11-25")


@pytest.fixture(autouse=True)
def _fresh_streamlit_cache():
    # Streamlit's caches live for the process; tests point at different warehouses.
    st.cache_data.clear()
    st.cache_resource.clear()


@shared_build
def built_demo(tmp_path_factory) -> Path:
    """The var/ folder of a demo practice built through `mentalspace build` (once per run), as a new deployment's
    first build: its dbt parse included, whose log test_no_phi_in_logs.py scans with the rest.

    MENTALSPACE_TEST_DASHBOARDS_DEMO names an already built var/ folder to reuse while iterating locally.
    """
    reuse = os.environ.get("MENTALSPACE_TEST_DASHBOARDS_DEMO")
    if reuse:
        return Path(reuse)
    return build_once(
        tmp_path_factory, "dashboards-demo", DEMO_ARGS, {DBT_FILE_LOG_LEVEL_VAR: "debug"}, adopt_parse=False
    )


@pytest.fixture
def demo_env(built_demo, monkeypatch) -> Path:
    """This process pointed at the demo practice (and nothing the developer's shell set)."""
    for name in DEPLOYMENT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(built_demo))
    return built_demo


def demo_logins(var: Path) -> dict[str, tuple[str, str]]:
    lines = (var / "demo_logins.txt").read_text().splitlines()
    return {role: (email, password) for role, email, password in (line.split("\t") for line in lines)}


@contextmanager
def store(var: Path) -> Iterator[Connection]:
    """A transaction on the operational store of the practice in `var`, the one its dashboards sign in against.

    When this process points at `var` that is the configured store (DATABASE_URL: PostgreSQL for
    test_postgres_pages.py); for a practice it does not point at (a browser test's server) it is the
    practice's own embedded store. settings.database_url() says which, as it does for the pages.
    """
    with pytest.MonkeyPatch.context() as env:
        if os.environ.get("MENTALSPACE_VAR_DIR") != str(var):
            env.delenv("DATABASE_URL", raising=False)
        env.setenv("MENTALSPACE_VAR_DIR", str(var))
        url = database_url()
    # An embedded store is opened as the helpers did before they served PostgreSQL too: a bare connection with a
    # busy timeout, without get_engine's connect hook (journal mode and synchronous pragmas on a store that other
    # test processes are using at the same time).
    engine = create_engine(url, connect_args={"timeout": 60}) if url.startswith("sqlite") else get_engine(url)
    try:
        with engine.begin() as con:
            yield con
    finally:
        engine.dispose()


def user_id(var: Path, email: str) -> int:
    with store(var) as con:
        return con.execute(text("select id from users where email = :email"), {"email": email}).scalar_one()


def demo_secret(var: Path, email: str) -> str:
    """The demo user's TOTP secret, as `mentalspace users totp` reads it."""
    with store(var) as con:
        return con.execute(
            text("select mfa_secret from users where email = :email"), {"email": email}
        ).scalar_one()


def fresh_recovery_code(var: Path, email: str) -> str:
    """A new one-time recovery code for a demo user, written into the store.

    The helpers sign in with these rather than with TOTP codes: a TOTP code signs in once per 30-second
    step, and the suite signs in as the same demo user many times a minute (from several workers).
    test_mfa_sign_in.py and the browser test sign in with TOTP codes themselves.
    """
    code = mfa.new_recovery_codes()[0]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store(var) as con:
        user = con.execute(text("select id from users where email = :email"), {"email": email}).scalar_one()
        con.execute(
            insert(MfaRecoveryCode).values(
                user_id=user, code_hash=mfa.recovery_code_hash(code), created_at=now
            )
        )
    return code


def sign_in(at: AppTest, var: Path, role: str) -> AppTest:
    """Sign `at` in through the real sign-in form (password, then a recovery code) as the demo user of `role`."""
    email, password = demo_logins(var)[role]
    at.text_input(key="auth_email").input(email)
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    at.text_input(key="auth_code").input(fresh_recovery_code(var, email))
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "auth_user" in at.session_state, [e.value for e in at.error]
    return at


def signed_in_app(var: Path, role: str) -> AppTest:
    """An AppTest signed in through the real sign-in form (password, then code) as the demo user of `role`."""
    return sign_in(new_app().run(), var, role)


def chart_specs(at: AppTest) -> list[dict]:
    """The Vega-Lite spec of every chart on the page (dashboards/components/charts.py keeps each layer's rows
    in its spec)."""
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def shown_text(markdown: str) -> str:
    """A Markdown element's text as the reader sees it: tags gone, plain()'s backslash escapes undone."""
    return re.sub(r"\\(.)", r"\1", re.sub(r"<[^>]+>", "", markdown))


def markdown_lines(at: AppTest) -> list[str]:
    """Every line of the page's Markdown elements, as written (ui.status_lines writes a section's lines as one
    element, joined by hard line breaks)."""
    return [line for m in at.markdown for line in m.value.split(LINE_BREAK)]


def table_with(at: AppTest, *columns: str, required: bool = True):
    """The first table on the page with these columns (AppTest does not expose a dataframe's key)."""
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    if required:
        raise AssertionError(f"no table with columns {columns}")
    return None


# Names a person could type into the practice's records; each must show literally, never as Markdown or HTML.
HOSTILE_NAMES = ("![x](http://127.0.0.1:9/leak.png)", "<img src=x onerror=alert(1)>", "**bold**")
LEAK_ADDRESS = "127.0.0.1:9"


@pytest.fixture(scope="session")
def hostile_demo(built_demo, tmp_path_factory) -> Path:
    """A copy of the demo whose clients are all named after `HOSTILE_NAMES` (in the warehouse the pages
    read) and whose demo clinician's first name is `**bold**` (in the store the sign-in reads)."""
    var = tmp_path_factory.mktemp("hostile") / "var"
    copy_practice(built_demo, var)
    with duckdb.connect(str(var / "warehouse.duckdb")) as con:
        names = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)} T.'" for n in HOSTILE_NAMES)
        con.execute(f"update marts.dim_clients set display_name = list_value({names})[client_id % 3 + 1]")
    email = demo_logins(var)["CLINICIAN"][0]
    with store(var) as con:
        con.execute(
            text("update users set first_name = :name where email = :email"),
            {"name": HOSTILE_NAMES[2], "email": email},
        )
    return var
