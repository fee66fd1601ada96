"""What the warehouse may see of the operational store: each table minus its PHI, as polars frames.

Minimum necessary: names, dates of birth, contact details, addresses, member ids and note text stay
in the store. Instead the warehouse gets what the metrics need: completeness flags, a display name of
first name plus last initial for the clinician's own "clients who haven't rebooked" list, and, in
place of the date of birth, facts computed from it here so that no date derived from it leaves:
whether the client was a minor (under MINOR_CONSENT.adult_age_years) on each appointment's
practice-local date, and an age band as of the export date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Engine,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    case,
    cast,
    create_engine,
    func,
    null,
    select,
)
from sqlalchemy.pool import NullPool

from operational_api.errors import PlatformError
from operational_api.models import PHI_COLUMNS, Base, ComplianceRule
from operational_api.settings import practice_timezone

# Tables the warehouse does not need at all (ingest bookkeeping). A model keeps itself out of the warehouse
# with `__table_args__ = (..., {"info": {"warehouse": False}})` (credentials, the audit log, outboxes): the
# default is to export, so a secret must opt out where it is declared.
NOT_EXPORTED = {
    "alembic_version",
    "ingest_watermarks",
    "advancedmd_rate_limits",
    "advancedmd_charge_submissions",
    "advancedmd_demographic_sync",
    # Rendered messages are delivery records, not facts to measure.
    "notification_outbox",
    "notification_preferences",
    # Per-user report definitions and subscriptions: settings, not facts.
    "saved_reports",
    "report_subscriptions",
}

_POLARS_TYPES = {
    Integer: pl.Int64,
    SmallInteger: pl.Int64,
    String: pl.Utf8,
    Text: pl.Utf8,
    Boolean: pl.Boolean,
    Date: pl.Date,
    DateTime: pl.Datetime("us"),
    Time: pl.Time,
    Numeric: pl.Float64,
}


def exported_tables() -> list[Table]:
    """The store's tables in foreign-key order, as copied into `raw_operational`."""
    return [
        t for t in Base.metadata.sorted_tables if t.name not in NOT_EXPORTED and t.info.get("warehouse", True)
    ]


def _polars_type(column) -> pl.DataType:
    for sa_type, pl_type in _POLARS_TYPES.items():
        if isinstance(column.type, sa_type):
            return pl_type
    return pl.Utf8  # JSON and anything exotic travel as text


def _present(column) -> object:
    """1 when a demographic field holds something other than blanks, else 0."""
    return (func.coalesce(func.length(func.trim(column)), 0) > 0).label(f"has_{column.name}")


# Portal accounts are clients: their names and e-mails are PHI, a staff member's are not.
CLIENT_USER_COLUMNS = ("first_name", "last_name", "email")


def export_select(table: Table):
    """The SELECT that reads one table for the warehouse, without PHI."""
    dropped = set(PHI_COLUMNS.get(table.name, ()))
    columns = [c for c in table.columns if c.name not in dropped]
    # JSON travels as its text: the warehouse reads it with its own JSON functions if it needs to.
    columns = [cast(c, String).label(c.name) if isinstance(c.type, JSON) else c for c in columns]
    if table.name == "users":
        columns = [
            case((table.c.role == "CLIENT", null()), else_=c).label(c.name)
            if c.name in CLIENT_USER_COLUMNS
            else c
            for c in columns
        ]
    extra: list = []
    if table.name == "clients":
        c = table.c
        extra = [
            c.first_name.label("_first_name"),
            func.substr(c.last_name, 1, 1).label("_last_initial"),
            (c.date_of_birth.isnot(None)).label("has_date_of_birth"),
            _present(c.phone),
            _present(c.address),
            _present(c.city),
            _present(c.zip_code),
            # ZIP3 only (a HIPAA Safe Harbor element), for the demographics report's counts.
            func.substr(func.trim(c.zip_code), 1, 3).label("zip3"),
            (func.coalesce(func.length(func.trim(c.emergency_contact_name)), 0) > 0).label(
                "has_emergency_contact"
            ),
            c.date_of_birth.label("_dob"),
        ]
    elif table.name == "appointments":
        clients = Base.metadata.tables["clients"]
        extra = [
            select(clients.c.date_of_birth)
            .where(clients.c.id == table.c.client_id)
            .scalar_subquery()
            .label("_dob")
        ]
    elif table.name == "insurance_policies":
        extra = [(func.coalesce(func.length(func.trim(table.c.member_id)), 0) > 0).label("has_member_id")]
    return select(*columns, *extra)


# An exported table whose rows carry a value derived from another table's row (appointments: whether the client was
# a minor, from the client's date of birth): a change to that row changes these rows' export too.
DERIVED_FROM = {"appointments": ("clients", "client_id")}


def export_today(timezone: str | None = None, today: dt.date | None = None) -> dt.date:
    """The date client age bands are taken on: `today` if pinned, else today in `timezone` (the practice's)."""
    return today or dt.datetime.now(ZoneInfo(timezone or practice_timezone())).date()


def export_fingerprint(
    engine: Engine, table: Table, *, timezone: str | None = None, today: dt.date | None = None
) -> str:
    """A digest of everything besides a row's own values (and DERIVED_FROM's) that the table's exported rows
    depend on: its exported columns and types, and where it uses them the date age bands are taken on, the time
    zone appointment dates are cut in and the adult age. Rows exported under another fingerprint may differ
    from today's export of the same store row, so they cannot be kept."""
    context: dict[str, object] = {
        "columns": [[c.name, repr(c.type)] for c in export_select(table).selected_columns]
    }
    if table.name == "clients":
        context["today"] = export_today(timezone, today).isoformat()
        context["age_bands"] = AGE_BANDS
    if table.name == "appointments":
        context["timezone"] = timezone or practice_timezone()
        context["adult_age_years"] = adult_age_years(engine, "fingerprint table appointments")
    return hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()[:16]


def read_columns(
    engine: Engine, table: Table, names: Sequence[str], where: ColumnElement[bool] | None = None
) -> pl.DataFrame:
    """Some non-PHI columns of every row of `table` (keys and change times), or of the rows `where` picks, typed
    as `read_table` types them, so they compare equal with the landed rows' values."""
    if _on_disk_sqlite(engine) and not engine.get_execution_options().get(_SNAPSHOT_OPTION):
        with store_snapshot(engine) as snapshot:
            return read_columns(snapshot, table, names, where)
    stmt = select(*(table.c[name] for name in names))
    if where is not None:
        stmt = stmt.where(where)
    schema = {name: _polars_type(table.c[name]) for name in names}
    batches = (
        _read_sqlite(engine, stmt, schema, table.name, 1_000_000)
        if _on_disk_sqlite(engine)
        else _read_rows(engine, stmt, schema, 200_000)
    )
    return pl.concat([*batches, pl.DataFrame(schema=schema)], how="vertical")


def read_table(
    engine: Engine,
    table: Table,
    batch_rows: int = 200_000,
    *,
    timezone: str | None = None,
    today: dt.date | None = None,
    ids: Sequence[int] | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the exported rows of `table` in batches with a schema fixed by the model, so an empty
    or all-NULL column still has the right type in the warehouse.

    `timezone` (default: the practice's) cuts appointment dates; `today` (default: today there) is the
    date client age bands are taken on. `ids`: only the rows with these primary keys."""
    if _on_disk_sqlite(engine) and not engine.get_execution_options().get(_SNAPSHOT_OPTION):
        # One table alone: a snapshot of its own (several tables: take one with store_snapshot and pass it).
        with store_snapshot(engine) as snapshot:
            yield from read_table(snapshot, table, batch_rows, timezone=timezone, today=today, ids=ids)
        return
    tz = timezone or practice_timezone()
    finish = _Finisher(
        table.name,
        tz,
        export_today(tz, today),
        adult_age_years(engine, "export table appointments") if table.name == "appointments" else None,
    )
    stmt = export_select(table)
    if ids is not None:
        stmt = stmt.where(table.c.id.in_(list(ids)))
    schema: dict[str, pl.DataType] = {}
    for col in stmt.selected_columns:
        if col.name.startswith("has_"):
            schema[col.name] = pl.Boolean
        elif col.name in ("_first_name", "_last_initial", "zip3"):
            schema[col.name] = pl.Utf8
        elif col.name == "_dob":
            schema[col.name] = pl.Date
        else:
            schema[col.name] = _polars_type(table.c[col.name])
    batches = (
        _read_sqlite(engine, stmt, schema, table.name, batch_rows)
        if _on_disk_sqlite(engine)
        else _read_rows(engine, stmt, schema, batch_rows)
    )
    emitted = False
    for frame in batches:
        emitted = True
        yield finish(frame)
    if not emitted:
        yield finish(pl.DataFrame(schema=schema))


_SNAPSHOT_OPTION = "mentalspace_store_snapshot"


def _on_disk_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


@contextmanager
def store_snapshot(engine: Engine) -> Iterator[Engine]:
    """An embedded store as one point in time, in a private file, for reading several tables.

    Two reasons. The tables land consistent with each other (a payment posted between reading charges and
    payments cannot land half). And the fast reader, ADBC, links its own copy of SQLite: two SQLite libraries
    in one process must never share a database file. POSIX locks are per process, so the ADBC connection that
    closes last believes it is the store's only user, checkpoints and deletes the WAL and its shared-memory
    index under this process's other connections, whose next write then fails with "disk I/O error". The
    snapshot is taken through Python's own SQLite (the backup API: consistent, and safe beside every other
    connection to the store) and switched out of WAL mode, so nothing shares it and nothing is deleted.

    Other stores (PostgreSQL, in-memory SQLite) are read as they are."""
    if not _on_disk_sqlite(engine) or engine.get_execution_options().get(_SNAPSHOT_OPTION):
        yield engine
        return
    store = Path(engine.url.database)
    # Beside the store, not in /tmp: the same disk the store fits on, and removed whatever happens.
    with tempfile.TemporaryDirectory(dir=store.parent, prefix=".export-snapshot-") as folder:
        copy = Path(folder) / store.name
        with closing(sqlite3.connect(store, timeout=60)) as source, closing(sqlite3.connect(copy)) as target:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        snapshot = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
        try:
            yield snapshot.execution_options(**{_SNAPSHOT_OPTION: True})
        finally:
            snapshot.dispose()


def _read_rows(
    engine: Engine, stmt, schema: dict[str, pl.DataType], batch_rows: int
) -> Iterator[pl.DataFrame]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(stmt)
        for chunk in result.partitions(batch_rows):
            yield pl.DataFrame(
                [tuple(r) for r in chunk], schema=list(schema.items()), orient="row", strict=False
            )


# How SQLite holds each type as SQLAlchemy writes it: times as ISO text, booleans as 0/1.
_SQLITE_TEXT_FORMATS = {pl.Datetime: "%Y-%m-%d %H:%M:%S%.f", pl.Date: "%Y-%m-%d", pl.Time: "%H:%M:%S%.f"}
# ADBC's SQLite driver types each column from its first batch, so a batch must be large enough that a
# column NULL in its first rows still meets its values; larger tables continue in batches of this size.
_ADBC_BATCH_ROWS = 1_000_000


def _read_sqlite(
    engine: Engine, stmt, schema: dict[str, pl.DataType], table_name: str, batch_rows: int
) -> Iterator[pl.DataFrame]:
    """SQLite rows as Arrow batches through ADBC, converted column by column in polars.

    Row-at-a-time reading (the driver's tuples, then SQLAlchemy parsing every timestamp in Python)
    was most of the landing time on a large practice; ADBC reads 5x faster and polars parses the
    timestamp text vectorised. Strict throughout: a value that does not fit its column's type stops
    the landing instead of becoming NULL. Should ADBC meet a column whose storage class changes
    after its first batch, the table is read row by row instead."""
    import adbc_driver_sqlite.dbapi as adbc

    conversions = [
        pl.col(name).cast(pl.Utf8).str.strptime(dtype, _SQLITE_TEXT_FORMATS[dtype.base_type()], strict=True)
        if dtype.base_type() in _SQLITE_TEXT_FORMATS
        else pl.col(name).cast(dtype, strict=True)
        for name, dtype in schema.items()
    ]
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    batches = []
    try:
        with adbc.connect(engine.url.database) as con, con.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ADBC_BATCH_ROWS)})
            cursor.execute(sql)
            batches = list(cursor.fetch_record_batch())
    except (adbc.Error, OSError) as exc:  # the driver raises a mid-stream mismatch as OSError
        if "Type mismatch" not in str(exc):
            # Driver errors (locked or missing database, bad SQL) carry no row values.
            raise PlatformError(
                f"cannot export table {table_name}: {str(exc).strip().splitlines()[0][:200]}"
            ) from None
        yield from _read_rows(engine, stmt, schema, batch_rows)
        return
    for batch in batches:
        try:
            yield pl.from_arrow(batch).with_columns(conversions)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            # Polars quotes the offending value, which may be PHI: name the table and the error type only.
            raise PlatformError(
                f"cannot export table {table_name}: a stored value does not match its column type "
                f"({type(exc).__name__})"
            ) from None


def adult_age_years(engine: Engine, purpose: str) -> int:
    """MINOR_CONSENT.adult_age_years from the store's rules (read as the warehouse's rule_value reads it);
    `purpose` names what needed it in the error when the rule is not set."""
    rules = ComplianceRule.__table__
    with engine.connect() as conn:
        value = conn.scalar(
            select(func.max(rules.c.value)).where(
                rules.c.rule_type == "MINOR_CONSENT",
                rules.c.parameter == "adult_age_years",
                rules.c.is_active,
            )
        )
    if value is None:
        raise PlatformError(
            f"cannot {purpose}: compliance rule MINOR_CONSENT.adult_age_years is not set (no active row)"
        )
    return int(value)


def _age_on(dob: pl.Expr, on: pl.Expr) -> pl.Expr:
    """Whole years from `dob` to `on`: the birthday counts from its own day, so someone born on
    29 February has their birthday on 1 March in other years (as Client.is_minor_on in the store)."""
    before_birthday = (on.dt.month() < dob.dt.month()) | (
        (on.dt.month() == dob.dt.month()) & (on.dt.day() < dob.dt.day())
    )
    return on.dt.year().cast(pl.Int32) - dob.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def is_minor_on(dob: pl.Expr, on: pl.Expr, adult_age_years: int) -> pl.Expr:
    """Whether someone born on `dob` is a minor on `on` (null when either is unknown): the one rule for the
    store's appointments and AdvancedMD's visits, so the warehouse gets a flag and never the date of birth.
    On the 18th birthday itself they are an adult."""
    return _age_on(dob, on) < adult_age_years


# Upper bound (exclusive) of each age band's years; a band the warehouse may group by without learning a date.
AGE_BANDS = ((13, "0-12"), (18, "13-17"), (26, "18-25"), (65, "26-64"))


def _age_band(age: pl.Expr) -> pl.Expr:
    band = pl.when(age.is_null()).then(pl.lit("unknown"))
    for upper, label in AGE_BANDS:
        band = band.when(age < upper).then(pl.lit(label))
    return band.otherwise(pl.lit("65+"))


class _Finisher:
    """Replaces the hidden date of birth (`_dob`) of one table's batches with what the warehouse may see."""

    def __init__(self, table_name: str, timezone: str, today: dt.date, adult_age_years: int | None) -> None:
        self.table_name = table_name
        self.timezone = timezone
        self.today = today
        self.adult_age_years = adult_age_years

    def __call__(self, frame: pl.DataFrame) -> pl.DataFrame:
        dob = pl.col("_dob")
        if self.table_name == "appointments":
            # The appointment's practice-local date, as the warehouse cuts appointment_date.
            local_date = (
                pl.col("start_at").dt.replace_time_zone("UTC").dt.convert_time_zone(self.timezone).dt.date()
            )
            # Null when the date of birth is unknown: the warehouse decides what that counts as.
            return frame.with_columns(
                is_minor_on_date=is_minor_on(dob, local_date, self.adult_age_years)
            ).drop("_dob")
        if self.table_name != "clients":
            return frame
        display_name = pl.concat_str(pl.col("_first_name"), pl.lit(" "), pl.col("_last_initial"), pl.lit("."))
        return frame.with_columns(
            age_band=_age_band(_age_on(dob, pl.lit(self.today, dtype=pl.Date))), display_name=display_name
        ).drop("_dob", "_first_name", "_last_initial")
