"""One AdvancedMD client process for the cross-process rate-limit test (run as ``python -m``).

Arguments: a JSON object with the simulator's login URL and clock, the limiter to use (``file``: the shared
file state; ``sql``: the store's row; ``local``: a limiter of this process only) and how many calls to make.
Prints one JSON line: the simulated instants its calls were sent at and the errors it met.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import ScaledClock
from ingest.advancedmd.credentials import AmdCredentials
from ingest.advancedmd.ratelimit import FileRateLimiter, RateLimiter, RetryPolicy


def main() -> int:
    spec = json.loads(sys.argv[1])
    clock = ScaledClock(datetime.fromisoformat(spec["clock_start"]), spec["clock_speed"], spec["clock_epoch"])
    margin = {"margin_seconds": spec["margin_seconds"]}
    if spec["limiter"] == "file":
        limiter: RateLimiter = FileRateLimiter(clock, spec["state_dir"], **margin)
    elif spec["limiter"] == "sql":
        from sqlalchemy import create_engine

        from ingest.advancedmd.ratelimit_sql import SqlRateLimiter

        limiter = SqlRateLimiter(clock, create_engine(spec["database_url"]), **margin)
    else:
        limiter = RateLimiter(clock, **margin)
    credentials = AmdCredentials(
        username=spec["username"],
        password=spec["password"],
        office_key=spec["office_key"],
        app_name="TEMP",
        login_url=spec["login_url"],
    )
    sent: list[float] = []
    errors: list[str] = []
    # One attempt per call: a quota answer must show up as an error here, not be waited out.
    with AdvancedMDClient(
        credentials, clock=clock, rate_limiter=limiter, retry=RetryPolicy(max_attempts=1), timeout=10
    ) as client:
        for _ in range(spec["calls"]):
            try:
                client.get_date_visits(date.fromisoformat(spec["visit_date"]))
                sent.append(clock.now().timestamp())
            except Exception as exc:  # reported to the test, which fails on any
                errors.append(type(exc).__name__)
    print(json.dumps({"sent": sent, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
