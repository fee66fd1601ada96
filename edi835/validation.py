"""Validation report: errors (money does not add up) versus warnings (envelope, data quality).

Severity policy, following the platform's "ERROR for structural breaks, WARN for data-quality
expectations" rule, with the twist that a structural break bad enough to make the money data
unreliable is not reported here at all: :func:`edi835.parse` raises :class:`Edi835Error` instead.

errors
    ``transaction_unbalanced`` (BPR02 != sum(CLP04) - sum(PLB)),
    ``non_numeric_amount`` (a money element that is not a number).
warnings
    ``claim_unbalanced`` (CLP03 - CLP04 != claim + line CAS), ``service_line_unbalanced``
    (SVC02 - SVC03 != line CAS), ``se_count_mismatch``, ``se_control_mismatch``,
    ``envelope_anomaly`` (BOM, missing envelope, non-fixed-width ISA, GE/IEA counts and control
    numbers, missing GE/IEA), ``unknown_segment``, ``misplaced_segment``, ``encoding``.

Messages name segment ids, positions, element names and amounts only, never patient names or
member IDs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import polars as pl

__all__ = ["ISSUE_SCHEMA", "Issue", "ValidationReport", "ERROR_CODES"]

ERROR_CODES = frozenset({"transaction_unbalanced", "non_numeric_amount"})

ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "severity": pl.String,
    "code": pl.String,
    "message": pl.String,
    "segment_position": pl.Int64,
    "segment_id": pl.String,
    "element": pl.String,
    "remittance_id": pl.Int64,
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding. ``remittance_id`` is the ST segment position of the transaction (or None)."""

    severity: Literal["error", "warning"]
    code: str
    message: str
    segment_position: int | None
    segment_id: str | None
    element: str | None
    remittance_id: int | None


class ValidationReport:
    """All findings of one file, kept as a polars frame (cheap even with many findings)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame.select([pl.col(c).cast(t) for c, t in ISSUE_SCHEMA.items()])
        self._issues: tuple[Issue, ...] | None = None

    @property
    def frame(self) -> pl.DataFrame:
        """One row per issue with the columns of :data:`ISSUE_SCHEMA`, in file order."""
        return self._frame

    @property
    def issues(self) -> tuple[Issue, ...]:
        """Every finding as :class:`Issue` records."""
        if self._issues is None:
            self._issues = tuple(Issue(**row) for row in self._frame.iter_rows(named=True))
        return self._issues

    @property
    def errors(self) -> tuple[Issue, ...]:
        """Findings with severity ``error``."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Findings with severity ``warning``."""
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def is_valid(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self._frame.filter(pl.col("severity") == "error").height == 0

    def by_code(self, code: str) -> tuple[Issue, ...]:
        """Findings with the given code."""
        return tuple(i for i in self.issues if i.code == code)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return self._frame.height

    def __repr__(self) -> str:
        errors = self._frame.filter(pl.col("severity") == "error").height
        return f"ValidationReport(errors={errors}, warnings={self._frame.height - errors})"
