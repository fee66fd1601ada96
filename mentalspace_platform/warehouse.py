"""Writing to and reading from the warehouse: a DuckDB file locally, PostgreSQL in production.

Landing is replace-by-table or replace-by-partition, always inside one transaction, so a re-run
lands the same rows and a failed run leaves the previous ones in place.

A DuckDB build (`staged_build`) writes a copy of the file and swaps it in whole when it succeeded: DuckDB lets
no process write a file another one has open, so building in place failed whenever a dashboard was reading,
and readers saw every model half-replaced. Every writer builds this way: `mentalspace build`, and every Dagster
run (orchestration/lib/resources.py, WarehouseResource: a whole refresh in one copy swapped by its last step,
any other run one copy per step). `<file>.lock` lets one build at a time run, from its copy to its swap, so
none loses another's rows.
"""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import psycopg

from mentalspace_platform.environment import Environment, warehouse_pg_options
from operational_api.errors import PlatformError

_PG_TYPES = {
    pl.Int8: "smallint",
    pl.Int16: "smallint",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.Float32: "real",
    pl.Float64: "double precision",
    pl.Boolean: "boolean",
    pl.Utf8: "text",
    pl.Date: "date",
    pl.Time: "time",
}


def _pg_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.Decimal):
        return f"numeric({dtype.precision or 18},{dtype.scale or 2})"
    return _PG_TYPES.get(dtype.base_type(), "text")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# How long a writer waits for another one (a whole build takes about a minute on the demo practice).
WRITER_WAIT_SECONDS = 15 * 60


# Lock files this process holds -> [descriptor, depth]. The lock is per process: DuckDB shares one database
# instance between the connections of a process, so nested writers in it (a landing sink that also creates a
# table) take it again instead of waiting for themselves.
_HELD: dict[str, list[int]] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def writer_lock(path: Path, wait_seconds: float = WRITER_WAIT_SECONDS) -> Iterator[None]:
    """The one-writing-process-at-a-time lock of the DuckDB file `path` (an flock: released if the process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = f"{path.resolve()}.lock"
    with _HELD_GUARD:
        held = _HELD.get(name)
        if held:
            held[1] += 1
    if not held:
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise PlatformError(
                        f"another build or landing has been writing {path.name} for over "
                        f"{wait_seconds / 60:.0f} minutes; try again when it has finished"
                    ) from None
                time.sleep(0.2)
        with _HELD_GUARD:
            _HELD[name] = [fd, 1]
    try:
        yield
    finally:
        with _HELD_GUARD:
            entry = _HELD[name]
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[name]
                os.close(entry[0])  # closing the descriptor releases the lock


# Live file -> the copy this process is building it in (see staged_build).
_STAGED: dict[Path, Path] = {}
# Live file -> the build of it this process is running (its environment to restore, whether it was swapped).
_BUILDS: dict[Path, _Build] = {}


@dataclasses.dataclass
class _Build:
    live: Path
    staging: Path
    saved_env: dict[str, str | None]
    swap_on_exit: bool
    swapped: bool = False


class SwapError(PlatformError):
    """The finished copy could not replace the live file: the previous warehouse is still the one in use."""


def staging_path(live: Path) -> Path:
    """Where every build of the DuckDB file `live` writes its copy (and so the path dbt's profile sees)."""
    # Same folder, so the swap is a rename within one file system. One name for every build (the lock allows
    # one at a time): dbt re-parses the whole project whenever its profile's path changes.
    return live.with_name(f".{live.name}.building")


def _remove_database(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        leftover.unlink(missing_ok=True)


def is_staged(env: Environment) -> bool:
    """Whether this process already writes `env`'s warehouse into a copy (a build is running around it)."""
    return env.warehouse_kind == "duckdb" and (
        env.duckdb_path in _STAGED.values() or env.duckdb_path in _STAGED
    )


@contextmanager
def staged_build(env: Environment, *, swap_on_exit: bool = True) -> Iterator[Environment]:
    """Build a DuckDB warehouse into a copy of its file and swap the copy in atomically on success.

    Inside the block this process (landing, dbt, the alert sync: everything that calls
    `current_environment()` or reads MENTALSPACE_DUCKDB_PATH) sees the copy; readers keep the previous
    complete warehouse until `os.replace` hands them the new one, and a failed build leaves the previous
    one untouched. PostgreSQL builds in place (its transactions already keep readers consistent).

    With `swap_on_exit=False` the block's end swaps nothing: the build is swapped by `swap_pending_build()`
    (a Dagster run's last step, so that a failed swap fails the run) and discarded if that never happened.
    """
    if env.warehouse_kind != "duckdb" or is_staged(env):
        yield env  # PostgreSQL, or already inside this process's build (a Dagster run under the CLI's)
        return
    live = env.duckdb_path
    staging = staging_path(live)
    with writer_lock(live):
        _remove_database(staging)  # every build holds the lock: a copy left here is from one that died
        if live.exists():
            # A read-only connection held during the copy keeps out any writer that does not take our lock,
            # so the copy is never torn. A WAL beside the file (a writer that died) is copied too and replayed
            # into the copy when the build first opens it.
            with _no_writer(live):
                _copy(live, staging)
                if Path(f"{live}.wal").exists():
                    _copy(Path(f"{live}.wal"), Path(f"{staging}.wal"))
        build = _Build(
            live,
            staging,
            {name: os.environ.get(name) for name in ("MENTALSPACE_WAREHOUSE_URL", "MENTALSPACE_DUCKDB_PATH")},
            swap_on_exit,
        )
        os.environ["MENTALSPACE_WAREHOUSE_URL"] = f"duckdb:///{staging}"
        os.environ["MENTALSPACE_DUCKDB_PATH"] = str(staging)
        _STAGED[live] = staging
        _BUILDS[live] = build
        try:
            yield dataclasses.replace(env, warehouse_url=f"duckdb:///{staging}")
            if swap_on_exit and not build.swapped:
                _swap(build)
        finally:
            if not build.swapped:
                _remove_database(staging)
            _end(build)


def swap_pending_build() -> bool:
    """Swap in now the build this process entered with `swap_on_exit=False`; False when there is none
    (PostgreSQL, a build that swaps at its own end such as `mentalspace build`'s, or no build at all).

    Raises SwapError, one line naming the file and the reason, when the copy cannot replace the live file;
    the live file is then the previous warehouse and the copy is removed when the build's block ends."""
    pending = [b for b in _BUILDS.values() if not b.swap_on_exit and not b.swapped]
    for build in pending:
        _swap(build)
        # Whatever runs after the swap in this process reads the live (new) file.
        _end(build)
    return bool(pending)


def _swap(build: _Build) -> None:
    try:
        # Fold any WAL into the file, so the swapped-in file is complete on its own.
        con = duckdb.connect(str(build.staging))
        con.execute("checkpoint")
        con.close()
        with open(build.staging, "rb+") as handle:
            os.fsync(handle.fileno())
        Path(f"{build.live}.wal").unlink(missing_ok=True)  # the previous file's, never the new one's
        os.replace(build.staging, build.live)
    except (OSError, duckdb.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise SwapError(
            f"the rebuilt warehouse could not replace {build.live} ({reason}); "
            "the previous warehouse is still the one in use and this build's copy is discarded"
        ) from None
    build.swapped = True


def _end(build: _Build) -> None:
    if _BUILDS.get(build.live) is not build:
        return
    del _BUILDS[build.live]
    _STAGED.pop(build.live, None)
    for name, value in build.saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def _no_writer(path: Path, wait_seconds: float = WRITER_WAIT_SECONDS) -> Iterator[None]:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise PlatformError(
                    f"another process has been writing {path.name} for over "
                    f"{wait_seconds / 60:.0f} minutes; try again when it has finished"
                ) from None
            time.sleep(0.5)
    try:
        yield
    finally:
        con.close()


def _copy(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        size, offset = os.fstat(src.fileno()).st_size, 0
        while offset < size:  # one sendfile moves at most ~2 GB
            offset += os.sendfile(dst.fileno(), src.fileno(), offset, size - offset)


class Warehouse:
    """A handle on the warehouse of one environment."""

    def __init__(self, env: Environment, *, live_writes: bool = True) -> None:
        self.env = env
        self.kind = env.warehouse_kind
        # False for Dagster's assets (WarehouseResource): they write inside a staged build, never the live file.
        self.live_writes = live_writes
        self._held: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def held_open(self, *, read_only: bool = False) -> Iterator[None]:
        """Keep one DuckDB connection open for several writes: opening the file costs ~40 ms, so landing
        thirty tables through one connection saves over a second per build. ``read_only``: for several reads,
        beside other readers and without the writer's lock (a write through it fails)."""
        if self.kind != "duckdb" or self._held is not None:
            yield
            return
        with self.duckdb(read_only=read_only) as con:
            self._held = con
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def duckdb(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is not None and not read_only:
            yield self._held
            return
        path = self.env.duckdb_path
        # During a staged build this process reads and writes its copy, even through a Warehouse made before.
        path = _STAGED.get(path, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if read_only or path in _STAGED.values():
            # Readers never wait; a staged build's copy is this process's alone.
            con = duckdb.connect(str(path), read_only=read_only)
            try:
                yield con
            finally:
                con.close()
            return
        if not self.live_writes:
            raise PlatformError(
                f"a Dagster step wrote {path.name} outside a staged build: "
                "write inside WarehouseResource.writing() (orchestration/lib/resources.py)"
            )
        with writer_lock(path):
            con = duckdb.connect(str(path))
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def postgres(self) -> Iterator[psycopg.Connection]:
        url = self.env.warehouse_url.replace("postgresql+psycopg://", "postgresql://")
        try:
            con = psycopg.connect(url, connect_timeout=5, options=warehouse_pg_options())
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
            raise PlatformError(f"cannot reach the warehouse: {reason}") from None
        try:
            yield con
        finally:
            con.close()

    def replace_table(self, schema: str, table: str, batches: Iterable[pl.DataFrame]) -> int:
        """Swap in a new copy of `schema.table` atomically; returns the row count."""
        return self.write_together([TableWrite(schema, table, batches)])[0]

    def replace_partition(
        self, schema: str, table: str, column: str, value: object, batches: Iterable[pl.DataFrame]
    ) -> int:
        """Delete the rows where `column = value` and insert the new ones, in one transaction."""
        return self.write_together([TableWrite(schema, table, batches, partition=(column, value))])[0]

    def write_together(self, writes: Sequence[TableWrite]) -> list[int]:
        """Apply several table writes in one transaction (all or none); returns each one's rows inserted.

        Writes of raw data (`raw_*` schemas) that do not record what they touch in the measures' periods (the
        operational landing does, mentalspace_platform/measure_window.py) record, in the same transaction, that
        they may touch every period: the next build of the measures then recomputes them all."""
        asked = len(writes)
        writes = _with_unkeyed_changes(_with_undated_marks(writes))
        counts = []
        if self.kind == "duckdb":
            with self.duckdb() as con:
                con.execute("begin")
                try:
                    for write in writes:
                        counts.append(_write_duckdb(con, write))
                    con.execute("commit")
                except BaseException:
                    con.execute("rollback")
                    raise
            return counts[:asked]
        with self.postgres() as con, con.transaction():
            cur = con.cursor()
            for schema in dict.fromkeys(w.schema for w in writes):
                # Writers of one schema take turns (until commit): PostgreSQL's "create ... if not exists" is not
                # safe against itself, so concurrent runs landing into a new schema or table (ten ERA files at
                # once) failed on a duplicate catalog key; the rows themselves are short to write.
                cur.execute(*schema_lock_sql(schema))
                cur.execute(f"create schema if not exists {_quote(schema)}")
            for write in writes:
                counts.append(_write_postgres(cur, write))
        return counts[:asked]

    def has_table(self, schema: str, table: str) -> bool:
        """Whether `schema.table` exists (a table or a view), read as `query` reads."""
        return bool(
            self.query(
                "select count(*) as n from information_schema.tables "
                f"where table_schema = '{schema}' and table_name = '{table}'"
            )["n"][0]
        )

    def is_empty(self, schema: str, table: str) -> bool:
        """Whether `schema.table` exists and holds no row."""
        if not self.has_table(schema, table):
            return False
        return (
            self.query(f"select count(*) as n from (select 1 from {schema}.{table} limit 1) as one")["n"][0]
            == 0
        )

    def ensure_table(self, schema: str, table: str, empty: pl.DataFrame) -> int:
        """Create `schema.table` with the frame's columns if it does not exist; 1 if it was created."""
        sql = "select count(*) from information_schema.tables where table_schema = {0} and table_name = {0}"
        if self.kind == "duckdb":
            with self.duckdb() as con:
                exists = con.execute(sql.format("?"), [schema, table]).fetchone()[0]
        else:
            with self.postgres() as con:
                exists = con.execute(sql.format("%s"), [schema, table]).fetchone()[0]
        if exists:
            return 0
        self.replace_partition(schema, table, empty.columns[0], None, [empty])
        return 1

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        """Run a read query and return a polars frame."""
        if self.kind == "duckdb":
            # Inside held_open, through the held connection: DuckDB refuses a second, read-only one in-process.
            with self.duckdb(read_only=self._held is None) as con:
                return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
        with self.postgres() as con:
            cur = con.cursor()
            cur.execute(sql, params or None)
            names = [d.name for d in cur.description or []]
            return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)


def schema_lock_sql(schema: str) -> tuple[str, list[str]]:
    """PostgreSQL: the transaction lock writers of one schema take before creating anything in it."""
    return "select pg_advisory_xact_lock(hashtext(%s))", [f"mentalspace warehouse schema {schema}"]


def _with_undated_marks(writes: Sequence[TableWrite]) -> list[TableWrite]:
    from mentalspace_platform.measure_window import MARKS_TABLE, STATE_SCHEMA, every_period_marks

    if any((w.schema, w.table) == (STATE_SCHEMA, MARKS_TABLE) for w in writes):
        return list(writes)
    raw = [w.schema for w in writes if w.schema.startswith("raw_")]
    if not raw:
        return list(writes)
    marks = every_period_marks(raw)
    # One write per mark (keyed by its id), so no two writers ever replace each other's marks.
    return [
        *writes,
        *(
            TableWrite(
                STATE_SCHEMA, MARKS_TABLE, [marks.slice(i, 1)], partition=("mark_id", marks["mark_id"][i])
            )
            for i in range(marks.height)
        ),
    ]


def _with_unkeyed_changes(writes: list[TableWrite]) -> list[TableWrite]:
    """Writes into the landed store that do not list their keys (the operational landing does) record that the
    facts rebuilt by key cannot trust the list (mentalspace_platform/fact_keys.py)."""
    from mentalspace_platform.fact_keys import LEDGER_TABLE, new_batch, whole_rows
    from mentalspace_platform.measure_window import RAW_OPERATIONAL, STATE_SCHEMA

    if any((w.schema, w.table) == (STATE_SCHEMA, LEDGER_TABLE) for w in writes):
        return writes
    unkeyed = sorted({w.table for w in writes if w.schema == RAW_OPERATIONAL})
    if not unkeyed:
        return writes
    batch = new_batch()
    rows = pl.concat([whole_rows(batch, table, "written without its keys") for table in unkeyed])
    return [*writes, TableWrite(STATE_SCHEMA, LEDGER_TABLE, [rows], partition=("batch_id", batch))]


@dataclasses.dataclass(frozen=True)
class TableWrite:
    """One table's part of `Warehouse.write_together`: by default a new copy of the whole table."""

    schema: str
    table: str
    batches: Iterable[pl.DataFrame]
    # (column, value): replace only the rows where column = value (a NULL value replaces none).
    partition: tuple[str, object] | None = None
    # (column, keys): an upsert into the existing table: delete the rows with these keys, insert the batches'.
    upsert: tuple[str, Sequence[object]] | None = None
    # PostgreSQL: columns to index (the landed tables' key and references: the landing's upserts and its lookups
    # read a few thousand rows of tables of millions). DuckDB's scans need none.
    indexed: Sequence[str] = ()


def _write_duckdb(con: duckdb.DuckDBPyConnection, write: TableWrite) -> int:
    target = f"{_quote(write.schema)}.{_quote(write.table)}"
    con.execute(f"create schema if not exists {_quote(write.schema)}")
    if write.upsert is not None:
        column, keys = write.upsert
        if keys:
            doomed = pl.DataFrame({"key": list(keys)}).to_arrow()  # noqa: F841 - referenced by name in the SQL
            con.execute(f"delete from {target} where {_quote(column)} in (select key from doomed)")
    rows = 0
    first = True
    for frame in write.batches:
        arrow = frame.to_arrow()  # noqa: F841 - referenced by name in the SQL below
        if first and write.partition is None and write.upsert is None:
            con.execute(f"create or replace table {target} as select * from arrow")
        else:
            if first and write.partition is not None:
                con.execute(f"create table if not exists {target} as select * from arrow limit 0")
                con.execute(
                    f"delete from {target} where {_quote(write.partition[0])} = ?", [write.partition[1]]
                )
            con.execute(f"insert into {target} by name select * from arrow")
        first = False
        rows += frame.height
    return rows


def _write_postgres(cur: psycopg.Cursor, write: TableWrite) -> int:
    target = f"{_quote(write.schema)}.{_quote(write.table)}"
    if write.upsert is not None:
        column, keys = write.upsert
        if keys:
            # Joined, not `= any(%s)`: without an index on the key (TableWrite.indexed) PostgreSQL tests each row
            # against the array element by element (a day's changed charges of the 1,000-clinician practice: a
            # statement of minutes); joined, it reads the index or hashes the table once.
            cur.execute(
                f"delete from {target} as landed using unnest(%s) as changed(key) "
                f"where landed.{_quote(column)} = changed.key",
                [list(keys)],
            )
    rows = 0
    first = True
    written: list[str] = []
    for frame in write.batches:
        written = frame.columns
        if first and write.upsert is None:
            columns = ", ".join(f"{_quote(n)} {_pg_type(t)}" for n, t in frame.schema.items())
            if write.partition is None:
                cur.execute(f"drop table if exists {target} cascade")
                cur.execute(f"create table {target} ({columns})")
            else:
                cur.execute(f"create table if not exists {target} ({columns})")
                cur.execute(
                    f"delete from {target} where {_quote(write.partition[0])} = %s", [write.partition[1]]
                )
        first = False
        if frame.height:
            buffer = io.BytesIO()
            frame.write_csv(
                buffer, include_header=False, null_value="\\N", datetime_format="%Y-%m-%d %H:%M:%S%.f"
            )
            names = ", ".join(_quote(n) for n in frame.columns)
            with cur.copy(f"copy {target} ({names}) from stdin with (format csv, null '\\N')") as copy:
                copy.write(buffer.getvalue())
        rows += frame.height
    for column in (c for c in write.indexed if c in written):
        # After the rows (one sort, not an insert each); a no-op on an upsert into a table that has it. Only the
        # columns written (the export leaves some out).
        index = _quote(f"{write.table}__{column}")
        cur.execute(f"create index if not exists {index} on {target} ({_quote(column)})")
    return rows
