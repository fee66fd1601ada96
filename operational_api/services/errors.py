"""Why the service layer refused a request: a stable rule id, a message fit to show, and an HTTP status.

The API turns these into RFC 9457 problem+json (`type` ends in the rule id), the CLI prints the message on one
line and exits 2, the pages show it. Messages name the record and field but never client PHI (names, dates of
birth, note text): they end up in logs and e-mails.
"""

from __future__ import annotations

from operational_api.errors import PlatformError


class ServiceError(PlatformError):
    """A refused request. `rule` is stable (tests and clients key on it); `message` is for people."""

    status = 400

    def __init__(
        self, rule: str, message: str, *, field: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.field = field
        if status is not None:
            self.status = status


class RuleViolation(ServiceError):
    """A PRD workflow rule refuses the change (Georgia rules, double booking, billing hold, state machine)."""

    status = 409


class InvalidInput(ServiceError):
    """The request itself is malformed or incomplete (a missing field, an unknown code, a bad date)."""

    status = 422


class NotFound(ServiceError):
    """No such record, or one outside the actor's scope (the two read the same, so scope does not leak)."""

    status = 404


class Forbidden(ServiceError):
    """The actor's role may not do this at all (in-scope records of a kind the role never touches)."""

    status = 403


class VersionConflict(ServiceError):
    """Optimistic concurrency: the record changed since the caller read it (If-Match / version mismatch)."""

    status = 412
