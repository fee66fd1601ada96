"""Exceptions raised by the AdvancedMD client. Messages carry ids, codes and field names, never PHI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.advancedmd.protocol import Fault


class AdvancedMDError(Exception):
    """Base class for everything the AdvancedMD integration raises."""


class CredentialsError(AdvancedMDError):
    """Credentials are missing or malformed (the message names the variable, never the value)."""


class ProtocolError(AdvancedMDError):
    """The response could not be understood (not a PPMDResults envelope, bad JSON/XML)."""


class AmdFaultError(AdvancedMDError):
    """AdvancedMD answered with an ``<Error><Fault>``."""

    def __init__(self, action: str, fault: Fault) -> None:
        self.action = action
        self.fault = fault
        super().__init__(f"{action}: fault {fault.code} ({fault.faultcode}): {fault.faultstring}")


class AuthenticationError(AmdFaultError):
    """Login rejected (bad credentials, unregistered app name, IP not allow-listed)."""


class SessionExpiredError(AmdFaultError):
    """The session timed out again right after a fresh login."""


class TransientError(AdvancedMDError):
    """A timeout, dropped connection, HTTP 5xx or malformed body: worth retrying."""

    def __init__(self, message: str, *, ambiguous: bool = True) -> None:
        # ``ambiguous`` = the server may have executed the request (matters for writes).
        self.ambiguous = ambiguous
        super().__init__(message)


class UnreachableError(AdvancedMDError):
    """AdvancedMD's host could not be reached at all (DNS, connection refused, connect timeout).

    Raised after a short bounded retry: a name that does not resolve or a port nobody listens on does
    not heal within a sync, and waiting minutes for it only delays the one line that says so."""


class DeadlineExceededError(AdvancedMDError):
    """The run's total deadline would pass before the next request (or wait) could finish."""


class RateLimitedError(AdvancedMDError):
    """AdvancedMD reported a quota violation (HTTP 429 or a "too many requests" fault)."""


class RetriesExhaustedError(AdvancedMDError):
    """Gave up after the retry policy's maximum number of attempts."""

    def __init__(self, action: str, attempts: int, last_error: Exception | None) -> None:
        self.action = action
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(f"{action}: gave up after {attempts} attempts (last error: {last_error})")


class EligibilityTimeoutError(AdvancedMDError):
    """The eligibility response did not arrive within the allowed wait."""
