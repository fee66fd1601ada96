"""Bearer tokens: HS256-signed JWTs (access 15 minutes, refresh 7 days, as the PRD asks).

Both carry the API session id (`sid`); the session row is checked on every request, so signing out revokes the
access token at once rather than when it expires. A refresh rotates the session's refresh token id (`jti`): an
old refresh token presented again means it was copied, and the whole session is revoked.

The signing key is `MENTALSPACE_API_SIGNING_KEY` when set (several API processes of one deployment), else one
generated per store and kept in `api_signing_keys` (never exported).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets

from sqlalchemy import Engine, select

from operational_api.db import session_scope
from operational_api.models_api import ApiSigningKey

ACCESS_TTL = dt.timedelta(minutes=15)
REFRESH_TTL = dt.timedelta(days=7)
SIGNING_KEY_ENV = "MENTALSPACE_API_SIGNING_KEY"


class TokenError(Exception):
    """A token that is malformed, wrongly signed, of the wrong kind or expired (the message says which)."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


def signing_key(engine: Engine, now: dt.datetime) -> bytes:
    """The environment's key, else this store's (created on first use)."""
    configured = os.environ.get(SIGNING_KEY_ENV)
    if configured:
        if len(configured) < 32:
            raise ValueError(f"{SIGNING_KEY_ENV} needs at least 32 characters")
        return configured.encode()
    with session_scope(engine) as session:
        row = session.scalar(select(ApiSigningKey).order_by(ApiSigningKey.id).limit(1))
        if row is not None:
            return row.secret.encode()
        session.add(ApiSigningKey(secret=secrets.token_urlsafe(48), created_at=now))
    # Read back the first key: two processes starting on a new store at once may each have added one, and all
    # must sign with the same.
    with session_scope(engine) as session:
        return session.scalar(select(ApiSigningKey.secret).order_by(ApiSigningKey.id).limit(1)).encode()


def encode(claims: dict[str, object], key: bytes) -> str:
    payload = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(key, f"{_HEADER}.{payload}".encode(), hashlib.sha256).digest()
    return f"{_HEADER}.{payload}.{_b64encode(signature)}"


def decode(token: str, key: bytes, *, kind: str, now: dt.datetime) -> dict[str, object]:
    """The claims of a valid, unexpired token of `kind` ("access" or "refresh")."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _HEADER:
        raise TokenError("the bearer token is malformed")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        signature = _b64decode(parts[2])
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("the bearer token is malformed") from None
    if not hmac.compare_digest(signature, expected):
        raise TokenError("the bearer token's signature does not verify")
    if not isinstance(claims, dict) or claims.get("typ") != kind:
        raise TokenError(f"not an {kind} token" if kind == "access" else f"not a {kind} token")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= int(now.replace(tzinfo=dt.UTC).timestamp()):
        raise TokenError(f"the {kind} token has expired")
    return claims


def issue_pair(
    key: bytes,
    *,
    user_id: int,
    session_id: int,
    refresh_jti: str,
    now: dt.datetime,
    refresh_expires: dt.datetime,
) -> dict[str, object]:
    """The sign-in (or refresh) answer: an access token, a refresh token, and their lifetimes."""
    iat = int(now.replace(tzinfo=dt.UTC).timestamp())
    access = encode(
        {
            "typ": "access",
            "sub": user_id,
            "sid": session_id,
            "iat": iat,
            "exp": iat + int(ACCESS_TTL.total_seconds()),
        },
        key,
    )
    refresh = encode(
        {
            "typ": "refresh",
            "sub": user_id,
            "sid": session_id,
            "jti": refresh_jti,
            "iat": iat,
            "exp": int(refresh_expires.replace(tzinfo=dt.UTC).timestamp()),
        },
        key,
    )
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": int(ACCESS_TTL.total_seconds()),
        "refresh_expires_in": int((refresh_expires - now).total_seconds()),
    }


def new_jti() -> str:
    return secrets.token_urlsafe(24)
