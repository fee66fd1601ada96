"""Serving the API: uvicorn on loopback, in the foreground (`mentalspace serve`) or a background thread (tests)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable

import uvicorn
from sqlalchemy import Engine

from operational_api.api.app import create_app

DEFAULT_PORT = 8000
PORT_ENV = "MENTALSPACE_API_PORT"


def api_port() -> int:
    raw = os.environ.get(PORT_ENV, str(DEFAULT_PORT))
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"{PORT_ENV} must be a port number (0-65535), not {raw!r}")
    return int(raw)


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
