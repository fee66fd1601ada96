"""Byte-level lexer: delimiters, segmentation and zero-copy element columns (all numpy).

No Python code runs per segment:

* delimiters come from each ISA (element = ISA byte 4, component = ISA16, terminator = the byte
  after ISA16, repetition = ISA11 when it is a separator rather than the 4010 ``U``);
* one pass finds every element separator and segment terminator (``delims``); segment ``i``
  owns ``delims[first_tok[i] : first_tok[i] + ntok[i]]``, so element ``k`` of any set of
  segments is two gathers away;
* segment ids are packed into int codes (little-endian bytes of the id) for integer loop logic;
* element columns become polars String columns without copying text: :meth:`Lexed.column`
  builds Arrow ``string_view`` descriptors in numpy that point into the file's bytes (short
  values are inlined), which polars imports zero-copy;
* whitespace after terminators (CR/LF, indentation) is skipped by moving segment starts;
  whitespace before terminators (rare) is removed from the bytes with one regex pass.

Interchanges that declare different delimiters in one file are rare; they take a slower path
that rewrites each interchange to one delimiter set before lexing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

# polars imports pyarrow.compute (~0.3 s, mostly docstring scraping) and numpy.ma (~0.1 s) lazily
# the first time it converts an Arrow or numpy array; every parse does both, so pay for these
# imports when the module is imported rather than inside the first parse.
import numpy.ma  # noqa: F401  isort: skip
import pyarrow.compute  # noqa: F401  isort: skip

from edi835.errors import Edi835Error
from edi835.records import Delimiters

__all__ = ["Lexed", "code_to_id", "lex", "seg_code"]

BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\r\n"
DEFAULT_DELIMITERS = Delimiters("*", "~", ":", None)
# A fixed-width ISA is 106 bytes with its terminator; its 16 separators sit at these offsets.
ISA_SEPARATOR_OFFSETS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
ISA_FIXED_BODY_LENGTH = 105
# Non-fixed-width ISAs (trimmed or padded elements) still have to end within this many bytes.
ISA_MAX_SPAN = 300
# Control characters used when interchanges' delimiters clash with each other.
FALLBACK_DELIMITERS = (0x1D, 0x1F, 0x1C)
# Arrow string_view descriptors address the data buffer with int32 offsets.
MAX_FILE_BYTES = 2**31 - 64

_ALNUM = np.zeros(256, dtype=bool)
_ALNUM[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)] = True
_UPPER = np.zeros(256, dtype=bool)
_UPPER[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = True
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[np.frombuffer(WHITESPACE, dtype=np.uint8)] = True
# Byte masks for building inline string_view descriptors: the first 8 and the next 4 bytes.
_LOW8 = np.array([(1 << (8 * n)) - 1 if n < 8 else (1 << 64) - 1 for n in range(13)], dtype=np.uint64)
_HIGH4 = np.array([0] * 9 + [(1 << (8 * (n - 8))) - 1 for n in range(9, 13)], dtype=np.uint64)
_U32 = np.uint64(32)


def seg_code(segment_id: str) -> int:
    """Pack a 2- or 3-character segment id into the int code the lexer assigns."""
    return int.from_bytes(segment_id.encode("ascii"), "little")


def code_to_id(code: int) -> str:
    """Inverse of :func:`seg_code`."""
    return code.to_bytes(3, "little").rstrip(b"\0").decode("ascii", "replace")


ISA = seg_code("ISA")
# Segment ids of the 835 guide (plus envelope and TA1); anything else is kept and reported.
KNOWN_SEGMENT_IDS = (
    "ISA", "IEA", "GS", "GE", "TA1", "ST", "SE", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N2", "N3", "N4",
    "PER", "RDM", "LX", "TS3", "TS2", "CLP", "CAS", "NM1", "MIA", "MOA", "AMT", "QTY", "SVC", "LQ", "PLB",
)  # fmt: skip
KNOWN_SEGMENT_CODES = np.array(sorted(seg_code(s) for s in KNOWN_SEGMENT_IDS), dtype=np.int32)


def show_delimiter(ch: str) -> str:
    """Printable form of a delimiter for messages (newlines and control characters escaped)."""
    return ch if ch.isprintable() and not ch.isspace() else repr(ch)[1:-1]


def _words(data: bytes, at: np.ndarray, *, high: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Little-endian 8-byte word and the following 4-byte word of ``data`` at each offset.

    Bytes past the end of ``data`` read as zero.
    """
    n = len(data)
    if len(at) == 0:
        empty = np.zeros(0, dtype=np.uint64)
        return empty, (empty if high else None)
    if n >= 16 and int(at.max()) <= n - 16:
        # An overlapping strided view reads 8 unaligned bytes per gather.
        u64 = np.ndarray(shape=(n - 7,), dtype="<u8", buffer=data, strides=(1,))
        lo = u64[at]
        hi = (u64[at + 8] & np.uint64(0xFFFFFFFF)) if high else None
        return lo, hi
    lo = np.zeros(len(at), dtype=np.uint64)
    hi = np.zeros(len(at), dtype=np.uint64) if high else None
    ok = np.flatnonzero(at <= n - 16)
    if n >= 16 and len(ok):
        u64 = np.ndarray(shape=(n - 7,), dtype="<u8", buffer=data, strides=(1,))
        lo[ok] = u64[at[ok]]
        if hi is not None:
            hi[ok] = u64[at[ok] + 8] & np.uint64(0xFFFFFFFF)
    for r in np.flatnonzero(at > n - 16).tolist():  # only values in the last 16 bytes of the file
        chunk = data[int(at[r]) : int(at[r]) + 12].ljust(12, b"\0")
        lo[r] = int.from_bytes(chunk[:8], "little")
        if hi is not None:
            hi[r] = int.from_bytes(chunk[8:], "little")
    return lo, hi


def masked_series(values: np.ndarray, valid: np.ndarray, dtype: pa.DataType, name: str = "") -> pl.Series:
    """Polars Series of fixed-width ``values`` with nulls where ``valid`` is False.

    Built from Arrow buffers, which avoids a polars expression (and its per-call overhead).
    """
    values = np.ascontiguousarray(values)
    nulls = len(valid) - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    array = pa.Array.from_buffers(dtype, len(values), [bitmap, pa.py_buffer(values)], null_count=nulls)
    return pl.Series(name, array)


def string_view_column(
    data: bytes, start: np.ndarray, length: np.ndarray, name: str, lo: np.ndarray | None = None
) -> pl.Series:
    """Polars String column of ``data[start:start+length]`` (null where length is 0), no text copy.

    Builds Arrow ``string_view`` descriptors (16 bytes: length, then either the value inline when
    it has at most 12 bytes, or a 4-byte prefix and the offset into the data buffer). ``lo`` may
    pass in the 8-byte words at ``start`` when the caller already has them.
    """
    m = len(start)
    if m == 0:
        return pl.Series(name, [], dtype=pl.String)
    if lo is None:
        lo = _words(data, start, high=False)[0]
    lo = lo & _LOW8[np.minimum(length, 8)]
    views = np.empty((m, 2), dtype=np.uint64)
    views[:, 0] = length.astype(np.uint64) | (lo << _U32)
    views[:, 1] = lo >> _U32
    longer = np.flatnonzero(length > 8)
    if len(longer):
        # Bytes 8..11 of values up to 12 long are inline too; longer ones point into the data.
        st, ln = start[longer], length[longer]
        hi = _words(data, st + 8, high=False)[0] & _LOW8[np.minimum(ln - 8, 4)]
        views[longer, 1] = np.where(ln <= 12, views[longer, 1] | (hi << _U32), st.astype(np.uint64) << _U32)
    valid = length > 0
    nulls = m - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    array = pa.Array.from_buffers(
        pa.string_view(), m, [bitmap, pa.py_buffer(views), pa.py_buffer(data)], null_count=nulls
    )
    return pl.Series(name, array)


@dataclass(slots=True)
class Lexed:
    """The segment store of one file: bytes plus per-segment arrays (all the same length).

    ``starts[i]:ends[i]`` is segment ``i`` (id and elements, without its terminator) in ``data``;
    its 1-based ordinal in the file is ``i + 1``. ``delims`` holds the offsets of every element
    separator and terminator; segment ``i`` has ``ntok[i]`` elements counting the id, element
    ``k`` ending at ``delims[first_tok[i] + k]``.
    """

    file_name: str
    source_file_id: str
    data: bytes
    element: str
    component: str
    terminator: str
    starts: np.ndarray
    ends: np.ndarray
    codes: np.ndarray
    delims: np.ndarray
    first_tok: np.ndarray
    ntok: np.ndarray
    known: np.ndarray  # True where the segment id is one the 835 guide defines
    isa_idx: np.ndarray  # segment index of every ISA
    isa_delimiters: list[Delimiters]  # what each ISA declared (same order)
    anomalies: list[tuple[int, str]]  # (segment index or -1 for the whole file, message)
    warnings: list[str] = field(default_factory=list)
    leading_default_delimiters: Delimiters | None = None

    def __len__(self) -> int:
        return len(self.codes)

    def segment_id(self, index: int) -> str:
        """The id of segment ``index`` (0-based)."""
        return code_to_id(int(self.codes[index]))

    def elements(self, index: int) -> list[str]:
        """Segment ``index`` split into elements (element 0 is the segment id)."""
        raw = self.data[self.starts[index] : self.ends[index]].decode("utf-8", "replace")
        return raw.split(self.element)

    def error(self, index: int, reason: str) -> Edi835Error:
        """An :class:`Edi835Error` located at segment ``index`` (0-based)."""
        return Edi835Error(self.file_name, index + 1, self.segment_id(index), reason)

    def span(self, first: np.ndarray, count: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(start, length) of element ``k`` (>= 1) of segments given by ``first_tok``/``ntok``.

        Absent elements get length 0.
        """
        if len(count) and int(count.min()) > k:  # the common case: every segment has element k
            j = first + k
            start = self.delims[j - 1] + 1
            return start, self.delims[j] - start
        has = k < count
        j = first + np.where(has, k, 0)
        start = self.delims[j - 1] + 1
        return start, np.where(has, self.delims[j] - start, 0)

    def block(
        self, first: np.ndarray, count: np.ndarray, width: int, kfrom: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, length, word) of elements ``kfrom .. kfrom + width - 1`` of many segments, as
        (rows, width) arrays.

        One 2-D gather per array: all elements of a segment sit in the same cache lines, so this
        visits each segment once instead of once per element (the file is far larger than cache).
        ``word`` holds the first 8 bytes of each value; absent elements have length 0.
        """
        offsets = np.arange(kfrom - 1, kfrom + width, dtype=first.dtype)
        j = first[:, None] + offsets
        np.minimum(j, len(self.delims) - 1, out=j)
        ends = self.delims[j]
        start = ends[:, :-1] + 1
        length = ends[:, 1:] - start
        length[offsets[1:] >= count[:, None]] = 0
        word = _words(self.data, start.ravel(), high=False)[0].reshape(start.shape)
        return start, length, word

    def strings(
        self, start: np.ndarray, length: np.ndarray, name: str, lo: np.ndarray | None = None
    ) -> pl.Series:
        """String column of the byte spans (null where length is 0), without copying text."""
        return string_view_column(self.data, start, length, name, lo)

    def words(self, start: np.ndarray) -> np.ndarray:
        """The 8 bytes at each offset as little-endian uint64 (zero past the end of the data)."""
        return _words(self.data, start, high=False)[0]

    @staticmethod
    def low_mask(length: np.ndarray) -> np.ndarray:
        """Masks keeping the first ``min(length, 8)`` bytes of a little-endian word."""
        return _LOW8[np.clip(length, 0, 8)]


def _is_delimiter_byte(b: int) -> bool:
    # X12 delimiters must not be alphanumeric; a space would clash with names and padded ISA fields.
    return b < 0x80 and not chr(b).isalnum() and b != 0x20


def _read_isa(data: bytes, pos: int, file_name: str, position: int) -> tuple[Delimiters, int, bool, int]:
    """Parse the ISA at ``pos``: (delimiters, offset after its terminator, fixed width, body length)."""

    def fail(reason: str) -> Edi835Error:
        return Edi835Error(file_name, position, "ISA", reason)

    if len(data) < pos + 4:
        raise fail("truncated ISA segment")
    e = data[pos + 3]
    if not _is_delimiter_byte(e) or chr(e) in "\r\n\t":
        raise fail(f"invalid element separator {show_delimiter(chr(e))!r} at ISA byte 4")
    limit = min(len(data), pos + ISA_MAX_SPAN)
    sep = bytes([e])
    seps = [pos + 3]
    for _ in range(15):
        nxt = data.find(sep, seps[-1] + 1, limit)
        if nxt < 0:
            raise fail("ISA has fewer than 16 elements (truncated file or wrong delimiters)")
        seps.append(nxt)
    last = seps[-1]
    if last + 2 >= len(data):
        raise fail("truncated ISA segment: no segment terminator after ISA16")
    c, t = data[last + 1], data[last + 2]
    if not _is_delimiter_byte(c) or chr(c) in "\r\n\t" or c == e:
        raise fail(f"invalid component separator {show_delimiter(chr(c))!r} in ISA16")
    if not (_is_delimiter_byte(t) or t in b"\r\n") or t in (e, c):
        raise fail(f"invalid segment terminator {show_delimiter(chr(t))!r} after ISA16")
    isa11 = data[seps[10] + 1 : seps[11]]
    repetition = chr(isa11[0]) if len(isa11) == 1 and _is_delimiter_byte(isa11[0]) else None
    if repetition in (chr(e), chr(c), chr(t)):
        repetition = None
    delimiters = Delimiters(chr(e), chr(t), chr(c), repetition)
    return delimiters, last + 3, last == pos + ISA_SEPARATOR_OFFSETS[-1], last + 2 - pos


def _find_interchange_starts(data: bytes, file_name: str) -> list[tuple[int, Delimiters, bool, int]]:
    """Slow path: locate every ISA by scanning, honouring each interchange's own terminator."""
    found: list[tuple[int, Delimiters, bool, int]] = []
    pos = 0
    while True:
        delimiters, end, fixed, length = _read_isa(data, pos, file_name, 0)
        found.append((pos, delimiters, fixed, length))
        term = delimiters.segment.encode()
        q = data.find(b"ISA", end)
        while q >= 0:
            p = q - 1
            while p >= 0 and data[p] in WHITESPACE and data[p : p + 1] != term:
                p -= 1
            if (p < 0 or data[p : p + 1] == term) and q + 3 < len(data) and _is_delimiter_byte(data[q + 3]):
                break
            q = data.find(b"ISA", q + 1)
        if q < 0:
            return found
        pos = q


def _unify_delimiters(
    data: bytes, file_name: str
) -> tuple[bytes, Delimiters, list[tuple[Delimiters, bool, int]]]:
    """Rewrite every interchange to one delimiter set (slow path for mixed-delimiter files)."""
    starts = _find_interchange_starts(data, file_name)
    first = starts[0][1]
    chunks = [
        data[s : (starts[k + 1][0] if k + 1 < len(starts) else len(data))]
        for k, (s, *_r) in enumerate(starts)
    ]

    def own(d: Delimiters) -> bytes:
        return (d.element + d.component + d.segment).encode()

    def clash(chunk: bytes, d: Delimiters, target: bytes) -> bool:
        return any(bytes([b]) in chunk for b in target if bytes([b]) not in own(d))

    target = own(first)
    if any(clash(ch, d, target) for ch, (_s, d, *_r) in zip(chunks, starts, strict=True)):
        target = bytes(FALLBACK_DELIMITERS)
        if any(clash(ch, d, target) for ch, (_s, d, *_r) in zip(chunks, starts, strict=True)):
            raise Edi835Error(file_name, 0, "ISA", "interchanges declare clashing delimiters")
    out = []
    for chunk, (_s, d, *_r) in zip(chunks, starts, strict=True):
        src = own(d)
        out.append(chunk if src == target else chunk.translate(bytes.maketrans(src, target)))
    canonical = Delimiters(chr(target[0]), chr(target[2]), chr(target[1]), None)
    return b"".join(out), canonical, [(d, fixed, length) for _s, d, fixed, length in starts]


def _decode_check(data: bytes, warnings: list[str]) -> bytes:
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        # Some payer systems still emit Windows-1252/Latin-1 names; keep the bytes' meaning.
        warnings.append("file is not valid UTF-8; decoded as Latin-1")
        return data.decode("latin-1").encode("utf-8")


def lex(raw: bytes, file_name: str) -> Lexed:
    """Split ``raw`` (a whole 835 file) into segments; raise :class:`Edi835Error` if it is not X12."""
    if len(raw) < 1 << 20:
        lexed = _lex(raw, file_name)
        lexed.source_file_id = hashlib.sha256(raw).hexdigest()
        return lexed
    # sha256 of a large file takes tens of milliseconds; hashlib releases the GIL, so it runs on
    # a second core while numpy lexes.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(lambda: hashlib.sha256(raw).hexdigest())
        lexed = _lex(raw, file_name)
        lexed.source_file_id = digest.result()
    return lexed


def _lex(raw: bytes, file_name: str) -> Lexed:
    anomalies: list[tuple[int, str]] = []
    warnings: list[str] = []
    data = raw
    if data.startswith(BOM):
        anomalies.append((-1, "UTF-8 BOM at start of file"))
        data = data[len(BOM) :]
    if data[:1].isspace():
        data = data.lstrip(WHITESPACE)
    if not data:
        raise Edi835Error(file_name, 0, "", "empty file")
    if len(data) > MAX_FILE_BYTES:
        raise Edi835Error(file_name, 0, "", "file larger than 2 GB; split it into interchanges")
    data = _decode_check(data, warnings)

    leading_default: Delimiters | None = None
    if data.startswith(b"ISA"):
        delimiters = _read_isa(data, 0, file_name, 1)[0]
    elif data[:2] in (b"ST", b"GS") and len(data) > 3:
        e = data[2]
        if not _is_delimiter_byte(e):
            raise Edi835Error(
                file_name, 1, data[:2].decode(), "no ISA envelope and no element separator after the id"
            )
        term = "~" if b"~" in data else ("\n" if b"\n" in data else "~")
        delimiters = leading_default = Delimiters(chr(e), term, DEFAULT_DELIMITERS.component, None)
        if (delimiters.element, delimiters.segment) == ("*", "~"):
            anomalies.append((-1, "no ISA envelope; default delimiters * ~ : assumed"))
        else:
            shown = f"{show_delimiter(delimiters.element)} {show_delimiter(delimiters.segment)} :"
            anomalies.append((-1, f"no ISA envelope; delimiters {shown} assumed"))
    else:
        raise Edi835Error(file_name, 1, "", "not an X12 file: it does not start with ISA, GS or ST")

    lexed, bad = _segment(data, delimiters, file_name)
    isa_delimiters: list[Delimiters] | None = None
    if bad is None:
        with contextlib.suppress(_NeedsUnify):  # None means: take the mixed-delimiter path
            isa_delimiters = _check_isas(lexed, anomalies)
    elif leading_default is not None or lexed.data[lexed.starts[bad] : lexed.starts[bad] + 3] != b"ISA":
        raise _invalid_id(lexed, bad)
    if isa_delimiters is None:
        if leading_default is not None:
            raise Edi835Error(file_name, 0, "ISA", "ISA after segments outside any interchange")
        unified, canonical, infos = _unify_delimiters(data, file_name)
        lexed, bad = _segment(unified, canonical, file_name)
        if bad is not None:
            raise _invalid_id(lexed, bad)
        lexed.isa_idx = np.flatnonzero(lexed.codes == ISA)
        if len(lexed.isa_idx) != len(infos):
            raise Edi835Error(file_name, 0, "ISA", "could not delimit interchanges with differing delimiters")
        isa_delimiters = []
        for k, (d, fixed, length) in zip(lexed.isa_idx.tolist(), infos, strict=True):
            isa_delimiters.append(d)
            if not fixed:
                anomalies.append((k, _non_fixed_message(k, length)))
    lexed.isa_delimiters = isa_delimiters
    lexed.anomalies = anomalies
    lexed.warnings = warnings
    lexed.leading_default_delimiters = leading_default
    return lexed


class _NeedsUnify(Exception):
    """Internal signal: an ISA declares other delimiters than the first one."""


def _invalid_id(lexed: Lexed, bad: int) -> Edi835Error:
    data, start, end = lexed.data, int(lexed.starts[bad]), int(lexed.ends[bad])
    # Show at most three characters: enough to recognise a delimiter mix-up, never a name.
    shown = repr(data[start : min(end, start + 3)].decode("utf-8", "replace"))[1:-1]
    return Edi835Error(
        lexed.file_name,
        bad + 1,
        shown,
        "invalid segment identifier (binary data, truncation or wrong delimiters)",
    )


def _non_fixed_message(index: int, length: int) -> str:
    return f"ISA at segment {index + 1} is not fixed-width ({length + 1} characters instead of 106)"


def _check_isas(lexed: Lexed, anomalies: list[tuple[int, str]]) -> list[Delimiters]:
    """Delimiters of every ISA; raise :class:`_NeedsUnify` if one differs from the first ISA's."""
    arr = np.frombuffer(lexed.data, dtype=np.uint8)
    n = len(arr)
    isa_idx = np.flatnonzero(lexed.codes == ISA)
    lexed.isa_idx = isa_idx
    if len(isa_idx) == 0:
        return []
    st = lexed.starts[isa_idx]
    fixed = (lexed.ends[isa_idx] - st) == ISA_FIXED_BODY_LENGTH
    safe = np.where(fixed, st, 0)
    e = ord(lexed.element)
    for off in ISA_SEPARATOR_OFFSETS:
        fixed &= arr[np.minimum(safe + off, n - 1)] == e
    fixed &= arr[np.minimum(safe + ISA_FIXED_BODY_LENGTH - 1, n - 1)] == ord(lexed.component)
    # ISA11 is the repetition separator in 5010 and "U" in 4010; fixed width puts it at byte 82.
    rep_bytes = arr[np.minimum(safe + 82, n - 1)]
    cache: dict[int, Delimiters] = {}
    out: list[Delimiters] = []
    found: list[tuple[int, str]] = []
    for k, is_fixed, rep_byte in zip(isa_idx.tolist(), fixed.tolist(), rep_bytes.tolist(), strict=True):
        if is_fixed:
            d = cache.get(rep_byte)
            if d is None:
                rep = chr(rep_byte) if _is_delimiter_byte(rep_byte) else None
                if rep in (lexed.element, lexed.component, lexed.terminator):
                    rep = None
                d = cache[rep_byte] = Delimiters(lexed.element, lexed.terminator, lexed.component, rep)
            out.append(d)
            continue
        d, _end, _fixed, length = _read_isa(lexed.data, int(lexed.starts[k]), lexed.file_name, k + 1)
        if (d.element, d.segment, d.component) != (lexed.element, lexed.terminator, lexed.component):
            raise _NeedsUnify
        out.append(d)
        found.append((k, _non_fixed_message(k, length)))
    anomalies.extend(found)
    return out


def _tokens(data: bytes, n_content: int, element: int, term: int) -> tuple[np.ndarray, ...]:
    """(delims, first_tok, ntok, starts, ends) for every raw segment in ``data[:n_content]``.

    Offsets are int32 (files are < 2 GB): half the memory traffic of int64 in the gathers.
    """
    arr = np.frombuffer(data, dtype=np.uint8, count=n_content)
    # Chunked so the boolean temporaries stay cache-sized: about 3x faster than whole-array passes.
    chunk = 1 << 20
    positions, terminators = [], []
    mask = np.empty(min(chunk, n_content), dtype=bool)
    other = np.empty_like(mask)
    for c in range(0, n_content, chunk):
        a = arr[c : c + chunk]
        m, o = mask[: len(a)], other[: len(a)]
        np.equal(a, element, out=m)
        np.equal(a, term, out=o)
        m |= o
        local = np.flatnonzero(m)
        terminators.append(a[local] == term)
        positions.append((local + c).astype(np.int32))
    if n_content == 0 or arr[n_content - 1] != term:
        # Last segment without a terminator: close it with a virtual one at the end of the content.
        positions.append(np.array([n_content], dtype=np.int32))
        terminators.append(np.ones(1, dtype=bool))
    delims = np.concatenate(positions)
    term_tok = np.flatnonzero(np.concatenate(terminators)).astype(np.int32)
    ends = delims[term_tok]
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    first_tok = np.empty_like(term_tok)
    first_tok[0] = 0
    first_tok[1:] = term_tok[:-1] + 1
    ntok = term_tok - first_tok + 1
    return delims, first_tok, ntok, starts, ends


# Trailing bytes ignored at the very end of a file: whitespace, NUL padding and the DOS
# end-of-file marker (Ctrl-Z) that some older payer systems still append.
_TRAILING_JUNK = WHITESPACE + b"\x00\x1a"


def _content_length(data: bytes, term: int) -> int:
    """Length of ``data`` without trailing whitespace/padding (keeping a whitespace terminator)."""
    n = len(data)
    while n and data[n - 1] in _TRAILING_JUNK and data[n - 1] != term:
        n -= 1
    return n


def _segment(data: bytes, delimiters: Delimiters, file_name: str) -> tuple[Lexed, int | None]:
    """Vectorised segmentation with one delimiter set.

    Returns the segment store and the index of the first segment whose id is not valid X12
    (``None`` when all are valid).
    """
    term = ord(delimiters.segment)
    element = ord(delimiters.element)
    ws = _WHITESPACE.copy()
    ws[term] = False
    delims, first_tok, ntok, starts, ends = _tokens(data, _content_length(data, term), element, term)
    arr = np.frombuffer(data, dtype=np.uint8)
    last = len(arr) - 1
    # ends - 1 is -1 only for an empty first segment, where the check below is moot.
    before_term = ws[arr[ends - 1]]
    if before_term.any() and (before_term & (ends > starts)).any():
        # Whitespace before terminators (rare: "SEG \r\n" with a newline terminator, trailing
        # blanks): remove it from the bytes so that no element value ends in whitespace.
        cls = b"[" + re.escape(bytes(b for b in WHITESPACE if b != term)) + b"]+"
        data = re.sub(cls + re.escape(bytes([term])), bytes([term]).replace(b"\\", b"\\\\"), data)
        delims, first_tok, ntok, starts, ends = _tokens(data, _content_length(data, term), element, term)
        arr = np.frombuffer(data, dtype=np.uint8)
        last = len(arr) - 1
    # Whitespace after terminators (CR/LF, indentation) is skipped by moving the segment start.
    if len(starts) and int(starts[-1]) > last:
        np.minimum(starts, last, out=starts)
    lead = np.flatnonzero(ws[arr[starts]])
    while len(lead):
        lead = lead[starts[lead] < ends[lead]]
        starts[lead] += 1
        lead = lead[ws[arr[np.minimum(starts[lead], last)]]]

    keep = ends > starts
    if not keep.all():
        starts, ends, first_tok, ntok = starts[keep], ends[keep], first_tok[keep], ntok[keep]
    if len(starts) == 0:
        raise Edi835Error(file_name, 0, "", "no segments found")

    id_len = delims[first_tok] - starts
    word = _words(data, starts, high=False)[0]
    codes = (word & np.where(id_len == 2, np.uint64(0xFFFF), np.uint64(0xFFFFFF))).astype(np.int32)
    # Every known id is a valid X12 id: check the characters only for the (rare) others.
    known = np.isin(codes, KNOWN_SEGMENT_CODES) & ((id_len == 2) | (id_len == 3))
    valid = known.copy()
    other = np.flatnonzero(~valid)
    if len(other):
        w, n = word[other], id_len[other]
        b0 = (w & np.uint64(0xFF)).astype(np.uint8)
        b1 = ((w >> np.uint64(8)) & np.uint64(0xFF)).astype(np.uint8)
        b2 = ((w >> np.uint64(16)) & np.uint64(0xFF)).astype(np.uint8)
        valid[other] = ((n == 2) | (n == 3)) & _UPPER[b0] & _ALNUM[b1] & ((n == 2) | _ALNUM[b2])
    lexed = Lexed(
        file_name=file_name,
        source_file_id="",
        data=data,
        element=delimiters.element,
        component=delimiters.component,
        terminator=delimiters.segment,
        starts=starts,
        ends=ends,
        codes=codes,
        delims=delims,
        first_tok=first_tok,
        ntok=ntok,
        known=known,
        isa_idx=np.zeros(0, dtype=np.int64),
        isa_delimiters=[],
        anomalies=[],
    )
    return lexed, (None if valid.all() else int(np.argmin(valid)))
