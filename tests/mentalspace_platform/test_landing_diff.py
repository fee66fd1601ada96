"""The two-level diff of a PostgreSQL store against its landed copy (mentalspace_platform/landing/operational.py,
`_bucket_diff`) finds exactly what the plain key diff (`_key_diff`, every key of both sides) finds, and what the
change set says it should: on a DuckDB and on a PostgreSQL warehouse, for inserts, updates stamped later or earlier
than the newest, deletes, re-used ids, rows without a change time, rows trading stamps, bucket edges, empty tables.
And both sides reckon a change time as the same microseconds, which the per-bucket sums rest on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, Table, create_engine, delete, select, text
from sqlalchemy.pool import NullPool

from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing import operational as landing
from mentalspace_platform.landing.operational import CHANGE_COLUMN, DIFF_BUCKET_IDS, RAW_SCHEMA
from mentalspace_platform.warehouse import Warehouse
from tests.conftest import new_pg_database

TABLE = Table(
    "diffed_rows",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column(CHANGE_COLUMN, DateTime, nullable=True),
    Column("client_id", Integer),
)
T0 = dt.datetime(2026, 11, 24, 9, 30, 0, 250_000)
EPOCH = dt.datetime(1970, 1, 1)

# id -> change time (None: unstamped); a row's client is id % 7.
Rows = dict[int, dt.datetime | None]


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def store() -> Iterator[Engine]:
    """A PostgreSQL store holding only the diffed table (the diff reads nothing else of it)."""
    with new_pg_database() as url:
        # A session time zone other than UTC: the change times are naive UTC, and no zone may enter their sums.
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"options": "-c timezone=America/New_York"}
        )
        TABLE.create(engine)
        yield engine
        engine.dispose()


@pytest.fixture(autouse=True)
def derived_from_clients(monkeypatch) -> None:
    """The table's rows derive a value from their client's, as appointments do (the key diff then reads the
    client column, the bucket diff queries it)."""
    monkeypatch.setitem(landing.DERIVED_FROM, TABLE.name, ("clients", "client_id"))


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request, var_dir, monkeypatch) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse(current_environment())
        return
    with new_pg_database() as url:
        monkeypatch.setenv("DBT_TARGET", "prod")
        monkeypatch.setenv("MENTALSPACE_WAREHOUSE_URL", url)
        yield Warehouse(current_environment())


def _write(store: Engine, warehouse: Warehouse, stored: Rows, landed: Rows) -> None:
    with store.begin() as conn:
        conn.execute(delete(TABLE))
        if stored:
            conn.execute(
                TABLE.insert(),
                [{"id": i, CHANGE_COLUMN: stamp, "client_id": i % 7} for i, stamp in stored.items()],
            )
    frame = pl.DataFrame(
        {"id": list(landed), CHANGE_COLUMN: list(landed.values())},
        schema={"id": pl.Int64, CHANGE_COLUMN: pl.Datetime("us")},
    )
    warehouse.replace_table(RAW_SCHEMA, TABLE.name, [frame])


def _assert_diffs_agree(store: Engine, warehouse: Warehouse, stored: Rows, landed: Rows) -> None:
    _write(store, warehouse, stored, landed)
    expected_changed = sorted(
        i for i, stamp in stored.items() if stamp is None or landed.get(i, None) != stamp
    )
    expected_deleted = sorted(set(landed) - set(stored))
    stamps = [s for s in stored.values() if s is not None]
    expected = (expected_changed, expected_deleted, len(stored), max(stamps) if stamps else None)
    by_keys = landing._key_diff(store, warehouse, TABLE)
    # _diff picks the two-level diff for a PostgreSQL store.
    by_buckets = landing._diff(store, warehouse, TABLE)
    for diff in (by_keys, by_buckets):
        assert (diff.changed, diff.deleted, diff.rows, diff.newest) == expected
    clients = [1, 4]
    derived = sorted({*expected_changed, *(i for i in stored if i % 7 in clients)})
    assert by_keys.with_rows_of("client_id", clients).changed == derived
    assert by_buckets.with_rows_of("client_id", clients).changed == derived


def _day(ids: range, start: float = 0) -> Rows:
    return {i: _at(start + i / 10) for i in ids}


# Ids 1 to 1,599 over many buckets; every case below changes ids inside it.
HISTORY = _day(range(1, 1600))
NEWEST = max(HISTORY.values())

CASES = {
    "unchanged": (HISTORY, HISTORY),
    "inserts": ({**HISTORY, **_day(range(5000, 5010), 600)}, HISTORY),
    "updates stamped later": ({**HISTORY, 3: _at(900), 700: _at(901)}, HISTORY),
    # An injected clock, a transaction committed late: stamped below the newest, still a change.
    "update stamped earlier than the newest": ({**HISTORY, 800: NEWEST - dt.timedelta(hours=3)}, HISTORY),
    "update stamped before everything": ({**HISTORY, 10: dt.datetime(2001, 1, 1)}, HISTORY),
    "one microsecond later": ({**HISTORY, 11: HISTORY[11] + dt.timedelta(microseconds=1)}, HISTORY),
    "deletes": ({i: s for i, s in HISTORY.items() if i not in (5, 600, 1300)}, HISTORY),
    "a deleted id re-used": ({**{i: s for i, s in HISTORY.items() if i != 9}, 9: _at(1000)}, HISTORY),
    # Sums of ids, of times and the row count all unchanged: only the mixed terms see these.
    "two rows trading stamps": ({**HISTORY, 20: HISTORY[30], 30: HISTORY[20]}, HISTORY),
    # Places 2, 3 and 4 of a bucket moved by +1, -2, +1 minutes: the time and time-by-place sums stay as they were.
    "three rows with offsetting changes": (
        {
            **HISTORY,
            **{
                DIFF_BUCKET_IDS + 1 + k: HISTORY[DIFF_BUCKET_IDS + 1 + k] + dt.timedelta(minutes=m)
                for k, m in enumerate((1, -2, 1))
            },
        },
        HISTORY,
    ),
    "deletes and inserts keeping the count and the id sum": (
        {i: s for i, s in HISTORY.items() if i not in (1499, 1503)},
        {i: s for i, s in HISTORY.items() if i not in (1500, 1502)},
    ),
    "unstamped in the store": ({**HISTORY, 40: None}, HISTORY),
    "unstamped on both sides": ({**HISTORY, 40: None}, {**HISTORY, 40: None}),
    "unstamped landed, stamped now": (HISTORY, {**HISTORY, 41: None}),
    "bucket edges": (
        {**HISTORY, DIFF_BUCKET_IDS - 1: _at(2000), DIFF_BUCKET_IDS: _at(2001), 2 * DIFF_BUCKET_IDS: None},
        HISTORY,
    ),
    "ids below zero": (
        {-1: _at(1), -DIFF_BUCKET_IDS: _at(2), -700: _at(3)},
        {-1: _at(1), -DIFF_BUCKET_IDS: _at(5)},
    ),
    "an empty table": ({}, {}),
    "landed, emptied in the store": ({}, HISTORY),
    "never landed rows": (HISTORY, {}),
    "everything changed": ({i: _at(5000) for i in HISTORY}, HISTORY),
}


@pytest.mark.parametrize("case", CASES)
def test_the_bucket_diff_finds_what_the_key_diff_finds(store, warehouse, case):
    stored, landed = CASES[case]
    _assert_diffs_agree(store, warehouse, stored, landed)


STAMPS = st.one_of(st.none(), st.integers(min_value=-50, max_value=50).map(_at))
# A landed copy over a few buckets, and edits of it: (id, new stamp or deleted).
LANDED = st.dictionaries(st.integers(min_value=0, max_value=4 * DIFF_BUCKET_IDS), STAMPS, max_size=60)
EDITS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=4 * DIFF_BUCKET_IDS), st.one_of(st.just("delete"), STAMPS)),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(landed=LANDED, edits=EDITS, shuffle=st.randoms(use_true_random=False))
def test_any_change_set_is_found_by_buckets_as_by_keys(store, warehouse, landed, edits, shuffle):
    stored = dict(landed)
    for i, edit in edits:
        if edit == "delete":
            stored.pop(i, None)
        else:
            stored[i] = edit
    # Stamps moved between rows: the changes that offset each other in the plain sums.
    moved = [i for i in stored if stored[i] is not None][:6]
    stamps = [stored[i] for i in moved]
    shuffle.shuffle(stamps)
    stored.update(zip(moved, stamps, strict=True))
    _assert_diffs_agree(store, warehouse, stored, landed)


def test_both_sides_reckon_a_change_time_as_the_same_microseconds(store, warehouse):
    stamps = [
        dt.datetime(1, 1, 1),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_999),
        EPOCH,
        dt.datetime(2026, 3, 8, 2, 30, 0, 1),  # a local clock's spring-forward gap: no time zone may enter
        dt.datetime(2026, 11, 25, 17, 0, 0, 123_456),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999_999),
    ]
    _write(store, warehouse, dict(enumerate(stamps)), dict(enumerate(stamps)))
    expected = [(s - EPOCH) // dt.timedelta(microseconds=1) for s in stamps]
    sql = "select id, {} as micros from {} order by id"
    with store.connect() as conn:
        in_store = conn.execute(
            text(sql.format(landing._MICROS_SQL["postgres"].format(CHANGE_COLUMN), TABLE.name))
        ).all()
    landed = warehouse.query(
        sql.format(landing._MICROS_SQL[warehouse.kind].format(CHANGE_COLUMN), f"{RAW_SCHEMA}.{TABLE.name}")
    )
    assert [m for _, m in in_store] == expected
    assert landed["micros"].to_list() == expected
    with store.connect() as conn:
        assert conn.scalars(select(TABLE.c[CHANGE_COLUMN]).order_by(TABLE.c.id)).all() == stamps
