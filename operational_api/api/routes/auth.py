"""Sign-in, refresh (rotating) and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from operational_api import audit
from operational_api.api import tokens
from operational_api.api.context import PROBLEM_RESPONSES, TRAINING_RULE, ApiState, Ctx, no_content
from operational_api.api.problems import ApiProblem
from operational_api.auth import (
    AccessSuspended,
    EnrolmentRequired,
    SignInError,
    authenticate,
)
from operational_api.models import User
from operational_api.models_api import ApiSession

router = APIRouter(tags=["auth"])
# What these routes audit (`x-audit`, as `api_route` declares it for every other route): the sign-in's own rows
# (auth.authenticate), the API session issued, rotated or ended.
AUTH_AUDIT = {"x-audit": {"kind": "auth", "entity": "api_session"}}


class SignIn(BaseModel):
    email: str = Field(min_length=3, max_length=200)
    password: str = Field(min_length=1, max_length=200)
    # A TOTP code, or one of the recovery codes given at enrolment (with or without its dash).
    totp_code: str | None = Field(default=None, max_length=20)


class Refresh(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=2000)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_expires_in: int


def _refused(detail: str, rule: str = "auth.sign_in_refused") -> ApiProblem:
    return ApiProblem(401, rule, detail, headers={"WWW-Authenticate": 'Bearer realm="mentalspace"'})


@router.post(
    "/auth/token",
    response_model=TokenPair,
    responses=PROBLEM_RESPONSES,
    summary="Sign in",
    openapi_extra=AUTH_AUDIT,
)
def sign_in(payload: SignIn, request: Request) -> TokenPair:
    state: ApiState = request.app.state.api
    source = f"api:{request.client.host if request.client else '?'}"
    now = state.now()
    try:
        user = state.sign_in_throttle.attempt_at(
            source,
            now,
            lambda: authenticate(
                state.engine, payload.email, payload.password, payload.totp_code, source=source, now=now
            ),
        )
    except AccessSuspended as exc:
        # Said only after the right password (auth.py): the person has to know why and what to do. The rule id
        # is the one every request answers once training lapses under a live token (context.current_actor).
        raise ApiProblem(403, TRAINING_RULE, str(exc)) from None
    except EnrolmentRequired as exc:
        # The API has no QR code to show: enrolment (secret + recovery codes) happens on the dashboards.
        raise ApiProblem(403, "auth.mfa_enrolment_required", str(exc)) from None
    except SignInError as exc:
        raise _refused(str(exc)) from None
    jti = tokens.new_jti()
    with state.session() as session:
        api_session = ApiSession(
            user_id=user.user_id, refresh_jti=jti, created_at=now, expires_at=now + tokens.REFRESH_TTL
        )
        session.add(api_session)
        session.flush()
        audit.record(
            session,
            action="auth.api_token",
            source=audit.API,
            actor_user_id=user.user_id,
            actor_role=user.role,
            entity="api_session",
            entity_id=api_session.id,
            now=now,
        )
        pair = tokens.issue_pair(
            state.signing_key,
            user_id=user.user_id,
            session_id=api_session.id,
            refresh_jti=jti,
            now=now,
            refresh_expires=api_session.expires_at,
        )
    return TokenPair(**pair)


@router.post(
    "/auth/refresh",
    response_model=TokenPair,
    responses=PROBLEM_RESPONSES,
    summary="Rotate tokens",
    openapi_extra=AUTH_AUDIT,
)
def refresh(payload: Refresh, request: Request) -> TokenPair:
    """A new access token and a new refresh token; the old refresh token stops working. Presenting an old one
    again revokes the whole sign-in (it was copied)."""
    state: ApiState = request.app.state.api
    now = state.now()
    try:
        claims = tokens.decode(payload.refresh_token, state.signing_key, kind="refresh", now=now)
    except tokens.TokenError as exc:
        raise _refused(
            str(exc), "auth.token_expired" if "expired" in str(exc) else "auth.token_invalid"
        ) from None
    with state.session() as session:
        api_session = session.get(ApiSession, claims.get("sid"))
        if api_session is None or api_session.revoked_at is not None or api_session.expires_at <= now:
            raise _refused("this sign-in was ended; sign in again", "auth.session_revoked")
        user = session.get(User, api_session.user_id)
        if api_session.refresh_jti != claims.get("jti"):
            api_session.revoked_at = now
            api_session.revoked_reason = "refresh_token_reused"
            # A copied token is a security event: the revocation and its record commit together.
            _audit_refresh(session, user, api_session, now, outcome="refused", reason="refresh_token_reused")
            session.commit()
            raise _refused(
                "this refresh token was already used; the sign-in is revoked", "auth.refresh_reused"
            )
        api_session.refresh_jti = tokens.new_jti()
        api_session.refreshed_at = now
        _audit_refresh(session, user, api_session, now)
        pair = tokens.issue_pair(
            state.signing_key,
            user_id=api_session.user_id,
            session_id=api_session.id,
            refresh_jti=api_session.refresh_jti,
            now=now,
            refresh_expires=api_session.expires_at,
        )
    return TokenPair(**pair)


def _audit_refresh(session, user, api_session, now, *, outcome: str = "ok", **detail) -> None:
    audit.record(
        session,
        action="auth.api_refresh",
        source=audit.API,
        actor_user_id=api_session.user_id,
        actor_role=user.role if user is not None else None,
        entity="api_session",
        entity_id=api_session.id,
        outcome=outcome,
        detail=detail or None,
        now=now,
    )


@router.post(
    "/auth/sign-out",
    status_code=204,
    responses=PROBLEM_RESPONSES,
    summary="Sign out",
    openapi_extra=AUTH_AUDIT,
)
def sign_out(ctx: Ctx):
    """Revokes this sign-in: its access and refresh tokens stop working at once."""
    header = ctx.request.headers.get("authorization", "")
    claims = tokens.decode(
        header.partition(" ")[2].strip(), ctx.state.signing_key, kind="access", now=ctx.now
    )
    with ctx.session() as session:
        api_session = session.get(ApiSession, claims["sid"])
        api_session.revoked_at = ctx.now
        api_session.revoked_reason = "signed_out"
        audit.record(
            session,
            action="auth.sign_out",
            source=audit.API,
            actor_user_id=ctx.actor.user_id,
            actor_role=ctx.actor.role,
            entity="api_session",
            entity_id=api_session.id,
            now=ctx.now,
        )
    return no_content()
