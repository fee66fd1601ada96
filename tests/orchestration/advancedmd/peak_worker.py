"""One process of the peak-day test (run as ``python -m``): real Dagster runs of the AdvancedMD jobs, one after
another, until a simulated instant, against a simulator running in the test's process.

Argument: a JSON object with the resource's fields (:class:`ScaledSimulatorResource`), the jobs to run in turn and
the simulated instant to stop at. Prints one JSON line: the runs made and their outcomes (failures as the one
line ``run_job`` raises).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import PrivateAttr

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import ScaledClock
from ingest.advancedmd.credentials import AmdCredentials
from ingest.advancedmd.ratelimit import FileRateLimiter
from ingest.advancedmd.sessions import FileSessionStore
from mentalspace_platform.environment import current_environment
from operational_api.errors import PlatformError
from operational_api.settings import var_dir
from orchestration.defs.advancedmd.resources import AdvancedMDResource, AmdConnection


class ScaledSimulatorResource(AdvancedMDResource):
    """A running simulator reached over loopback, on the clock every process shares (``ScaledClock``), booking
    its calls on the deployment's shared limiter state (the flock'ed file ``shared_limiter`` uses on the embedded
    path) with a margin wide enough for a loaded machine's scheduling jitter at the clock's speed, and sharing one
    AdvancedMD session across its processes the way production does (the 0600 file ``shared_sessions`` uses
    on the embedded path)."""

    login_url: str
    username: str
    password: str
    clock_start: str
    clock_speed: float
    clock_epoch: float
    margin_seconds: float
    timeout_seconds: float = 5.0
    _limiter: FileRateLimiter | None = PrivateAttr(default=None)

    def clock(self) -> ScaledClock:
        return ScaledClock(dt.datetime.fromisoformat(self.clock_start), self.clock_speed, self.clock_epoch)

    @contextmanager
    def connect(self) -> Iterator[AmdConnection]:
        clock = self.clock()
        if self._limiter is None:
            self._limiter = FileRateLimiter(
                clock, var_dir() / "advancedmd" / "rate_limits", margin_seconds=self.margin_seconds
            )
        credentials = AmdCredentials(
            username=self.username,
            password=self.password,
            office_key=self.office_key,
            app_name="TEMP",
            login_url=self.login_url,
        )
        with AdvancedMDClient(
            credentials,
            clock=clock,
            rate_limiter=self._limiter,
            timeout=self.timeout_seconds,
            session_store=FileSessionStore(var_dir() / "advancedmd" / "sessions"),
        ) as client:
            yield AmdConnection(client, clock, current_environment().practice_timezone)


def main() -> int:
    from orchestration.defs.advancedmd.definitions import standalone_definitions
    from orchestration.lib.runner import run_job

    spec = json.loads(sys.argv[1])
    resource = ScaledSimulatorResource(**spec["resource"])
    defs = standalone_definitions(resource)
    clock = resource.clock()
    until = dt.datetime.fromisoformat(spec["until"])
    runs: list[dict[str, object]] = []
    with dg.DagsterInstance.ephemeral() as instance:
        while clock.now() < until:
            for job in spec["jobs"]:
                started = clock.now()
                try:
                    result = run_job(defs, job, instance=instance)
                    outcome = "success"
                    skipped = any(
                        "skipped" in e.event_specific_data.materialization.metadata
                        for e in result.get_asset_materialization_events()
                    )
                except PlatformError as exc:
                    outcome, skipped = str(exc), False
                runs.append(
                    {
                        "job": job,
                        "outcome": outcome,
                        "skipped": skipped,
                        "started": started.isoformat(),
                        "ended": clock.now().isoformat(),
                    }
                )
    print(json.dumps({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
