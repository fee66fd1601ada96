"""SMS through a provider's HTTP API (Twilio-shaped): settings from the environment, an httpx client with timeouts
and retries, and delivery of the outbox's SMS rows.

- `SMS_URL` is the provider's base address (`https://api.provider.example`, or the loopback simulator that
  `mentalspace serve` starts when it is unset); the account and its token come from `SMS_ACCOUNT_SID` /
  `SMS_AUTH_TOKEN` (or the URL's user:password), the sender number from `SMS_FROM`. Credentials are never logged
  (`SmsSettings.__repr__` and `display` leave them out).
- One message is `POST {SMS_URL}/2010-04-01/Accounts/{sid}/Messages.json` with To, From and Body (form-encoded,
  basic auth); the provider answers 201 with the message's id. Each request carries an `Idempotency-Key` made
  from the outbox key, so a provider that honours it drops the copy a retry after a lost answer would send.
- Within one send, a 429 (after its Retry-After, capped), a 5xx, a refused connection or a timeout is retried a
  few times with backoff; if it still fails the outbox row stays queued and the next run tries again (after 1,
  2, 4 ... 60 minutes), so a provider outage loses nothing. Any other 4xx (an invalid number, a refused body)
  is permanent: `failed_permanent`, with the HTTP status and the provider's error code only (its message can
  quote the phone number).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

import httpx
from sqlalchemy import Engine

from operational_api.errors import PlatformError
from operational_api.notifications.kinds import SMS_KINDS
from operational_api.notifications.models import OutboxStatus
from operational_api.notifications.outbox import DeliverySummary, backoff, claim, due_ids, record, utcnow

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
DEFAULT_FROM = "+15005550006"
TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 3.0
ATTEMPTS = 3  # per send, before the row goes back to the outbox's own backoff
RETRY_AFTER_CAP_SECONDS = 5.0


@dataclass(frozen=True)
class SmsSettings:
    base_url: str
    account_sid: str = field(repr=False)
    auth_token: str = field(repr=False)
    sender: str = DEFAULT_FROM

    @property
    def display(self) -> str:
        """Where SMS go, for logs and pages: the base address without credentials."""
        return self.base_url

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"


def parse_sms_url(url: str) -> SmsSettings:
    """Settings from SMS_URL (+ SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM); errors never echo the token."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PlatformError("SMS_URL must look like https://host[:port] (the SMS provider's API address)")
    try:
        port = f":{parsed.port}" if parsed.port else ""
    except ValueError:
        raise PlatformError("SMS_URL has a port that is not a number") from None
    sid = unquote(parsed.username) if parsed.username else os.environ.get("SMS_ACCOUNT_SID", "")
    token = unquote(parsed.password) if parsed.password else os.environ.get("SMS_AUTH_TOKEN", "")
    if not sid or not token:
        raise PlatformError("SMS_URL needs an account and token: SMS_ACCOUNT_SID and SMS_AUTH_TOKEN")
    base = f"{parsed.scheme}://{parsed.hostname}{port}{parsed.path.rstrip('/')}"
    return SmsSettings(base, sid, token, os.environ.get("SMS_FROM") or DEFAULT_FROM)


def configured_sms() -> SmsSettings | None:
    """The SMS_URL of this deployment, or None when it is unset (SMS rows then wait in the outbox)."""
    url = os.environ.get("SMS_URL", "").strip()
    return parse_sms_url(url) if url else None


def e164(phone: str | None, country_code: str = "1") -> str | None:
    """A stored phone number as E.164 (+14045550123); None when it cannot be one (too short, letters)."""
    if not phone:
        return None
    if phone.strip().startswith("+"):
        digits = re.sub(r"\D", "", phone)
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 10:
        return f"+{country_code}{digits}"
    if len(digits) == 11 and digits.startswith(country_code):
        return f"+{digits}"
    return None


class SmsError(Exception):
    """A send that did not go; `text` is safe to store (status and provider code, no number, no body)."""

    permanent = False

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text[:300]


class SmsTemporaryError(SmsError):
    """Worth trying again later: the provider was down, slow, rate limiting or refused our credentials."""


class SmsPermanentError(SmsError):
    """The provider refused this message (an invalid number, a refused body): retrying cannot help."""

    permanent = True


def _provider_code(response: httpx.Response) -> str:
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    return f"HTTP {response.status_code}" + (f" code {code}" if code is not None else "")


class SmsClient:
    """One provider account. `send` returns the provider's message id or raises an SmsError."""

    def __init__(
        self,
        settings: SmsSettings,
        *,
        attempts: int = ATTEMPTS,
        backoff_seconds: float = 0.5,
        timeout: float = TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._http = httpx.Client(
            auth=(settings.account_sid, settings.auth_token),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SmsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, to: str, body: str, idempotency_key: str) -> str:
        data = {"To": to, "From": self.settings.sender, "Body": body}
        headers = {"Idempotency-Key": idempotency_key}
        last: SmsError | None = None
        for attempt in range(1, self._attempts + 1):
            wait = self._backoff * 2 ** (attempt - 1)
            try:
                response = self._http.post(self.settings.messages_url, data=data, headers=headers)
            except httpx.TransportError as exc:
                last = SmsTemporaryError(f"{type(exc).__name__}: provider not reachable")
            else:
                if response.status_code in (200, 201):
                    return str(response.json()["sid"])
                text = _provider_code(response)
                if response.status_code in (401, 403):
                    # Our credentials, not the message: keep it queued until they are fixed.
                    raise SmsTemporaryError(text)
                if response.status_code != 429 and response.status_code < 500:
                    raise SmsPermanentError(text)
                last = SmsTemporaryError(text)
                if response.status_code == 429:
                    with contextlib.suppress(ValueError):
                        wait = max(wait, float(response.headers.get("Retry-After", 0)))
                    wait = min(wait, RETRY_AFTER_CAP_SECONDS)
            if attempt < self._attempts:
                self._sleep(wait)
        assert last is not None
        raise last


def outbox_key(kind: str, client_id: int, period: str) -> str:
    """A client message's outbox key as one opaque token (the SMS Idempotency-Key, the e-mail Message-ID)."""
    return hashlib.sha1(f"{kind}|client:{client_id}|{period}".encode()).hexdigest()


def deliver_sms(
    engine: Engine,
    settings: SmsSettings | None,
    now: dt.datetime | None = None,
    limit: int | None = None,
    client: SmsClient | None = None,
) -> DeliverySummary:
    """Send the queued SMS rows that are due, oldest first; see the module docstring for what a failure does."""
    now = now or utcnow()
    if settings is None and client is None:
        log.info("SMS_URL is not set: text messages wait in the outbox until a run with a provider")
        return DeliverySummary()
    due = due_ids(engine, SMS_KINDS, now, limit)
    if not due:
        return DeliverySummary()
    own = client is None
    client = client or SmsClient(settings)  # type: ignore[arg-type]
    counts = dict(sent=0, retrying=0, failed_permanent=0, bounced=0)
    try:
        for message_id in due:
            message = claim(engine, message_id, now)
            if message is None:
                continue
            attempts = message.attempts + 1
            try:
                client.send(
                    message.recipient_email,
                    message.body_text,
                    outbox_key(message.kind, message.recipient_client_id or 0, message.period),
                )
            except SmsError as exc:
                if exc.permanent:
                    record(engine, message_id, OutboxStatus.FAILED_PERMANENT, attempts, None, exc.text)
                    counts["failed_permanent"] += 1
                    log.warning("outbox message %d refused by the SMS provider: %s", message_id, exc.text)
                    continue
                record(engine, message_id, OutboxStatus.QUEUED, attempts, now + backoff(attempts), exc.text)
                counts["retrying"] += 1
                log.warning(
                    "SMS provider %s failing (%s); %d message(s) wait",
                    client.settings.display,
                    exc.text,
                    len(due) - counts["sent"] - counts["failed_permanent"],
                )
                # The provider is down or refusing us: the rest stay queued, untouched, for the next run.
                return DeliverySummary(**counts, server_unreachable=True)
            record(engine, message_id, OutboxStatus.SENT, attempts, None, None, sent_at=now)
            counts["sent"] += 1
    finally:
        if own:
            client.close()
    return DeliverySummary(**counts)


__all__ = [
    "SmsClient",
    "SmsError",
    "SmsPermanentError",
    "SmsSettings",
    "SmsTemporaryError",
    "configured_sms",
    "deliver_sms",
    "e164",
    "outbox_key",
    "parse_sms_url",
]
