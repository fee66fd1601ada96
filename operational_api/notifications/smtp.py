"""SMTP settings from `SMTP_URL`: smtp://[user:password@]host:port, smtps:// for TLS from the first byte,
`?starttls=1` to upgrade a plain connection. Credentials may also come from SMTP_USERNAME / SMTP_PASSWORD;
they are read when a delivery starts and never logged (`SmtpSettings.__repr__` and `display` leave them out)."""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlparse

from operational_api.errors import PlatformError

DEFAULT_SENDER = "MentalSpace <no-reply@mentalspace.invalid>"
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    use_tls: bool = False
    starttls: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_SENDER

    @property
    def display(self) -> str:
        """Where mail goes, for logs and pages: scheme, host and port only."""
        scheme = "smtps" if self.use_tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}" + ("?starttls=1" if self.starttls else "")

    def connect(self) -> smtplib.SMTP:
        if self.use_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            if self.starttls:
                conn.starttls(context=ssl.create_default_context())
        if self.username:
            conn.login(self.username, self.password or "")
        return conn


def parse_smtp_url(url: str) -> SmtpSettings:
    """Settings from an SMTP URL; a malformed one is a one-line PlatformError that does not echo the password."""
    parsed = urlparse(url)
    if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
        raise PlatformError(
            "SMTP_URL must look like smtp://host:port, smtps://host:port or smtp://host:port?starttls=1"
        )
    try:
        port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
    except ValueError:
        raise PlatformError("SMTP_URL has a port that is not a number") from None
    query = parse_qs(parsed.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    username = unquote(parsed.username) if parsed.username else os.environ.get("SMTP_USERNAME") or None
    password = unquote(parsed.password) if parsed.password else os.environ.get("SMTP_PASSWORD") or None
    sender = query.get("from", [os.environ.get("SMTP_FROM") or DEFAULT_SENDER])[0]
    return SmtpSettings(parsed.hostname, port, parsed.scheme == "smtps", starttls, username, password, sender)


def configured_settings() -> SmtpSettings | None:
    """The SMTP_URL of this deployment, or None when it is unset (the demo's loopback server then)."""
    url = os.environ.get("SMTP_URL", "").strip()
    return parse_smtp_url(url) if url else None
