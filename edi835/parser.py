"""Entry points (:func:`parse`, :func:`parse_bytes`, :func:`parse_file`) and :class:`ParseResult`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import polars as pl

from edi835._frames import CLP, NM1, SCOPE_CLAIM, Frames
from edi835._lexer import Lexed, code_to_id, lex
from edi835._records import build_records
from edi835._structure import Structure, analyse
from edi835._tables import Built, build_tables
from edi835.errors import CONTROL_VALUE_PATTERN, Edi835Error
from edi835.records import Delimiters, Interchange, Remittance
from edi835.validation import ERROR_CODES, ISSUE_SCHEMA, ValidationReport

__all__ = ["ParseResult", "parse", "parse_bytes", "parse_file"]

TABLE_NAMES = (
    "remittances",
    "claims",
    "service_lines",
    "adjustments",
    "remark_codes",
    "provider_adjustments",
)


class ParseResult:
    """One parsed 835 file.

    ``tables`` (the fast path) and ``validation`` are computed by :func:`parse`; the typed records
    (``transactions``, ``interchanges``) are built the first time they are read.
    """

    def __init__(self, lexed: Lexed, frames: Frames, structure: Structure, built: Built) -> None:
        self._lexed = lexed
        self._frames = frames
        self._structure = structure
        self._built = built
        self._records: tuple[tuple[Interchange, ...], tuple[Remittance, ...]] | None = None
        self.validation = ValidationReport(_issues(lexed, frames, structure, built))

    @property
    def file_name(self) -> str:
        """The name used in messages (the path's file name for :func:`parse_file`)."""
        return self._lexed.file_name

    @property
    def source_file_id(self) -> str:
        """sha256 (hex) of the file's bytes, as in every table's ``source_file_id`` column."""
        return self._lexed.source_file_id

    @property
    def tables(self) -> dict[str, pl.DataFrame]:
        """The flat tables by name: remittances, claims, service_lines, adjustments, remark_codes,
        provider_adjustments (schemas in :data:`edi835.TABLE_SCHEMAS`)."""
        return dict(self._built.tables)

    @property
    def remittances(self) -> pl.DataFrame:
        """One row per ST..SE transaction set (BPR/TRN, payer, payee, totals)."""
        return self._built.tables["remittances"]

    @property
    def claims(self) -> pl.DataFrame:
        """One row per CLP claim payment."""
        return self._built.tables["claims"]

    @property
    def service_lines(self) -> pl.DataFrame:
        """One row per SVC service line."""
        return self._built.tables["service_lines"]

    @property
    def adjustments(self) -> pl.DataFrame:
        """One row per CAS triplet, claim or service-line level."""
        return self._built.tables["adjustments"]

    @property
    def remark_codes(self) -> pl.DataFrame:
        """One row per remark code (LQ, MOA, MIA)."""
        return self._built.tables["remark_codes"]

    @property
    def provider_adjustments(self) -> pl.DataFrame:
        """One row per PLB reason/amount pair."""
        return self._built.tables["provider_adjustments"]

    def claim_parties(self) -> pl.DataFrame:
        """One row per NM1 in a claim loop (QC patient, IL insured, 74 corrected name, 82 rendering
        provider, TT crossover carrier, PR corrected payer, GB other subscriber), built vectorised.

        **Contains PHI** (person names and member IDs), which is why it is not one of ``tables``:
        use it where matching needs identity (the operational store), never for the warehouse.
        Columns: source_file_id, claim_id, segment_position, entity_code, entity_type,
        last_or_organization_name, first_name, middle_name, suffix, id_qualifier, identifier.
        """
        nm1 = self._frames.of(NM1)
        rows = np.flatnonzero(nm1.scope == SCOPE_CLAIM)
        values = nm1.elements_of_rows(rows, range(1, 10))
        claim_pos = self._frames.idx(CLP).astype(np.int64) + 1
        names = ["entity_code", "entity_type", "last_or_organization_name", "first_name", "middle_name", None,
                 "suffix", "id_qualifier", "identifier"]  # fmt: skip
        return pl.DataFrame(
            [
                pl.repeat(self.source_file_id, len(rows), dtype=pl.String, eager=True).alias(
                    "source_file_id"
                ),
                pl.Series("claim_id", claim_pos[nm1.clm[rows]], dtype=pl.Int64),
                pl.Series("segment_position", nm1.pos[rows], dtype=pl.Int64),
                *(v.alias(name) for v, name in zip(values, names, strict=True) if name),
            ]
        )

    @property
    def delimiters(self) -> list[Delimiters]:
        """Delimiters per interchange; a file without ISA gets one entry with the defaults used."""
        out = list(self._lexed.isa_delimiters)
        if self._lexed.leading_default_delimiters is not None:
            d = self._lexed.leading_default_delimiters
            out.insert(0, Delimiters(d.element, d.segment, d.component, None))
        return out

    @property
    def isa_count(self) -> int:
        """Number of ISA interchanges."""
        return len(self._lexed.isa_idx)

    @property
    def gs_count(self) -> int:
        """Number of GS functional groups."""
        return len(self._structure.group_gs)

    @property
    def transaction_count(self) -> int:
        """Number of ST..SE transaction sets."""
        return len(self._structure.st_idx)

    @property
    def segment_count(self) -> int:
        """Number of (non-empty) segments in the file."""
        return len(self._lexed)

    @property
    def anomalies(self) -> list[str]:
        """File-level envelope problems (BOM, missing envelope, GE/IEA mismatches ...)."""
        return self.validation.frame.filter(pl.col("code") == "envelope_anomaly")["message"].to_list()

    def _build_records(self) -> tuple[tuple[Interchange, ...], tuple[Remittance, ...]]:
        if self._records is None:
            try:
                interchanges, remittances = build_records(self._lexed, self._frames, self._structure)
            except Edi835Error:
                raise
            except Exception as exc:  # the records must fail like parse() does, with one error type
                raise Edi835Error(
                    self.file_name, 0, "", f"internal error building records ({type(exc).__name__})"
                ) from exc
            self._records = (tuple(interchanges), tuple(remittances))
        return self._records

    @property
    def transactions(self) -> tuple[Remittance, ...]:
        """Every transaction set as a typed :class:`Remittance`, in file order (built on first use)."""
        return self._build_records()[1]

    @property
    def interchanges(self) -> tuple[Interchange, ...]:
        """The ISA -> GS -> ST record tree (empty for a file without ISA envelope)."""
        return self._build_records()[0]

    def summary(self) -> dict:
        """The per-file summary in the shape of ``golden.json`` (see :mod:`edi835.summary`)."""
        from edi835.summary import file_summary

        return file_summary(self)

    def __repr__(self) -> str:
        return (
            f"ParseResult(file_name={self.file_name!r}, transactions={self.transaction_count}, "
            f"claims={self.claims.height}, service_lines={self.service_lines.height}, {self.validation!r})"
        )


def _issue_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA) if rows else pl.DataFrame(schema=ISSUE_SCHEMA)


def _issues(lexed: Lexed, frames: Frames, structure: Structure, built: Built) -> pl.DataFrame:
    """Every finding of the file, in segment order (file-level ones first)."""
    rows: list[dict] = []
    anomalies = sorted(lexed.anomalies + structure.anomalies, key=lambda a: a[0])
    for index, message in anomalies:
        rows.append(
            {
                "severity": "warning",
                "code": "envelope_anomaly",
                "message": message,
                "segment_position": index + 1 if index >= 0 else None,
                "segment_id": lexed.segment_id(index) if index >= 0 else None,
                "element": None,
                "remittance_id": None,
            }
        )
    for message in lexed.warnings:
        rows.append(
            {"severity": "warning", "code": "encoding", "message": message, "segment_position": None,
             "segment_id": None, "element": None, "remittance_id": None}
        )  # fmt: skip
    assert frames.context is not None
    context = frames.context
    for index, code, message in structure.warnings:
        rows.append(
            {"severity": "warning", "code": code, "message": message, "segment_position": index + 1,
             "segment_id": lexed.segment_id(index), "element": None, "remittance_id": int(context.rem_ordinal(np.array([index]))[0]) or None}
        )  # fmt: skip
    parts = [_issue_frame(rows)]

    unknown = structure.unknown_idx
    if len(unknown):
        ids = [code_to_id(c) for c in lexed.codes[unknown].tolist()]
        parts.append(
            pl.DataFrame(
                {
                    "segment_position": unknown + 1,
                    "segment_id": ids,
                    "remittance_id": context.rem_ordinal(unknown),
                }
            ).select(
                severity=pl.lit("warning"),
                code=pl.lit("unknown_segment"),
                message=pl.format(
                    "unknown segment {} at segment {} (kept in the records, not in the tables)",
                    "segment_id",
                    "segment_position",
                ),
                segment_position="segment_position",
                segment_id="segment_id",
                element=pl.lit(None, pl.String),
                remittance_id="remittance_id",
            )
        )

    stats, rem = built.stats, built.tables["remittances"]
    counted = stats["se_pos"] - stats["rem"] + 1
    se = pl.DataFrame(
        {
            "rem": stats["rem"],
            "se_pos": stats["se_pos"],
            "se01": stats["se01"].fill_null(""),
            "se02": stats["se02"].fill_null(""),
            "st02": rem["transaction_set_control_number"].fill_null(""),
            "counted": counted,
        }
    )
    shown = {
        c: pl.when(pl.col(c).str.contains(CONTROL_VALUE_PATTERN))
        .then(pl.col(c))
        .otherwise(pl.lit("(not a number)"))
        for c in ("se01", "se02", "st02")
    }
    count_bad = se.filter((pl.col("se01").cast(pl.Int64, strict=False) != pl.col("counted")).fill_null(True))
    ctrl_bad = se.filter(pl.col("se02") != pl.col("st02"))
    for frame, code, fmt, args in (
        (count_bad, "se_count_mismatch", "SE01={} but counted {} segments", ("se01", "counted")),
        (ctrl_bad, "se_control_mismatch", "SE02={} but ST02={}", ("se02", "st02")),
    ):
        if len(frame):
            parts.append(
                frame.select(
                    severity=pl.lit("warning"),
                    code=pl.lit(code),
                    message=pl.format(fmt, *(shown.get(a, pl.col(a)) for a in args)),
                    segment_position="se_pos",
                    segment_id=pl.lit("SE"),
                    element=pl.lit(None, pl.String),
                    remittance_id="rem",
                )
            )

    nn = built.non_numeric
    if len(nn):
        parts.append(
            nn.select(
                severity=pl.lit("error"),
                code=pl.lit("non_numeric_amount"),
                message=pl.format("{} at segment {} is not a valid amount", "label", "pos"),
                segment_position="pos",
                segment_id=pl.col("label").str.slice(0, pl.col("label").str.len_chars() - 2),
                element="label",
                remittance_id="rem",
            )
        )
    imb = built.imbalances
    if len(imb):
        parts.append(
            imb.select(
                severity=pl.when(pl.col("code").is_in(list(ERROR_CODES)))
                .then(pl.lit("error"))
                .otherwise(pl.lit("warning")),
                code="code",
                message="message",
                segment_position="pos",
                segment_id="segment_id",
                element=pl.lit(None, pl.String),
                remittance_id="rem",
            )
        )
    frame = pl.concat(
        [p.select([pl.col(c).cast(t) for c, t in ISSUE_SCHEMA.items()]) for p in parts], how="vertical"
    )
    file_level = frame.filter(pl.col("code") == "envelope_anomaly")
    rest = frame.filter(pl.col("code") != "envelope_anomaly").sort(
        "segment_position", nulls_last=False, maintain_order=True
    )
    return pl.concat([file_level, rest], how="vertical")


def parse_bytes(data: bytes, file_name: str = "<bytes>") -> ParseResult:
    """Parse the bytes of one 835 file. Raises only :class:`Edi835Error`."""
    try:
        lexed = lex(bytes(data), file_name)
        frames = Frames(lexed)
        structure = analyse(lexed, frames)
        built = build_tables(lexed, frames, structure)
        frames.release()
        return ParseResult(lexed, frames, structure, built)
    except Edi835Error:
        raise
    except (Exception, pl.exceptions.PanicException) as exc:
        # Last-resort guard: callers rely on a single error type. The original exception text is
        # not included because it could quote element values (PHI).
        raise Edi835Error(file_name, 0, "", f"internal parser error ({type(exc).__name__})") from exc


def parse_file(path: str | os.PathLike[str]) -> ParseResult:
    """Read and parse one 835 file. Raises only :class:`Edi835Error` (also for unreadable files)."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Edi835Error(name, 0, "", f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    return parse_bytes(data, name)


def parse(
    source: bytes | bytearray | memoryview | str | os.PathLike[str], file_name: str | None = None
) -> ParseResult:
    """Parse an 835 from bytes (``file_name`` names it in messages) or from a path."""
    if isinstance(source, bytes | bytearray | memoryview):
        return parse_bytes(bytes(source), file_name or "<bytes>")
    if isinstance(source, str | os.PathLike):
        return parse_file(source)
    raise Edi835Error(file_name or "<input>", 0, "", f"unsupported input type {type(source).__name__}")
