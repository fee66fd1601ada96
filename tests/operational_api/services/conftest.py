"""One migrated store per database for the service tests, and a small practice per test built on it.

Each test gets its own users, clients and sessions (unique e-mails), so tests share a store without sharing
records. `refused` runs a service call in its own transaction and checks both halves of a refusal: the rule id
and status, and that no table changed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from operational_api.auth import SignedInUser
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import (
    Appointment,
    Base,
    Client,
    Consent,
    InsurancePolicy,
    Payer,
    User,
)
from operational_api.services.errors import ServiceError
from tests.conftest import new_pg_database

NOW = dt.datetime(2026, 12, 1, 15, 0)  # naive UTC, a Tuesday: 10:00 in New York
_seq = itertools.count(1)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = get_engine(f"sqlite:///{tmp_path_factory.mktemp('svc') / 'store.db'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    with new_pg_database() as url:
        engine = get_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


def actor_for(user: User, visible: set[int] | None) -> SignedInUser:
    return SignedInUser(
        user_id=user.id,
        role=user.role,
        display_name=f"{user.first_name} {user.last_name}",
        visible_clinician_ids=None if visible is None else frozenset(visible),
    )


@dataclass
class Practice:
    """A small practice: a supervisor, the associate and the licensed clinician they supervise, billing, front
    desk, an admin; two clients (one each); one payer; completed sessions made on demand."""

    engine: Engine
    users: dict[str, User] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    payer: Payer | None = None

    def actor(self, name: str) -> SignedInUser:
        user = self.users[name]
        if user.role in ("ADMIN", "BILLING", "FRONT_DESK"):
            return actor_for(user, None)
        if user.role == "SUPERVISOR":
            return actor_for(
                user, {user.id, *(u.id for u in self.users.values() if u.supervisor_id == user.id)}
            )
        return actor_for(user, {user.id})

    def appointment(
        self, client: str, clinician: str, *, days_ago: int = 0, status: str = "COMPLETED"
    ) -> Appointment:
        start = NOW.replace(hour=14) - dt.timedelta(days=days_ago)
        with session_scope(self.engine) as session:
            row = Appointment(
                client_id=self.clients[client].id,
                clinician_id=self.users[clinician].id,
                appointment_type="THERAPY_SESSION",
                status=status,
                start_at=start,
                end_at=start + dt.timedelta(minutes=50),
                booked_at=start - dt.timedelta(days=7),
                created_at=start - dt.timedelta(days=7),
                updated_at=start,
            )
            session.add(row)
        return row


@pytest.fixture
def practice(engine: Engine) -> Practice:
    n = next(_seq)
    p = Practice(engine)
    with session_scope(engine) as session:

        def user(key: str, role: str, licence: str | None = None, supervisor: User | None = None) -> User:
            u = User(
                email=f"{key}.{n}@svc.test",
                first_name=key.title(),
                last_name=f"T{n}",
                role=role,
                license_type=licence,
                supervisor_id=supervisor.id if supervisor else None,
            )
            session.add(u)
            session.flush()
            p.users[key] = u
            return u

        sup = user("supervisor", "SUPERVISOR", "LPC")
        user("associate", "CLINICIAN", "LPC_ASSOCIATE", sup)
        user("clinician", "CLINICIAN", "LCSW", sup)
        user("billing", "BILLING")
        user("frontdesk", "FRONT_DESK")
        user("admin", "ADMIN")
        payer = Payer(name=f"Payer {n}", payer_code=f"P{n:05d}")
        session.add(payer)
        session.flush()
        p.payer = payer
        for key, clin in (("a", "associate"), ("c", "clinician")):
            client = Client(
                first_name="Client",
                last_name=key.upper(),
                status="ACTIVE",
                primary_clinician_id=p.users[clin].id,
                date_of_birth=dt.date(1990, 1, 1),
            )
            session.add(client)
            session.flush()
            p.clients[key] = client
            session.add(
                InsurancePolicy(
                    client_id=client.id,
                    payer_id=payer.id,
                    rank=1,
                    member_id="M1",
                    effective_date=dt.date(2026, 1, 1),
                )
            )
            session.add(
                Consent(client_id=client.id, consent_type="INFORMED", signed_date=dt.date(2026, 1, 2))
            )
    return p


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table (the test store is small), to show a refusal wrote nothing."""
    with engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def refused(engine: Engine) -> Callable[..., ServiceError]:
    def check(call: Callable[[Session], object], rule: str, status: int) -> ServiceError:
        before = dump(engine)
        with pytest.raises(ServiceError) as caught, session_scope(engine) as session:
            call(session)
        assert (caught.value.rule, caught.value.status) == (rule, status), caught.value.message
        assert dump(engine) == before, "a refused request left something behind"
        return caught.value

    return check


def run(engine: Engine, call: Callable[[Session], object]):
    """A service call in its own committed transaction."""
    with session_scope(engine) as session:
        return call(session)


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from audit_events")).scalar_one()
