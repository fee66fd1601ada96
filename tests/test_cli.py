"""The command line reports bad configuration as one clear line, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, SHARED_DIR, run_cli


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unreachable_database_url(var_dir):
    result = run_cli("init", env={"MENTALSPACE_VAR_DIR": str(var_dir),
                                  "DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/nowhere"})
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
    assert "[2/3] loading the operational store" in first.stdout
    second = run_cli("generate", "--clinicians", "1", "--months", "1", env=env)
    _assert_one_line_error(second, "--replace")


def test_a_reader_that_stops_early_ends_the_command_quietly():
    # 156 interchanges give ~140 KB of JSON, more than a pipe holds, so the command is still writing when
    # the reader goes away (as with `mentalspace era parse FILE --json | head`).
    sample = SHARED_DIR / "edi835-samples" / "tastypackets-835-profee-156-interchanges.edi"
    if not sample.exists():
        pytest.skip(f"shared 835 samples not found at {sample.parent}")
    command = [sys.executable, "-m", "mentalspace_cli.main", "era", "parse", str(sample), "--json"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(100).startswith(b"{")
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert stderr == ""
