"""X12 835 (ERA) parser: 005010X221A1, tolerating 004010X091A1.

Public API
----------
``parse(source, file_name=None) -> ParseResult``
    ``source`` is the file's bytes or a path. ``parse_bytes(data, file_name)`` and
    ``parse_file(path)`` are the explicit forms. Malformed input (empty, truncated, binary, not an
    835, wrong delimiters, broken ST/SE structure) raises :class:`Edi835Error` and nothing else;
    its message names the file, the segment number, the segment id and the reason, never PHI.

``ParseResult.tables`` -- the fast path
    ``parse_file(path).tables`` is a dict of polars DataFrames built column-wise without a Python
    loop per segment: ``remittances``, ``claims``, ``service_lines``, ``adjustments`` (one row per
    CAS triplet, claim and line level), ``remark_codes`` (LQ, MOA, MIA) and
    ``provider_adjustments`` (one row per PLB reason/amount pair). Every row carries
    ``source_file_id`` (sha256 of the file) and ``segment_position`` (1-based ordinal of the
    segment in the file it came from); loop keys are ``remittance_id`` / ``claim_id`` /
    ``service_line_id`` = the segment position of the ST / CLP / SVC that opens the loop, so
    (``source_file_id``, ``*_id``) is unique across files. Column names and dtypes are in
    :data:`TABLE_SCHEMAS`.

    Money columns are ``Decimal(12, 2)`` (exact decimal dollars; balancing is exact to the cent).
    Values with more than two decimals are rounded half-to-even; values that are not numbers or do
    not fit (>= 10^10) are null and reported as ``non_numeric_amount`` errors. Quantities
    (units, CAS quantity, DRG weight) are Float64. Reversals (CLP02 = 22) keep the signs written
    in the file. Person names and member IDs (NM1*QC/IL/74) are deliberately not in the tables
    (minimum necessary PHI); they are available in the typed records.

``ParseResult.validation`` -- :class:`ValidationReport`
    Errors (transaction out of balance, non-numeric money) versus warnings (claim / service-line
    balancing, SE/GE/IEA counts and control numbers, BOM, missing or broken envelope, unknown or
    misplaced segments). See :mod:`edi835.validation`.

``ParseResult.transactions`` / ``.interchanges`` -- typed records, built on first access
    Frozen slotted dataclasses from :mod:`edi835.records` (``Remittance``, ``Claim``,
    ``ServiceLine``, ``Adjustment``, ``ProviderAdjustment`` ...), money as ``Decimal``. They are
    built from the segment store kept by ``parse`` with the loop context of the vectorised pass,
    not from the flat tables, so they can carry every element (names, addresses, PER, TS3/TS2,
    MIA/MOA, unknown segments) that the tables leave out.

``ParseResult.summary()``
    The per-file summary in the shape of ``shared/edi835-samples/golden.json``; ``era parse FILE
    --json`` (:func:`edi835.cli.main`) prints it.

Design: the lexer finds segment terminators with numpy on the raw bytes, packs segment ids into
integer codes and computes loop membership (transaction, claim, service line) with cumulative
"last opener" arrays; polars splits only the segment types the tables need. See ``_lexer.py``,
``_structure.py`` and ``_tables.py``.
"""

from edi835._tables import MONEY, TABLE_SCHEMAS
from edi835.errors import Edi835Error
from edi835.parser import ParseResult, parse, parse_bytes, parse_file
from edi835.records import (
    Adjustment,
    Claim,
    Delimiters,
    FunctionalGroup,
    Interchange,
    ProviderAdjustment,
    Remittance,
    ServiceLine,
)
from edi835.summary import file_summary
from edi835.validation import Issue, ValidationReport

__all__ = [
    "MONEY",
    "TABLE_SCHEMAS",
    "Adjustment",
    "Claim",
    "Delimiters",
    "Edi835Error",
    "FunctionalGroup",
    "Interchange",
    "Issue",
    "ParseResult",
    "ProviderAdjustment",
    "Remittance",
    "ServiceLine",
    "ValidationReport",
    "file_summary",
    "parse",
    "parse_bytes",
    "parse_file",
]
