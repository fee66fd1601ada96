"""Byte-level lexer: delimiters, whitespace normalisation and vectorised segmentation.

Everything here works on the raw bytes with numpy so that no Python code runs per segment:

* delimiters come from each ISA (element = ISA byte 4, component = ISA16, terminator = the byte
  after ISA16, repetition = ISA11 when it is a separator rather than the 4010 ``U``);
* whitespace around segment terminators (CR/LF, indentation) is removed with a couple of C-level
  regex passes, only when the file has any;
* segment boundaries are ``flatnonzero(bytes == terminator)``; every segment id is packed into an
  int32 code from its first three bytes, so loop detection later is integer arithmetic;
* the segment texts become one polars String column without copying (an Arrow string array whose
  offsets are the terminator positions, so each value is "<terminator><segment>").

Interchanges that declare different delimiters in one file are rare; they take a slower path
that rewrites each interchange to the first one's delimiters before lexing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from edi835.errors import Edi835Error
from edi835.records import Delimiters

__all__ = ["Lexed", "lex", "seg_code", "code_to_id"]

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

_ALNUM = np.zeros(256, dtype=bool)
_ALNUM[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)] = True
_UPPER = np.zeros(256, dtype=bool)
_UPPER[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = True


def seg_code(segment_id: str) -> int:
    """Pack a 2- or 3-character segment id into the int code the lexer assigns."""
    b = segment_id.encode("ascii")
    return (b[0] << 16) | (b[1] << 8) | (b[2] if len(b) == 3 else 0)


def code_to_id(code: int) -> str:
    """Inverse of :func:`seg_code`."""
    last = code & 0xFF
    return chr(code >> 16) + chr((code >> 8) & 0xFF) + (chr(last) if last else "")


ISA = seg_code("ISA")


def show_delimiter(ch: str) -> str:
    """Printable form of a delimiter for messages (newlines and control characters escaped)."""
    return ch if ch.isprintable() and not ch.isspace() else repr(ch)[1:-1]


@dataclass(slots=True)
class Interchange:
    """Where one ISA sits and what it declared."""

    segment_index: int
    delimiters: Delimiters
    fixed_width: bool
    length: int


@dataclass(slots=True)
class Lexed:
    """The segment store of one file: normalised bytes plus per-segment arrays (all the same length).

    ``starts[i]:ends[i]`` is segment ``i`` (id and elements, without its terminator) in ``data``;
    its 1-based ordinal in the file is ``i + 1``. ``strings[i]`` is the same text as a polars
    value prefixed by the terminator (except for the very first segment).
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
    strings: pl.Series
    interchanges: list[Interchange]
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


def _strip_whitespace_around(data: bytes, terminator: bytes) -> bytes:
    """Drop whitespace runs right after or right before a segment terminator (CR/LF, indentation)."""
    ws = bytes(b for b in WHITESPACE if bytes([b]) != terminator)
    cls = b"[" + re.escape(ws) + b"]+"
    if any(terminator + bytes([b]) in data for b in ws):
        data = re.sub(re.escape(terminator) + cls, terminator.replace(b"\\", b"\\\\"), data)
    if any(bytes([b]) + terminator in data for b in ws):
        data = re.sub(cls + re.escape(terminator), terminator.replace(b"\\", b"\\\\"), data)
    return data


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
    source_file_id = hashlib.sha256(raw).hexdigest()
    anomalies: list[tuple[int, str]] = []
    warnings: list[str] = []
    data = raw
    if data.startswith(BOM):
        anomalies.append((-1, "UTF-8 BOM at start of file"))
        data = data[len(BOM) :]
    if data[:1].isspace() or data[-1:].isspace():
        data = data.strip(WHITESPACE)
    if not data:
        raise Edi835Error(file_name, 0, "", "empty file")
    data = _decode_check(data, warnings)

    leading_default: Delimiters | None = None
    if data.startswith(b"ISA"):
        first, _end, _fixed, _len = _read_isa(data, 0, file_name, 1)
        delimiters = first
    elif data[:2] in (b"ST", b"GS") and len(data) > 3:
        e = data[2]
        if not _is_delimiter_byte(e):
            raise Edi835Error(
                file_name, 1, data[:2].decode(), "no ISA envelope and no element separator after the id"
            )
        term = "~" if b"~" in data else ("\n" if b"\n" in data else "~")
        delimiters = Delimiters(chr(e), term, DEFAULT_DELIMITERS.component, None)
        leading_default = delimiters
        if (delimiters.element, delimiters.segment) == ("*", "~"):
            anomalies.append((-1, "no ISA envelope; default delimiters * ~ : assumed"))
        else:
            anomalies.append(
                (
                    -1,
                    f"no ISA envelope; delimiters {show_delimiter(delimiters.element)} "
                    f"{show_delimiter(delimiters.segment)} : assumed",
                )
            )
    else:
        raise Edi835Error(file_name, 1, "", "not an X12 file: it does not start with ISA, GS or ST")

    lexed = _segment(data, delimiters, file_name)
    isa_idx = np.flatnonzero(lexed.codes == ISA)
    suspicious = _suspicious_isa_segments(lexed)
    interchanges: list[Interchange] = []
    if len(suspicious) == 0:
        interchanges = _interchanges_fast(lexed, isa_idx, anomalies)
    else:
        try:
            interchanges = _interchanges_checked(lexed, isa_idx, anomalies)
        except _NeedsUnify:
            if leading_default is not None:
                raise lexed.error(
                    int(isa_idx[0]) if len(isa_idx) else 0, "ISA after a segment outside any interchange"
                ) from None
            unified, canonical, infos = _unify_delimiters(data, file_name)
            lexed = _segment(unified, canonical, file_name)
            isa_idx = np.flatnonzero(lexed.codes == ISA)
            if len(isa_idx) != len(infos):
                raise Edi835Error(
                    file_name, 0, "ISA", "could not delimit interchanges with differing delimiters"
                ) from None
            for k, (d, fixed, length) in enumerate(infos):
                interchanges.append(Interchange(int(isa_idx[k]), d, fixed, length))
                if not fixed:
                    anomalies.append((int(isa_idx[k]), _non_fixed_message(int(isa_idx[k]), length)))
    lexed.interchanges = interchanges
    lexed.anomalies = anomalies
    lexed.warnings = warnings
    lexed.source_file_id = source_file_id
    lexed.leading_default_delimiters = leading_default
    return lexed


class _NeedsUnify(Exception):
    """Internal signal: an ISA declares other delimiters than the first one."""


def _non_fixed_message(index: int, length: int) -> str:
    return f"ISA at segment {index + 1} is not fixed-width ({length + 1} characters instead of 106)"


def _suspicious_isa_segments(lexed: Lexed) -> np.ndarray:
    """Segments starting with ``ISA`` that are not fixed-width with the first ISA's delimiters."""
    arr = np.frombuffer(lexed.data, dtype=np.uint8)
    starts, ends = lexed.starts, lexed.ends
    n = len(arr)
    looks_isa = (arr[starts] == ord("I")) & (arr[np.minimum(starts + 1, n - 1)] == ord("S"))
    looks_isa &= arr[np.minimum(starts + 2, n - 1)] == ord("A")
    idx = np.flatnonzero(looks_isa)
    if len(idx) == 0:
        return idx
    st = starts[idx]
    ok = (ends[idx] - st) == ISA_FIXED_BODY_LENGTH
    st_safe = np.where(ok, st, 0)
    e = ord(lexed.element)
    for off in ISA_SEPARATOR_OFFSETS:
        ok &= arr[np.minimum(st_safe + off, n - 1)] == e
    ok &= arr[np.minimum(st_safe + ISA_FIXED_BODY_LENGTH - 1, n - 1)] == ord(lexed.component)
    return idx[~ok]


def _interchanges_fast(
    lexed: Lexed, isa_idx: np.ndarray, anomalies: list[tuple[int, str]]
) -> list[Interchange]:
    arr = np.frombuffer(lexed.data, dtype=np.uint8)
    reps = arr[lexed.starts[isa_idx] + 82] if len(isa_idx) else np.zeros(0, np.uint8)
    out = []
    cache: dict[int, Delimiters] = {}
    for k, rep_byte in zip(isa_idx.tolist(), reps.tolist(), strict=True):
        d = cache.get(rep_byte)
        if d is None:
            rep = chr(rep_byte) if _is_delimiter_byte(rep_byte) else None
            if rep in (lexed.element, lexed.component, lexed.terminator):
                rep = None
            d = cache[rep_byte] = Delimiters(lexed.element, lexed.terminator, lexed.component, rep)
        out.append(Interchange(k, d, True, ISA_FIXED_BODY_LENGTH))
    return out


def _interchanges_checked(
    lexed: Lexed, isa_idx: np.ndarray, anomalies: list[tuple[int, str]]
) -> list[Interchange]:
    """Check each ISA individually; raise :class:`_NeedsUnify` if one declares other delimiters."""
    arr = np.frombuffer(lexed.data, dtype=np.uint8)
    n = len(arr)
    starts = lexed.starts
    looks_isa = (arr[starts] == ord("I")) & (arr[np.minimum(starts + 1, n - 1)] == ord("S"))
    looks_isa &= arr[np.minimum(starts + 2, n - 1)] == ord("A")
    candidates = np.flatnonzero(looks_isa)
    if not np.array_equal(candidates, isa_idx):
        # Something that starts with "ISA" did not lex as an ISA segment: other delimiters.
        raise _NeedsUnify
    out = []
    found: list[tuple[int, str]] = []
    for k in isa_idx.tolist():
        d, _end, fixed, length = _read_isa(lexed.data, int(starts[k]), lexed.file_name, k + 1)
        if (d.element, d.segment, d.component) != (lexed.element, lexed.terminator, lexed.component):
            raise _NeedsUnify
        out.append(Interchange(k, d, fixed, length))
        if not fixed:
            found.append((k, _non_fixed_message(k, length)))
    anomalies.extend(found)
    return out


def _segment(data: bytes, delimiters: Delimiters, file_name: str) -> Lexed:
    """Vectorised segmentation with one delimiter set; validates every segment id."""
    term = delimiters.segment.encode()
    data = _strip_whitespace_around(data, term)
    arr = np.frombuffer(data, dtype=np.uint8)
    n_bytes = len(arr)
    term_pos = np.flatnonzero(arr == term[0])
    has_tail = len(term_pos) == 0 or term_pos[-1] != n_bytes - 1
    ends = np.append(term_pos, n_bytes) if has_tail else term_pos
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    lengths = ends - starts
    keep = lengths > 0
    all_kept = bool(keep.all())
    if not all_kept:
        starts, ends, lengths = starts[keep], ends[keep], lengths[keep]
    if len(starts) == 0:
        raise Edi835Error(file_name, 0, "", "no segments found")

    e = ord(delimiters.element)
    last = n_bytes - 1
    b0 = arr[starts]
    b1 = arr[np.minimum(starts + 1, last)]
    b2 = arr[np.minimum(starts + 2, last)]
    b3 = arr[np.minimum(starts + 3, last)]
    id2 = (lengths == 2) | ((lengths >= 3) & (b2 == e))
    id3 = ~id2 & ((lengths == 3) | ((lengths >= 4) & (b3 == e)))
    valid = (id2 | id3) & _UPPER[b0] & _ALNUM[b1] & (id2 | _ALNUM[b2])
    if not valid.all():
        bad = int(np.argmin(valid))
        shown = data[starts[bad] : min(ends[bad], starts[bad] + 3)].decode("utf-8", "replace")
        reason = "invalid segment identifier (binary data, truncation or wrong delimiters)"
        if data[starts[bad] : starts[bad] + 3] == b"ISA":
            reason = "ISA segment does not use the first interchange's delimiters"
        raise Edi835Error(file_name, bad + 1, repr(shown)[1:-1], reason)
    codes = (b0.astype(np.int32) << 16) | (b1.astype(np.int32) << 8) | np.where(id3, b2, 0).astype(np.int32)

    buf = pa.py_buffer(data)
    if offsets[-1] < 2**31 - 1:
        array = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets.astype(np.int32)), buf)
    else:
        array = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), buf)
    strings = pl.Series("segment", array)
    if not all_kept:
        strings = strings.filter(pl.Series(keep))
    return Lexed(
        file_name=file_name,
        source_file_id="",
        data=data,
        element=delimiters.element,
        component=delimiters.component,
        terminator=delimiters.segment,
        starts=starts,
        ends=ends,
        codes=codes,
        strings=strings,
        interchanges=[],
        anomalies=[],
    )
