"""PostgreSQL COPY of polars frames in and out: nulls, empty strings, quotes and dates survive the trip."""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg
import pytest

from operational_api.bulk import copy_frame, copy_query

pytestmark = pytest.mark.postgres


def test_a_frame_goes_in_and_comes_back_unchanged(pg_database):
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "label": ['comma, "quoted"', "", None],
            "note": ["line\nbreak", "back\\slash", "\\N"],
            "amount": ["-12.34", "0.05", None],
            "day": [dt.date(2026, 1, 2), None, dt.date(2026, 12, 31)],
            "at": [dt.datetime(2026, 1, 2, 3, 4, 5, 678901), None, dt.datetime(2026, 1, 2)],
            "score": [0.97, 1e-7, None],
        }
    )
    with psycopg.connect(pg_database) as con:
        con.execute(
            "create table t (id integer, label text, note text, amount numeric(12,2), day date, "
            "at timestamp, score double precision)"
        )
        copy_frame(con.cursor(), "t", frame)
        con.execute("set datestyle to 'SQL, DMY'")  # copy_query must still read ISO dates
        back = copy_query(con.cursor(), "select * from t order by id", frame.columns)
        assert con.execute("show datestyle").fetchone()[0] == "SQL, DMY"
    assert back["label"].to_list() == frame["label"].to_list()
    assert back["note"].to_list() == frame["note"].to_list()
    assert back["amount"].to_list() == ["-12.34", "0.05", None]
    assert back["day"].to_list() == ["2026-01-02", None, "2026-12-31"]
    assert back["at"].to_list() == ["2026-01-02 03:04:05.678901", None, "2026-01-02 00:00:00"]
    assert back["score"].cast(pl.Float64).to_list() == [0.97, 1e-7, None]


def test_an_empty_query_gives_typed_empty_columns(pg_database):
    with psycopg.connect(pg_database) as con:
        back = copy_query(con.cursor(), "select 1 as a, 'x' as b where false", ["a", "b"])
    assert back.height == 0 and back.columns == ["a", "b"]
