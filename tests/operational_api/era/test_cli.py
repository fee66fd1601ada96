"""`mentalspace era generate | post | review`: the whole flow through the real command, and bad
input as one clear line (exit 2, no traceback, no patient names)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from operational_api.era.cli import main as era_main
from tests.conftest import run_cli


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _names(db_path) -> set[str]:
    with sqlite3.connect(db_path) as con:
        rows = con.execute("select last_name from clients").fetchall()
    return {r[0] for r in rows if r[0] and len(r[0]) > 3}


def test_generate_post_review_through_the_mentalspace_command(var_dir, tmp_path, capsys):
    from operational_api.bulk import load_tables
    from operational_api.db import get_engine, migrate
    from operational_api.synthetic import PracticeSpec, generate

    engine = get_engine()
    migrate(engine)
    practice = generate(PracticeSpec(clinicians=2, months=2, seed=3, as_of=dt.date(2026, 11, 25)))
    load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    engine.dispose()
    env = {"MENTALSPACE_VAR_DIR": str(var_dir)}
    out_dir = tmp_path / "era"
    generated = run_cli("era", "generate", "--out", str(out_dir), "--claims", "50", "--seed", "4", env=env)
    assert generated.returncode == 0, generated.stderr
    (path,) = out_dir.glob("*.835")
    assert (out_dir / f"{path.stem}.truth.json").exists()
    assert "50 of the store's claims" in generated.stdout  # of the 76 the payer has not answered yet

    posted = run_cli("era", "post", str(path), env=env)
    assert posted.returncode == 0, posted.stderr
    assert "auto-posted" in posted.stdout and "CCN_EXACT" in posted.stdout
    assert era_main(["post", str(path)]) == 0 and "already posted" in capsys.readouterr().out
    assert era_main(["review"]) == 0
    review = capsys.readouterr().out
    assert "waiting for review" in review or "review queue is empty" in review
    names = _names(var_dir / "operational.db")
    for output in (generated.stdout, posted.stdout, review):
        assert not any(name in output for name in names)

    parsed = run_cli("era", "parse", str(path), env=env)  # still the parser's own command
    assert parsed.returncode == 0, parsed.stderr
    assert path.name in parsed.stdout


def test_generate_standalone_needs_no_store(tmp_path, capsys):
    code = era_main(["generate", "--out", str(tmp_path), "--standalone", "--claims", "200", "--seed", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "200 of invented claims" in out
    assert len(list(tmp_path.glob("*.835"))) == 1


@pytest.fixture
def store_env(var_dir, monkeypatch):
    from operational_api.db import get_engine, migrate

    migrate(get_engine())
    return var_dir


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["post", "nowhere.835"], ["nowhere.835: cannot read file"]),
        (["post", "{garbage}"], ["garbage.835", "segment"]),
        (["post", "{garbage}", "--min-confidence", "2"], ["--min-confidence", "between 0 and 1"]),
        (["review", "--resolve", "7"], ["--resolve needs --charge ID or --claim ID"]),
        (["review", "--resolve", "7", "--charge", "3"], ["ERA claim 7 does not exist"]),
        (["review", "--unmatchable", "8"], ["ERA claim 8 does not exist"]),
        (["review", "--charge", "3"], ["--charge and --claim go with --resolve"]),
        (["post", "{garbage}", "--user", "77"], ["garbage.835"]),
        (["review", "--unmatchable", "8", "--user", "77"], ["ERA claim 8 does not exist"]),
        (["frobnicate"], ["invalid choice"]),
        (["generate"], ["--out"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store_env, tmp_path, capsys, argv, fragments):
    garbage = tmp_path / "garbage.835"
    garbage.write_bytes(b"ISA*00*not really an interchange~")
    code = era_main([a.replace("{garbage}", str(garbage)) for a in argv])
    _one_line_error(code, capsys.readouterr().err, *fragments)


def test_a_store_without_schema_says_to_run_init(var_dir, tmp_path, capsys):
    code = era_main(["post", str(tmp_path / "any.835")])
    _one_line_error(code, capsys.readouterr().err, "mentalspace init")
