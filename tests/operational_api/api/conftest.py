"""A migrated store with a small practice, the API served by real uvicorn on loopback, and signed-in httpx clients.

One server per database for the whole session (SQLite always, PostgreSQL with MENTALSPACE_TEST_PG_URL). The
clock is the test's: `api.clock.now` (naive UTC) is what the API sees as now.

Every seeded user has a policy password and an enrolled TOTP secret and signs in as a person would: password and
the code of the test clock's 30-second step. A TOTP step is accepted once per user, and the clock goes back to
START for every test, so a user signing in again within an already used step gives a recovery code instead
(`Api.code`; a fresh set of 10 is made when they run out).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import Engine, func, select

from operational_api import mfa, passwords
from operational_api.api.server import BackgroundServer
from operational_api.auth import replace_recovery_codes
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import (
    Client,
    ClinicianAvailability,
    Consent,
    HipaaTraining,
    InsurancePolicy,
    Payer,
    User,
)
from tests.conftest import new_pg_database

PASSWORD = "Harbour-Lamp-42!"
# A Monday, noon UTC (08:00 in New York): the practice's week starts today.
START = dt.datetime(2026, 6, 1, 12, 0)
ROLES = ("ADMIN", "FRONT_DESK", "BILLING", "SUPERVISOR", "CLINICIAN")


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    """Ids of the seeded practice. `users[role]` signs in as that role; CLINICIAN is clinician A (supervised by
    SUPERVISOR); clinician B is outside both their scopes. `client_in` belongs to A, `client_out` to B."""

    users: dict[str, int] = field(default_factory=dict)
    clinician_a: int = 0
    clinician_b: int = 0
    client_in: int = 0
    client_out: int = 0
    payer_id: int = 0
    untrained: int = 0
    expired: int = 0
    unenrolled: int = 0  # trained, no MFA yet


@functools.cache
def _password_hash() -> str:
    # One argon2 hash for every seeded user: each costs tens of milliseconds.
    return passwords.hash_password(PASSWORD)


def _user(
    session,
    role: str,
    email: str,
    supervisor_id: int | None = None,
    license_type: str | None = None,
    *,
    enrolled: bool = True,
) -> User:
    user = User(
        email=email,
        first_name=role.title(),
        last_name="Tester",
        role=role,
        license_type=license_type,
        supervisor_id=supervisor_id,
        is_active=True,
        password_hash=_password_hash(),
        hired_date=dt.date(2024, 1, 1),
        mfa_secret=mfa.new_secret() if enrolled else None,
        mfa_enrolled_at=START - dt.timedelta(days=30) if enrolled else None,
    )
    session.add(user)
    session.flush()
    return user


def add_complete_client(
    session, clinician_id: int, payer_id: int, *, dob=dt.date(1990, 5, 5), first="Ada"
) -> Client:
    """A client with complete demographics, insurance and a current informed consent (bookable)."""
    client = Client(
        first_name=first,
        last_name="Example",
        date_of_birth=dob,
        phone="555-0100",
        address="1 Main St",
        city="Atlanta",
        state="GA",
        zip_code="30301",
        emergency_contact_name="Em Contact",
        emergency_contact_phone="555-0101",
        status="ACTIVE",
        primary_clinician_id=clinician_id,
        intake_date=dt.date(2026, 1, 5),
        created_at=START - dt.timedelta(days=30),
        updated_at=START - dt.timedelta(days=30),
    )
    session.add(client)
    session.flush()
    session.add(
        InsurancePolicy(
            client_id=client.id,
            payer_id=payer_id,
            rank=1,
            member_id="M123",
            effective_date=dt.date(2026, 1, 1),
        )
    )
    session.add(Consent(client_id=client.id, consent_type="INFORMED", signed_date=dt.date(2026, 1, 5)))
    session.flush()
    return client


def seed_world(engine: Engine) -> World:
    world = World()
    tag = uuid.uuid4().hex[:6]
    with session_scope(engine) as session:
        payer = Payer(name="Test Payer", payer_code=f"TP{tag}")
        session.add(payer)
        session.flush()
        world.payer_id = payer.id
        admin = _user(session, "ADMIN", f"admin-{tag}@example.test")
        front = _user(session, "FRONT_DESK", f"front-{tag}@example.test")
        billing = _user(session, "BILLING", f"billing-{tag}@example.test")
        sup = _user(session, "SUPERVISOR", f"sup-{tag}@example.test", license_type="LPC")
        clin_a = _user(session, "CLINICIAN", f"clin-a-{tag}@example.test", sup.id, "LPC_ASSOCIATE")
        clin_b = _user(session, "CLINICIAN", f"clin-b-{tag}@example.test", None, "LCSW")
        untrained = _user(session, "CLINICIAN", f"untrained-{tag}@example.test", None, "LCSW")
        expired = _user(session, "CLINICIAN", f"expired-{tag}@example.test", None, "LCSW")
        unenrolled = _user(session, "FRONT_DESK", f"unenrolled-{tag}@example.test", enrolled=False)
        for user in (admin, front, billing, sup, clin_a, clin_b, unenrolled):
            session.add(
                HipaaTraining(
                    user_id=user.id, completed_date=dt.date(2026, 2, 1), expires_date=dt.date(2027, 2, 1)
                )
            )
        session.add(
            HipaaTraining(
                user_id=expired.id, completed_date=dt.date(2025, 1, 1), expires_date=dt.date(2026, 1, 1)
            )
        )
        for clinician in (sup, clin_a, clin_b):
            for weekday in range(5):
                session.add(
                    ClinicianAvailability(
                        clinician_id=clinician.id,
                        weekday=weekday,
                        start_time=dt.time(9, 0),
                        end_time=dt.time(17, 0),
                        slot_minutes=60,
                        effective_from=dt.date(2026, 1, 1),
                    )
                )
        world.users = {
            "ADMIN": admin.id,
            "FRONT_DESK": front.id,
            "BILLING": billing.id,
            "SUPERVISOR": sup.id,
            "CLINICIAN": clin_a.id,
        }
        world.clinician_a, world.clinician_b = clin_a.id, clin_b.id
        world.untrained, world.expired, world.unenrolled = untrained.id, expired.id, unenrolled.id
        world.client_in = add_complete_client(session, clin_a.id, payer.id).id
        world.client_out = add_complete_client(session, clin_b.id, payer.id, first="Bea").id
    return world


@dataclass
class Api:
    """A running API: its URL, engine, clock, seeded world, and a signed-in client per role."""

    url: str
    engine: Engine
    clock: Clock
    world: World
    backend: str
    _emails: dict[int, str] = field(default_factory=dict)
    _clients: dict[int, tuple[httpx.Client, dt.datetime]] = field(default_factory=dict)
    _recovery_codes: dict[int, list[str]] = field(default_factory=dict)

    def email(self, user_id: int) -> str:
        if user_id not in self._emails:
            with session_scope(self.engine) as session:
                self._emails[user_id] = session.get(User, user_id).email
        return self._emails[user_id]

    def code(self, user_id: int) -> str | None:
        """A second factor the API accepts now: the TOTP code of the clock's step while that step is unused for
        the user, else one of their recovery codes. None for a user without MFA."""
        with session_scope(self.engine) as session:
            user = session.get(User, user_id)
            if not user.mfa_secret:
                return None
            step = int(self.clock.now.replace(tzinfo=dt.UTC).timestamp()) // mfa.STEP_SECONDS
            if user.mfa_last_step is None or step > user.mfa_last_step:
                return mfa.current_code(user.mfa_secret, self.clock.now)
            if not self._recovery_codes.get(user_id):
                self._recovery_codes[user_id] = replace_recovery_codes(session, user_id, self.clock.now)
            return self._recovery_codes[user_id].pop()

    def sign_in(self, user_id: int, code: str | None = None) -> httpx.Response:
        """POST /auth/token with the password and `code` (by default `self.code(user_id)`)."""
        body = {"email": self.email(user_id), "password": PASSWORD, "totp_code": code or self.code(user_id)}
        return httpx.post(f"{self.url}/auth/token", json=body)

    def as_user(self, user_id: int) -> httpx.Client:
        """An httpx client signed in as that user (signs in again when the test clock passed its token's expiry)."""
        client, expires = self._clients.get(user_id, (None, dt.datetime.min))
        if client is None or not (expires - dt.timedelta(minutes=15) <= self.clock.now < expires):
            response = self.sign_in(user_id)
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            if client is None:
                client = httpx.Client(base_url=self.url, timeout=60)
            client.headers["Authorization"] = f"Bearer {token}"
            self._clients[user_id] = (client, self.clock.now + dt.timedelta(minutes=15))
        return client

    def as_role(self, role: str) -> httpx.Client:
        return self.as_user(self.world.users[role])

    def count(self, model, *where) -> int:
        with session_scope(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))


def _serve(url: str, backend: str) -> Iterator[Api]:
    engine = get_engine(url)
    migrate(engine)
    world = seed_world(engine)
    clock = Clock()
    with BackgroundServer(engine, clock=clock) as server:
        api = Api(server.url, engine, clock, world, backend)
        try:
            yield api
        finally:
            for client, _ in api._clients.values():
                client.close()
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_api(tmp_path_factory) -> Iterator[Api]:
    yield from _serve(f"sqlite:///{tmp_path_factory.mktemp('api') / 'store.db'}", "sqlite")


@pytest.fixture(scope="session")
def postgres_api() -> Iterator[Api]:
    with new_pg_database() as url:
        yield from _serve(url, "postgres")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request) -> Api:
    """The API on each database (PostgreSQL skipped without MENTALSPACE_TEST_PG_URL); the clock reset."""
    served: Api = request.getfixturevalue(f"{request.param}_api")
    served.clock.now = START
    return served


_slot_counter = iter(range(10**6))


def next_slot(minutes: int = 50) -> tuple[dt.datetime, dt.datetime]:
    """A fresh weekday slot inside every seeded clinician's availability (09:00-17:00 New York), UTC; tests share
    one server, so each booking takes its own hour and none collides with another test's."""
    n = next(_slot_counter)
    day = dt.date(2026, 6, 2)
    weekdays_ahead, hour_index = divmod(n, 6)  # 09:00-14:00 starts: room to shift a slot or run 90 min
    while weekdays_ahead:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            weekdays_ahead -= 1
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    # June-November: New York is UTC-4 (EDT) until 1 November; the allocator stays well inside October.
    start = dt.datetime.combine(day, dt.time(9 + hour_index)) + dt.timedelta(hours=4)
    return start, start + dt.timedelta(minutes=minutes)


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def new_client(
    api: Api,
    *,
    clinician_id: int | None = None,
    dob: dt.date = dt.date(1990, 5, 5),
    consents: tuple[str, ...] = ("INFORMED",),
    complete: bool = True,
    emancipated: bool = False,
) -> int:
    """A client made through the API (as an administrator), with the consents asked for (a guardian too when a
    GUARDIAN consent is asked for)."""
    admin = api.as_role("ADMIN")
    body = {
        "first_name": "Test",
        "last_name": "Client",
        "date_of_birth": dob.isoformat(),
        "primary_clinician_id": clinician_id or api.world.clinician_a,
        "is_emancipated": emancipated,
    }
    if complete:
        body.update(
            phone="555-0100",
            address="1 Main St",
            city="Atlanta",
            zip_code="30301",
            emergency_contact_name="Em Contact",
            is_self_pay=True,
        )
    response = admin.post("/clients", json=body)
    assert response.status_code == 201, response.text
    client_id = response.json()["id"]
    for kind in consents:
        consent = {"consent_type": kind, "signed_date": "2026-05-01"}
        if kind == "GUARDIAN":
            guardian = admin.post(
                f"/clients/{client_id}/guardians",
                json={"full_name": "Parent Person", "relationship": "PARENT"},
            )
            consent["guardian_id"] = guardian.json()["id"]
        assert admin.post(f"/clients/{client_id}/consents", json=consent).status_code == 201
    return client_id


def booking(api: Api, client_id: int, slot=None, **extra) -> dict:
    start, end = slot or next_slot()
    return {
        "client_id": client_id,
        "clinician_id": api.world.clinician_a,
        "start_at": iso(start),
        "end_at": iso(end),
        **extra,
    }
