"""Database constraints that carry a service rule: their violations become the rule's ServiceError.

Rules that must hold under concurrency (double booking, one idempotency key per user) are enforced by the
database; the service checks them first for a clear message, and this maps the race's loser to the same answer.
Add a constraint's name (or the text its SQLite trigger raises) with the error it means.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from operational_api.services.errors import RuleViolation, ServiceError
from operational_api.services.payers import payer_code_taken


def _double_booked() -> ServiceError:
    return RuleViolation(
        "appointment.double_booked",
        "the clinician or the client already has an appointment overlapping that time",
        field="start_at",
    )


# Constraint name (PostgreSQL) or RAISE text (SQLite trigger) -> the refusal it stands for.
CONSTRAINT_RULES: dict[str, Callable[[], ServiceError]] = {
    "ex_appointments_clinician_overlap": _double_booked,
    "ex_appointments_client_overlap": _double_booked,
    "appointment.double_booked": _double_booked,
    "uq_payers_payer_code": payer_code_taken,
    "UNIQUE constraint failed: payers.payer_code": payer_code_taken,
}


def translate_integrity_error(exc: IntegrityError) -> ServiceError:
    """The rule a constraint violation stands for; otherwise a generic conflict that names no values (the
    driver's message quotes the row, which may hold PHI)."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    text = str(exc.orig)
    for key, make in CONSTRAINT_RULES.items():
        if key == name or key in text:
            return make()
    return RuleViolation(
        "request.conflict",
        f"the change conflicts with existing records ({type(exc.orig).__name__}"
        f"{', constraint ' + name if name else ''})",
    )
