"""The command line reports bad configuration as one clear line, never a traceback."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import MetaData, func, insert, select

from operational_api.db import get_engine
from operational_api.models import Client, Payer
from tests.conftest import (
    DEPLOYMENT_VARS,
    EDI835_SAMPLES,
    REPO_ROOT,
    SMALL_PRACTICE,
    STEP_TIMEOUT,
    needs_shared_samples,
    run_cli,
)


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unreachable_database_url(var_dir):
    result = run_cli(
        "init",
        env={
            "MENTALSPACE_VAR_DIR": str(var_dir),
            "DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/nowhere",
        },
    )
    _assert_one_line_error(result, "cannot reach the operational store", "127.0.0.1:1")
    assert "secret" not in result.stderr


def test_database_url_that_is_not_a_url(var_dir):
    result = run_cli("init", env={"MENTALSPACE_VAR_DIR": str(var_dir), "DATABASE_URL": "not a url"})
    _assert_one_line_error(result, "DATABASE_URL")


def test_unknown_dbt_target(var_dir):
    result = run_cli("build", env={"MENTALSPACE_VAR_DIR": str(var_dir), "DBT_TARGET": "nope"})
    _assert_one_line_error(result, "unknown dbt target 'nope'")


def test_generate_refuses_to_overwrite_without_replace(var_dir):
    env = {"MENTALSPACE_VAR_DIR": str(var_dir)}
    first = run_cli("generate", "--clinicians", "1", "--months", "1", "--as-of", "2026-11-25", env=env)
    assert first.returncode == 0, first.stderr
    assert (
        "[1/2] generating a 1-clinician practice" in first.stdout
        and "into the operational store" in first.stdout
    )
    second = run_cli("generate", "--clinicians", "1", "--months", "1", env=env)
    _assert_one_line_error(second, "--replace")


@needs_shared_samples
def test_a_reader_that_stops_early_ends_the_command_quietly():
    # 156 interchanges give ~140 KB of JSON, more than a pipe holds, so the command is still writing when
    # the reader goes away (as with `mentalspace era parse FILE --json | head`).
    sample = EDI835_SAMPLES / "tastypackets-835-profee-156-interchanges.edi"
    command = [sys.executable, "-m", "mentalspace_cli.main", "era", "parse", str(sample), "--json"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(100).startswith(b"{")
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert stderr == ""


# ---- destructive commands never replace a practice's own records ----------------------------------


def _row_counts(url: str) -> dict[str, int]:
    engine = get_engine(url)
    metadata = MetaData()
    with engine.connect() as conn:
        metadata.reflect(conn)
        counts = {
            name: conn.execute(select(func.count()).select_from(t)).scalar()
            for name, t in metadata.tables.items()
        }
    engine.dispose()
    return counts


def _add(url: str, table, **values) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(table).values(**values))
    engine.dispose()


def _run_make_build(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`make build` as a developer types it, with this interpreter's environment instead of re-installing one
    (`-o` takes the lock's install stamp as up to date, BIN is where `mentalspace` is)."""
    stamp = (
        f".venv/.installed-{hashlib.sha1((REPO_ROOT / 'requirements.lock').read_bytes()).hexdigest()[:12]}"
    )
    clean = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
    return subprocess.run(
        ["make", "--no-print-directory", "-o", stamp, "build", f"BIN={os.path.dirname(sys.executable)}"],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, var_dir) -> tuple[str, dict[str, str]]:
    """An empty operational store at the latest schema (SQLite file, or a new PostgreSQL database)."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{var_dir / 'operational.db'}"
    env = {"MENTALSPACE_VAR_DIR": str(var_dir), "DATABASE_URL": url}
    assert run_cli("init", env=env).returncode == 0
    return url, env


def test_make_build_refuses_a_store_holding_a_practices_own_client(store):
    url, env = store
    _add(url, Client, first_name="Hand", last_name="Added", status="ACTIVE")
    before = _row_counts(url)
    if url.startswith("sqlite"):
        result = _run_make_build(env)
        # make exits 2 for any failed recipe; its own line says the command's exit code.
        assert "Error 2" in result.stderr, result.stderr
    else:
        result = run_cli("build", "--fresh", *SMALL_PRACTICE, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    refusal = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(refusal) == 1, result.stderr
    assert "refusing to replace the operational store at" in refusal[0]
    assert "not made by the generator" in refusal[0] and "--replace" in refusal[0]
    assert "Hand" not in result.stderr and "Added" not in result.stderr
    assert _row_counts(url) == before


def test_rows_added_to_a_generated_practice_make_it_a_practices_own(store):
    url, env = store
    assert run_cli("generate", *SMALL_PRACTICE, env=env).returncode == 0
    _add(url, Payer, name="Hand-added payer", payer_code="HAND-1")
    before = _row_counts(url)

    result = run_cli("build", "--fresh", *SMALL_PRACTICE, env=env)
    _assert_one_line_error(
        result, "refusing to replace the operational store", "not made by the generator", "--replace"
    )
    assert _row_counts(url) == before

    replaced = run_cli("generate", "--replace", *SMALL_PRACTICE, env=env)
    assert replaced.returncode == 0, replaced.stderr
    after = _row_counts(url)
    assert after["payers"] == before["payers"] - 1
    engine = get_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(Payer.id).where(Payer.name == "Hand-added payer")).first() is None
    engine.dispose()
