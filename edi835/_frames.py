"""Segment ids, loop scopes and a cached accessor that splits one segment type into columns."""

from __future__ import annotations

import numpy as np
import polars as pl

from edi835._lexer import Lexed, seg_code

ISA, IEA, GS, GE, TA1 = (seg_code(s) for s in ("ISA", "IEA", "GS", "GE", "TA1"))
ST, SE, BPR, TRN, CUR = (seg_code(s) for s in ("ST", "SE", "BPR", "TRN", "CUR"))
REF, DTM, N1, N2, N3, N4 = (seg_code(s) for s in ("REF", "DTM", "N1", "N2", "N3", "N4"))
PER, RDM, LX, TS3, TS2 = (seg_code(s) for s in ("PER", "RDM", "LX", "TS3", "TS2"))
CLP, CAS, NM1, MIA, MOA = (seg_code(s) for s in ("CLP", "CAS", "NM1", "MIA", "MOA"))
AMT, QTY, SVC, LQ, PLB = (seg_code(s) for s in ("AMT", "QTY", "SVC", "LQ", "PLB"))

ENVELOPE_CODES = (ISA, IEA, GS, GE, TA1)
TRANSACTION_CODES = (
    ST, SE, BPR, TRN, CUR, REF, DTM, N1, N2, N3, N4, PER, RDM, LX, TS3, TS2,
    CLP, CAS, NM1, MIA, MOA, AMT, QTY, SVC, LQ, PLB,
)  # fmt: skip
KNOWN_CODES = np.array(sorted(ENVELOPE_CODES + TRANSACTION_CODES), dtype=np.int32)

# Loop scope of a segment = kind of the last loop-opening segment at or before it.
SCOPE_ENVELOPE, SCOPE_HEADER, SCOPE_PAYER, SCOPE_PAYEE, SCOPE_OTHER_PARTY = 0, 1, 2, 3, 4
SCOPE_LX, SCOPE_CLAIM, SCOPE_LINE, SCOPE_PLB, SCOPE_TRAILER = 5, 6, 7, 8, 9

# How many elements to split per segment type (more are ignored by the tables; records keep all).
SPLIT_WIDTH = {
    ISA: 16, IEA: 2, GS: 8, GE: 2, ST: 3, SE: 2, BPR: 16, TRN: 4, CUR: 2, REF: 2, DTM: 2,
    N1: 4, N3: 2, N4: 4, LX: 1, CLP: 14, CAS: 19, NM1: 9, MIA: 23, MOA: 9, AMT: 2, QTY: 2,
    SVC: 7, LQ: 2, PLB: 14,
}  # fmt: skip


def col(k: int) -> str:
    """Column name of element ``k`` in a split frame (``e1`` is the first element)."""
    return f"e{k}"


class Frames:
    """Splits segments of one type into element columns, once, on demand.

    Every frame has ``i`` (0-based segment index) followed by ``e1..eN``; empty elements are null.
    After :meth:`set_context`, :meth:`ctx` adds ``pos`` (1-based ordinal), ``rem`` (ordinal of the
    enclosing ST), ``clm`` (ordinal of the enclosing CLP, null outside a claim), ``svc`` (ordinal
    of the enclosing SVC, null outside a service line) and ``scope``.
    """

    def __init__(self, lexed: Lexed) -> None:
        self.lexed = lexed
        self._idx: dict[int, np.ndarray] = {}
        self._frames: dict[int, pl.DataFrame] = {}
        self._ctx_frames: dict[int, pl.DataFrame] = {}
        self.rem_ord: np.ndarray | None = None
        self.clm_ord: np.ndarray | None = None
        self.svc_ord: np.ndarray | None = None
        self.scope: np.ndarray | None = None

    def idx(self, code: int) -> np.ndarray:
        """0-based indices of all segments with this id, in file order."""
        found = self._idx.get(code)
        if found is None:
            found = self._idx[code] = np.flatnonzero(self.lexed.codes == code)
        return found

    def split(self, code: int) -> pl.DataFrame:
        """The segments with this id as ``i, e1..eN`` (N from :data:`SPLIT_WIDTH`)."""
        frame = self._frames.get(code)
        if frame is not None:
            return frame
        idx = self.idx(code)
        width = SPLIT_WIDTH[code]
        parts = self.lexed.strings.gather(idx).str.split_exact(self.lexed.element, width).struct.unnest()
        # split_exact gives "" for present-but-empty elements; X12 treats both as "not used".
        frame = parts.select(
            pl.Series("i", idx, dtype=pl.Int64),
            *[
                pl.when(pl.col(f"field_{k}") != "").then(pl.col(f"field_{k}")).alias(col(k))
                for k in range(1, width + 1)
            ],
        )
        self._frames[code] = frame
        return frame

    def set_context(
        self, rem_ord: np.ndarray, clm_ord: np.ndarray, svc_ord: np.ndarray, scope: np.ndarray
    ) -> None:
        """Per-segment loop context arrays (0 means "none" for the ordinals)."""
        self.rem_ord, self.clm_ord, self.svc_ord, self.scope = rem_ord, clm_ord, svc_ord, scope

    def ctx(self, code: int) -> pl.DataFrame:
        """:meth:`split` plus the loop-context columns ``pos, rem, clm, svc, scope``."""
        frame = self._ctx_frames.get(code)
        if frame is not None:
            return frame
        assert self.rem_ord is not None and self.clm_ord is not None
        assert self.svc_ord is not None and self.scope is not None
        base = self.split(code)
        idx = self.idx(code)
        clm = self.clm_ord[idx]
        svc = self.svc_ord[idx]
        frame = base.with_columns(
            pos=pl.Series(idx + 1, dtype=pl.Int64),
            rem=pl.Series(self.rem_ord[idx], dtype=pl.Int64),
            clm=pl.Series(clm, dtype=pl.Int64),
            svc=pl.Series(svc, dtype=pl.Int64),
            scope=pl.Series(self.scope[idx], dtype=pl.Int8),
        ).with_columns(
            clm=pl.when(pl.col("clm") > 0).then(pl.col("clm")),
            svc=pl.when(pl.col("svc") > 0).then(pl.col("svc")),
        )
        self._ctx_frames[code] = frame
        return frame
