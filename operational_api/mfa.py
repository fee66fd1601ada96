"""TOTP multi-factor sign-in (RFC 6238 through pyotp), one-time recovery codes, and the demo's secrets.

Every staff user has a TOTP secret (30-second steps, 6 digits, SHA-1: what every authenticator app reads
from the QR code). A code is accepted for the step before and after the current one (clock drift), and
only once: the accepted step is stored and no code of that step or an earlier one is taken again.

Recovery codes are 10 random codes of 10 characters from a 32-letter alphabet (50 bits each), shown once
at enrolment and stored as SHA-256 digests; each works once. A slow hash (argon2) guards guessable
passwords; codes this random cannot be guessed from a digest, and a fast one keeps checking 10 of them cheap.

The embedded demo is the exception to "random": its demo users' secrets are derived from the practice's
seed and the address (`demo_secret`), so `mentalspace users totp EMAIL` can print the current code on a
generated demo store and nowhere else (mentalspace_cli/users.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import secrets
from dataclasses import dataclass

import pyotp
import segno

ISSUER = "MentalSpace"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed from paper


@dataclass(frozen=True)
class Enrolment:
    """A secret being set up: what the user's authenticator app needs (shown once, never logged)."""

    secret: str
    provisioning_uri: str

    def qr_svg(self) -> str:
        """The provisioning URI as an inline SVG QR code."""
        buffer = io.BytesIO()
        segno.make(self.provisioning_uri, error="m").save(buffer, kind="svg", scale=5, border=2)
        return buffer.getvalue().decode()

    def qr_png(self) -> bytes:
        buffer = io.BytesIO()
        segno.make(self.provisioning_uri, error="m").save(buffer, kind="png", scale=6, border=2)
        return buffer.getvalue()


def new_secret() -> str:
    return pyotp.random_base32(32)


def enrolment_for(email: str, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    return Enrolment(secret=secret, provisioning_uri=uri)


def demo_secret(seed: int, email: str) -> str:
    """The embedded demo's secret for one demo user: derived, so the demo needs no phone to try."""
    digest = hashlib.sha256(f"mentalspace-demo-totp:{seed}:{email.lower()}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def _timestamp(now: dt.datetime) -> float:
    # Stored times are naive UTC; an aware one is converted rather than trusted to be UTC.
    return (now if now.tzinfo else now.replace(tzinfo=dt.UTC)).timestamp()


def current_code(secret: str, now: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(_timestamp(now))


def matching_step(secret: str, code: str, now: dt.datetime, after_step: int | None) -> int | None:
    """The time step `code` belongs to (within the drift allowance) if it is later than `after_step`."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(_timestamp(now) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if (after_step is None or step > after_step) and secrets.compare_digest(
            totp.generate_otp(step), code
        ):
            return step
    return None


def new_recovery_codes() -> list[str]:
    return [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)
    ]


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_code_hash(code: str) -> str:
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()


def display_recovery_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def looks_like_recovery_code(code: str) -> bool:
    return len(normalise_recovery_code(code)) == 10
