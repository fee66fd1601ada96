"""Envelope pairing, transaction boundaries and per-segment loop context (vectorised).

Structural breaks that make the money data unreliable raise :class:`Edi835Error` (an ST without
SE, a known segment outside any transaction, an SVC or CAS outside a claim, a transaction without
BPR, an ST that is not 835). Envelope problems that real payers produce every day (GE/IEA counts
and control numbers, missing GE/IEA, ST outside a GS, an unknown segment between interchanges)
only become anomalies: the money is intact. Known segments in a loop where the guide does not
allow them (:data:`ALLOWED_SCOPES`) are warnings; the tables ignore them and the records keep
them verbatim.

Loop context: each segment's scope is the kind of the last loop opener (ST, N1, LX, CLP, SVC,
PLB, SE, envelope) at or before it, found with one cumulative count over the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from edi835._frames import (
    AMT,
    BPR,
    CAS,
    CLP,
    CUR,
    DTM,
    ENVELOPE_CODES,
    GE,
    GS,
    IEA,
    ISA,
    LQ,
    LX,
    MIA,
    MOA,
    N1,
    N2,
    N3,
    N4,
    NM1,
    PER,
    PLB,
    QTY,
    RDM,
    REF,
    SCOPE_CLAIM,
    SCOPE_ENVELOPE,
    SCOPE_HEADER,
    SCOPE_LINE,
    SCOPE_LX,
    SCOPE_OTHER_PARTY,
    SCOPE_PAYEE,
    SCOPE_PAYER,
    SCOPE_PLB,
    SCOPE_TRAILER,
    SE,
    ST,
    SVC,
    TRN,
    TS2,
    TS3,
    Context,
    Frames,
)
from edi835._lexer import Lexed, code_to_id
from edi835.errors import Edi835Error, shown_control

__all__ = ["Structure", "analyse"]

_ANY_PARTY = frozenset({SCOPE_PAYER, SCOPE_PAYEE, SCOPE_OTHER_PARTY})
# Where each non-opening segment may appear. Elsewhere it is reported (warning) and kept in the
# records as an unplaced segment; the tables ignore it.
ALLOWED_SCOPES: dict[int, frozenset[int]] = {
    BPR: frozenset({SCOPE_HEADER}),
    TRN: frozenset({SCOPE_HEADER}),
    CUR: frozenset({SCOPE_HEADER}),
    REF: frozenset({SCOPE_HEADER, SCOPE_CLAIM, SCOPE_LINE}) | _ANY_PARTY,
    DTM: frozenset({SCOPE_HEADER, SCOPE_CLAIM, SCOPE_LINE}),
    N2: _ANY_PARTY,
    N3: _ANY_PARTY,
    N4: _ANY_PARTY,
    RDM: _ANY_PARTY,
    PER: _ANY_PARTY | {SCOPE_CLAIM},
    TS3: frozenset({SCOPE_LX}),
    TS2: frozenset({SCOPE_LX}),
    NM1: frozenset({SCOPE_CLAIM}),
    MIA: frozenset({SCOPE_CLAIM}),
    MOA: frozenset({SCOPE_CLAIM}),
    AMT: frozenset({SCOPE_CLAIM, SCOPE_LINE}),
    QTY: frozenset({SCOPE_CLAIM, SCOPE_LINE}),
    LQ: frozenset({SCOPE_LINE}),
}
LOOP_NAMES = {
    SCOPE_ENVELOPE: "envelope",
    SCOPE_HEADER: "header",
    SCOPE_PAYER: "payer (1000A)",
    SCOPE_PAYEE: "payee (1000B)",
    SCOPE_OTHER_PARTY: "party (N1)",
    SCOPE_LX: "header number (2000)",
    SCOPE_CLAIM: "claim (2100)",
    SCOPE_LINE: "service line (2110)",
    SCOPE_PLB: "provider adjustment (PLB)",
    SCOPE_TRAILER: "trailer",
}
MAX_WARNINGS_PER_KIND = 100


@dataclass(slots=True)
class Structure:
    """Where transactions, groups and interchanges are, and what is wrong with the envelope."""

    st_idx: np.ndarray
    se_idx: np.ndarray
    group_gs: np.ndarray  # per functional group: GS index
    group_ge: np.ndarray  # per group: GE index or -1
    group_isa: np.ndarray  # per group: interchange number (position in lexed.isa_idx) or -1
    interchange_iea: np.ndarray  # per interchange: IEA index or -1
    txn_group: np.ndarray  # per transaction: group number or -1
    lx_of_claim: np.ndarray  # per CLP: ordinal of its LX or 0
    unknown_idx: np.ndarray  # unknown segments inside transactions
    anomalies: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)  # (index, code, message)


def _pairs_cleanly(opens: np.ndarray, closes: np.ndarray) -> bool:
    return (
        len(opens) == len(closes) and bool((opens < closes).all()) and bool((closes[:-1] < opens[1:]).all())
    )


def _check_transactions(lexed: Lexed, st_idx: np.ndarray, se_idx: np.ndarray) -> None:
    if len(st_idx) == 0:
        raise Edi835Error(lexed.file_name, 0, "ST", "no ST transaction set in file (not an 835)")
    if _pairs_cleanly(st_idx, se_idx):
        return
    events = sorted([(int(i), True) for i in st_idx] + [(int(i), False) for i in se_idx])
    open_st: int | None = None
    for i, is_st in events:
        if is_st:
            if open_st is not None:
                raise lexed.error(
                    open_st, "transaction set has no SE before the next ST (truncated or spliced)"
                )
            open_st = i
        else:
            if open_st is None:
                raise lexed.error(i, "SE without a matching ST")
            open_st = None
    assert open_st is not None
    raise lexed.error(open_st, "transaction set has no SE (truncated file)")


def _inside(st_idx: np.ndarray, se_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
    t = np.searchsorted(st_idx, idx, side="right") - 1
    return (t >= 0) & (idx <= se_idx[np.maximum(t, 0)])


def analyse(lexed: Lexed, frames: Frames) -> Structure:
    """Validate the structure, set the loop context of ``frames`` and collect anomalies."""
    codes = lexed.codes
    n = len(codes)
    st_idx, se_idx = frames.idx(ST), frames.idx(SE)
    _check_transactions(lexed, st_idx, se_idx)

    env_idx = np.sort(np.concatenate([frames.idx(c) for c in ENVELOPE_CODES]))
    env_inside = _inside(st_idx, se_idx, env_idx)
    if env_inside.any():
        raise lexed.error(
            int(env_idx[np.argmax(env_inside)]), "envelope segment inside a transaction set (SE missing)"
        )
    known = lexed.known
    anomalies: list[tuple[int, str]] = []
    if int((se_idx - st_idx + 1).sum()) != n - len(env_idx):
        # Some non-envelope segment lies outside every ST..SE: find which (rare, full pass).
        depth = np.zeros(n + 1, dtype=np.int32)
        np.add.at(depth, st_idx, 1)
        np.add.at(depth, se_idx + 1, -1)
        outside = np.cumsum(depth[:n]) == 0
        outside[env_idx] = False
        stray_known = outside & known
        if stray_known.any():
            raise lexed.error(int(np.argmax(stray_known)), "segment outside any ST..SE transaction set")
        for i in np.flatnonzero(outside).tolist():
            anomalies.append(
                (i, f"unknown segment {lexed.segment_id(i)} outside a transaction set at segment {i + 1}")
            )

    st = frames.split(ST, (1,))
    not_835 = st.filter(pl.col("e1").fill_null("") != "835")
    if len(not_835):
        i = int(not_835["i"][0])
        shown = (not_835["e1"][0] or "")[:6]
        raise lexed.error(i, f"transaction set ST01={shown!r} is not an 835")

    # Loop openers and their kinds; any segment's scope is the kind of the last opener before it.
    kind = np.full(n, -1, dtype=np.int8)
    kind[env_idx] = SCOPE_ENVELOPE
    kind[st_idx] = SCOPE_HEADER
    kind[se_idx] = SCOPE_TRAILER
    kind[frames.idx(LX)] = SCOPE_LX
    clp_idx, svc_idx = frames.idx(CLP), frames.idx(SVC)
    kind[clp_idx] = SCOPE_CLAIM
    kind[svc_idx] = SCOPE_LINE
    kind[frames.idx(PLB)] = SCOPE_PLB
    n1 = frames.split(N1, (1,))
    if len(n1):
        entity = n1["e1"].fill_null("").to_numpy()
        kind[n1["i"].to_numpy()] = np.where(
            entity == "PR", SCOPE_PAYER, np.where(entity == "PE", SCOPE_PAYEE, SCOPE_OTHER_PARTY)
        ).astype(np.int8)
    context = Context(kind, st_idx, se_idx)
    frames.set_context(context)

    last_clp_of_svc = context.last_before(clp_idx, svc_idx)
    orphan_svc = last_clp_of_svc < context.last_before(st_idx, svc_idx)
    if orphan_svc.any():
        raise lexed.error(
            int(svc_idx[np.argmax(orphan_svc)]), "service line (SVC) outside a claim: no CLP before it"
        )
    cas_idx = frames.idx(CAS)
    cas_scope = context.scope(cas_idx)
    orphan_cas = (cas_scope != SCOPE_CLAIM) & (cas_scope != SCOPE_LINE)
    if orphan_cas.any():
        raise lexed.error(
            int(cas_idx[np.argmax(orphan_cas)]), "adjustment (CAS) outside a claim or service line"
        )

    warnings: list[tuple[int, str, str]] = []
    for code, allowed in ALLOWED_SCOPES.items():
        idx = frames.idx(code)
        sc = context.scope(idx)
        bad = idx[~np.isin(sc, list(allowed))]
        for i, where in zip(
            bad[:MAX_WARNINGS_PER_KIND].tolist(),
            context.scope(bad[:MAX_WARNINGS_PER_KIND]).tolist(),
            strict=True,
        ):
            warnings.append(
                (
                    i,
                    "misplaced_segment",
                    f"{code_to_id(code)} at segment {i + 1} is not expected in the {LOOP_NAMES[where]} loop;"
                    " kept in the records only",
                )
            )
        if len(bad) > MAX_WARNINGS_PER_KIND:
            i = int(bad[MAX_WARNINGS_PER_KIND])
            more = len(bad) - MAX_WARNINGS_PER_KIND
            warnings.append(
                (i, "misplaced_segment", f"... and {more} more misplaced {code_to_id(code)} segments")
            )

    missing_bpr = np.setdiff1d(st_idx + 1, np.unique(context.rem_ordinal(frames.idx(BPR))))
    if len(missing_bpr):
        raise lexed.error(int(missing_bpr[0]) - 1, "transaction set has no BPR (payment) segment")

    last_lx = context.last_before(frames.idx(LX), clp_idx)
    lx_of_claim = np.where(last_lx > context.last_before(st_idx, clp_idx), last_lx + 1, 0)

    structure = Structure(
        st_idx=st_idx,
        se_idx=se_idx,
        group_gs=np.zeros(0, np.int64),
        group_ge=np.zeros(0, np.int64),
        group_isa=np.zeros(0, np.int64),
        interchange_iea=np.zeros(0, np.int64),
        txn_group=np.full(len(st_idx), -1, np.int64),
        lx_of_claim=lx_of_claim,
        unknown_idx=np.flatnonzero(~known),
        anomalies=anomalies,
        warnings=warnings,
    )
    structure.unknown_idx = structure.unknown_idx[_inside(st_idx, se_idx, structure.unknown_idx)]
    _envelope(lexed, frames, structure)
    structure.anomalies.sort(key=lambda a: a[0])
    return structure


def _envelope(lexed: Lexed, frames: Frames, s: Structure) -> None:
    """Pair ISA/IEA and GS/GE, map transactions to groups, and check counts and control numbers."""
    isa_idx, iea_idx = frames.idx(ISA), frames.idx(IEA)
    gs_idx, ge_idx = frames.idx(GS), frames.idx(GE)
    st_idx = s.st_idx
    clean = _pairs_cleanly(isa_idx, iea_idx) and _pairs_cleanly(gs_idx, ge_idx)
    if clean and len(isa_idx) and len(gs_idx):
        k = np.searchsorted(isa_idx, gs_idx, side="right") - 1
        clean = bool((k >= 0).all()) and bool((ge_idx < iea_idx[np.maximum(k, 0)]).all())
    elif clean and len(isa_idx) and not len(gs_idx):
        clean = False
    if clean and len(gs_idx):
        g = np.searchsorted(gs_idx, st_idx, side="right") - 1
        clean = bool((g >= 0).all()) and bool((st_idx < ge_idx[np.maximum(g, 0)]).all())
    if clean:
        s.group_gs, s.group_ge = gs_idx, ge_idx
        s.group_isa = (
            np.searchsorted(isa_idx, gs_idx, side="right") - 1 if len(isa_idx) else np.full(len(gs_idx), -1)
        )
        s.interchange_iea = iea_idx
        s.txn_group = (
            np.searchsorted(gs_idx, st_idx, side="right") - 1 if len(gs_idx) else np.full(len(st_idx), -1)
        )
    else:
        _envelope_walk(lexed, s, isa_idx, iea_idx, gs_idx, ge_idx)
    _envelope_counts(lexed, frames, s)


def _envelope_walk(
    lexed: Lexed,
    s: Structure,
    isa_idx: np.ndarray,
    iea_idx: np.ndarray,
    gs_idx: np.ndarray,
    ge_idx: np.ndarray,
) -> None:
    """Slow path for broken envelopes: a small state machine over envelope segments only."""
    has_isa, has_gs = len(isa_idx) > 0, len(gs_idx) > 0
    events = sorted(
        [(int(i), "ISA") for i in isa_idx]
        + [(int(i), "IEA") for i in iea_idx]
        + [(int(i), "GS") for i in gs_idx]
        + [(int(i), "GE") for i in ge_idx]
        + [(int(i), "ST") for i in s.st_idx]
    )
    isa_numbers = {int(i): k for k, i in enumerate(isa_idx)}
    iea_of: dict[int, int] = {}
    groups: list[tuple[int, int, int]] = []
    txn_group = np.full(len(s.st_idx), -1, np.int64)
    cur_isa: int | None = None
    cur_gs: int | None = None
    for i, kind in events:
        if kind == "ISA":
            if cur_gs is not None:
                s.anomalies.append((cur_gs, f"GS at segment {cur_gs + 1} has no GE"))
                groups.append((cur_gs, -1, isa_numbers.get(cur_isa, -1) if cur_isa is not None else -1))
                cur_gs = None
            if cur_isa is not None:
                s.anomalies.append((cur_isa, f"ISA at segment {cur_isa + 1} has no IEA"))
            cur_isa = i
        elif kind == "GS":
            if cur_gs is not None:
                s.anomalies.append((cur_gs, f"GS at segment {cur_gs + 1} has no GE"))
                groups.append((cur_gs, -1, isa_numbers.get(cur_isa, -1) if cur_isa is not None else -1))
            if cur_isa is None and has_isa:
                s.anomalies.append((i, f"GS at segment {i + 1} is outside an interchange"))
            cur_gs = i
        elif kind == "ST":
            if cur_gs is None and (has_isa or has_gs):
                s.anomalies.append((i, f"ST at segment {i + 1} is outside a functional group"))
        elif kind == "GE":
            if cur_gs is None:
                s.anomalies.append((i, f"GE at segment {i + 1} has no GS"))
            else:
                groups.append((cur_gs, i, isa_numbers.get(cur_isa, -1) if cur_isa is not None else -1))
                cur_gs = None
        else:  # IEA
            if cur_gs is not None:
                s.anomalies.append((cur_gs, f"GS at segment {cur_gs + 1} has no GE"))
                groups.append((cur_gs, -1, isa_numbers.get(cur_isa, -1) if cur_isa is not None else -1))
                cur_gs = None
            if cur_isa is None:
                s.anomalies.append((i, f"IEA at segment {i + 1} has no ISA"))
            else:
                iea_of[isa_numbers[cur_isa]] = i
                cur_isa = None
    if cur_gs is not None:
        s.anomalies.append((cur_gs, f"GS at segment {cur_gs + 1} has no GE"))
        groups.append((cur_gs, -1, isa_numbers.get(cur_isa, -1) if cur_isa is not None else -1))
    if cur_isa is not None:
        s.anomalies.append((cur_isa, f"ISA at segment {cur_isa + 1} has no IEA"))
    # Groups were appended when they closed; order them by GS position to map transactions.
    order = sorted(range(len(groups)), key=lambda k: groups[k][0])
    groups = [groups[k] for k in order]
    gs_sorted = np.array([g[0] for g in groups], dtype=np.int64)
    ends = np.array([g[1] if g[1] >= 0 else np.iinfo(np.int64).max for g in groups], dtype=np.int64)
    if len(groups):
        g = np.searchsorted(gs_sorted, s.st_idx, side="right") - 1
        ok = (g >= 0) & (s.st_idx < ends[np.maximum(g, 0)])
        # A GS without GE still owns the transactions up to the next envelope segment.
        txn_group = np.where(ok, g, -1)
    s.group_gs = gs_sorted
    s.group_ge = np.array([g[1] for g in groups], dtype=np.int64)
    s.group_isa = np.array([g[2] for g in groups], dtype=np.int64)
    s.interchange_iea = np.array([iea_of.get(k, -1) for k in range(len(isa_idx))], dtype=np.int64)
    s.txn_group = txn_group


def _envelope_counts(lexed: Lexed, frames: Frames, s: Structure) -> None:
    """GE01/GE02 and IEA01/IEA02 against what the file actually holds."""
    st_idx, gs_idx = s.st_idx, frames.idx(GS)
    gs_frame, ge_frame = frames.split(GS, (6,)), frames.split(GE, (1, 2))
    closed = np.flatnonzero(s.group_ge >= 0)
    if len(closed):
        gs_at, ge_at = s.group_gs[closed], s.group_ge[closed]
        counted = np.searchsorted(st_idx, ge_at) - np.searchsorted(st_idx, gs_at)
        gs_rows = np.searchsorted(gs_frame["i"].to_numpy(), gs_at)
        ge_rows = np.searchsorted(ge_frame["i"].to_numpy(), ge_at)
        ge01 = ge_frame["e1"].gather(ge_rows)
        ge02 = ge_frame["e2"].gather(ge_rows).fill_null("")
        gs06 = gs_frame["e6"].gather(gs_rows).fill_null("")
        bad_count = (ge01.cast(pl.Int64, strict=False) != pl.Series(counted)).fill_null(True).to_numpy()
        bad_ctrl = (ge02 != gs06).to_numpy()
        for k in np.flatnonzero(bad_count | bad_ctrl).tolist():
            at = int(ge_at[k])
            if bad_count[k]:
                s.anomalies.append(
                    (
                        at,
                        f"GE01={shown_control(ge01[k])} but counted {int(counted[k])} transaction sets (GE at segment {at + 1})",
                    )
                )
            if bad_ctrl[k]:
                s.anomalies.append(
                    (
                        at,
                        f"GE02={shown_control(ge02[k])} but GS06={shown_control(gs06[k])} (GE at segment {at + 1})",
                    )
                )
    isa_idx = frames.idx(ISA)
    closed = np.flatnonzero(s.interchange_iea >= 0)
    if len(closed):
        isa_frame, iea_frame = frames.split(ISA, (13,)), frames.split(IEA, (1, 2))
        isa_at, iea_at = isa_idx[closed], s.interchange_iea[closed]
        counted = np.searchsorted(gs_idx, iea_at) - np.searchsorted(gs_idx, isa_at)
        iea_rows = np.searchsorted(iea_frame["i"].to_numpy(), iea_at)
        iea01 = iea_frame["e1"].gather(iea_rows)
        iea02 = iea_frame["e2"].gather(iea_rows).fill_null("")
        isa13 = isa_frame["e13"].gather(closed).fill_null("")
        bad_count = (iea01.cast(pl.Int64, strict=False) != pl.Series(counted)).fill_null(True).to_numpy()
        bad_ctrl = (iea02 != isa13).to_numpy()
        for k in np.flatnonzero(bad_count | bad_ctrl).tolist():
            at = int(iea_at[k])
            if bad_count[k]:
                s.anomalies.append(
                    (
                        at,
                        f"IEA01={shown_control(iea01[k])} but counted {int(counted[k])} functional groups (IEA at segment {at + 1})",
                    )
                )
            if bad_ctrl[k]:
                s.anomalies.append(
                    (
                        at,
                        f"IEA02={shown_control(iea02[k])} but ISA13={shown_control(isa13[k])} (IEA at segment {at + 1})",
                    )
                )
