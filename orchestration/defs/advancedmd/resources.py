"""The AdvancedMD API as a Dagster resource: one interface, a live and a simulator-backed implementation.

* :class:`LiveAdvancedMDResource` talks to AdvancedMD. Credentials come from the environment through
  ``dg.EnvVar`` (``AMD_USERNAME``, ``AMD_PASSWORD``, ``AMD_OFFICE_KEY``); they are resolved when a run
  starts, so the definitions load without them, and the client never logs them. ``AMD_LOGIN_URL`` and
  ``AMD_APP_NAME`` point it at a sandbox or a running simulator (``mentalspace amd sync --base-url``).
  Every run has a total deadline (``AMD_RUN_DEADLINE_SECONDS``, default one hour) counted from the
  resource's set-up, and an unreachable host fails the run within seconds.
* :class:`SimulatedAdvancedMDResource` starts the loopback simulator (``ingest.advancedmd.simulator``)
  on an ephemeral port with the platform's synthetic practice, so local runs and tests need neither
  network nor credentials. Its clock is a ``FakeClock`` that starts off-peak at 02:00 MT the day after
  the practice's as-of date: rate limits are enforced by the client and judged by the simulator on
  that clock, and a wait only moves the fake time (no real sleeps). Tests can instead attach a
  simulator they started themselves (:func:`attach_simulator`) to mutate its data between runs.

Which one a deployment gets is decided by ``mentalspace_platform.environment`` (``advancedmd_source``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field, PrivateAttr

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import Clock, FakeClock, SystemClock
from ingest.advancedmd.credentials import DEFAULT_LOGIN_URL, AmdCredentials
from ingest.advancedmd.errors import CredentialsError
from ingest.advancedmd.ratelimit import FileRateLimiter, RateLimiter
from ingest.advancedmd.ratelimit_sql import SqlRateLimiter
from ingest.advancedmd.sessions import FileSessionStore, SessionStore
from ingest.advancedmd.sessions_sql import SqlSessionStore
from ingest.advancedmd.simulator import (
    SimulatorConfig,
    SimulatorDataset,
    SimulatorHandle,
    simulator_clock_start,
    start_simulator,
    synthetic_practice_dataset,
)
from mentalspace_platform.environment import current_environment
from operational_api.settings import var_dir

DEFAULT_OFFICE_KEY = "991001"


@dataclass(frozen=True)
class AmdConnection:
    """A logged-in-on-demand client for one office key, and the clock its waits run on."""

    client: AdvancedMDClient
    clock: Clock
    practice_timezone: str

    @property
    def office_key(self) -> str:
        return self.client.office_key

    def today(self) -> dt.date:
        """Today in the practice's time zone, on the connection's clock."""
        return self.clock.now().astimezone(ZoneInfo(self.practice_timezone)).date()


class AdvancedMDResource(dg.ConfigurableResource, ABC):
    """The AdvancedMD practice-management API of one office key."""

    office_key: str = Field(default=DEFAULT_OFFICE_KEY, description="office key, digits")

    @abstractmethod
    def connect(self) -> AbstractContextManager[AmdConnection]:
        """A client for the length of one step; closed afterwards."""


# One limiter per office key per process, and its state shared with every other process (a locked row of the
# store on PostgreSQL, a locked file under var/ on the embedded path): concurrent Dagster runs and the
# command line queue on one budget per office key and tier.
_LIVE_LIMITERS: dict[tuple[str, str, str], RateLimiter] = {}
_LIVE_CLOCK = SystemClock()
_SESSION_STORES: dict[tuple[str, str], SessionStore] = {}
_LOCK = threading.Lock()


def shared_limiter(office_key: str, clock: Clock = _LIVE_CLOCK) -> RateLimiter:
    """This process's limiter for ``office_key``, backed by the deployment's shared state."""
    url, state_dir = current_environment().database_url, var_dir() / "advancedmd" / "rate_limits"
    key = (office_key, url, str(state_dir))
    with _LOCK:
        limiter = _LIVE_LIMITERS.get(key)
        if limiter is None:
            if url.startswith(("postgresql", "postgres:")):
                from operational_api.db import get_engine

                limiter = SqlRateLimiter(clock, get_engine(url))
            else:
                limiter = FileRateLimiter(clock, state_dir)
            _LIVE_LIMITERS[key] = limiter
        return limiter


def shared_sessions() -> SessionStore:
    """Where this deployment keeps its AdvancedMD sessions (one per office key): a row of the store on
    PostgreSQL, a 0600 file under var/ on the embedded path, beside the limiter's state, so every run and
    the command line reuse one token until the end of the day instead of logging in per step."""
    url, state_dir = current_environment().database_url, var_dir() / "advancedmd" / "sessions"
    key = (url, str(state_dir))
    with _LOCK:
        store = _SESSION_STORES.get(key)
        if store is None:
            if url.startswith(("postgresql", "postgres:")):
                from operational_api.db import get_engine

                store = SqlSessionStore(get_engine(url))
            else:
                store = FileSessionStore(state_dir)
            _SESSION_STORES[key] = store
        return store


class LiveAdvancedMDResource(AdvancedMDResource):
    """AdvancedMD itself (production). ``password`` is masked by Dagster when it comes from an EnvVar."""

    username: str = Field(description="API user (AMD_USERNAME)")
    password: str = Field(description="API password (AMD_PASSWORD)")
    office_key: str = Field(description="office key, digits (AMD_OFFICE_KEY)")
    app_name: str = Field(
        default="",
        description="registered app name; empty = AMD_APP_NAME, else MENTALSPACE (TEMP in development)",
    )
    login_url: str = Field(
        default="", description="partner login URL; empty = AMD_LOGIN_URL, else AdvancedMD's partner login"
    )
    run_deadline_seconds: int = Field(
        default=0, description="total time a run may spend on AdvancedMD; 0 = AMD_RUN_DEADLINE_SECONDS (3600)"
    )
    _started: float | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Resources are set up once per run (per step process with a multiprocess executor): the run's
        # deadline counts from here, so a run's steps share one budget rather than one each.
        self._started = time.time()

    def credentials(self) -> AmdCredentials:
        env = current_environment()
        try:
            return AmdCredentials(
                username=self.username,
                password=self.password,
                office_key=self.office_key,
                app_name=self.app_name or env.amd_app_name or "MENTALSPACE",
                login_url=self.login_url or env.amd_login_url or DEFAULT_LOGIN_URL,
            )
        except CredentialsError as exc:
            raise dg.Failure(str(exc)) from None

    def deadline(self) -> dt.datetime:
        seconds = self.run_deadline_seconds or current_environment().amd_run_deadline_seconds
        started = self._started if self._started is not None else time.time()
        return dt.datetime.fromtimestamp(started + seconds, dt.UTC)

    @contextmanager
    def connect(self) -> Iterator[AmdConnection]:
        credentials = self.credentials()
        limiter = shared_limiter(credentials.office_key)
        with AdvancedMDClient(
            credentials,
            clock=_LIVE_CLOCK,
            rate_limiter=limiter,
            deadline=self.deadline(),
            session_store=shared_sessions(),
        ) as client:
            yield AmdConnection(client, _LIVE_CLOCK, current_environment().practice_timezone)


# Simulators started by callers (tests), by name: they keep their own clock and data.
_ATTACHED: dict[str, SimulatorHandle] = {}


def attach_simulator(name: str, handle: SimulatorHandle) -> None:
    """Make a running simulator available to ``SimulatedAdvancedMDResource(simulator=name)`` in this process."""
    with _LOCK:
        _ATTACHED[name] = handle


def detach_simulator(name: str) -> None:
    with _LOCK:
        _ATTACHED.pop(name, None)


@lru_cache(maxsize=4)
def _practice_dataset(
    clinicians: int, months: int, seed: int, as_of: dt.date, timezone: str, office_key: str
) -> SimulatorDataset:
    # Generating the practice takes ~0.1 s (2 clinicians) to ~4 s (12 clinicians, 12 months); a
    # backfill runs one partition after another in the same process, so the dataset is reused.
    return synthetic_practice_dataset(
        clinicians=clinicians, months=months, seed=seed, as_of=as_of, timezone=timezone, office_key=office_key
    )


class SimulatedAdvancedMDResource(AdvancedMDResource):
    """The loopback simulator serving the synthetic practice (local runs and tests)."""

    clinicians: int = Field(default=12, description="synthetic practice size (as `mentalspace generate`)")
    months: int = Field(default=12, description="months of history")
    seed: int = Field(default=42, description="same seed, size and as-of date = same practice")
    as_of: str = Field(default="", description="last day of history, YYYY-MM-DD; empty = today")
    simulator: str = Field(default="", description="name of a simulator attached by the caller (tests)")

    def practice_as_of(self) -> dt.date:
        # Same default as `mentalspace generate`, so the simulator serves the practice in the store.
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.date.today()

    @contextmanager
    def connect(self) -> Iterator[AmdConnection]:
        tz = current_environment().practice_timezone
        if self.simulator:
            handle = _ATTACHED.get(self.simulator)
            if handle is None:
                raise dg.Failure(
                    f"no AdvancedMD simulator named '{self.simulator}' is attached in this process"
                )
            with AdvancedMDClient(
                handle.credentials(self.office_key),
                clock=handle.clock,
                rate_limiter=RateLimiter(handle.clock),
                timeout=10.0,
            ) as client:
                yield AmdConnection(client, handle.clock, tz)
            return
        as_of = self.practice_as_of()
        dataset = _practice_dataset(self.clinicians, self.months, self.seed, as_of, tz, self.office_key)
        clock = FakeClock(simulator_clock_start(as_of))
        with (
            start_simulator(dataset, SimulatorConfig(seed=self.seed), clock=clock) as handle,
            AdvancedMDClient(
                handle.credentials(self.office_key),
                clock=clock,
                rate_limiter=RateLimiter(clock),
                timeout=10.0,
            ) as client,
        ):
            yield AmdConnection(client, clock, tz)


def live_resource(login_url: str = "") -> LiveAdvancedMDResource:
    """AdvancedMD itself, a sandbox or a running simulator (``login_url``; empty = AMD_LOGIN_URL or
    AdvancedMD's partner login), with the credentials of the environment."""
    return LiveAdvancedMDResource(
        username=dg.EnvVar("AMD_USERNAME"),
        password=dg.EnvVar("AMD_PASSWORD"),
        office_key=dg.EnvVar("AMD_OFFICE_KEY"),
        login_url=login_url,
    )


def advancedmd_resource() -> AdvancedMDResource:
    """The implementation this deployment uses (the environment helper decides)."""
    env = current_environment()
    if env.advancedmd_source == "live":
        return live_resource()
    return SimulatedAdvancedMDResource(as_of=env.as_of_date or "")


__all__ = [
    "AdvancedMDResource",
    "AmdConnection",
    "LiveAdvancedMDResource",
    "SimulatedAdvancedMDResource",
    "advancedmd_resource",
    "attach_simulator",
    "detach_simulator",
    "live_resource",
    "shared_sessions",
]
