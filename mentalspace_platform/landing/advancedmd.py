"""Landing AdvancedMD records in the warehouse's ``raw_advancedmd`` schema (DuckDB or PostgreSQL).

:class:`WarehouseSink` is the warehouse implementation of ``ingest.advancedmd.sync.Sink``. Plain
Python (no Dagster): the assets in ``orchestration/defs/advancedmd`` call it, and tests can too. Decisions:

* **Idempotent.** Every batch is one transaction: rows are upserted by (office key, AdvancedMD id)
  as delete + insert, deleting an absent id is a no-op, and a deleted visit takes its charges with
  it (a deleted patient takes its coverages). A daily partition is replaced as a whole
  (:meth:`WarehouseSink.replace_visit_day`), so re-running it lands the same rows.
* **Nothing is dropped silently.** Each batch is validated with pandera
  (``ingest.advancedmd.schemas.validate_batch``); rejected records go to ``raw_advancedmd.quarantine``
  with the entity, the record id and the reason (column and check names, never values). A rejected
  update leaves the previously landed version of that record in place. One quarantine row per bad
  record *version* (``record_version``, a digest of the record as AdvancedMD sent it): re-reading the
  same bad record (a partition re-run, an overlapping window) adds nothing; a changed but still bad
  record adds a row.
* **Minimum necessary PHI.** Names, date of birth, address, phone, e-mail, subscriber (member) id
  and group number never reach the warehouse: patients land as ids, codes, timestamps and
  completeness flags (``has_date_of_birth``...), coverages with ``has_subscriber_id``. A visit lands
  ``client_is_minor_on_visit_date`` instead of its patient's date of birth (which rides in the visit
  answer), by the store's rule (``operational_api.export.is_minor_on`` with MINOR_CONSENT.adult_age_years,
  given to the sink; without it the flag is null). Patient changes do not mark visits changed, so a
  landed patient re-derives the flag of its landed visits from its date of birth.
* **Lineage.** Every row carries ``office_key``, ``batch_id`` (the Dagster run id and the batch's
  sequence number) and ``landed_at`` (naive UTC, like every ``*_at`` in the warehouse).
* **No constraints in raw tables.** DuckDB checks unique keys eagerly inside a transaction, so a
  delete + re-insert of the same key would fail; uniqueness is asserted by the dbt staging tests
  and by the landing tests instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from ingest.advancedmd.records import (
    AmdCharge,
    AmdClaimStatus,
    AmdInsurance,
    AmdPatient,
    AmdTransaction,
    AmdVisit,
    EligibilityResult,
)
from ingest.advancedmd.sync import SyncBatch
from mentalspace_platform.measure_window import every_period_mark_statements
from mentalspace_platform.warehouse import Warehouse
from operational_api.export import is_minor_on

RAW_SCHEMA = "raw_advancedmd"
ENTITIES = ("patients", "insurance", "visits", "charges", "eligibility", "transactions", "claims")
# getdatevisits answers only these statuses (integrator note, see ingest/advancedmd/README.md), so a
# daily partition replaces only visits in them: Moved (5) / Deleted (11) visits that the incremental
# sync landed are not the partition's to remove.
DATEVISITS_STATUSES = (0, 1, 2, 3, 10, 12)

_TYPES: dict[str, pl.DataType] = {
    "text": pl.Utf8(),
    "bigint": pl.Int64(),
    "integer": pl.Int32(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "numeric(12,2)": pl.Decimal(12, 2),
}
_LINEAGE = [("batch_id", "text"), ("landed_at", "timestamp")]
# A visit's arrival and seen times (practice-local wall clock, as start_local), confirmation time (naive UTC),
# the AdvancedMD user who entered it and whether the client was a minor that day: added after the first warehouses landed visits, so _ensure adds
# them to an older table (older rows: null until their visit is read again).
_VISIT_WORKFLOW = [
    ("arrive_local", "timestamp"),
    ("seen_local", "timestamp"),
    ("confirmed_at", "timestamp"),
    ("created_by", "text"),
    ("client_is_minor_on_visit_date", "boolean"),
]

TABLES: dict[str, list[tuple[str, str]]] = {
    "patients": [
        ("office_key", "text"),
        ("patient_id", "bigint"),
        ("chart", "text"),
        ("sex", "text"),
        ("state", "text"),
        ("provider_id", "bigint"),
        ("provider_code", "text"),
        ("fin_class_code", "text"),
        ("has_date_of_birth", "boolean"),
        ("has_address", "boolean"),
        ("has_phone", "boolean"),
        ("has_email", "boolean"),
        ("created_at", "timestamp"),
        ("changed_at", "timestamp"),
        *_LINEAGE,
    ],
    "insurance": [
        ("office_key", "text"),
        ("insurance_id", "bigint"),
        ("patient_id", "bigint"),
        ("sequence", "integer"),
        ("carrier_code", "text"),
        ("carrier_name", "text"),
        ("relationship", "text"),
        ("copay", "numeric(12,2)"),
        ("effective_start", "date"),
        ("effective_end", "date"),
        ("active", "boolean"),
        ("has_subscriber_id", "boolean"),
        ("has_group_number", "boolean"),
        *_LINEAGE,
    ],
    "visits": [
        ("office_key", "text"),
        ("visit_id", "bigint"),
        ("patient_id", "bigint"),
        ("visit_date", "date"),
        ("start_local", "timestamp"),
        ("duration_minutes", "integer"),
        ("appt_status", "integer"),
        ("appointment_type", "text"),
        ("column_heading", "text"),
        ("provider_code", "text"),
        ("facility_code", "text"),
        ("charges_posted", "boolean"),
        ("created_at", "timestamp"),
        ("modified_at", "timestamp"),
        *_VISIT_WORKFLOW,
        *_LINEAGE,
    ],
    "charges": [
        ("office_key", "text"),
        ("charge_id", "bigint"),
        ("visit_id", "bigint"),
        ("patient_id", "bigint"),
        ("visit_date", "date"),
        ("cpt_code", "text"),
        ("modifiers", "text"),
        ("units", "integer"),
        ("fee", "numeric(12,2)"),
        ("diagnosis_codes", "text"),
        ("begin_date_of_service", "date"),
        ("end_date_of_service", "date"),
        ("posting_date", "date"),
        ("place_of_service", "text"),
        ("created_at", "timestamp"),
        ("changed_at", "timestamp"),
        *_LINEAGE,
    ],
    "eligibility": [
        ("office_key", "text"),
        ("eligibility_id", "bigint"),
        ("patient_id", "bigint"),
        ("coverage_id", "bigint"),
        ("service_type", "text"),
        ("status", "text"),
        ("is_eligible", "boolean"),
        ("plan_name", "text"),
        ("copay", "numeric(12,2)"),
        ("deductible", "numeric(12,2)"),
        ("deductible_remaining", "numeric(12,2)"),
        ("reject_reason", "text"),
        ("checked_at", "timestamp"),
        *_LINEAGE,
    ],
    "transactions": [
        ("office_key", "text"),
        ("transaction_id", "bigint"),
        ("charge_id", "bigint"),
        ("visit_id", "bigint"),
        ("patient_id", "bigint"),
        ("kind", "text"),
        ("amount", "numeric(12,2)"),
        ("transaction_date", "date"),
        ("source", "text"),
        ("code", "text"),
        *_LINEAGE,
    ],
    # One row per claim of a visit as AdvancedMD's 277 answers it (its first STC), with the date its charges were
    # billed (the claim's submission; ingest/advancedmd/claimstatus.py).
    "claims": [
        ("office_key", "text"),
        ("claim_id", "bigint"),
        ("visit_id", "bigint"),
        ("patient_id", "bigint"),
        ("carrier_code", "text"),
        ("billed_date", "date"),
        ("category_code", "text"),
        ("status_code", "text"),
        ("payment_amount", "numeric(12,2)"),
        ("verified_at", "timestamp"),
        *_LINEAGE,
    ],
    "quarantine": [
        ("office_key", "text"),
        ("entity", "text"),
        ("record_id", "bigint"),
        ("reason", "text"),
        ("record_version", "text"),
        *_LINEAGE,
    ],
}
ID_COLUMNS = {
    "patients": "patient_id",
    "insurance": "insurance_id",
    "visits": "visit_id",
    "charges": "charge_id",
    "eligibility": "eligibility_id",
    "transactions": "transaction_id",
    "claims": "claim_id",
}


def record_version(values: Sequence[Any]) -> str:
    """A short digest of one record as AdvancedMD sent it: equal for a re-read of the same version, different
    once anything in it changed. 16 hex characters of SHA-256, one-way, so nothing of the record (names,
    dates of birth) can be read back from the quarantine."""
    return hashlib.sha256(repr(tuple(values)).encode()).hexdigest()[:16]


def table_schema(table: str) -> dict[str, pl.DataType]:
    """The polars schema of one raw table (the frame every landing of it is cast to)."""
    return {name: _TYPES[sql] for name, sql in TABLES[table]}


def _q(table: str) -> str:
    return f'"{RAW_SCHEMA}"."{table}"'


def _naive_utc(column: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone("UTC").dt.replace_time_zone(None).alias(column)


@dataclass
class LandingStats:
    """Counts per entity: rows landed (inserted or replaced), ids deleted, records quarantined."""

    landed: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantine_rows: Counter[str] = field(default_factory=Counter)  # new bad versions (rows written)
    batches: int = 0

    def metadata(self, *entities: str) -> dict[str, int]:
        """Dagster metadata for ``entities`` (counts only, never record contents)."""
        out: dict[str, int] = {"batches": self.batches}
        for entity in entities:
            out[f"{entity}_landed"] = self.landed[entity]
            out[f"{entity}_deleted"] = self.deleted[entity]
            out[f"{entity}_quarantined"] = self.quarantined[entity]
        return out


# ------------------------------------------------------------------------------------ backends


class _Backend:
    """The few statements landing needs, on one open connection inside one transaction."""

    # Set by the statements that change raw rows: the transaction then records that the measures' periods may all
    # have changed (mentalspace_platform/measure_window.py), as Warehouse.write_together does for other landings.
    wrote = False

    def noted(self, sql: str) -> str:
        if sql.lstrip().lower().startswith(("insert", "update", "delete", "create table")):
            self.wrote = True
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def delete_in(self, table: str, column: str, office_key: str, ids: Sequence[int]) -> None:
        raise NotImplementedError

    def insert(self, table: str, frame: pl.DataFrame) -> None:
        raise NotImplementedError

    def create_index(self, table: str, column: str) -> None:
        """Indexes for the delete-by-id statements (PostgreSQL only; DuckDB scans fast enough)."""


class _DuckDBBackend(_Backend):
    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(self.noted(sql).replace("%s", "?"), list(params))

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql.replace("%s", "?"), list(params)).fetchall()

    def delete_in(self, table: str, column: str, office_key: str, ids: Sequence[int]) -> None:
        if ids:
            self.wrote = True
            self.con.execute(
                f"delete from {_q(table)} where office_key = ? and {column} in (select unnest(?::bigint[]))",
                [office_key, [int(i) for i in ids]],
            )

    def insert(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.wrote = True
            self.con.register("_amd_landing", frame.to_arrow())
            try:
                self.con.execute(f"insert into {_q(table)} by name select * from _amd_landing")
            finally:
                self.con.unregister("_amd_landing")


class _PostgresBackend(_Backend):
    def __init__(self, con: Any) -> None:
        self.con = con
        self.cur = con.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cur.execute(self.noted(sql), list(params) or None)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(sql, list(params) or None)
        return self.cur.fetchall()

    def delete_in(self, table: str, column: str, office_key: str, ids: Sequence[int]) -> None:
        if ids:
            self.wrote = True
            self.cur.execute(
                f"delete from {_q(table)} where office_key = %s and {column} = any(%s::bigint[])",
                [office_key, [int(i) for i in ids]],
            )

    def insert(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.wrote = True
            names = ", ".join(f'"{n}"' for n in frame.columns)
            with self.cur.copy(f"copy {_q(table)} ({names}) from stdin") as copy:
                for row in frame.iter_rows():
                    copy.write_row(row)

    def create_index(self, table: str, column: str) -> None:
        self.cur.execute(
            f'create index if not exists "ix_{table}_{column}" on {_q(table)} (office_key, {column})'
        )


def _mark_if_written(db: _Backend, *, postgres: bool) -> None:
    if db.wrote:
        for sql, params in every_period_mark_statements(RAW_SCHEMA, postgres=postgres):
            db.execute(sql, params)


# ------------------------------------------------------------------------------------ the sink


def _validate_batch(records: list[Any], entity: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`ingest.advancedmd.schemas.validate_batch`, imported on first use rather than with this module: every process
    that loads the Dagster definitions imports this module and most never validate a record, while pandera (and the
    pandas it imports) cost ~0.5 CPU-s to import."""
    from ingest.advancedmd.schemas import validate_batch

    return validate_batch(records, entity=entity)


class WarehouseSink:
    """Lands AdvancedMD batches in ``raw_advancedmd`` (implements ``ingest.advancedmd.sync.Sink``).

    Used as a context manager it keeps one connection for all its batches (each batch still its own
    transaction); without one it connects per batch. Against the live API, where rate-limited calls
    sit between batches, per-batch connections keep DuckDB's write lock free while the sync waits.
    """

    def __init__(
        self, warehouse: Warehouse, *, run_id: str = "local", adult_age_years: int | None = None
    ) -> None:
        self.warehouse = warehouse
        self.run_id = run_id
        # MINOR_CONSENT.adult_age_years (operational_api.export.adult_age_years); None: minor flags land null.
        self.adult_age_years = adult_age_years
        self.stats = LandingStats()
        self._seq = itertools.count(1)
        self._ready = False
        self.tables_created = 0
        self._con: Any = None
        self._closer: contextlib.ExitStack | None = None

    def __enter__(self) -> WarehouseSink:
        self._closer = contextlib.ExitStack()
        opener = self.warehouse.duckdb() if self.warehouse.kind == "duckdb" else self.warehouse.postgres()
        self._con = self._closer.enter_context(opener)
        return self

    def __exit__(self, *exc: object) -> None:
        closer, self._closer, self._con = self._closer, None, None
        if closer is not None:
            closer.close()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._con is not None:
            yield self._con
        elif self.warehouse.kind == "duckdb":
            with self.warehouse.duckdb() as con:
                yield con
        else:
            with self.warehouse.postgres() as con:
                yield con

    @contextmanager
    def _transaction(self) -> Iterator[_Backend]:
        with self._connection() as con:
            if self.warehouse.kind == "duckdb":
                con.execute("begin")
                try:
                    db: _Backend = _DuckDBBackend(con)
                    if not self._ready:
                        self._ensure(db)
                    yield db
                    _mark_if_written(db, postgres=False)
                    con.execute("commit")
                except BaseException:
                    con.execute("rollback")
                    raise
            else:
                with con.transaction():
                    db = _PostgresBackend(con)
                    if not self._ready:
                        self._ensure(db)
                    yield db
                    _mark_if_written(db, postgres=True)

    def _ensure(self, db: _Backend) -> int:
        db.execute(f'create schema if not exists "{RAW_SCHEMA}"')
        existing = {
            row[0]
            for row in db.fetch(
                "select table_name from information_schema.tables where table_schema = %s", [RAW_SCHEMA]
            )
        }
        created = 0
        for table, columns in TABLES.items():
            if table not in existing:
                ddl = ", ".join(f'"{name}" {sql}' for name, sql in columns)
                db.execute(f"create table {_q(table)} ({ddl})")
                created += 1
        # Warehouses landed before quarantine rows carried a version get the column (older rows: null).
        db.execute(f"alter table {_q('quarantine')} add column if not exists record_version text")
        for name, sql in _VISIT_WORKFLOW:
            db.execute(f"alter table {_q('visits')} add column if not exists {name} {sql}")
        for table in TABLES:
            if table in ID_COLUMNS:
                db.create_index(table, ID_COLUMNS[table])
        db.create_index("charges", "visit_id")
        db.create_index("claims", "visit_id")
        self._ready = True
        self.tables_created = created
        return created

    def ensure_tables(self) -> int:
        """Create the schema and every raw table that does not exist yet; returns how many were created."""
        self._ready = False
        with self._transaction():
            pass
        return self.tables_created

    def row_count(self, entity: str, office_key: str) -> int:
        """Rows of one raw table for the office key (the non-empty check)."""
        with self._transaction() as db:
            return int(
                db.fetch(f"select count(*) from {_q(entity)} where office_key = %s", [office_key])[0][0]
            )

    def _batch(self) -> tuple[str, datetime]:
        self.stats.batches += 1
        return f"{self.run_id}/{next(self._seq):05d}", datetime.now(UTC).replace(tzinfo=None)

    # -------------------------------------------------------------- frames

    @staticmethod
    def _finish(
        table: str, frame: pl.DataFrame, office_key: str, batch_id: str, landed_at: datetime
    ) -> pl.DataFrame:
        frame = frame.with_columns(
            pl.lit(office_key).alias("office_key"),
            pl.lit(batch_id).alias("batch_id"),
            pl.lit(landed_at).alias("landed_at"),
        )
        schema = table_schema(table)
        return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])

    def _validated(
        self,
        entity: str,
        records: Sequence[Any],
        office_key: str,
        batch_id: str,
        landed_at: datetime,
        db: _Backend,
    ) -> pl.DataFrame:
        valid, rejected = _validate_batch(list(records), entity)
        if rejected.height:
            self.stats.quarantined[entity] += rejected.height
            id_col = ID_COLUMNS[entity]
            ids = [int(i) for i in rejected[id_col].to_list()]
            versions = [record_version(row) for row in rejected.drop("quarantine_reason").iter_rows()]
            seen = {
                (int(r[0]), r[1])
                for r in db.fetch(
                    f"select record_id, record_version from {_q('quarantine')} where office_key = %s"
                    f" and entity = %s and record_id in ({', '.join(str(i) for i in sorted(set(ids)))})",
                    [office_key, entity],
                )
            }
            keep = []
            for i, (rid, version) in enumerate(zip(ids, versions, strict=True)):
                if (rid, version) not in seen:
                    seen.add((rid, version))
                    keep.append(i)
            if keep:
                quarantine = pl.DataFrame(
                    {
                        "entity": [entity] * len(keep),
                        "record_id": [ids[i] for i in keep],
                        "reason": [rejected["quarantine_reason"][i] for i in keep],
                        "record_version": [versions[i] for i in keep],
                    },
                    schema={
                        "entity": pl.Utf8,
                        "record_id": pl.Int64,
                        "reason": pl.Utf8,
                        "record_version": pl.Utf8,
                    },
                )
                db.insert(
                    "quarantine", self._finish("quarantine", quarantine, office_key, batch_id, landed_at)
                )
                self.stats.quarantine_rows[entity] += len(keep)
        return valid

    @staticmethod
    def _patients_frame(valid: pl.DataFrame) -> pl.DataFrame:
        return valid.with_columns(
            pl.col("dob").is_not_null().alias("has_date_of_birth"),
            pl.col("address1").is_not_null().alias("has_address"),
            (pl.col("home_phone").is_not_null() | pl.col("office_phone").is_not_null()).alias("has_phone"),
            pl.col("email").is_not_null().alias("has_email"),
            _naive_utc("created_at"),
            _naive_utc("changed_at"),
        )

    @staticmethod
    def _insurance_frame(valid: pl.DataFrame) -> pl.DataFrame:
        return valid.with_columns(
            pl.col("subscriber_id").is_not_null().alias("has_subscriber_id"),
            pl.col("group_number").is_not_null().alias("has_group_number"),
        )

    def _minor_on(self, on: str) -> pl.Expr:
        """Whether the visit's patient (``patient_dob``) is a minor on the date column ``on``."""
        if self.adult_age_years is None:
            return pl.lit(None, dtype=pl.Boolean)
        return is_minor_on(pl.col("patient_dob"), pl.col(on), self.adult_age_years)

    def _visits_frame(self, valid: pl.DataFrame) -> pl.DataFrame:
        return valid.rename(
            {"start": "start_local", "arrive_time": "arrive_local", "seen_time": "seen_local"}
        ).with_columns(
            _naive_utc("created_at"),
            _naive_utc("modified_at"),
            _naive_utc("confirmed_at"),
            self._minor_on("visit_date").alias("client_is_minor_on_visit_date"),
        )

    def _rederive_minor_flags(self, db: _Backend, key: str, patients: pl.DataFrame) -> None:
        """The minor flag of the landed visits of these patients (``patient_id``, ``dob``), from their date of
        birth as it is now: a corrected date of birth reaches visits AdvancedMD does not report as changed."""
        if self.adult_age_years is None or not patients.height:
            return
        ids = [int(i) for i in patients["patient_id"].to_list()]
        rows = db.fetch(
            f"select visit_id, patient_id, visit_date from {_q('visits')} where office_key = %s"
            f" and patient_id in ({', '.join(str(i) for i in ids)})",
            [key],
        )
        if not rows:
            return
        visits = pl.DataFrame(
            rows, schema={"visit_id": pl.Int64, "patient_id": pl.Int64, "visit_date": pl.Date}, orient="row"
        )
        flags = visits.join(
            patients.select("patient_id", pl.col("dob").alias("patient_dob")), on="patient_id", how="left"
        ).select("visit_id", self._minor_on("visit_date").alias("is_minor"))
        db.execute(
            f"update {_q('visits')} as v set client_is_minor_on_visit_date = u.is_minor"
            " from (select unnest(%s::bigint[]) as visit_id, unnest(%s::boolean[]) as is_minor) as u"
            " where v.office_key = %s and v.visit_id = u.visit_id",
            [flags["visit_id"].to_list(), flags["is_minor"].to_list(), key],
        )

    @staticmethod
    def _charges_frame(valid: pl.DataFrame, visit_dates: dict[int, date]) -> pl.DataFrame:
        # A charge belongs to the partition of its visit's date of service (the visit rides in the
        # same answer); without it, the charge's own first date of service.
        dates = pl.DataFrame(
            {"visit_id": list(visit_dates), "visit_date": list(visit_dates.values())},
            schema={"visit_id": pl.Int64, "visit_date": pl.Date},
        )
        return valid.join(dates, on="visit_id", how="left").with_columns(
            pl.coalesce("visit_date", "begin_date_of_service").alias("visit_date"),
            _naive_utc("created_at"),
            _naive_utc("changed_at"),
        )

    # -------------------------------------------------------------- sync batches

    def land(self, batch: SyncBatch) -> None:
        """Land one sync batch atomically (upserts, deletions, quarantine)."""
        self.land_all([batch])

    def land_all(self, batches: Sequence[SyncBatch]) -> None:
        """Land several batches, in order, in one transaction (a fetched-first sync's whole window)."""
        with self._transaction() as db:
            for batch in batches:
                batch_id, landed_at = self._batch()
                key = batch.office_key
                if batch.patients or batch.deleted_patient_ids:
                    self._land_patients(
                        db, key, batch.patients, batch.deleted_patient_ids, batch_id, landed_at
                    )
                if batch.visits or batch.deleted_visit_ids or batch.charges or batch.deleted_charge_ids:
                    self._land_visits(db, key, batch, batch_id, landed_at)

    def _land_patients(
        self,
        db: _Backend,
        key: str,
        patients: Sequence[AmdPatient],
        deleted: Sequence[int],
        batch_id: str,
        landed_at: datetime,
    ) -> None:
        gone = [int(p) for p in deleted]
        db.delete_in("insurance", "patient_id", key, gone)
        db.delete_in("patients", "patient_id", key, gone)
        self.stats.deleted["patients"] += len(gone)
        valid = self._validated("patients", patients, key, batch_id, landed_at, db)
        ids = valid["patient_id"].to_list()
        db.delete_in("patients", "patient_id", key, ids)
        db.insert("patients", self._finish("patients", self._patients_frame(valid), key, batch_id, landed_at))
        self.stats.landed["patients"] += len(ids)
        self._rederive_minor_flags(db, key, valid)
        # Coverages arrive whole with their patient: the landed patient's set replaces the old one.
        landed = set(ids)
        coverages: list[AmdInsurance] = [i for p in patients if p.patient_id in landed for i in p.insurances]
        db.delete_in("insurance", "patient_id", key, ids)
        valid_cov = self._validated("insurance", coverages, key, batch_id, landed_at, db)
        db.delete_in("insurance", "insurance_id", key, valid_cov["insurance_id"].to_list())
        db.insert(
            "insurance", self._finish("insurance", self._insurance_frame(valid_cov), key, batch_id, landed_at)
        )
        self.stats.landed["insurance"] += valid_cov.height

    def _land_visits(
        self, db: _Backend, key: str, batch: SyncBatch, batch_id: str, landed_at: datetime
    ) -> None:
        gone = [int(v) for v in batch.deleted_visit_ids]
        db.delete_in("charges", "visit_id", key, gone)
        db.delete_in("visits", "visit_id", key, gone)
        self.stats.deleted["visits"] += len(gone)
        self._upsert_visits(db, key, batch.visits, batch.charges, batch_id, landed_at)
        db.delete_in("charges", "charge_id", key, [int(c) for c in batch.deleted_charge_ids])
        self.stats.deleted["charges"] += len(batch.deleted_charge_ids)

    def _upsert_visits(
        self,
        db: _Backend,
        key: str,
        visits: Sequence[AmdVisit],
        charges: Sequence[AmdCharge],
        batch_id: str,
        landed_at: datetime,
    ) -> None:
        valid = self._validated("visits", visits, key, batch_id, landed_at, db)
        db.delete_in("visits", "visit_id", key, valid["visit_id"].to_list())
        db.insert("visits", self._finish("visits", self._visits_frame(valid), key, batch_id, landed_at))
        self.stats.landed["visits"] += valid.height
        valid_charges = self._validated("charges", charges, key, batch_id, landed_at, db)
        dates = {v.visit_id: v.visit_date for v in visits if v.visit_date is not None}
        db.delete_in("charges", "charge_id", key, valid_charges["charge_id"].to_list())
        db.insert(
            "charges",
            self._finish("charges", self._charges_frame(valid_charges, dates), key, batch_id, landed_at),
        )
        self.stats.landed["charges"] += valid_charges.height

    # -------------------------------------------------------------- daily partitions

    def replace_visit_day(
        self, office_key: str, day: date, visits: Sequence[AmdVisit], charges: Sequence[AmdCharge]
    ) -> None:
        """Replace one date of service: the day's visits (in the statuses getdatevisits answers) and
        their charges are deleted, then the day's answer is inserted, in one transaction."""
        batch_id, landed_at = self._batch()
        statuses = ", ".join(str(s) for s in DATEVISITS_STATUSES)
        with self._transaction() as db:
            old = [
                int(r[0])
                for r in db.fetch(
                    f"select visit_id from {_q('visits')} where office_key = %s and visit_date = %s"
                    f" and appt_status in ({statuses})",
                    [office_key, day],
                )
            ]
            # A visit whose new version is rejected keeps its landed version (it goes to quarantine).
            _, rejected = _validate_batch(list(visits), "visits")
            kept = set(rejected["visit_id"].to_list())
            replaced = sorted((set(old) | {v.visit_id for v in visits}) - kept)
            db.delete_in("charges", "visit_id", office_key, replaced)
            db.delete_in("visits", "visit_id", office_key, replaced)
            self.stats.deleted["visits"] += len(set(old) - {v.visit_id for v in visits})
            self._upsert_visits(db, office_key, visits, charges, batch_id, landed_at)

    # -------------------------------------------------------------- payments and write-offs

    def replace_transactions(
        self, office_key: str, patient_ids: Sequence[int], transactions: Iterable[AmdTransaction]
    ) -> None:
        """Replace the payments and write-offs of the patients read (their whole gettxhistory), in one
        transaction: one voided or removed in AdvancedMD disappears, a rejected one goes to quarantine."""
        batch_id, landed_at = self._batch()
        records = list(transactions)
        with self._transaction() as db:
            db.delete_in("transactions", "patient_id", office_key, [int(p) for p in patient_ids])
            valid = self._validated("transactions", records, office_key, batch_id, landed_at, db)
            db.insert("transactions", self._finish("transactions", valid, office_key, batch_id, landed_at))
            self.stats.landed["transactions"] += valid.height

    # -------------------------------------------------------------- claim status

    def replace_claim_statuses(
        self, office_key: str, visit_ids: Sequence[int], statuses: Iterable[AmdClaimStatus]
    ) -> None:
        """Replace the claims of the visits read (each visit's whole answer), in one transaction: a claim the
        277 no longer lists disappears, a rejected one goes to quarantine."""
        batch_id, landed_at = self._batch()
        records = list(statuses)
        with self._transaction() as db:
            db.delete_in("claims", "visit_id", office_key, [int(v) for v in visit_ids])
            valid = self._validated("claims", records, office_key, batch_id, landed_at, db)
            frame = valid.with_columns(_naive_utc("verified_at"))
            db.insert("claims", self._finish("claims", frame, office_key, batch_id, landed_at))
            self.stats.landed["claims"] += valid.height

    # -------------------------------------------------------------- eligibility

    def land_eligibility(self, office_key: str, results: Iterable[EligibilityResult]) -> None:
        """Upsert eligibility answers by eligibility id (each check is its own row)."""
        batch_id, landed_at = self._batch()
        records = list(results)
        with self._transaction() as db:
            valid = self._validated("eligibility", records, office_key, batch_id, landed_at, db)
            db.delete_in("eligibility", "eligibility_id", office_key, valid["eligibility_id"].to_list())
            frame = valid.rename({"eligible": "is_eligible"}).with_columns(_naive_utc("checked_at"))
            db.insert("eligibility", self._finish("eligibility", frame, office_key, batch_id, landed_at))
            self.stats.landed["eligibility"] += valid.height


__all__ = [
    "DATEVISITS_STATUSES",
    "ENTITIES",
    "ID_COLUMNS",
    "RAW_SCHEMA",
    "TABLES",
    "LandingStats",
    "WarehouseSink",
    "table_schema",
]
