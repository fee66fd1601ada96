"""What every route gets: the signed-in actor, a transaction, the clock, idempotent writes, ETags, read audit.

A route declares itself with `api_route(router, METHOD, path, roles=..., scope=...)` and takes `ctx: Ctx`:

    @api_route(router, "GET", "/clients/{client_id}", roles=STAFF, scope="client")
    def get_client(client_id: int, ctx: Ctx) -> ClientOut:
        with ctx.session() as session:
            client = clients.get_client(session, ctx.actor, client_id)
            ctx.record_read(session, "client", client.id, client_ids=[client.id])
            return ctx.respond(ClientOut.of(client))

The role check runs before the body is validated, so a role that never does this gets 403 whatever it sends;
a record outside the actor's scope is the service's NotFound (404). See api/README.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from operational_api import audit
from operational_api.api import tokens
from operational_api.api.problems import PROBLEM_SCHEMA, ApiProblem
from operational_api.auth import (
    STAFF_ROLES,
    SignedInUser,
    StoredSignInThrottle,
    _visible_clinicians,
    training_allows_until,
)
from operational_api.models import User
from operational_api.models_api import ApiSession, IdempotencyRecord
from operational_api.services.constraints import translate_integrity_error
from operational_api.services.errors import ServiceError, VersionConflict
from operational_api.services.ids import MAX_RECORD_ID

log = logging.getLogger("operational_api.api")

STAFF = frozenset(STAFF_ROLES)
ADMIN = frozenset({"ADMIN"})
SCHEDULING = frozenset({"ADMIN", "FRONT_DESK", "CLINICIAN", "SUPERVISOR"})
CLINICAL = frozenset({"ADMIN", "CLINICIAN", "SUPERVISOR"})
BILLING = frozenset({"ADMIN", "BILLING"})

# Deadlock detected, serialization failure: the transaction is safe to run again from the start.
RETRYABLE_SQLSTATES = ("40P01", "40001")
RETRIES = 5
RETRY_SPREAD_SECONDS = 0.05
TRAINING_RECHECK_SECONDS = 60
# Georgia rule 7 (auth.training_allows): the problem's rule id at sign-in and on every request.
TRAINING_RULE = "staff.hipaa_training_required"


@dataclass
class ApiState:
    """One per app (per worker process): the engine routes write through, the token key, the clock, the sign-in
    throttle. Nothing here is state that must be shared between processes: the throttle reads the store, and the
    training cache below only saves queries."""

    engine: Engine
    signing_key: bytes
    clock: Callable[[], dt.datetime]
    sessions: sessionmaker = field(init=False)
    # A source that keeps failing waits 1, 2, 4 ... 30 s, counted from the store's audit rows of its refusals, so
    # all the worker processes of a server (and any server over the same store) agree.
    sign_in_throttle: StoredSignInThrottle = field(init=False)

    # Georgia rule 7 per user: (until when it lets them in, the clock's now and the monotonic time it was read).
    # Only time takes access away (trainings and exceptions are added, never removed: auth.training_allows_until),
    # so a request before that instant needs no query; it is read again at least every TRAINING_RECHECK_SECONDS
    # (a change the platform never makes, such as a shortened validity rule or a row deleted by hand, applies
    # within that bound), and whenever the clock is earlier than when it was read (tests move it back).
    # Never cached: a refusal (a training recorded since lets the user in on their next request).
    _training: dict[int, tuple[dt.datetime, dt.datetime, float]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.sign_in_throttle = StoredSignInThrottle(engine=self.engine)

    def training_allows(self, session: Session, user_id: int, now: dt.datetime) -> bool:
        cached = self._training.get(user_id)
        checked = time.monotonic()
        if cached is not None:
            until, read_at, read_when = cached
            if read_at <= now < until and checked - read_when < TRAINING_RECHECK_SECONDS:
                return True
        until = training_allows_until(session, user_id, now)
        if until is None:
            self._training.pop(user_id, None)
            return False
        self._training[user_id] = (until, now, checked)
        return True

    def now(self) -> dt.datetime:
        return self.clock().replace(tzinfo=None)

    @contextmanager
    def session(self, opened: Session | None = None) -> Iterator[Session]:
        """One transaction, committed on success: `opened` (the request's, see `request_session`) or a new one."""
        session = opened if opened is not None else self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


# The request's one transaction (request.state): the auth check opens it, the scope check and the route's first
# `ctx.session()` / `ctx.write()` continue it, so a request is one BEGIN ... COMMIT on one pooled connection (the
# auth check, the work and its audit row) instead of three. The app's middleware closes whatever is left open
# (a request turned away before its route ran).
REQUEST_SESSION = "api_request_session"


def request_session(request: Request) -> Session | None:
    return getattr(request.state, REQUEST_SESSION, None)


def take_request_session(request: Request) -> Session | None:
    """The request's open transaction, handed over once (a second `ctx.session()` starts a new one)."""
    session = request_session(request)
    if session is not None:
        setattr(request.state, REQUEST_SESSION, None)
    return session


# The exact types JSON has (not subclasses such as enums or bool-likes, which jsonable_encoder converts).
_JSON_TYPES = frozenset({str, int, float, bool, type(None)})


def _json_ready(value: Any) -> bool:
    """Whether `value` is JSON data already: dicts with str keys, lists and JSON's scalars all the way down."""
    kind = type(value)
    if kind in _JSON_TYPES:
        return True
    if kind is dict:
        return all(type(k) is str and _json_ready(v) for k, v in value.items())
    if kind is list:
        return all(_json_ready(v) for v in value)
    return False


def encode(value: Any) -> Any:
    """An answer as JSON-ready data. A pydantic model dumps itself in JSON mode (what `jsonable_encoder` does first,
    before walking the result again item by item: most of a 50-row list's serialisation time); data that is JSON
    already (a note's wire shape, dumped by its route) is taken as it is, checked for the price of one walk
    instead of jsonable_encoder's (a quarter of a notes list's CPU on this machine)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list) and all(isinstance(item, BaseModel) for item in value):
        return [item.model_dump(mode="json", by_alias=True) for item in value]
    if _json_ready(value):
        return value
    return jsonable_encoder(value)


class FastJSONResponse(JSONResponse):
    """The same compact JSON as Starlette's (UTF-8, no spaces), rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _unauthorized(detail: str, rule: str = "auth.token_invalid") -> ApiProblem:
    return ApiProblem(401, rule, detail, headers={"WWW-Authenticate": 'Bearer realm="mentalspace"'})


def training_required(user_id: int) -> ApiProblem:
    """403 for Georgia rule 7, at sign-in and on every request alike."""
    return ApiProblem(
        403,
        TRAINING_RULE,
        f"user {user_id} has no current HIPAA training: API access is suspended until it is renewed "
        "(Georgia rule 7) or an administrator records an exception",
    )


async def current_actor(request: Request) -> SignedInUser:
    """The signed-in staff member behind the bearer token (401 without a valid one, 403 without current HIPAA
    training and no active exception: Georgia rule 7). Checked once per request, in the thread pool (its query);
    a scoped route's guard checks it in the same hop as the scope (`require_scope`), and this only reads it."""
    actor = getattr(request.state, "actor", None)
    if actor is not None:
        return actor
    return await run_in_threadpool(_check_actor, request)


def _check_actor(request: Request) -> SignedInUser:
    state: ApiState = request.app.state.api
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("sign in first: send 'Authorization: Bearer <access token>' (POST /auth/token)")
    now = state.now()
    try:
        claims = tokens.decode(token.strip(), state.signing_key, kind="access", now=now)
    except tokens.TokenError as exc:
        rule = "auth.token_expired" if "expired" in str(exc) else "auth.token_invalid"
        raise _unauthorized(str(exc), rule) from None
    for attempt in (1, 2):
        session = state.sessions()
        setattr(request.state, REQUEST_SESSION, session)
        try:
            actor = _actor_of(state, session, claims, now)
            break
        except DBAPIError as exc:
            # No pre-ping (a round trip per checkout): a pooled connection the server dropped fails here, at the
            # request's first statement, before anything is written; SQLAlchemy invalidates the pool and the
            # second attempt gets a fresh connection.
            setattr(request.state, REQUEST_SESSION, None)
            session.close()
            if not exc.connection_invalidated or attempt == 2:
                raise
    request.state.actor = actor
    return actor


# The sign-in check of every request: the columns it needs, not two whole ORM entities (most of the check's CPU
# went to loading a User and an ApiSession), in one statement built once (its cache key is memoised, so a request
# only binds the id).
_SIGN_IN_CHECK = (
    select(
        ApiSession.user_id.label("session_user_id"),
        ApiSession.revoked_at,
        User.id,
        User.role,
        User.is_active,
        User.first_name,
        User.last_name,
    )
    .join(User, User.id == ApiSession.user_id)
    .where(ApiSession.id == bindparam("sid"))
)


def _actor_of(state: ApiState, session: Session, claims: dict, now: dt.datetime) -> SignedInUser:
    """The token's sign-in, checked in the request's transaction: not revoked, its user active staff with current
    HIPAA training (or an exception). One query for the sign-in and its user."""
    sid = claims.get("sid")
    found = (
        session.execute(_SIGN_IN_CHECK, {"sid": sid}).first()
        if isinstance(sid, int) and 1 <= sid <= MAX_RECORD_ID
        else None
    )
    if found is None or found.session_user_id != claims.get("sub") or found.revoked_at is not None:
        raise _unauthorized(
            "this sign-in was ended (signed out or revoked); sign in again", "auth.session_revoked"
        )
    if not found.is_active or found.role not in STAFF_ROLES:
        raise _unauthorized("this account can no longer use the API", "auth.account_inactive")
    # The same gate as sign-in: a token outliving the training's expiry stops working on that date.
    if not state.training_allows(session, found.id, now):
        raise training_required(found.id)
    return SignedInUser(
        user_id=found.id,
        role=found.role,
        display_name=f"{found.first_name} {found.last_name}",
        # The row has the `id` and `role` the scope reads.
        visible_clinician_ids=_visible_clinicians(session, found),
    )


def _check_role(actor: SignedInUser, roles: frozenset[str]) -> None:
    if actor.role not in roles:
        raise ApiProblem(
            403, "auth.role_forbidden", f"the {actor.role} role may not use this operation", field=None
        )


def require_roles(roles: frozenset[str]) -> Callable[..., SignedInUser]:
    # async: no I/O, so it runs on the event loop instead of costing a thread-pool hop (as api_context).
    async def guard(actor: Annotated[SignedInUser, Depends(current_actor)]) -> SignedInUser:
        _check_role(actor, roles)
        return actor

    return guard


# How to find a record of each scope kind for the actor (raising the service's NotFound outside their scope).
# Routes declared with `scope="<kind>"` are checked against it before their body is read, so a record outside
# the actor's scope is 404 whatever the request carries. Areas register their kinds with `register_scope`.
SCOPE_RESOLVERS: dict[str, Callable[[Session, SignedInUser, int], object]] = {}


def register_scope(kind: str, resolver: Callable[[Session, SignedInUser, int], object]) -> None:
    SCOPE_RESOLVERS[kind] = resolver


def require_scope(kind: str, param: str, roles: frozenset[str]) -> Callable[..., None]:
    """The sign-in, role and scope checks of a route whose path names a record, in one thread-pool hop (each hop
    costs CPU and, on a loaded machine, a wait for a thread and then for the event loop)."""

    def guard(request: Request) -> None:
        actor = getattr(request.state, "actor", None) or _check_actor(request)
        _check_role(actor, roles)
        raw = str(request.path_params.get(param, ""))
        # Not a RecordId (str.isdigit also takes "²", which int() refuses; a key past the store's integers is a
        # driver error): path validation answers 422, the resolver never sees it.
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_RECORD_ID):
            return
        # In the request's transaction (the route continues it): a NotFound leaves it to the middleware to close.
        SCOPE_RESOLVERS[kind](request_session(request) or _own_session(request), actor, int(raw))

    return guard


def _own_session(request: Request) -> Session:
    session = request.app.state.api.sessions()
    setattr(request.state, REQUEST_SESSION, session)
    return session


def _fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) if body else ""
    except ValueError:
        canonical = body.decode(errors="replace")
    return hashlib.sha256(f"{method}\n{path}\n{query}\n{canonical}".encode()).hexdigest()


class ApiContext:
    """The per-request handle a route works through (see the module docstring)."""

    def __init__(self, request: Request, actor: SignedInUser, fingerprint: str | None) -> None:
        self.request = request
        self.state: ApiState = request.app.state.api
        self.actor = actor
        self.now = self.state.now()
        self.idempotency_key = request.headers.get("idempotency-key") if request.method == "POST" else None
        self.fingerprint = fingerprint
        if self.idempotency_key is not None and not 1 <= len(self.idempotency_key) <= 200:
            raise ApiProblem(422, "idempotency.key_invalid", "Idempotency-Key must be 1 to 200 characters")

    # --- transactions --------------------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction (committed on success); integrity and version errors become ServiceErrors."""
        try:
            with self.state.session(take_request_session(self.request)) as session:
                yield session
        except IntegrityError as exc:
            raise translate_integrity_error(exc) from None
        except StaleDataError:
            raise VersionConflict(
                "request.version_conflict", "the record changed while this request was applied; read it again"
            ) from None

    def expected_version(self, *, required: bool = True) -> int | None:
        """The version the caller read, from `If-Match` (428 when an update is sent without one)."""
        raw = self.request.headers.get("if-match")
        if raw is None:
            if required:
                raise ApiProblem(
                    428,
                    "request.if_match_required",
                    "send If-Match with the ETag you read (lost-update guard)",
                )
            return None
        value = raw.strip().removeprefix("W/").strip('"')
        try:
            return int(value)
        except ValueError:
            raise ApiProblem(
                422, "request.if_match_invalid", "If-Match must be an ETag this API returned"
            ) from None

    def write(self, fn: Callable[[Session], Any], *, status: int = 200) -> JSONResponse:
        """Run a service call in one transaction and answer with its result. A POST with an `Idempotency-Key`
        stores its (successful) answer in the same transaction: a retry gets the stored answer and changes
        nothing; the same key with a different request is refused (422). A refusal is audited on its own."""
        for attempt in range(1, RETRIES + 1):
            try:
                return self._write_once(fn, status)
            except OperationalError as exc:
                # PostgreSQL checks an exclusion constraint after inserting, so two concurrent conflicting
                # bookings can wait on each other: it aborts one as a deadlock. The whole transaction is
                # re-run; the retry meets the committed winner and is refused by the rule like any other.
                if getattr(exc.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES or attempt == RETRIES:
                    raise
                # Apart, at random: retried at once, the same racers met in the same deadlock again (a 500 in CI
                # with fifty bookings of one client at once).
                time.sleep(random.uniform(0, RETRY_SPREAD_SECONDS * attempt))
        raise AssertionError("unreachable")

    def _write_once(self, fn: Callable[[Session], Any], status: int) -> JSONResponse:
        key = self.idempotency_key
        try:
            with self.session() as session:
                if key is not None:
                    replay = self._replay(session, key)
                    if replay is not None:
                        return replay
                body = encode(fn(session))
                if key is not None:
                    session.add(
                        IdempotencyRecord(
                            user_id=self.actor.user_id,
                            idempotency_key=key,
                            request_hash=self.fingerprint or "",
                            status_code=status,
                            response_body=json.dumps(body),
                            created_at=self.now,
                        )
                    )
                    session.flush()
            return self._json(body, status)
        except ServiceError as exc:
            if key is not None:
                # A concurrent request with the same key may have committed first (its record now exists, and
                # ours lost on the unique key or on the rule it already satisfied): answer as it did.
                with self.state.session() as session:
                    replay = self._replay(session, key)
                if replay is not None:
                    return replay
            self._audit_refusal(exc)
            raise

    def _replay(self, session: Session, key: str) -> JSONResponse | None:
        stored = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == self.actor.user_id, IdempotencyRecord.idempotency_key == key
            )
        )
        if stored is None:
            return None
        if stored.request_hash != (self.fingerprint or ""):
            raise ApiProblem(
                422,
                "idempotency.key_reused",
                "this Idempotency-Key was used for a different request; use a new key for a new request",
                field="Idempotency-Key",
            )
        response = self._json(json.loads(stored.response_body), stored.status_code)
        response.headers["Idempotent-Replayed"] = "true"
        return response

    def _audit_refusal(self, exc: ServiceError) -> None:
        route = self.request.scope.get("route")
        try:
            with self.state.session() as session:
                audit.record(
                    session,
                    action="api.write",
                    source=audit.API,
                    actor_user_id=self.actor.user_id,
                    actor_role=self.actor.role,
                    outcome="refused",
                    detail={
                        "rule": exc.rule,
                        "route": f"{self.request.method} {getattr(route, 'path', '?')}",
                    },
                    now=self.now,
                )
        except Exception:  # the refusal itself must still reach the caller
            log.exception("could not audit a refused API write (rule %s)", exc.rule)

    # --- responses and read audit ----------------------------------------------------------------------------------

    def _json(self, body: Any, status: int) -> JSONResponse:
        response = FastJSONResponse(body, status_code=status)
        if isinstance(body, dict) and isinstance(body.get("version"), int):
            response.headers["ETag"] = f'"{body["version"]}"'
        return response

    def respond(self, model: BaseModel | dict | list, status: int = 200) -> JSONResponse:
        """A read's answer (with an ETag when the body carries the entity's `version`)."""
        return self._json(encode(model), status)

    def record_read(
        self,
        session: Session,
        entity: str,
        entity_id: object | None,
        *,
        client_ids: list[int] | set[int],
        detail: dict[str, object] | None = None,
    ) -> None:
        """Audit a read that showed PHI of these clients (HIPAA: every access to PHI). One row per request, even
        when the answer is empty: that a filtered list held nothing is itself about the clients asked for."""
        audit.record(
            session,
            action="api.read",
            source=audit.API,
            actor_user_id=self.actor.user_id,
            actor_role=self.actor.role,
            entity=entity,
            entity_id=entity_id,
            client_ids=client_ids,
            detail={"route": self.request.url.path, **(detail or {})},
            now=self.now,
        )


async def _request_fingerprint(request: Request) -> str | None:
    if request.method != "POST" or "idempotency-key" not in request.headers:
        return None
    return _fingerprint(request.method, request.url.path, request.url.query, await request.body())


async def api_context(
    request: Request,
    actor: Annotated[SignedInUser, Depends(current_actor)],
    fingerprint: Annotated[str | None, Depends(_request_fingerprint)],
) -> ApiContext:
    return ApiContext(request, actor, fingerprint)


Ctx = Annotated[ApiContext, Depends(api_context)]
# The signed-in staff member alone, for a route that needs nothing else of the context.
Actor = Annotated[SignedInUser, Depends(current_actor)]

# Every route documents the problem answers it can give.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: PROBLEM_SCHEMA for code in (401, 403, 404, 409, 412, 422, 428)
}


@dataclass(frozen=True)
class Audited:
    """What a successful call of a route leaves in the audit log (`x-audit`; the audit matrix test holds every
    route in ROUTE_TABLE to it):

    - `phi_read`: one `api.read` row (`ctx.record_read`): the actor, `entity`, the record's id for a route that
      names one (`/x/{id}`; none for a list), the ids of the clients whose data the answer holds;
    - `write`: the service's row(s) in the write's transaction, one of them about `entity` and the record written;
    - `auth`: sign-in, refresh and sign-out rows (`auth.*`);
    - `none`: the answer holds no client's data (staff accounts, availability, supervision facts): no row.

    Refusals: a write refused by a rule records one `api.write` row with outcome "refused" (`ctx.write`);
    requests turned away before the route runs (role 403, scope 404, invalid 422/428) record nothing.
    """

    kind: Literal["phi_read", "write", "auth", "none"]
    entity: str | None = None


def reads_phi(entity: str) -> Audited:
    return Audited("phi_read", entity)


def writes(entity: str) -> Audited:
    return Audited("write", entity)


NO_PHI = Audited("none")


def api_route(
    router: APIRouter,
    method: str,
    path: str,
    *,
    roles: frozenset[str],
    audit: Audited,
    scope: str | None = None,
    status_code: int = 200,
    response_model: Any = None,
    summary: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route with the roles that may call it, the record kind its path id scopes and what it audits
    (`x-roles`, `x-scope`, `x-audit` in the OpenAPI document: the authorization and audit matrix tests read them
    from the route table)."""

    if scope is None:
        dependencies = [Depends(require_roles(roles))]
    else:
        param = re.search(r"{(\w+)}", path)
        if param is None or scope not in SCOPE_RESOLVERS:
            raise ValueError(
                f"route {method} {path}: scope {scope!r} needs a path id and a registered resolver"
            )
        dependencies = [Depends(require_scope(scope, param.group(1), roles))]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(
            path,
            fn,
            methods=[method],
            status_code=status_code,
            response_model=response_model,
            dependencies=dependencies,
            responses=PROBLEM_RESPONSES,
            openapi_extra={
                "x-roles": sorted(roles),
                "x-scope": scope,
                "x-audit": {"kind": audit.kind, "entity": audit.entity},
            },
            summary=summary,
            response_class=FastJSONResponse,
        )
        return fn

    return decorate


def no_content() -> Response:
    return Response(status_code=204)
