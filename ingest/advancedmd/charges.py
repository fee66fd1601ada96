"""Charge submissions for ``savecharges`` and their validation before anything is sent.

A rejected savecharges still costs a tier-2 call (12/min at peak), and AdvancedMD's faults name
XML attributes rather than our fields, so we validate locally and report every problem at once,
each naming the field path (``lines[1].units``). Messages describe the rule, never the value:
a diagnosis code next to a patient id is PHI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ingest.advancedmd.errors import AdvancedMDError

# Category I (5 digits), Category II (4 digits + F), Category III (4 digits + T), PLA (4 digits + U).
CPT_RE = re.compile(r"^(?:\d{5}|\d{4}[FTU])$")
# ICD-10-CM: letter (not U), digit, alphanumeric, then optionally a dot and 1-4 alphanumerics.
ICD10_RE = re.compile(r"^[A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")
POS_RE = re.compile(r"^\d{2}$")

MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4
MAX_UNITS = 99
MAX_LINES = 50
MAX_FEE = Decimal("99999.99")


@dataclass(frozen=True)
class ChargeLine:
    """One procedure line. ``fee`` is the line total; None lets AMD's fee schedule price it."""

    cpt_code: str
    units: int = 1
    fee: Decimal | None = None
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)
    place_of_service: str = "11"


@dataclass(frozen=True)
class ChargeSubmission:
    """Charges for one visit. ``diagnoses`` are ICD-10 codes the lines point into (1-based)."""

    patient_id: int
    visit_id: int
    provider_id: int
    service_date: date
    diagnoses: tuple[str, ...] = field(repr=False)
    lines: tuple[ChargeLine, ...]


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ChargeValidationError(AdvancedMDError, ValueError):
    """One or more fields of a :class:`ChargeSubmission` are invalid."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("invalid charge submission: " + "; ".join(str(e) for e in errors))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(e.field for e in self.errors)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_id(errors: list[FieldError], name: str, value: object) -> None:
    if not _is_int(value) or value <= 0:  # type: ignore[operator]
        errors.append(FieldError(name, "must be a positive integer AdvancedMD id (without prefix)"))


def collect_charge_errors(sub: ChargeSubmission, *, today: date | None = None) -> list[FieldError]:
    """Every problem with ``sub`` as a list (empty when valid)."""
    errors: list[FieldError] = []
    _check_id(errors, "patient_id", sub.patient_id)
    _check_id(errors, "visit_id", sub.visit_id)
    _check_id(errors, "provider_id", sub.provider_id)

    if not isinstance(sub.service_date, date):
        errors.append(FieldError("service_date", "must be a date"))
    elif today is not None and sub.service_date > today:
        errors.append(FieldError("service_date", "must not be in the future"))

    diagnoses = tuple(sub.diagnoses)
    if not diagnoses:
        errors.append(FieldError("diagnoses", "at least one ICD-10 diagnosis code is required"))
    if len(diagnoses) > MAX_DIAGNOSES:
        errors.append(FieldError("diagnoses", f"at most {MAX_DIAGNOSES} diagnosis codes per claim"))
    seen: set[str] = set()
    for i, code in enumerate(diagnoses):
        name = f"diagnoses[{i}]"
        if not isinstance(code, str) or not ICD10_RE.match(code.strip().upper()):
            errors.append(
                FieldError(name, "not a valid ICD-10-CM code (letter, digit, alphanumeric, optional '.xxxx')")
            )
            continue
        if code.strip().upper() in seen:
            errors.append(FieldError(name, "duplicate diagnosis code"))
        seen.add(code.strip().upper())

    lines = tuple(sub.lines)
    if not lines:
        errors.append(FieldError("lines", "at least one charge line is required"))
    if len(lines) > MAX_LINES:
        errors.append(FieldError("lines", f"at most {MAX_LINES} lines per submission"))
    for i, line in enumerate(lines):
        p = f"lines[{i}]"
        if not isinstance(line.cpt_code, str) or not CPT_RE.match(line.cpt_code.strip().upper()):
            errors.append(
                FieldError(
                    f"{p}.cpt_code", "not a valid CPT/HCPCS procedure code (5 digits, or 4 digits + F/T/U)"
                )
            )
        if not _is_int(line.units) or not 1 <= line.units <= MAX_UNITS:
            errors.append(FieldError(f"{p}.units", f"must be a whole number from 1 to {MAX_UNITS}"))
        if line.fee is not None:
            if not isinstance(line.fee, Decimal):
                errors.append(FieldError(f"{p}.fee", "must be a Decimal (floats lose cents)"))
            elif not line.fee.is_finite() or line.fee < 0 or line.fee > MAX_FEE:
                errors.append(FieldError(f"{p}.fee", f"must be between 0 and {MAX_FEE}"))
            elif line.fee.as_tuple().exponent < -2:  # type: ignore[operator]
                errors.append(FieldError(f"{p}.fee", "must have at most 2 decimal places"))
        mods = tuple(line.modifiers)
        if len(mods) > MAX_MODIFIERS:
            errors.append(FieldError(f"{p}.modifiers", f"at most {MAX_MODIFIERS} modifiers"))
        for j, mod in enumerate(mods):
            if not isinstance(mod, str) or not MODIFIER_RE.match(mod.strip().upper()):
                errors.append(FieldError(f"{p}.modifiers[{j}]", "must be 2 letters/digits"))
        pointers = tuple(line.diagnosis_pointers)
        if not pointers:
            errors.append(FieldError(f"{p}.diagnosis_pointers", "at least one diagnosis pointer is required"))
        if len(pointers) > MAX_POINTERS:
            errors.append(FieldError(f"{p}.diagnosis_pointers", f"at most {MAX_POINTERS} pointers"))
        if len(set(pointers)) != len(pointers):
            errors.append(FieldError(f"{p}.diagnosis_pointers", "pointers must be distinct"))
        for j, ptr in enumerate(pointers):
            if not _is_int(ptr) or not 1 <= ptr <= max(1, len(diagnoses)) or not diagnoses:
                errors.append(
                    FieldError(
                        f"{p}.diagnosis_pointers[{j}]",
                        f"must point at a diagnosis (1..{len(diagnoses)})",
                    )
                )
        if not isinstance(line.place_of_service, str) or not POS_RE.match(line.place_of_service):
            errors.append(FieldError(f"{p}.place_of_service", "must be a 2-digit CMS place-of-service code"))
    return errors


def validate_charge_submission(sub: ChargeSubmission, *, today: date | None = None) -> None:
    """Raise :class:`ChargeValidationError` listing every invalid field."""
    errors = collect_charge_errors(sub, today=today)
    if errors:
        raise ChargeValidationError(errors)
