"""Posting an 835 remittance to the operational store, and the manual review queue.

``post_remittance(engine, path)`` parses the file, matches every CLP (:mod:`.matching`) and, in
ONE database transaction, records the file (era_files), one Payment per ST (method INSURANCE,
check/EFT number = TRN02), every CLP (era_claims) and SVC (era_service_lines), and for each CLP
matched at or above ``min_confidence``: a PaymentApplication per charge, a ChargeAdjustment per
CAS triplet (CARC + the line's RARCs), the patient responsibility on the charge, and the charge's
and claim's status recomputed. The rest waits in the review queue with ranked candidates
(era_match_candidates).

- Idempotent: a file whose SHA-256, or whose ISA13 + any TRN02, was posted before posts nothing
  and returns ``already_posted=True``.
- Atomic: any failure rolls the whole file back (nothing half-posted). On PostgreSQL an advisory
  lock serialises postings; SQLite takes its write lock with the first insert.
- Reversals (CLP02 = 22) post their negative amounts: the applications and adjustments they
  carry undo the payment they reverse, and the statuses are recomputed from the totals.
- A CLP for charges that already carry insurance money (an earlier 835, or a payment posted any
  other way) is routed by :mod:`.ledger`: the same payer again waits for review
  (``duplicate_payment_same_payer``), a secondary payer posts as secondary, a reversal posts; and
  no posting may overpay a charge (``would_overpay``) or reverse more than it carries
  (``reversal_exceeds_payment``): both wait for review.

Charge status from its totals (cents): nothing posted (or all of it reversed) -> BILLED; paid 0,
patient share 0 and adjustments > 0 -> DENIED; charge - paid - adjustments <= 0 -> PAID; otherwise PARTIALLY_PAID
(the rest is the patient's share or still open). Claim status from its charges: all PAID -> PAID,
any paid -> PARTIALLY_PAID, all DENIED -> DENIED, none adjudicated -> ACCEPTED.

``review_queue``, ``resolve_review`` and ``mark_unmatchable`` are the manual side (CLI and the
dashboard page). Messages name files, segments, claim control numbers and ids; never patients.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import edi835
from operational_api import audit
from operational_api.bulk import copy_frame, copy_rows
from operational_api.era.frames import EraFrames, build_frames
from operational_api.era.ledger import HOLD_REASONS, Ledger, PriorInsurance, build_ledger, dollars
from operational_api.era.matching import (
    DEFAULT_MIN_CONFIDENCE,
    LEVELS,
    MatchSettings,
    _fetch,
    load_snapshot,
    match,
)
from operational_api.errors import PlatformError
from operational_api.models import (
    Charge,
    ChargeAdjustment,
    ChargeStatus,
    Claim,
    ClaimStatus,
    EraClaim,
    EraFile,
    EraMatchCandidate,
    EraReviewStatus,
    EraServiceLine,
    MatchMethod,
    Payer,
    Payment,
    PaymentApplication,
    PaymentMethod,
    User,
)

ADVISORY_LOCK_KEY = 835_005_010  # PostgreSQL: one ERA posting at a time
CHUNK_CLAIMS = 5_000
SQLITE_BIG_FILE_CLAIMS = 20_000
SQLITE_CACHE_KIB = 262_144  # 256 MB of page cache while a big file posts
Progress = Callable[[str, int, int], None]


class PostingError(PlatformError):
    """A remittance that cannot be posted; the message names file, record and reason (no PHI)."""


@dataclass(frozen=True)
class PostingResult:
    """What posting one file did."""

    file_name: str
    file_hash: str
    era_file_id: int | None
    already_posted: bool
    claim_count: int = 0
    auto_posted: int = 0
    review_count: int = 0
    level_counts: dict[str, int] = field(default_factory=dict)  # auto-posted CLPs per method
    payment_count: int = 0
    payment_amount: Decimal = Decimal("0")
    applied_amount: Decimal = Decimal("0")
    duplicate_payments: int = 0  # CLPs held back: the charge already carries an insurance payment
    overpayments: int = 0  # CLPs held back: posting would overpay a charge (or reverse more than it has)
    secondary_payments: int = 0  # CLPs posted as a secondary payer's payment
    seconds: float = 0.0

    @property
    def auto_match_rate(self) -> float:
        return self.auto_posted / self.claim_count if self.claim_count else 0.0

    def summary_lines(self) -> list[str]:
        """Human summary for the CLI and the dashboard (ids, counts and amounts only)."""
        if self.already_posted:
            return [f"{self.file_name}: already posted as ERA file {self.era_file_id}; nothing posted again"]
        lines = [
            f"{self.file_name}: ERA file {self.era_file_id}: {self.claim_count} claim payments, "
            f"{self.payment_count} checks, ${self.payment_amount:,.2f} paid",
            f"  auto-posted {self.auto_posted} ({self.auto_match_rate:.1%}), ${self.applied_amount:,.2f} applied; "
            f"{self.review_count} to manual review",
        ]
        for method in LEVELS:
            if self.level_counts.get(method):
                lines.append(f"    {method:<20} {self.level_counts[method]}")
        if self.secondary_payments:
            lines.append(f"  {self.secondary_payments} posted as a secondary payer's payment")
        if self.duplicate_payments:
            lines.append(
                f"  {self.duplicate_payments} held for review: the charge already carries an insurance payment"
            )
        if self.overpayments:
            lines.append(
                f"  {self.overpayments} held for review: posting would overpay the charge, or reverse more than it carries"
            )
        return lines


@dataclass(frozen=True)
class ReviewCandidate:
    rank: int
    claim_id: int
    claim_control_number: str
    charge_id: int | None
    score: float
    reasons: str


@dataclass(frozen=True)
class ReviewItem:
    """One CLP waiting for a person (no patient name: the dashboard shows it to allowed users)."""

    era_claim_id: int
    era_file_id: int
    file_name: str
    claim_control_number: str
    payer_claim_control_number: str | None
    claim_status_code: str
    charge_amount: Decimal
    paid_amount: Decimal
    match_method: str | None
    match_confidence: float | None
    candidates: tuple[ReviewCandidate, ...]
    hold_reason: str | None = None  # why a matched CLP was not posted (ledger.HOLD_REASONS)


@dataclass(frozen=True)
class ResolveResult:
    era_claim_id: int
    review_status: str
    claim_id: int | None = None
    charge_ids: tuple[int, ...] = ()
    applied_amount: Decimal = Decimal("0")

    def summary_line(self) -> str:
        if self.review_status == EraReviewStatus.UNMATCHABLE:
            return f"ERA claim {self.era_claim_id} marked unmatchable"
        charges = ", ".join(str(c) for c in self.charge_ids)
        return (
            f"ERA claim {self.era_claim_id} posted to claim {self.claim_id} (charges {charges}): "
            f"${self.applied_amount:,.2f} applied"
        )


# ---- posting a file --------------------------------------------------------------------------


def post_remittance(
    engine: Engine,
    path: str | Path,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    uploaded_by: int | None = None,
    on_progress: Progress | None = None,
    settings: MatchSettings | None = None,
    audit_source: str = audit.SYSTEM,
) -> PostingResult:
    """Parse, match and post one 835 file (see the module docstring)."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PostingError(f"{name}: cannot read file ({exc.strerror or type(exc).__name__})") from None
    return post_bytes(
        engine, data, name, min_confidence=min_confidence, uploaded_by=uploaded_by, on_progress=on_progress,
        settings=settings, audit_source=audit_source,
    )  # fmt: skip


def post_bytes(
    engine: Engine,
    data: bytes,
    file_name: str,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    uploaded_by: int | None = None,
    on_progress: Progress | None = None,
    settings: MatchSettings | None = None,
    audit_source: str = audit.SYSTEM,
) -> PostingResult:
    """:func:`post_remittance` for bytes already in memory (the dashboard's upload)."""
    started = time.perf_counter()
    if not 0.0 <= min_confidence <= 1.0:
        raise PostingError(f"--min-confidence must be between 0 and 1, not {min_confidence}")
    try:
        parsed = edi835.parse_bytes(data, file_name)
    except edi835.Edi835Error as exc:
        raise PostingError(str(exc)) from None
    errors = parsed.validation.errors
    if errors:
        first = errors[0]
        where = f"segment {first.segment_position} ({first.segment_id})" if first.segment_position else "file"
        raise PostingError(f"{file_name}: {where}: {first.code}: {first.message}; nothing posted")
    frames = build_frames(parsed, data)
    match_settings = dataclasses.replace(settings or MatchSettings(), min_confidence=min_confidence)
    try:
        with engine.begin() as conn:
            poster = _FilePoster(conn, frames, match_settings, uploaded_by, on_progress)
            if conn.dialect.name == "sqlite" and frames.claims.height > SQLITE_BIG_FILE_CLAIMS:
                # Index pages of a big store get revisited all over the posting; SQLite's default 2 MB
                # page cache would reread them from the OS. Back to the default afterwards.
                conn.exec_driver_sql(f"pragma cache_size = -{SQLITE_CACHE_KIB}")
            try:
                result = poster.run()
            finally:
                if conn.dialect.name == "sqlite" and frames.claims.height > SQLITE_BIG_FILE_CLAIMS:
                    conn.exec_driver_sql("pragma cache_size = -2000")
            if not result.already_posted:
                _audit(
                    conn, "era.post", audit_source, uploaded_by, "era_file", result.era_file_id,
                    {"file_hash": frames.file_hash, "claims": result.claim_count, "auto_posted": result.auto_posted,
                     "for_review": result.review_count, "payments": result.payment_count},
                )  # fmt: skip
    except IntegrityError:
        # Another posting of the same file won the race for the unique file hash.
        existing = _existing_file(engine, frames)
        if existing is None:
            raise
        result = PostingResult(file_name, frames.file_hash, existing, already_posted=True)
    return PostingResult(**{**result.__dict__, "seconds": round(time.perf_counter() - started, 3)})


def _existing_file(engine_or_conn, frames: EraFrames) -> int | None:
    def query(conn: Connection) -> int | None:
        found = conn.execute(select(EraFile.id).where(EraFile.file_hash == frames.file_hash)).scalar()
        if found is not None or frames.interchange_control_number is None:
            return found
        traces = [t for t in frames.checks["trace_number"].drop_nulls().to_list() if t]
        if not traces:
            return None
        return conn.execute(
            select(EraFile.id)
            .join(Payment, Payment.era_file_id == EraFile.id)
            .where(
                EraFile.interchange_control_number == frames.interchange_control_number,
                Payment.check_number.in_(traces),
            )
            .limit(1)
        ).scalar()

    if isinstance(engine_or_conn, Connection):
        return query(engine_or_conn)
    with engine_or_conn.connect() as conn:
        return query(conn)


@dataclass
class _Clp:
    """One CLP ready to post: amounts in cents, lines already on charges."""

    era_claim_id: int
    payment_id: int
    claim_id: int
    status_code: str
    paid_cents: int
    lines: list[tuple[int | None, int, int, list[tuple[str, str, int]], str | None]]
    # (era service line id, charge id, paid cents, CAS [(group, carc, cents)], rarcs)
    claim_cas: list[tuple[str, str, int]]
    claim_rarcs: str | None
    claim_charges: list[int]  # every charge of the claim (claim-level amounts spread over them)


class _Rows:
    """Dialect-ready values: SQLite takes floats, ISO strings and JSON text; PostgreSQL (COPY)
    takes exact decimal strings and native dates.

    Every row written here gets `now` as its `updated_at` unless the columns name it (models.ChangeStampMixin):
    raw SQL and COPY get no `onupdate`, and a row changed with its old stamp would never be landed again."""

    def __init__(self, conn: Connection, now: dt.datetime) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.now = now

    def money(self, cents: int) -> object:
        if self.pg:
            sign = "-" if cents < 0 else ""
            c = -cents if cents < 0 else cents
            return f"{sign}{c // 100}.{c % 100:02d}"
        return cents / 100

    def date(self, day: dt.date | None) -> object:
        if day is None or self.pg:
            return day
        return day.isoformat()

    def ts(self, at: dt.datetime | None) -> object:
        if at is None or self.pg:
            return at
        return at.strftime("%Y-%m-%d %H:%M:%S.%f")

    def json(self, value) -> object:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def next_ids(self, table: Table, n: int) -> list[int]:
        if n <= 0:
            return []
        if self.pg:
            # The sequence is looked up once: pg_get_serial_sequence per row is a catalog lookup per id.
            sequence = self.conn.execute(
                text("select pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
            ).scalar_one()
            cursor = self._cursor()
            cursor.execute("select nextval(%s::regclass) from generate_series(1, %s)", (sequence, n))
            return [row[0] for row in cursor.fetchall()]
        start = self.conn.execute(text(f"select coalesce(max(id), 0) from {table.name}")).scalar_one() + 1
        return list(range(start, start + n))

    def insert(self, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if _unstamped(table, columns):
            at = self.ts(self.now)
            columns, rows = (*columns, "updated_at"), [(*row, at) for row in rows]
        if self.pg:
            copy_rows(self._cursor(), table.name, columns, rows)
            return
        marks = ", ".join("?" for _ in columns)
        self.conn.exec_driver_sql(f"insert into {table.name} ({', '.join(columns)}) values ({marks})", rows)

    def insert_frame(self, table: Table, frame: pl.DataFrame) -> None:
        """Rows of a frame whose columns are named after the table's."""
        if not frame.height:
            return
        if _unstamped(table, frame.columns):
            frame = frame.with_columns(updated_at=pl.lit(self.ts(self.now)))
        if self.pg:
            copy_frame(self._cursor(), table.name, frame)
            return
        self.insert(table, frame.columns, frame.rows())

    def update(self, table: Table, columns: Sequence[str], rows: list[tuple], types: Sequence[str]) -> None:
        """Rows are (id, *values) in ``columns`` order."""
        if not rows:
            return
        if _unstamped(table, columns):
            at = self.ts(self.now)
            columns, types = (*columns, "updated_at"), (*types, "timestamp")
            rows = [(*row, at) for row in rows]
        if self.pg:

            def fill(temp: str) -> None:
                copy_rows(self._cursor(), temp, ("id", *columns), rows)

            self._update_via_temp(table, columns, types, fill)
            return
        sets = ", ".join(f"{c} = ?" for c in columns)
        self.conn.exec_driver_sql(
            f"update {table.name} set {sets} where id = ?", [(*row[1:], row[0]) for row in rows]
        )

    def update_frame(self, table: Table, frame: pl.DataFrame, types: Sequence[str]) -> None:
        """:meth:`update` for a frame: its first column is the id, the others are named after the
        table's columns."""
        if not frame.height:
            return
        if _unstamped(table, frame.columns):
            frame = frame.with_columns(updated_at=pl.lit(self.ts(self.now)))
            types = (*types, "timestamp")
        key, *columns = frame.columns
        if self.pg:
            renamed = frame.rename({key: "id"})

            def fill(temp: str) -> None:
                copy_frame(self._cursor(), temp, renamed)

            self._update_via_temp(table, columns, types, fill)
            return
        self.update(table, columns, frame.rows(), types)

    def _update_via_temp(
        self, table: Table, columns: Sequence[str], types: Sequence[str], fill: Callable[[str], None]
    ) -> None:
        # One COPY and one joined UPDATE instead of a statement per row; analysed so the planner
        # sizes the join from the real row count.
        temp = f"_upd_{table.name}"
        cols = ", ".join(f"{c} {t}" for c, t in zip(("id", *columns), ("integer", *types), strict=True))
        self.conn.exec_driver_sql(f"create temp table {temp} ({cols}) on commit drop")
        fill(temp)
        self.conn.exec_driver_sql(f"analyze {temp}")
        sets = ", ".join(f"{c} = u.{c}" for c in columns)
        self.conn.exec_driver_sql(f"update {table.name} t set {sets} from {temp} u where t.id = u.id")
        self.conn.exec_driver_sql(f"drop table {temp}")

    def _cursor(self):
        return self.conn.connection.dbapi_connection.cursor()


def _unstamped(table: Table, columns: Sequence[str]) -> bool:
    return "updated_at" in table.c and "updated_at" not in columns


class _FilePoster:
    def __init__(
        self,
        conn: Connection,
        frames: EraFrames,
        settings: MatchSettings,
        uploaded_by: int | None,
        on_progress: Progress | None,
    ) -> None:
        self.conn = conn
        self.frames = frames
        self.settings = settings
        self.uploaded_by = uploaded_by
        self.on_progress = on_progress
        self.now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.rows = _Rows(conn, self.now)

    def run(self) -> PostingResult:
        conn, frames = self.conn, self.frames
        if self.rows.pg:
            conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        existing = _existing_file(conn, frames)
        if existing is not None:
            return PostingResult(frames.file_name, frames.file_hash, existing, already_posted=True)
        _check_user(conn, self.uploaded_by)

        checks = frames.checks
        payer_ids = dict(conn.execute(select(Payer.payer_code, Payer.id)).all())
        payer_codes = {c for c in checks["payer_code"].to_list() if c}
        total_paid = int(checks["payment_cents"].fill_null(0).sum())
        first = checks.row(0, named=True) if checks.height else {}
        file_values = {
            "file_hash": frames.file_hash,
            "file_name": frames.file_name[:255],
            "interchange_control_number": frames.interchange_control_number,
            "trace_number": first.get("trace_number"),
            "payer_id": payer_ids.get(next(iter(payer_codes))) if len(payer_codes) == 1 else None,
            "payment_amount": Decimal(total_paid).scaleb(-2),
            "payment_method": (first.get("payment_method_code") or None),
            "payment_date": first.get("payment_date"),
            "matching_status": "PENDING",
            "claim_count": frames.claims.height,
            "auto_matched_count": 0,
            "manual_review_count": 0,
            "uploaded_by": self.uploaded_by,
            "uploaded_at": self.now,
        }
        # The first write: on SQLite it takes the database's write lock for the rest of the posting.
        era_file_id = conn.execute(insert(EraFile).values(**file_values)).inserted_primary_key[0]

        store = load_snapshot(conn)
        matched = match(frames, store, self.settings)

        payment_ids = self._payments(era_file_id, payer_ids)
        r = self.rows
        ledger = build_ledger(
            frames,
            matched,
            store,
            era_ids=r.next_ids(EraClaim.__table__, frames.claims.height),
            payment_ids=payment_ids,
            prior=self._prior_insurance(),
            min_confidence=self.settings.min_confidence,
            chunk_size=CHUNK_CLAIMS,
        )
        self._write(era_file_id, ledger)
        posted, reviewed = ledger.auto_posted, ledger.review_count
        level_counts, applied = ledger.level_counts, ledger.applied_cents
        conn.execute(
            update(EraFile)
            .where(EraFile.id == era_file_id)
            .values(
                auto_matched_count=posted,
                manual_review_count=reviewed,
                matching_status="POSTED" if reviewed == 0 else "NEEDS_REVIEW",
                processed_at=self.now,
            )
        )
        return PostingResult(
            file_name=frames.file_name,
            file_hash=frames.file_hash,
            era_file_id=era_file_id,
            already_posted=False,
            claim_count=frames.claims.height,
            auto_posted=posted,
            review_count=reviewed,
            level_counts=level_counts,
            payment_count=checks.height,
            payment_amount=Decimal(total_paid).scaleb(-2),
            applied_amount=Decimal(applied).scaleb(-2),
            duplicate_payments=ledger.duplicates,
            overpayments=ledger.overpayments,
            secondary_payments=ledger.secondary,
        )

    def _payments(self, era_file_id: int, payer_ids: dict[str, int]) -> dict[int, int]:
        """One Payment per ST; returns remittance_id -> payment id."""
        r = self.rows
        checks = self.frames.checks
        ids = r.next_ids(Payment.__table__, checks.height)
        rows = []
        out = {}
        for pid, check in zip(ids, checks.iter_rows(named=True), strict=True):
            out[check["remittance_id"]] = pid
            rows.append(
                (
                    pid,
                    payer_ids.get(check["payer_code"]),
                    era_file_id,
                    r.money(check["payment_cents"] or 0),
                    PaymentMethod.INSURANCE.value,
                    r.date(check["payment_date"] or self.now.date()),
                    (check["trace_number"] or "")[:60] or None,
                    f"{self.frames.interchange_control_number or ''}-{check['transaction_set_control_number'] or ''}"[
                        :60
                    ],
                    self.uploaded_by,
                    r.ts(self.now),
                )
            )
        r.insert(
            Payment.__table__,
            ("id", "payer_id", "era_file_id", "payment_amount", "payment_method", "payment_date", "check_number",
             "transaction_id", "created_by", "created_at"),
            rows,
        )  # fmt: skip
        return out

    def _prior_insurance(self) -> PriorInsurance:
        """Net insurance money per charge and payer (835 or not), and the non-primary policies."""
        payments = _fetch(
            self.conn,
            "select pa.charge_id, py.payer_code, cast(round(sum(pa.applied_amount) * 100) as integer) "
            "from payment_applications pa join payments p on p.id = pa.payment_id "
            "left join payers py on py.id = p.payer_id "
            "where p.payment_method = 'INSURANCE' group by pa.charge_id, py.payer_code",
            ["charge_id", "payer_code", "cents"],
        ).select(pl.col("charge_id").cast(pl.Int64), pl.col("payer_code").cast(pl.String),
                 pl.col("cents").cast(pl.Int64))  # fmt: skip
        secondary = _fetch(
            self.conn,
            "select distinct ip.client_id, py.payer_code from insurance_policies ip "
            "join payers py on py.id = ip.payer_id where ip.rank > 1",
            ["client_id", "payer_code"],
        ).select(pl.col("client_id").cast(pl.Int64), pl.col("payer_code").cast(pl.String))
        return PriorInsurance(payments, secondary)

    def _write(self, era_file_id: int, ledger: Ledger) -> None:
        """Insert the ledger chunk by chunk (progress after each), then update charges and claims."""
        r = self.rows
        money = dollars if r.pg else (lambda c: c / 100)

        def date(column: str) -> pl.Expr:
            return pl.col(column).dt.strftime("%Y-%m-%d")

        def clip(column: str, n: int) -> pl.Expr:
            return pl.col(column).str.slice(0, n)

        now = pl.lit(r.ts(self.now))
        era = ledger.era_claims.select(
            "chunk",
            id="era_claim_id",
            era_file_id=pl.lit(era_file_id, pl.Int64),
            payment_id="payment_id",
            segment_position="segment_position",
            payer_claim_control_number=clip("payer_claim_control_number", 60),
            claim_control_number=pl.col("clp01").fill_null("").str.slice(0, 60),
            claim_status_code=clip("status_code", 4),
            charge_amount=money(pl.col("charge_cents")),
            paid_amount=money(pl.col("paid_cents")),
            patient_responsibility_amount=money(pl.col("patient_cents")),
            patient_last_name=clip("patient_last_name", 100),
            patient_first_name=clip("patient_first_name", 100),
            patient_member_id=pl.coalesce("patient_member_id", "insured_member_id").str.slice(0, 60),
            service_from_date=date("from_date"),
            service_to_date=date("to_date"),
            claim_adjustments="claim_adjustments",
            matched_claim_id=pl.when(pl.col("auto")).then(pl.col("claim_id")),
            matched_charge_id="matched_charge_id",
            match_method="method",
            match_confidence="confidence",
            match_reasons=clip("reasons", 300),
            review_status="review_status",
            posted_at=pl.when(pl.col("auto")).then(now),
        )
        # Rows nothing else refers to take their ids from the database (no id reservation needed).
        lines = ledger.service_lines.select(
            "chunk",
            era_claim_id="era_claim_id",
            segment_position="segment_position",
            cpt_code=clip("cpt_code", 10),
            modifiers=pl.when(pl.col("modifiers") != "").then(clip("modifiers", 20)),
            units=money((pl.col("units") * 100).round(0).cast(pl.Int64)),
            service_date=date("service_date"),
            charge_amount=money(pl.col("charge_cents")),
            paid_amount=money(pl.col("paid_cents")),
            allowed_amount=money(pl.col("allowed_cents")),
            adjustments="adjustments",
            rarc_codes=clip("rarc_codes", 100),
            matched_charge_id="matched_charge_id",
        )
        candidates = ledger.candidates.select(
            "chunk",
            era_claim_id="era_claim_id",
            rank="rank",
            claim_id="claim_id",
            charge_id="charge_id",
            score="score",
            reasons=clip("reasons", 300),
        )
        applications = ledger.applications.select(
            "chunk",
            payment_id="payment_id",
            charge_id="charge_id",
            era_claim_id="era_claim_id",
            applied_amount=money(pl.col("cents")),
            applied_at=now,
        )
        adjustments = ledger.adjustments.select(
            "chunk",
            charge_id="charge_id",
            era_claim_id="era_claim_id",
            group_code=clip("group_code", 2),
            carc_code=clip("carc_code", 10),
            rarc_codes=clip("rarc_codes", 100),
            adjustment_amount=money(pl.col("cents")),
            adjusted_at=now,
        )
        order = (
            (EraClaim.__table__, era),
            (EraServiceLine.__table__, lines),
            (EraMatchCandidate.__table__, candidates),
            (PaymentApplication.__table__, applications),
            (ChargeAdjustment.__table__, adjustments),
        )
        parts = [(table, frame.partition_by("chunk", as_dict=True)) for table, frame in order]
        chunks = sorted({key for _, by_chunk in parts for key in by_chunk})
        n = ledger.era_claims.height
        for k in chunks:
            for table, by_chunk in parts:
                frame = by_chunk.get(k)
                if frame is not None and frame.height:
                    r.insert_frame(table, frame.drop("chunk"))
            if self.on_progress:
                self.on_progress("claims", min(n, (k[0] + 1) * CHUNK_CLAIMS), n)
        # Updates in key order: the B-tree pages are visited once, in sequence.
        charges = ledger.charges.sort("charge_id").select(
            "charge_id",
            payment_amount=money(pl.col("paid_cents")),
            adjustment_amount=money(pl.col("adjustment_cents")),
            patient_responsibility_amount=money(pl.col("patient_cents")),
            status="status",
            updated_at=now,
        )
        r.update_frame(
            Charge.__table__,
            charges,
            ("numeric(12,2)", "numeric(12,2)", "numeric(12,2)", "varchar(20)", "timestamp"),
        )
        claims = ledger.claims.sort("claim_id").select(
            "claim_id",
            "status",
            adjudicated_at=pl.when(pl.col("status") != ClaimStatus.ACCEPTED.value).then(now),
            denied_at=pl.when(pl.col("status") == ClaimStatus.DENIED.value).then(now),
        )
        r.update_frame(Claim.__table__, claims, ("varchar(20)", "timestamp", "timestamp"))


def _clip(value: str | None, n: int) -> str | None:
    return value[:n] if value else None


def _spread(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` cents over ``weights`` pro rata; the last share takes the rounding."""
    if not weights:
        return []
    base = sum(abs(w) for w in weights)
    if base == 0:
        shares = [total // len(weights)] * len(weights)
    else:
        shares = [total * abs(w) // base for w in weights]
    shares[-1] += total - sum(shares)
    return shares


def _postings(posts: Iterable[_Clp], state: dict[int, list]) -> tuple[list[tuple], list[tuple], int]:
    """Applications (payment, charge, era claim, cents) and adjustments (charge, era claim, group,
    carc, rarcs, cents) for ``posts``; ``state`` (charge -> [claim, charge, paid, adjusted, patient,
    status]) gets the new totals."""
    apps: list[tuple] = []
    adjs: list[tuple] = []
    spent = 0
    for clp in posts:
        per_charge_paid: dict[int, int] = defaultdict(int)
        per_charge_cas: list[tuple[int, str, str, str | None, int]] = []
        if clp.lines:
            for _line_id, charge, paid, cas, rarcs in clp.lines:
                per_charge_paid[charge] += paid
                for group, carc, cents in cas:
                    per_charge_cas.append((charge, group, carc, rarcs, cents))
            spread_over = [line[1] for line in clp.lines]
        else:
            # A claim-level CLP: the payment and adjustments spread over the claim's charges.
            spread_over = clp.claim_charges
            weights = [state[c][1] for c in spread_over]
            for charge, share in zip(spread_over, _spread(clp.paid_cents, weights), strict=True):
                per_charge_paid[charge] += share
        if clp.claim_cas and spread_over:
            weights = [state[c][1] for c in spread_over]
            for group, carc, cents in clp.claim_cas:
                for charge, share in zip(spread_over, _spread(cents, weights), strict=True):
                    if share:
                        per_charge_cas.append((charge, group, carc, clp.claim_rarcs, share))
        for charge, cents in per_charge_paid.items():
            if cents:
                apps.append((clp.payment_id, charge, clp.era_claim_id, cents))
                state[charge][2] += cents
                spent += cents
        for charge, group, carc, rarcs, cents in per_charge_cas:
            adjs.append((charge, clp.era_claim_id, group, carc, rarcs, cents))
            if group == "PR":
                state[charge][4] += cents
            else:
                state[charge][3] += cents
        for charge in set(per_charge_paid) | {c for c, *_ in per_charge_cas}:
            state[charge][5] = charge_status(*state[charge][1:5])
    return apps, adjs, spent


def write_postings(rows: _Rows, apps: list[tuple], adjs: list[tuple], now: dt.datetime) -> None:
    """Insert PaymentApplications (payment, charge, era claim, cents) and ChargeAdjustments
    (charge, era claim, group, carc, rarcs, cents); the database numbers them."""
    at = rows.ts(now)
    rows.insert(
        PaymentApplication.__table__,
        ("payment_id", "charge_id", "era_claim_id", "applied_amount", "applied_at"),
        [(p, c, e, rows.money(cents), at) for p, c, e, cents in apps],
    )
    rows.insert(
        ChargeAdjustment.__table__,
        (
            "charge_id",
            "era_claim_id",
            "group_code",
            "carc_code",
            "rarc_codes",
            "adjustment_amount",
            "adjusted_at",
        ),
        [
            (c, e, (g or "")[:2], (k or "")[:10], _clip(rarcs, 100), rows.money(cents), at)
            for c, e, g, k, rarcs, cents in adjs
        ],
    )


def charge_status(charge: int, paid: int, adjusted: int, patient: int) -> str:
    """A charge's status from its totals in cents (see the module docstring). Totals at or below
    zero mean nothing is adjudicated any more (a reversal took it back)."""
    if paid <= 0 and adjusted <= 0 and patient <= 0:
        return ChargeStatus.BILLED.value
    if paid <= 0 and patient <= 0:
        return ChargeStatus.DENIED.value
    if charge - paid - adjusted <= 0:
        return ChargeStatus.PAID.value
    return ChargeStatus.PARTIALLY_PAID.value


def claim_status(statuses: Iterable[str]) -> str:
    """A claim's status from its charges' statuses."""
    values = [v for v in statuses if v != ChargeStatus.VOID]
    if values and all(v == ChargeStatus.PAID for v in values):
        return ClaimStatus.PAID.value
    if any(v in (ChargeStatus.PAID, ChargeStatus.PARTIALLY_PAID) for v in values):
        return ClaimStatus.PARTIALLY_PAID.value
    if any(v == ChargeStatus.DENIED for v in values):
        return ClaimStatus.DENIED.value
    return ClaimStatus.ACCEPTED.value


def update_statuses(rows: _Rows, state, touched_claims: set[int], charges_of_claim, now: dt.datetime) -> None:
    """Write new totals and statuses of the touched charges, and their claims' statuses."""
    at = rows.ts(now)
    touched_charges = [c for claim in touched_claims for c in charges_of_claim.get(claim, [])]
    rows.update(
        Charge.__table__,
        ("payment_amount", "adjustment_amount", "patient_responsibility_amount", "status", "updated_at"),
        [
            (
                c,
                rows.money(state[c][2]),
                rows.money(state[c][3]),
                rows.money(state[c][4]),
                state[c][5],
                at,
            )
            for c in touched_charges
        ],
        ("numeric(12,2)", "numeric(12,2)", "numeric(12,2)", "varchar(20)", "timestamp"),
    )
    claim_rows = []
    for claim in touched_claims:
        status = claim_status(state[c][5] for c in charges_of_claim.get(claim, []))
        adjudicated = at if status != ClaimStatus.ACCEPTED else None
        denied = at if status == ClaimStatus.DENIED else None
        claim_rows.append((claim, status, adjudicated, denied))
    rows.update(
        Claim.__table__,
        ("status", "adjudicated_at", "denied_at"),
        claim_rows,
        ("varchar(20)", "timestamp", "timestamp"),
    )


# ---- manual review ---------------------------------------------------------------------------


def review_count(engine: Engine, era_file_id: int | None = None) -> int:
    """How many CLPs wait for a person (in one file, or in all)."""
    query = select(func.count()).where(EraClaim.review_status == EraReviewStatus.PENDING.value)
    if era_file_id is not None:
        query = query.where(EraClaim.era_file_id == era_file_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def review_queue(engine: Engine, era_file_id: int | None = None, limit: int = 100) -> list[ReviewItem]:
    """CLPs waiting for a person, oldest file first, with their ranked candidates."""
    era = EraClaim.__table__
    with engine.connect() as conn:
        query = (
            select(era, EraFile.file_name)
            .join(EraFile, EraFile.id == era.c.era_file_id)
            .where(era.c.review_status == EraReviewStatus.PENDING.value)
            .order_by(era.c.era_file_id, era.c.segment_position)
            .limit(limit)
        )
        if era_file_id is not None:
            query = query.where(era.c.era_file_id == era_file_id)
        found = conn.execute(query).mappings().all()
        ids = [row["id"] for row in found]
        candidates: dict[int, list[ReviewCandidate]] = defaultdict(list)
        if ids:
            for cand in conn.execute(
                select(
                    EraMatchCandidate.era_claim_id,
                    EraMatchCandidate.rank,
                    EraMatchCandidate.claim_id,
                    Claim.claim_control_number,
                    EraMatchCandidate.charge_id,
                    EraMatchCandidate.score,
                    EraMatchCandidate.reasons,
                )  # fmt: skip
                .join(Claim, Claim.id == EraMatchCandidate.claim_id)
                .where(EraMatchCandidate.era_claim_id.in_(ids))
                .order_by(EraMatchCandidate.era_claim_id, EraMatchCandidate.rank)
            ):
                candidates[cand[0]].append(
                    ReviewCandidate(cand[1], cand[2], cand[3], cand[4], cand[5], cand[6] or "")
                )
    return [
        ReviewItem(
            era_claim_id=row["id"],
            era_file_id=row["era_file_id"],
            file_name=row["file_name"],
            claim_control_number=row["claim_control_number"],
            payer_claim_control_number=row["payer_claim_control_number"],
            claim_status_code=row["claim_status_code"],
            charge_amount=Decimal(row["charge_amount"]).quantize(Decimal("0.01")),
            paid_amount=Decimal(row["paid_amount"]).quantize(Decimal("0.01")),
            match_method=row["match_method"],
            match_confidence=row["match_confidence"],
            candidates=tuple(candidates.get(row["id"], [])),
            hold_reason=_hold_reason(row["match_reasons"]),
        )
        for row in found
    ]


def resolve_review(
    engine: Engine,
    era_claim_id: int,
    *,
    charge_id: int | None = None,
    claim_id: int | None = None,
    user_id: int | None = None,
    audit_source: str = audit.SYSTEM,
) -> ResolveResult:
    """Post a waiting CLP to the claim (or the charge's claim) a person chose, in its own transaction.

    With ``charge_id`` and a one-line CLP the line goes to that charge; otherwise each line goes
    to the claim's charge with the same CPT code and amount (then CPT, then amount)."""
    if charge_id is None and claim_id is None:
        raise PostingError("resolve needs the charge or the claim the ERA claim belongs to")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        rows = _Rows(conn, now)
        if rows.pg:
            conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        era = _pending_era_claim(conn, era_claim_id)
        _check_user(conn, user_id)
        if charge_id is not None:
            charge_claim = conn.execute(select(Charge.claim_id).where(Charge.id == charge_id)).first()
            if charge_claim is None:
                raise PostingError(f"charge {charge_id} does not exist")
            if charge_claim[0] is None:
                raise PostingError(
                    f"charge {charge_id} is not on a claim: bill it before posting a remittance to it"
                )
            if claim_id is not None and claim_id != charge_claim[0]:
                raise PostingError(
                    f"charge {charge_id} belongs to claim {charge_claim[0]}, not claim {claim_id}"
                )
            claim_id = charge_claim[0]
        if conn.execute(select(Claim.id).where(Claim.id == claim_id)).first() is None:
            raise PostingError(f"claim {claim_id} does not exist")
        charges = conn.execute(
            text(
                "select id, service_date, cpt_code, cast(round(charge_amount * 100) as integer), "
                "cast(round(payment_amount * 100) as integer), cast(round(adjustment_amount * 100) as integer), "
                "cast(round(patient_responsibility_amount * 100) as integer), status "
                "from charges where claim_id = :c order by id"
            ),
            {"c": claim_id},
        ).all()
        lines = conn.execute(
            select(
                EraServiceLine.id,
                EraServiceLine.segment_position,
                EraServiceLine.cpt_code,
                EraServiceLine.charge_amount,
                EraServiceLine.paid_amount,
                EraServiceLine.service_date,
                EraServiceLine.adjustments,
                EraServiceLine.rarc_codes,
            )  # fmt: skip
            .where(EraServiceLine.era_claim_id == era_claim_id)
            .order_by(EraServiceLine.segment_position)
        ).all()
        placed = _place_lines(lines, charges, charge_id)
        for (_line_id, position, *_), target in zip(lines, placed, strict=True):
            if target is None:
                raise PostingError(
                    f"ERA claim {era_claim_id}: the service line at segment {position} matches no charge of "
                    f"claim {claim_id}; choose its charge with --charge"
                )
        state = {
            c[0]: [claim_id, int(c[3]), int(c[4]), int(c[5]), int(c[6]), c[7]] for c in charges
        }  # charge -> [claim, charge, paid, adjusted, patient, status]
        extra = era.claim_adjustments or {}
        clp = _Clp(
            era_claim_id=era_claim_id,
            payment_id=era.payment_id,
            claim_id=claim_id,
            status_code=era.claim_status_code,
            paid_cents=_cents(era.paid_amount),
            lines=[
                (
                    line[0],
                    target,
                    _cents(line[4]),
                    [(g, c, _cents(a)) for g, c, a in (line[6] or [])],
                    line[7],
                )
                for line, target in zip(lines, placed, strict=True)
            ],
            claim_cas=[(g, c, _cents(a)) for g, c, a in extra.get("adjustments", [])],
            claim_rarcs=",".join(extra.get("remarks", [])) or None,
            claim_charges=[c[0] for c in charges],
        )
        apps, adjs, spent = _postings([clp], state)
        write_postings(rows, apps, adjs, now)
        update_statuses(rows, state, {claim_id}, {claim_id: [c[0] for c in charges]}, now)
        for (line_id, *_), target in zip(lines, placed, strict=True):
            conn.execute(
                update(EraServiceLine).where(EraServiceLine.id == line_id).values(matched_charge_id=target)
            )
        chosen = [t for t in placed if t is not None] or [c[0] for c in charges]
        conn.execute(
            update(EraClaim)
            .where(EraClaim.id == era_claim_id)
            .values(
                matched_claim_id=claim_id,
                matched_charge_id=chosen[0] if len(chosen) == 1 else None,
                match_method=MatchMethod.MANUAL.value,
                match_confidence=1.0,
                review_status=EraReviewStatus.RESOLVED.value,
                resolved_by=user_id,
                resolved_at=now,
                posted_at=now,
            )
        )
        _refresh_file_status(conn, era.era_file_id)
        _audit(
            conn, "era.resolve", audit_source, user_id, "era_claim", era_claim_id,
            {"claim_id": claim_id, "charge_ids": list(chosen)},
        )  # fmt: skip
    return ResolveResult(
        era_claim_id, EraReviewStatus.RESOLVED.value, claim_id, tuple(chosen), Decimal(spent).scaleb(-2)
    )


def mark_unmatchable(
    engine: Engine, era_claim_id: int, *, user_id: int | None = None, audit_source: str = audit.SYSTEM
) -> ResolveResult:
    """Set a waiting CLP aside: it belongs to none of our claims (nothing is posted)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        era = _pending_era_claim(conn, era_claim_id)
        _check_user(conn, user_id)
        conn.execute(
            update(EraClaim)
            .where(EraClaim.id == era_claim_id)
            .values(review_status=EraReviewStatus.UNMATCHABLE.value, resolved_by=user_id, resolved_at=now)
        )
        _refresh_file_status(conn, era.era_file_id)
        _audit(conn, "era.unmatchable", audit_source, user_id, "era_claim", era_claim_id, None)
    return ResolveResult(era_claim_id, EraReviewStatus.UNMATCHABLE.value)


def _audit(conn: Connection, action: str, source: str, user_id, entity: str, entity_id, detail) -> None:
    """The audit row of a posting, in the posting's own transaction (commits or rolls back with it)."""
    with Session(bind=conn) as session:
        client_ids: list[int] = []
        if entity == "era_claim":
            client_ids = [
                c
                for c in session.execute(
                    select(Claim.client_id)
                    .join(EraClaim, EraClaim.matched_claim_id == Claim.id)
                    .where(EraClaim.id == entity_id)
                ).scalars()
                if c is not None
            ]
        audit.record(
            session, action=action, source=source, actor_user_id=user_id, entity=entity, entity_id=entity_id,
            client_ids=client_ids, detail=detail,
        )  # fmt: skip


def _check_user(conn: Connection, user_id: int | None) -> None:
    if user_id is not None and conn.execute(select(User.id).where(User.id == user_id)).first() is None:
        raise PostingError(f"user {user_id} does not exist")


def _pending_era_claim(conn: Connection, era_claim_id: int):
    era = conn.execute(
        select(
            EraClaim.id,
            EraClaim.era_file_id,
            EraClaim.payment_id,
            EraClaim.claim_status_code,
            EraClaim.paid_amount,
            EraClaim.claim_adjustments,
            EraClaim.review_status,
        ).where(EraClaim.id == era_claim_id)  # fmt: skip
    ).first()
    if era is None:
        raise PostingError(f"ERA claim {era_claim_id} does not exist")
    if era.review_status != EraReviewStatus.PENDING:
        raise PostingError(f"ERA claim {era_claim_id} is not waiting for review (it is {era.review_status})")
    return era


def _refresh_file_status(conn: Connection, era_file_id: int) -> None:
    waiting = conn.execute(
        select(EraClaim.id)
        .where(EraClaim.era_file_id == era_file_id, EraClaim.review_status == EraReviewStatus.PENDING.value)
        .limit(1)
    ).first()
    conn.execute(
        update(EraFile)
        .where(EraFile.id == era_file_id)
        .values(matching_status="NEEDS_REVIEW" if waiting else "POSTED")
    )


def _hold_reason(match_reasons: str | None) -> str | None:
    codes = (match_reasons or "").split(";")
    return next((code for code in codes if code in HOLD_REASONS), None)


def _cents(amount) -> int:
    return int((Decimal(str(amount)) * 100).to_integral_value())


def _place_lines(lines, charges, charge_id: int | None) -> list[int | None]:
    """Each ERA line to one charge of the chosen claim (best CPT/amount/date agreement first)."""
    if charge_id is not None and len(lines) == 1:
        return [charge_id]
    options = []
    for li, line in enumerate(lines):
        for charge in charges:
            cpt_eq = (line[2] or "") == (charge[2] or "")
            cents_eq = abs(_cents(line[3])) == int(charge[3])
            if not (cpt_eq or cents_eq):
                continue
            same_day = str(line[5]) == str(charge[1])
            preferred = charge[0] == charge_id
            options.append((-(preferred * 16 + cpt_eq * 8 + cents_eq * 4 + same_day * 2), li, charge[0]))
    options.sort()
    placed: list[int | None] = [None] * len(lines)
    used: set[int] = set()
    for _, li, charge in options:
        if placed[li] is None and charge not in used:
            placed[li] = charge
            used.add(charge)
    return placed


def level_rates(result: PostingResult) -> dict[str, float]:
    """Auto-posted share of the file's CLPs per level (for reports)."""
    return (
        {m: result.level_counts.get(m, 0) / result.claim_count for m in LEVELS} if result.claim_count else {}
    )


__all__ = [
    "PostingError",
    "PostingResult",
    "ResolveResult",
    "ReviewCandidate",
    "ReviewItem",
    "charge_status",
    "claim_status",
    "level_rates",
    "mark_unmatchable",
    "post_bytes",
    "post_remittance",
    "resolve_review",
    "review_count",
    "review_queue",
]
