"""One AdvancedMD client process for the shared-session test (run as ``python -m``).

Argument: a JSON object with the simulator's login URL and clock, the session store (``file``: a directory;
``sql``: the store's table) and how many calls to make. Prints one JSON line: this process's logins and errors.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import ScaledClock
from ingest.advancedmd.credentials import AmdCredentials
from ingest.advancedmd.ratelimit import FileRateLimiter
from ingest.advancedmd.sessions import FileSessionStore, SessionStore


def main() -> int:
    spec = json.loads(sys.argv[1])
    clock = ScaledClock(datetime.fromisoformat(spec["clock_start"]), spec["clock_speed"], spec["clock_epoch"])
    if spec["store"] == "sql":
        from sqlalchemy import create_engine

        from ingest.advancedmd.sessions_sql import SqlSessionStore

        store: SessionStore = SqlSessionStore(create_engine(spec["database_url"]))
    else:
        store = FileSessionStore(spec["state_dir"])
    credentials = AmdCredentials(
        username=spec["username"],
        password=spec["password"],
        office_key=spec["office_key"],
        app_name="TEMP",
        login_url=spec["login_url"],
    )
    errors: list[str] = []
    limiter = FileRateLimiter(clock, spec["limits_dir"])
    with AdvancedMDClient(
        credentials, clock=clock, rate_limiter=limiter, session_store=store, timeout=10
    ) as client:
        for _ in range(spec["calls"]):
            try:
                client.lookup_patients()
            except Exception as exc:  # reported to the test, which fails on any
                errors.append(type(exc).__name__)
    print(json.dumps({"logins": client.stats.logins, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
