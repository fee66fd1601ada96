"""Segment ids, loop scopes, loop context and per-segment-type column access."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from edi835._lexer import KNOWN_SEGMENT_CODES, Lexed, masked_series, seg_code

ISA, IEA, GS, GE, TA1 = (seg_code(s) for s in ("ISA", "IEA", "GS", "GE", "TA1"))
ST, SE, BPR, TRN, CUR = (seg_code(s) for s in ("ST", "SE", "BPR", "TRN", "CUR"))
REF, DTM, N1, N2, N3, N4 = (seg_code(s) for s in ("REF", "DTM", "N1", "N2", "N3", "N4"))
PER, RDM, LX, TS3, TS2 = (seg_code(s) for s in ("PER", "RDM", "LX", "TS3", "TS2"))
CLP, CAS, NM1, MIA, MOA = (seg_code(s) for s in ("CLP", "CAS", "NM1", "MIA", "MOA"))
AMT, QTY, SVC, LQ, PLB = (seg_code(s) for s in ("AMT", "QTY", "SVC", "LQ", "PLB"))

ENVELOPE_CODES = (ISA, IEA, GS, GE, TA1)
KNOWN_CODES = KNOWN_SEGMENT_CODES

# Loop scope of a segment = kind of the last loop-opening segment at or before it.
SCOPE_ENVELOPE, SCOPE_HEADER, SCOPE_PAYER, SCOPE_PAYEE, SCOPE_OTHER_PARTY = 0, 1, 2, 3, 4
SCOPE_LX, SCOPE_CLAIM, SCOPE_LINE, SCOPE_PLB, SCOPE_TRAILER = 5, 6, 7, 8, 9

NO_DATE = np.int32(np.iinfo(np.int32).min)  # not a day any CCYYMMDD value can produce
_EPOCH_SHIFT = 719468  # days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def col(k: int) -> str:
    """Column name of element ``k`` (``e1`` is the first element)."""
    return f"e{k}"


def packed(value: str) -> int:
    """A short element value packed the way :meth:`Segments.packed` packs it."""
    return int.from_bytes(value.encode("ascii"), "little")


def _days_from_digits(word: np.ndarray, length: np.ndarray) -> np.ndarray:
    """CCYYMMDD packed in a little-endian word -> int32 days since 1970-01-01 (NO_DATE if invalid).

    Works in slices so the dozen temporaries stay small (this runs over every DTM of a file).
    """
    out = np.empty(len(word), dtype=np.int32)
    step = 1 << 18
    for lo in range(0, len(word), step):
        out[lo : lo + step] = _days_slice(word[lo : lo + step], length[lo : lo + step])
    return out


def _days_slice(word: np.ndarray, length: np.ndarray) -> np.ndarray:
    w = word - np.uint64(0x3030303030303030)
    # SWAR digit check: every byte must be 0..9 after subtracting "0" (no borrow, no overflow).
    ok = ((w | (w + np.uint64(0x7676767676767676))) & np.uint64(0x8080808080808080)) == 0
    ok &= length == 8
    # SWAR decimal parse: pairs of digits, then groups of four.
    pairs = ((w * np.uint64(10)) + (w >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    quads = ((pairs * np.uint64(100)) + (pairs >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    year = (quads & np.uint64(0xFFFF)).astype(np.int32)
    month = ((pairs >> np.uint64(32)) & np.uint64(0xFF)).astype(np.int32)
    day = ((pairs >> np.uint64(48)) & np.uint64(0xFF)).astype(np.int32)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    limit = _MONTH_DAYS[np.where(month_ok, month, 0)] - ((month == 2) & ~leap)
    ok &= month_ok & (day >= 1) & (day <= limit) & (year >= 1)
    # Howard Hinnant's days_from_civil, vectorised.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.where(ok, era * 146097 + doe - _EPOCH_SHIFT, NO_DATE)


# Elements 1..N of each segment type are fetched together (see Lexed.block); higher elements,
# or elements only some rows need, are fetched one at a time.
BLOCK_WIDTH = {
    CLP: 13, SVC: 7, CAS: 4, DTM: 2, REF: 2, AMT: 2, LQ: 2, NM1: 1, N1: 4, N3: 1, N4: 3,
    TRN: 3, BPR: 5, ST: 3, SE: 2, GS: 8, GE: 2, IEA: 2, CUR: 2, LX: 1,
}  # fmt: skip


class Segments:
    """All segments of one type with their loop context, and lazy access to their elements.

    Row ``r`` is the ``r``-th such segment in file order. ``rem``, ``clm`` and ``svc`` are the
    *row numbers* of the enclosing transaction / claim / service line in the remittances,
    claims and service_lines tables (-1 when the segment is not inside one); ``pos`` is the
    1-based segment ordinal in the file.
    """

    def __init__(self, lexed: Lexed, code: int, idx: np.ndarray, context: Context | None) -> None:
        self.lexed = lexed
        self.idx = idx
        self.pos = idx.astype(np.int64) + 1
        self.first = lexed.first_tok[idx]
        self.count = lexed.ntok[idx]
        self._cache: dict[tuple, object] = {}
        self._width = min(BLOCK_WIDTH.get(code, 0), int(self.count.max()) - 1 if len(idx) else 0)
        self._block: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if context is not None:
            self.rem, self.clm, self.svc, self.scope = context.of(idx)

    def __len__(self) -> int:
        return len(self.idx)

    def release(self) -> None:
        """Drop the fetched elements (the loop context stays): keeps peak memory down."""
        self._block = None
        self._cache.clear()

    def _span(self, k: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(start, length, first word or None) of element ``k`` for all rows or some rows."""
        if 1 <= k <= self._width:
            if self._block is None:
                self._block = self.lexed.block(self.first, self.count, self._width)
            start, length, word = (a[:, k - 1] for a in self._block)
            if rows is None:
                return start, length, word
            return start[rows], length[rows], word[rows]
        first = self.first if rows is None else self.first[rows]
        count = self.count if rows is None else self.count[rows]
        start, length = self.lexed.span(first, count, k)
        return start, length, None

    def _word(self, k: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        start, length, word = self._span(k, rows)
        if word is None:
            word = self.lexed.words(start)
        return word & self.lexed.low_mask(length), length

    def has(self, k: int) -> bool:
        """Whether any of these segments has element ``k`` at all."""
        return len(self) > 0 and int(self.count.max()) > k

    def element(self, k: int, rows: np.ndarray | None = None) -> pl.Series:
        """Element ``k`` as a String column (null when absent or empty), for all or some rows."""
        if rows is None:
            found = self._cache.get(("s", k))
            if found is not None:
                assert isinstance(found, pl.Series)
                return found
        if not self.has(k):
            series = pl.repeat(None, len(self) if rows is None else len(rows), dtype=pl.String, eager=True)
            series = series.alias(col(k))
        else:
            start, length, word = self._span(k, rows)
            series = self.lexed.strings(start, length, col(k), word)
        if rows is None:
            self._cache[("s", k)] = series
        return series

    def elements_of_rows(self, rows: np.ndarray, ks: range) -> list[pl.Series]:
        """Elements ``ks`` (consecutive) of some rows, fetched in one block."""
        if not self.has(ks.start):
            return [pl.repeat(None, len(rows), dtype=pl.String, eager=True).alias(col(k)) for k in ks]
        start, length, word = self.lexed.block(self.first[rows], self.count[rows], len(ks), ks.start)
        return [self.lexed.strings(start[:, i], length[:, i], col(k), word[:, i]) for i, k in enumerate(ks)]

    def packed(self, k: int) -> np.ndarray:
        """Element ``k`` packed little-endian into a uint64 (0 when absent; values over 8 bytes
        get all bits set). Compare with :func:`packed` constants: no strings are built."""
        key = ("p", k)
        found = self._cache.get(key)
        if found is None:
            word, length = self._word(k, None)
            found = np.where(length > 8, np.uint64(0xFFFFFFFFFFFFFFFF), word)
            self._cache[key] = found
        assert isinstance(found, np.ndarray)
        return found

    def date(self, k: int, rows: np.ndarray) -> pl.Series:
        """Element ``k`` (CCYYMMDD) of the given rows as a Date column (null if not a valid date).

        The whole column is decoded once (DTM dates are read for several qualifiers).
        """
        days = self._cache.get(("d", k))
        if days is None:
            word, length = self._word(k, None)
            days = self._cache[("d", k)] = _days_from_digits(word, length)
        assert isinstance(days, np.ndarray)
        picked = days[rows]
        return masked_series(picked, picked != NO_DATE, pa.date32(), col(k))


def _previous(sorted_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Position in ``sorted_idx`` of the last entry <= each ``idx`` (-1 if none)."""
    return np.searchsorted(sorted_idx, idx, side="right") - 1


class Context:
    """Loop membership of any segment inside a transaction set.

    Every segment's last loop opener is found with one cumulative count over the file; per opener
    we precompute the row numbers of the last ST, CLP and SVC, so a query is a few gathers.
    """

    def __init__(self, kind: np.ndarray, st_idx: np.ndarray, se_idx: np.ndarray) -> None:
        self.st_idx, self.se_idx = st_idx, se_idx
        is_opener = kind >= 0
        self.opener_of = np.cumsum(is_opener, dtype=np.int32) - 1
        opener_idx = np.flatnonzero(is_opener)
        self.opener_idx = opener_idx
        self.opener_kind = kind[opener_idx]
        self.opener_st = np.cumsum(self.opener_kind == SCOPE_HEADER, dtype=np.int32) - 1
        self.opener_clp = np.cumsum(self.opener_kind == SCOPE_CLAIM, dtype=np.int32) - 1
        self.opener_svc = np.cumsum(self.opener_kind == SCOPE_LINE, dtype=np.int32) - 1

    def scope(self, idx: np.ndarray) -> np.ndarray:
        """Kind of the last loop opener at or before each segment (SCOPE_*)."""
        j = self.opener_of[idx]
        return np.where(j >= 0, self.opener_kind[np.maximum(j, 0)], SCOPE_ENVELOPE).astype(np.int8)

    def rem_ordinal(self, idx: np.ndarray) -> np.ndarray:
        """Ordinal of the enclosing ST (0 outside any transaction); valid for any segment."""
        t = _previous(self.st_idx, idx)
        ok = (t >= 0) & (idx <= self.se_idx[np.maximum(t, 0)])
        return np.where(ok, self.st_idx[np.maximum(t, 0)] + 1, 0)

    def last_before(self, sorted_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Index of the last segment of ``sorted_idx`` at or before each ``idx`` (-1 if none)."""
        if len(sorted_idx) == 0:
            return np.full(len(idx), -1, dtype=np.int64)
        j = _previous(sorted_idx, idx)
        return np.where(j >= 0, sorted_idx[np.maximum(j, 0)], -1)

    def of(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(rem, clm, svc, scope) row numbers for segments inside transactions (-1 = none)."""
        j = np.maximum(self.opener_of[idx], 0)
        scope = self.opener_kind[j]
        rem = self.opener_st[j]
        clm = np.where((scope == SCOPE_CLAIM) | (scope == SCOPE_LINE), self.opener_clp[j], -1)
        svc = np.where(scope == SCOPE_LINE, self.opener_svc[j], -1)
        return rem, clm, svc, scope


class Frames:
    """Cache of :class:`Segments` per segment id, plus the loop context once it is known."""

    def __init__(self, lexed: Lexed) -> None:
        self.lexed = lexed
        self._idx: dict[int, np.ndarray] = {}
        self._segments: dict[int, Segments] = {}
        self.context: Context | None = None

    def idx(self, code: int) -> np.ndarray:
        """0-based indices of all segments with this id, in file order."""
        found = self._idx.get(code)
        if found is None:
            found = self._idx[code] = np.flatnonzero(self.lexed.codes == code)
        return found

    def set_context(self, context: Context) -> None:
        """Loop context computed by the structure pass."""
        self.context = context
        self._segments.clear()

    def release(self) -> None:
        """Forget every fetched element column; the loop context is kept for the records."""
        self._segments.clear()

    def of(self, code: int) -> Segments:
        """The :class:`Segments` of one id (with loop context when it is known)."""
        found = self._segments.get(code)
        if found is None:
            found = self._segments[code] = Segments(self.lexed, code, self.idx(code), self.context)
        return found

    def split(self, code: int, elements: tuple[int, ...]) -> pl.DataFrame:
        """``i`` (segment index) plus the requested element columns (for the envelope checks)."""
        segs = self.of(code)
        return pl.DataFrame([pl.Series("i", segs.idx, dtype=pl.Int64), *(segs.element(k) for k in elements)])
