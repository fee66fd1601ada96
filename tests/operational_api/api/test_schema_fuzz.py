"""Property-based run of the whole OpenAPI schema (schemathesis) against real uvicorn over a synthetic practice.

Every operation the API documents is fuzzed, signed in as an administrator and as a clinician, with data that fits
the schema and data that does not. What must hold for every answer:

- never a 5xx;
- every 4xx is RFC 9457 problem+json (`type`, `title`, `status`, `detail`, `rule`);
- the body conforms to the documented response schema, with a documented content type;
- no answer body and no log line of the server names a client (first + last name, from the store).

Bounded for CI: a fixed number of examples per operation and mode, derandomized (the same requests on every run),
no shrinking (a failure is reported with its first example, as a curl line). The fuzzing writes (bookings, users,
consents...): the two signed-in users are put back (active, role, training, session) before every request, so an
administrator demoting or deactivating a fuzzed user id that happens to be themself does not end the run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from sqlalchemy import Engine, String, cast, func, select, update

from operational_api import mfa, passwords
from operational_api.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from operational_api.api.server import BackgroundServer
from operational_api.auth import training_allows
from operational_api.bulk import load_tables
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import Client, HipaaTraining, User
from operational_api.models_api import ApiSession
from operational_api.synthetic import PracticeSpec, generate
from tests.conftest import new_pg_database

SPEC = PracticeSpec(clinicians=2, months=1, seed=11, as_of=dt.date(2026, 11, 25))
NOW = dt.datetime(2026, 11, 25, 17, 0)  # noon in New York on the practice's as-of date
PASSWORD = "Harbour-Lamp-42!"
# Examples per operation and generation mode (positive, negative): 49 operations x 2 x 2 = about 200-300 requests
# per role and database, 15-50 s each on the shared 2-core machine (load 20-30): the four tests take 1-2.5 min,
# SQLite alone under a minute. MENTALSPACE_FUZZ_EXAMPLES raises it for a deeper local run.
EXAMPLES = int(os.environ.get("MENTALSPACE_FUZZ_EXAMPLES", "2"))
PROBLEM_FIELDS = ("type", "title", "status", "detail", "rule")
CHECKS = ("not_a_server_error", "response_schema_conformance", "content_type_conformance")


@dataclass
class Fuzzed:
    url: str
    engine: Engine
    openapi: dict
    tokens: dict[str, str]
    users: dict[str, int]
    names: list[str]
    log_lines: list[str] = field(default_factory=list)


class _Lines(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.append(self.format(record))
        except Exception:  # a record that cannot format is itself worth seeing
            self.sink.append(f"{record.name}: {record.msg!r} {record.args!r}")


def _signed_in_user(session, role: str) -> int:
    """The synthetic practice's first active user of the role (the clinician with the most clients), given a
    password, MFA and current training so they can sign in as a person would."""
    stmt = select(User).where(User.role == role, User.is_active.is_(True))
    if role == "CLINICIAN":
        caseload = (
            select(func.count()).select_from(Client).where(Client.primary_clinician_id == User.id)
        ).scalar_subquery()
        stmt = stmt.order_by(caseload.desc(), User.id)
    else:
        stmt = stmt.order_by(User.id)
    user = session.scalars(stmt.limit(1)).one()
    user.password_hash = passwords.hash_password(PASSWORD)
    user.mfa_secret = mfa.new_secret()
    user.mfa_enrolled_at = NOW - dt.timedelta(days=30)
    session.flush()
    return user.id


def _keep_signed_in(engine: Engine, users: dict[str, int]) -> None:
    """Undo whatever the fuzzing did to the signed-in users: active, their role, unlocked, trained, sessions live."""
    with session_scope(engine) as session:
        for role, user_id in users.items():
            session.execute(
                update(User)
                .where(User.id == user_id)
                .values(is_active=True, role=role, locked_at=None, failed_login_count=0)
            )
            if not training_allows(session, user_id, NOW):
                session.add(
                    HipaaTraining(
                        user_id=user_id,
                        completed_date=NOW.date() - dt.timedelta(days=1),
                        expires_date=NOW.date() + dt.timedelta(days=300),
                    )
                )
        session.execute(
            update(ApiSession)
            .where(ApiSession.user_id.in_(users.values()), ApiSession.revoked_at.is_not(None))
            .values(revoked_at=None)
        )


def _serve(url: str) -> Iterator[Fuzzed]:
    engine = get_engine(url)
    migrate(engine)
    practice = generate(SPEC)
    load_tables(engine, {name: (t.columns, t.rows) for name, t in practice.tables.items()})
    with session_scope(engine) as session:
        # The generator draws names from short lists, so an emergency contact can share a client's full name:
        # a suffix makes every client's "first last" a string no other record holds.
        session.execute(update(Client).values(last_name=Client.last_name + "-Q" + cast(Client.id, String)))
        users = {role: _signed_in_user(session, role) for role in ("ADMIN", "CLINICIAN")}
        names = sorted(
            {
                f"{first} {last}"
                for first, last in session.execute(select(Client.first_name, Client.last_name))
            }
        )
    _keep_signed_in(engine, users)
    lines: list[str] = []
    handler = _Lines(lines)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    watched = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    root_level = logging.getLogger().level
    try:
        with BackgroundServer(engine, clock=lambda: NOW) as server:
            # After start: uvicorn configures its loggers (propagate off) when it starts.
            for logger in watched:
                logger.addHandler(handler)
            logging.getLogger().setLevel(logging.INFO)
            tokens = {}
            for role, user_id in users.items():
                with session_scope(engine) as session:
                    user = session.get(User, user_id)
                    body = {
                        "email": user.email,
                        "password": PASSWORD,
                        "totp_code": mfa.current_code(user.mfa_secret, NOW),
                    }
                response = requests.post(f"{server.url}/auth/token", json=body, timeout=30)
                assert response.status_code == 200, response.text
                tokens[role] = response.json()["access_token"]
            yield Fuzzed(server.url, engine, server.app.openapi(), tokens, users, names, lines)
    finally:
        for logger in watched:
            logger.removeHandler(handler)
        logging.getLogger().setLevel(root_level)
        engine.dispose()


@pytest.fixture(scope="module")
def fuzz_sqlite(tmp_path_factory) -> Iterator[Fuzzed]:
    yield from _serve(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}")


@pytest.fixture(scope="module")
def fuzz_postgres() -> Iterator[Fuzzed]:
    with new_pg_database() as url:
        yield from _serve(url)


def _problems(response: schemathesis.Response, names: list[str]) -> list[str]:
    """Our own checks of one answer (schemathesis's are run separately); its headers are lower-case lists."""
    found = []
    text = response.text
    for name in names:
        if name in text:
            found.append("the answer names a client")
            break
    if 400 <= response.status_code < 500:
        media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
        if media != PROBLEM_MEDIA_TYPE:
            found.append(
                f"a {response.status_code} answered as {media or 'no content type'}, not problem+json"
            )
        else:
            body = response.json()
            missing = [f for f in PROBLEM_FIELDS if not isinstance(body, dict) or f not in body]
            if missing:
                found.append(f"a {response.status_code} problem without {', '.join(missing)}")
            elif body["status"] != response.status_code or not str(body["type"]).endswith(body["rule"]):
                found.append(
                    f"a {response.status_code} problem whose status or type disagrees with the answer"
                )
    return found


def _fuzz(served: Fuzzed, role: str) -> tuple[dict[str, str], int]:
    """Fuzz every operation as `role`: {"<operation> -> <status>: <what failed>": first example as curl}, and the
    number of requests sent."""
    schema = schemathesis.openapi.from_dict(served.openapi)
    headers = {"Authorization": f"Bearer {served.tokens[role]}"}
    failures: dict[str, str] = {}
    with requests.Session() as session:
        sent = sum(
            _fuzz_operation(served, result.ok(), session, headers, failures)
            for result in schema.get_all_operations()
        )
    return failures, sent


def _fuzz_operation(served: Fuzzed, operation, session, headers: dict, failures: dict[str, str]) -> int:
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    sent = 0
    # Put the signed-in users back only when a request may have changed them: a write to staff or sign-ins, or a
    # refusal that could be theirs (a write per request would double the run).
    touches_users = operation.method.upper() != "GET" and operation.path.startswith(("/users", "/auth"))
    dirty = True

    @hypothesis.settings(
        max_examples=2 * EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case) -> None:
        nonlocal sent, dirty
        if dirty:
            _keep_signed_in(served.engine, served.users)
        try:
            response = case.call(base_url=served.url, session=session, headers=headers, timeout=60)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError):
            return  # the negative data could not even be sent (e.g. a header with a newline)
        sent += 1
        dirty = touches_users or response.status_code in (401, 403)
        found = _problems(response, served.names)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            found += [
                f"{f.title}: {((f.message or '').strip().splitlines() or [''])[0][:300]}"
                for f in group.exceptions
            ]
        except AssertionError as exc:
            found.append(str(exc).splitlines()[0])
        for what in found:
            failures.setdefault(
                f"{operation.label} -> {response.status_code}: {what}", case.as_curl_command()
            )

    run()
    return sent


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("role", ["ADMIN", "CLINICIAN"])
def test_every_operation_fuzzed_answers_within_the_contract(request, backend: str, role: str) -> None:
    served: Fuzzed = request.getfixturevalue(f"fuzz_{backend}")
    assert served.names, "the synthetic practice has clients"
    started = time.monotonic()
    before = len(served.log_lines)
    failures, sent = _fuzz(served, role)
    elapsed = time.monotonic() - started
    operations = len(list(schemathesis.openapi.from_dict(served.openapi).get_all_operations()))
    assert operations >= 40 and sent >= operations * EXAMPLES, (operations, sent)
    leaked = [line for line in served.log_lines[before:] if any(name in line for name in served.names)]
    assert not leaked, "log lines name a client:\n" + "\n".join(leaked[:5])
    report = "\n".join(f"{what}\n    {curl}" for what, curl in sorted(failures.items()))
    assert not failures, f"{len(failures)} contract failures in {sent} requests ({elapsed:.0f} s):\n{report}"
