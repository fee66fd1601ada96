"""`mentalspace users ...`: administration through the service layer, the last-administrator rule, and
`users totp`, which prints a code on a generated demo store only.

In-process through `mentalspace_cli.main.main` (the real parser and handlers) for speed; a generated store
of one clinician and one month for the demo part.
"""

from __future__ import annotations

import datetime as dt
import io
import sqlite3

import pytest

from mentalspace_cli.main import demo_password, main
from operational_api import mfa


@pytest.fixture
def cli(var_dir, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{var_dir / 'operational.db'}")

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def audit_actions(var_dir) -> list[tuple[str, str]]:
    with sqlite3.connect(var_dir / "operational.db") as con:
        return con.execute("select action, outcome from audit_events order by id").fetchall()


def test_administration_and_the_last_administrator(cli, var_dir):
    assert cli("init")[0] == 0
    code, out, err = cli(
        "users", "create", "Ada@Practice.example", "--first-name", "Ada", "--last-name", "Admin", "--role", "admin",
        "--password-stdin", stdin="Harbour-Lamp-42!\n",
    )  # fmt: skip
    assert code == 0, err
    assert "created user 1 (ada@practice.example, ADMIN)" in out
    code, _, err = cli(
        "users", "create", "bo@practice.example", "--first-name", "Bo", "--last-name", "Lee", "--role", "CLINICIAN",
        "--licence", "lpc_associate", "--supervisor", "ada@practice.example", "--password-stdin", stdin="short\n",
    )  # fmt: skip
    assert code == 2 and "at least 12 characters" in err and "Traceback" not in err
    code, _, err = cli(
        "users", "create", "bo@practice.example", "--first-name", "Bo", "--last-name", "Lee", "--role", "CLINICIAN",
        "--licence", "lpc_associate", "--supervisor", "ada@practice.example",
    )  # fmt: skip
    assert code == 0, err

    code, _, err = cli("users", "deactivate", "ada@practice.example")
    assert code == 2 and "last active administrator" in err
    code, _, err = cli("users", "set-role", "ada@practice.example", "SUPERVISOR")
    assert code == 2 and "last active administrator" in err
    assert cli("users", "set-role", "bo@practice.example", "ADMIN")[0] == 0
    assert cli("users", "deactivate", "ada@practice.example")[0] == 0

    assert cli("users", "record-training", "bo@practice.example", "--completed", "2026-11-02")[0] == 0
    code, out, err = cli(
        "users", "training-exception", "bo@practice.example", "--until", "2099-01-01", "--reason", "x"
    )
    assert code == 2 and "at most 30 days" in err
    until = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    code, out, err = cli(
        "users", "training-exception", "bo@practice.example", "--until", until, "--reason", "booked"
    )
    assert code == 0, err
    assert cli("users", "reset-mfa", "bo@practice.example")[0] == 0
    assert cli("users", "set-licence", "bo@practice.example", "none")[0] == 0
    assert cli("users", "link-supervisor", "bo@practice.example", "none")[0] == 0
    code, out, _ = cli("users", "list")
    assert code == 0
    rows = {line.split("\t")[1]: line.split("\t") for line in out.splitlines()[1:]}
    assert rows["ada@practice.example"][5] == "no" and rows["bo@practice.example"][2] == "ADMIN"
    assert rows["bo@practice.example"][8] == "2027-11-02"

    actions = audit_actions(var_dir)
    assert ("user.deactivate", "refused") in actions and ("user.deactivate", "ok") in actions
    assert ("user.create", "refused") in actions, "a refused change is audited too"
    with sqlite3.connect(var_dir / "operational.db") as con:
        os_users = {r[0] for r in con.execute("select json_extract(detail, '$.os_user') from audit_events")}
    assert None not in os_users, "every command-line change names the operating-system account"


def test_totp_prints_a_code_on_the_generated_demo_only(cli, var_dir):
    code, _, err = cli(
        "generate", "--clinicians", "1", "--months", "1", "--as-of", "2026-11-25", "--seed", "7"
    )
    assert code == 0, err
    role, email, password = (var_dir / "demo_logins.txt").read_text().splitlines()[0].split("\t")
    assert password == demo_password(role) and password.startswith("Demo-")
    before = dt.datetime.now(dt.UTC)
    code, out, err = cli("users", "totp", email)
    assert code == 0, err
    secret = mfa.demo_secret(7, email)
    expected = {mfa.current_code(secret, before + dt.timedelta(seconds=s)) for s in (0, 30)}
    assert out.strip() in expected and "demo store only" in err

    # Someone adds a user: no longer only the generated practice, so no codes.
    cli(
        "users", "create", "new@practice.example", "--first-name", "N", "--last-name", "P", "--role", "BILLING",
    )  # fmt: skip
    code, out, err = cli("users", "totp", email)
    assert code == 2 and out == "" and "not the generated demo practice" in err


def test_totp_is_refused_on_a_store_nobody_generated(cli):
    assert cli("init")[0] == 0
    cli(
        "users", "create", "ada@practice.example", "--first-name", "Ada", "--last-name", "A", "--role", "ADMIN",
    )  # fmt: skip
    code, out, err = cli("users", "totp", "ada@practice.example")
    assert code == 2 and out == "" and "refusing to print an MFA code" in err
