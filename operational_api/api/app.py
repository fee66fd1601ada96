"""The FastAPI application: problem+json for every error, bearer-token auth, the route table mounted.

`create_app(engine, clock=...)` builds an app over a migrated store; `mentalspace serve` runs it under uvicorn
(`operational_api.api.server`). OpenAPI is served at /docs (and /openapi.json).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from operational_api.api import tokens
from operational_api.api.context import SCOPE_RESOLVERS, ApiState, take_request_session
from operational_api.api.problems import ApiProblem, problem_response
from operational_api.api.routes import ROUTE_TABLE
from operational_api.db import _sqlite_pragmas
from operational_api.services.errors import ServiceError

log = logging.getLogger("operational_api.api")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _immediate_engine(engine: Engine) -> Engine:
    """SQLite: an engine whose transactions begin IMMEDIATE, so concurrent writers (and the audit chain's
    read-then-append) queue on the busy timeout instead of failing when a read lock cannot be upgraded."""
    immediate = create_engine(engine.url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(immediate, "connect", _sqlite_pragmas)

    @event.listens_for(immediate, "connect")
    def _autocommit_driver(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves

    @event.listens_for(immediate, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return immediate


# The API's own PostgreSQL pool. No pre-ping: it costs a round trip on every checkout (once per request); a
# connection dropped by the server fails the request's first statement instead (the auth check, before anything
# is written), which is retried once on a fresh connection (context.current_actor), and connections are
# recycled before the usual idle timeouts of servers and proxies close them. Sized for uvicorn's thread pool (40
# threads): a request holds one connection from its auth check to its commit.
PG_POOL_RECYCLE_SECONDS = 600
PG_POOL_SIZE = 20
PG_MAX_OVERFLOW = 20  # pool_size + max_overflow >= IN_FLIGHT


def _postgres_engine(engine: Engine) -> Engine:
    return create_engine(
        engine.url,
        pool_pre_ping=False,
        pool_recycle=PG_POOL_RECYCLE_SECONDS,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        connect_args={"connect_timeout": 5},
    )


# Requests inside the app at once; the others wait their turn on the event loop, holding nothing. A request holds
# its transaction (a pooled connection; on SQLite the write lock) from its auth check to its commit, across the
# thread-pool hops of its dependencies and its route, and each hop needs one of the pool's 40 threads (anyio's
# default). Fewer requests inside than threads means a request holding a connection always finds a free thread,
# so the threads can never all be blocked waiting for connections held by requests that wait for a thread. It is
# also below the PostgreSQL pool's size, so no request waits for a connection. Two cores gain nothing from more.
# Per server, not per process: N worker processes take IN_FLIGHT // N each (server.app_from_environment), so a
# server holds at most IN_FLIGHT of the database's connections (PostgreSQL's default max_connections is 100, and
# the dashboards, Dagster and the warehouse's jobs need theirs).
IN_FLIGHT = 32


class InFlightLimit:
    """ASGI middleware: at most `limit` HTTP requests in the wrapped app at once (see IN_FLIGHT)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made on the server's event loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)


# SQLSTATE classes of a database condition that passes (the request's transaction was rolled back whole, so a retry
# is safe): 40 a deadlock or serialization failure still there after ApiContext.write's retries, 53 out of
# connections or memory, 08 a lost connection, 57P03 a server starting up. Answered 503 with Retry-After, not 500.
TRANSIENT_SQLSTATE_CLASSES = ("40", "53", "08", "57P03")


class RequestGuard:
    """ASGI middleware: a crash becomes a 500 problem without traceback (a passing database condition a 503), and
    a request's transaction left open (a request turned away after the auth check opened it: 403, 404, 422 ...) is
    rolled back and its connection given back, off the event loop (a rollback is a round trip).

    Plain ASGI rather than `@app.middleware("http")` (Starlette's BaseHTTPMiddleware), which runs every request
    through a task group and memory streams: a millisecond of CPU per request on this machine (bench/api.py).
    A middleware rather than an exception handler: Starlette re-raises what a handler for Exception saw, and
    uvicorn would log its traceback (driver errors quote row values, which may be PHI)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_started(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_started)
        except Exception as exc:
            reference = uuid.uuid4().hex[:12]
            # The SQLSTATE says which database condition it was; the driver's message is never logged (it quotes
            # row values).
            sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
            log.error(
                "API error %s: %s%s",
                reference,
                type(exc).__name__,
                f" (SQLSTATE {sqlstate})" if sqlstate else "",
            )
            if started:  # the answer is on its way: nothing else can be sent
                return
            if isinstance(exc, OperationalError) and str(sqlstate or "").startswith(
                TRANSIENT_SQLSTATE_CLASSES
            ):
                answer = problem_response(
                    503,
                    "server.database_busy",
                    f"the database could not take the request now; nothing was changed: retry (reference {reference})",
                    headers={"Retry-After": "1"},
                )
            else:
                answer = problem_response(500, "server.error", f"internal error (reference {reference})")
            await answer(scope, receive, send)
        finally:
            leftover = take_request_session(Request(scope))
            if leftover is not None:
                await run_in_threadpool(leftover.close)


def _validation_field(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def create_app(
    engine: Engine, *, clock: Callable[[], dt.datetime] | None = None, in_flight: int = IN_FLIGHT
) -> FastAPI:
    """The API over a migrated store. `clock` returns naive UTC (tests move it); `in_flight`: this process's share
    of IN_FLIGHT."""
    clock = clock or _utcnow
    if engine.dialect.name == "sqlite":
        engine = _immediate_engine(engine)
    elif engine.dialect.name == "postgresql":
        engine = _postgres_engine(engine)
    own_engine = engine

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        # The app's own pool: closed with the server (a test drops its database right after).
        own_engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="MentalSpace operational API",
        version="1",
        description=(
            "The write path for a practice's records, with the PRD's workflow rules enforced. Sign in with "
            "POST /auth/token, then send `Authorization: Bearer <access_token>`. Errors are RFC 9457 "
            "problem+json; `rule` is stable. POSTs accept `Idempotency-Key`; updates need `If-Match`."
        ),
    )
    app.state.api = ApiState(engine=engine, signing_key=tokens.signing_key(engine, clock()), clock=clock)

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError):
        return problem_response(exc.status, exc.rule, exc.message, exc.field)

    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem):
        return problem_response(exc.status, exc.rule, exc.detail, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = _validation_field(tuple(first.get("loc", ())))
        # pydantic's message names the rule broken; the value sent is never echoed (it may be PHI).
        detail = "; ".join(
            f"{_validation_field(tuple(e.get('loc', ()))) or 'body'}: {e.get('msg', 'invalid')}"
            for e in errors[:5]
        )
        return problem_response(422, "request.invalid", detail or "the request is invalid", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        rules = {404: "http.not_found", 405: "http.method_not_allowed"}
        rule = rules.get(exc.status_code, f"http.{exc.status_code}")
        detail = {404: "no such resource", 405: "method not allowed on this resource"}.get(
            exc.status_code, str(exc.detail)
        )
        return problem_response(exc.status_code, rule, detail, headers=getattr(exc, "headers", None))

    app.add_middleware(RequestGuard)
    app.add_middleware(InFlightLimit, limit=in_flight)
    for router in ROUTE_TABLE:
        for route in router.routes:
            scope = (getattr(route, "openapi_extra", None) or {}).get("x-scope")
            if scope is not None and scope not in SCOPE_RESOLVERS:
                raise ValueError(f"route {route.path}: no scope resolver registered for {scope!r}")
        app.include_router(router)
    return app
