"""The dashboards' only way into the warehouse: read-only queries against the marts.

Opening the DuckDB file costs ~100 ms (it reads the catalog), more than most of our queries, so a
`Reader` per warehouse (kept by `st.cache_resource`) lends one connection to the queries of a page
run and closes it after `IDLE_CLOSE_SECONDS` without use. Keeping it open for good would be faster
still, but DuckDB lets no process write the file while another holds it, and the Dagster builds and
the ERA sensor write it while the dashboards are serving. PostgreSQL gets the same lease, so a page
run pays for one connection, not one per query.

A DuckDB build swaps a new file in under the same name (mentalspace_platform/warehouse.py, `staged_build`): a
connection opened before keeps reading the previous file, complete and consistent, so queries already running
finish on it, and the next lease opens the new one (the file's inode says whether it was swapped).
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import duckdb
import polars as pl
import psycopg
import streamlit as st

from mentalspace_platform.environment import current_environment, warehouse_pg_options
from mentalspace_platform.warehouse import Warehouse

NOT_BUILT = "The warehouse has not been built yet: run `make build` (or `mentalspace build`), then reload."
BUSY = "The warehouse is being rebuilt; reload in a moment."
IDLE_CLOSE_SECONDS = 2.0
_PLACEHOLDER = re.compile(r"\?")
# PostgreSQL result columns by type OID. Typing from the description, not from the values, gives an empty
# result or an all-null column its real type, as DuckDB's Arrow results have (a frame of nulls cannot be
# filtered by date or searched as text). numeric arrives as Decimal; the loaders read money and rates as
# floats, so it becomes Float64 here rather than a Decimal of whatever scale the first values had.
_PG_DTYPES: dict[int, pl.DataType] = {
    16: pl.Boolean(),
    20: pl.Int64(),
    21: pl.Int64(),
    23: pl.Int64(),
    700: pl.Float64(),
    701: pl.Float64(),
    1700: pl.Float64(),
    19: pl.String(),
    25: pl.String(),
    1042: pl.String(),
    1043: pl.String(),
    1082: pl.Date(),
    1083: pl.Time(),
    1114: pl.Datetime("us"),
    1184: pl.Datetime("us", "UTC"),
}


class WarehouseNotReady(Exception):
    """The warehouse has not been built yet, or is being rebuilt right now."""


class _Lease:
    """One open connection and the queries using it; `file_id` names the DuckDB file it was opened on."""

    def __init__(self, con, file_id: object) -> None:
        self.con = con
        self.file_id = file_id
        self.users = 0


class Reader:
    """Read access to one warehouse, lending a shared connection and closing it when idle."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._lock = threading.RLock()
        self._lease: _Lease | None = None
        self._last_used = 0.0
        self._closer: threading.Timer | None = None
        _OPEN_READERS.add(self)

    def _file_id(self) -> object:
        if self.warehouse.kind != "duckdb":
            return None
        try:
            stat = os.stat(self.warehouse.env.duckdb_path)
        except FileNotFoundError:
            return None
        return (stat.st_dev, stat.st_ino)

    @contextmanager
    def connection(self) -> Iterator[object]:
        with self._lock:
            current = self._file_id()
            if self._lease is not None and self._lease.file_id != current:
                # Rebuilt and swapped in: new queries go to the new file; the old connection closes as soon
                # as the queries still running on it are done.
                if self._lease.users == 0:
                    self._lease.con.close()
                self._lease = None
            if self._lease is None:
                self._lease = _Lease(self._open(), current)
            lease = self._lease
            lease.users += 1
        try:
            yield lease.con
        finally:
            with self._lock:
                lease.users -= 1
                if lease is not self._lease:
                    if lease.users == 0:
                        lease.con.close()
                else:
                    self._last_used = time.monotonic()
                    if self._closer is None:
                        self._closer = threading.Timer(IDLE_CLOSE_SECONDS, self._close_if_idle)
                        self._closer.daemon = True
                        self._closer.start()

    def _open(self):
        if self.warehouse.kind == "duckdb":
            if not self.warehouse.env.duckdb_path.exists():
                raise WarehouseNotReady(NOT_BUILT)
            for attempt in range(5):
                try:
                    return duckdb.connect(str(self.warehouse.env.duckdb_path), read_only=True)
                except duckdb.IOException as exc:
                    # A build holds the file for a few seconds; wait a little before saying so.
                    if attempt == 4:
                        raise WarehouseNotReady(BUSY) from exc
                    time.sleep(0.5 * (attempt + 1))
        url = self.warehouse.env.warehouse_url.replace("postgresql+psycopg://", "postgresql://")
        try:
            return psycopg.connect(url, connect_timeout=5, autocommit=True, options=warehouse_pg_options())
        except psycopg.OperationalError as exc:
            raise WarehouseNotReady("The warehouse cannot be reached right now; reload in a moment.") from exc

    def _close_if_idle(self) -> None:
        with self._lock:
            self._closer = None
            idle = time.monotonic() - self._last_used
            if self._lease is not None and self._lease.users == 0 and idle >= IDLE_CLOSE_SECONDS * 0.9:
                self.close()
            elif self._lease is not None:
                self._closer = threading.Timer(max(IDLE_CLOSE_SECONDS - idle, 0.1), self._close_if_idle)
                self._closer.daemon = True
                self._closer.start()

    def built_at(self) -> dt.datetime | None:
        """When the DuckDB file was last written (PostgreSQL keeps no such stamp)."""
        if self.warehouse.kind != "duckdb" or not self.warehouse.env.duckdb_path.exists():
            return None
        return dt.datetime.fromtimestamp(self.warehouse.env.duckdb_path.stat().st_mtime, dt.UTC).replace(
            tzinfo=None
        )

    def version(self) -> object:
        """A value that changes whenever the warehouse is rebuilt (None before the first build).

        DuckDB: when the file was last written (`built_at`, a stat, no connection). PostgreSQL: the latest
        build dbt recorded in `reference.warehouse_builds` (macros/record_build.sql); raises
        WarehouseNotReady before the first build or while the server cannot be reached.
        """
        if self.warehouse.kind == "duckdb":
            return self.built_at()
        return self.query("select max(built_at) as built_at from reference.warehouse_builds").item()

    def close(self) -> None:
        with self._lock:
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            if self._lease is not None:
                self._lease.con.close()
                self._lease = None

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        with self.connection() as con:
            try:
                if self.warehouse.kind == "duckdb":
                    # A cursor per query: DuckDB connections are not shared across threads, cursors are.
                    cursor = con.cursor()
                    try:
                        return pl.from_arrow(cursor.sql(sql, params=params or None).to_arrow_table())
                    finally:
                        cursor.close()
                with con.cursor() as cur:
                    cur.execute(_PLACEHOLDER.sub("%s", sql), params or None)
                    return _postgres_frame(cur.description or [], cur.fetchall())
            except (duckdb.CatalogException, psycopg.errors.UndefinedTable) as exc:
                raise WarehouseNotReady(NOT_BUILT) from exc
            except psycopg.OperationalError:
                self.close()
                raise


# Closed on the main thread before the interpreter shuts down: left to the idle timer's daemon thread, a
# DuckDB connection could be torn down mid-finalisation, aborting the process ("terminate called after
# throwing", exit 134) after its work was done.
_OPEN_READERS: weakref.WeakSet[Reader] = weakref.WeakSet()


@atexit.register
def _close_open_readers() -> None:
    for open_reader in list(_OPEN_READERS):
        open_reader.close()


def _postgres_frame(description, rows: list[tuple]) -> pl.DataFrame:
    """A psycopg result as a polars frame typed by its columns' PostgreSQL types."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(description)
    return pl.DataFrame(
        [
            pl.Series(column.name, values, dtype=_PG_DTYPES.get(column.type_code), strict=False)
            for column, values in zip(description, columns, strict=True)
        ]
    )


@st.cache_resource(show_spinner=False)
def _reader(warehouse_url: str) -> Reader:
    return Reader(Warehouse(current_environment()))


def reader() -> Reader:
    """The reader of the configured warehouse (one per warehouse URL, shared by every session)."""
    return _reader(current_environment().warehouse_url)


def query(sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a read query (`?` placeholders) against the marts and return a polars frame."""
    return reader().query(sql, params)


def id_filter(column: str, ids: Iterable[int] | None) -> str:
    """A SQL condition keeping `column` to these ids; None means no restriction, empty means no rows.

    Ids are rendered as integer literals (forced through int()), which both backends accept in one form.
    """
    if ids is None:
        return "true"
    values = sorted({int(i) for i in ids})
    if not values:
        return "false"
    return f"{column} in ({', '.join(str(v) for v in values)})"
