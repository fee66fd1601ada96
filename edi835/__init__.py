"""X12 835 (ERA) parser: 005010X221A1, tolerating 004010X091A1. No Dagster, no database.

Public API
----------
``parse(source, file_name=None) -> ParseResult``
    ``source`` is the file's bytes or a path; ``parse_bytes(data, file_name="<bytes>")`` and
    ``parse_file(path)`` are the explicit forms. Malformed input (empty, truncated, binary, not an
    835, wrong delimiters, broken ST/SE structure, SVC/CAS outside a claim, no BPR) raises
    :class:`Edi835Error` (a ``ValueError``) and nothing else; its message names the file, the
    segment number, the segment id and the reason, never patient names or member IDs.

``parse_file(path).tables`` -- the fast path
    A dict of polars DataFrames built column-wise, with no Python loop per segment:

    * ``remittances``: one row per ST..SE transaction (BPR, TRN, CUR, REF*EV, DTM*405, payer
      1000A, payee 1000B, GS/ISA control numbers, totals, ``is_balanced``);
    * ``claims``: one row per CLP (status, amounts, payer claim control number, rendering
      provider NPI, statement/received dates, CAS totals, reversal/denial/balance flags);
    * ``service_lines``: one row per SVC (``cpt_code``, ``modifiers`` list, amounts, units,
      ``service_date``, line item control number REF*6R, allowed amount AMT*B6, CAS totals);
    * ``adjustments``: one row per CAS triplet, claim or service-line level (``group_code``,
      ``carc_code``, ``adjustment_amount``, ``adjustment_quantity``);
    * ``remark_codes``: one row per RARC (LQ at line level, MOA/MIA at claim level);
    * ``provider_adjustments``: one row per PLB reason/amount pair, the composite split into
      ``reason_code`` and ``reference_id`` (``WO:ABC123`` -> ``WO``, ``ABC123``).

    Every row carries ``source_file_id`` (sha256 of the file's bytes) and ``segment_position``
    (1-based ordinal of the segment it came from). Loop keys ``remittance_id`` / ``claim_id`` /
    ``service_line_id`` are the segment positions of the opening ST / CLP / SVC, so
    (``source_file_id``, ``*_id``) is unique across files and points back into the file. Exact
    column names and dtypes: :data:`TABLE_SCHEMAS`.

    Money is ``Decimal(12, 2)`` (:data:`MONEY`): exact decimal dollars, so balancing is exact to
    the cent. Values with more than two decimals are rounded half-to-even in the tables (the
    records keep them as written); values that are not numbers or do not fit (>= 10^10) are null
    and reported as ``non_numeric_amount`` errors. Quantities (units, CAS quantity, DRG weight)
    are Float64, dates are Date. Reversals (CLP02 = 22) keep the signs written in the file.

``ParseResult.validation`` -- :class:`ValidationReport`
    Errors (transaction out of balance: BPR02 != sum(CLP04) - sum(PLB); non-numeric money)
    versus warnings (claim balancing CLP03 - CLP04 = claim + line CAS; line balancing SVC02 -
    SVC03 = line CAS; SE01/SE02, GE01/GE02, IEA01/IEA02; BOM; missing or broken envelope;
    unknown or misplaced segments). See :mod:`edi835.validation`.

``ParseResult.transactions`` / ``.interchanges`` -- typed records, built on first access
    Frozen slotted dataclasses from :mod:`edi835.records` (``Interchange`` -> ``FunctionalGroup``
    -> ``Remittance`` -> ``Claim`` -> ``ServiceLine``, ``Adjustment``, ``ProviderAdjustment`` ...)
    with money as ``Decimal``. They are built by a plain-Python pass over the segment store that
    ``parse`` keeps, reusing the loop context of the vectorised pass; they hold every element,
    including what the tables leave out (person names, addresses, PER, TS3/TS2, MIA/MOA, unknown
    and misplaced segments verbatim). PHI fields are hidden from ``repr``.

``ParseResult.claim_parties()``
    One row per NM1 of the claim loops (patient, insured, rendering provider ...) with names and
    identifiers, built vectorised. Contains PHI, hence not in ``tables``.

``ParseResult.summary()`` and ``era parse FILE [--json]`` (:func:`edi835.cli.main`)
    The per-file summary in the shape of ``shared/edi835-samples/golden.json``.

Design and speed
----------------
The lexer runs numpy over the raw bytes: one chunked pass finds every element separator and
segment terminator, segment ids become packed integers, and element values become Arrow
``string_view`` columns that point into the file's bytes (polars imports them zero-copy). Loop
membership (transaction, claim, service line) comes from a cumulative count over loop openers;
child segments attach to parents by row arithmetic, money sums are ``bincount`` over int64 cents,
CCYYMMDD dates are decoded with SWAR arithmetic. See ``_lexer.py``, ``_structure.py``,
``_frames.py`` and ``_tables.py``.

Speed and memory are measured by ``bench/era.py`` against oxedi, edi-835-parser and pyx12 on the
same generated files (figures in ``bench/results/RESULTS.md``): on the 66.7 MB, 204,776-claim file
about 1 s and 750 MB peak RSS, 2.5x faster than oxedi on the 2-core development box. Two threads were
tried and measured no faster (paired runs): building claims and service lines side by side was 6%
slower, fetching the element blocks on a second thread within 2% either way (the gathers compete
for memory bandwidth and the GIL). So the parser runs on one thread but for hashing the file.

Departures from the style guide (STYLE.md): the claim table is ``claims`` (the guide's raw table
is ``claim_payments``), as the parser's brief names it; loop keys are segment positions rather
than surrogate ids, because they are stable per file and locate the source segment; patient
names and member IDs stay out of the flat tables (minimum necessary PHI); they are in the records
and in ``ParseResult.claim_parties()``, a vectorised frame meant for matching in the operational
store, never for the warehouse.
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
