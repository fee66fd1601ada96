"""Serving the API: uvicorn on loopback, in the foreground (`mentalspace serve`) or a background thread (tests)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable

import uvicorn
from sqlalchemy import Engine

from operational_api.api.app import create_app


class BackgroundServer:
    """uvicorn serving `create_app(engine)` on 127.0.0.1 in a thread; `url` once started (port 0 = a free one)."""

    def __init__(
        self, engine: Engine, *, port: int = 0, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.app = create_app(engine, clock=clock)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            limit_concurrency=1000,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)
        self.url = ""

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


WORKER_HEALTHCHECK_SECONDS = 120


def app_from_environment():
    """The app over DATABASE_URL's store: what each uvicorn worker process builds (`--workers` > 1), with its
    share of the server's requests in flight (and so of its database connections)."""
    from operational_api.api.app import IN_FLIGHT
    from operational_api.db import get_engine
    from operational_api.settings import api_workers

    return create_app(get_engine(), in_flight=max(1, IN_FLIGHT // api_workers()))


def main(argv: list[str] | None = None) -> int:
    """`python -m operational_api.api.server --host H --port P [--workers N]`: the API over DATABASE_URL's store,
    in the foreground (`mentalspace serve` starts it next to Dagster and the dashboards)."""
    from operational_api.api import tokens
    from operational_api.db import get_engine, is_migrated
    from operational_api.errors import PlatformError
    from operational_api.settings import api_port, api_workers

    parser = argparse.ArgumentParser(prog="operational_api.api.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default MENTALSPACE_API_WORKERS or 2)"
    )
    args = parser.parse_args(argv)
    try:
        port = args.port if args.port is not None else api_port()
        workers = args.workers if args.workers is not None else api_workers()
        engine = get_engine()
        if not is_migrated(engine):
            raise PlatformError("the operational store has no schema yet: run `mentalspace init` first")
    except (PlatformError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # No access log: request lines carry query strings, and a query may one day carry PHI.
    if workers == 1:
        uvicorn.run(create_app(engine), host=args.host, port=port, log_level="warning", access_log=False)
        return 0
    # The store's signing key exists before the workers start, so they all read the same one.
    tokens.signing_key(engine, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    engine.dispose()
    # The worker processes inherit the environment: `--workers` reaches app_from_environment this way.
    os.environ["MENTALSPACE_API_WORKERS"] = str(workers)
    uvicorn.run(
        "operational_api.api.server:app_from_environment",
        factory=True,
        workers=workers,
        # The supervisor restarts a worker that does not answer its ping in time (5 s by default): on a loaded
        # machine a worker still importing the app misses it, and the workers were restarted in a loop.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        host=args.host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
