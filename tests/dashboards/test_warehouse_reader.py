"""How the dashboards' reader turns warehouse results into frames, without a server: a PostgreSQL result is typed
by its columns' types, so an empty result or an all-null column behaves like DuckDB's (filters by date, text
searches), and numeric arrives as floats like every loader reads it."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from decimal import Decimal

import polars as pl

from dashboards.components.ui import _arrow
from dashboards.data.warehouse import _postgres_frame

Column = namedtuple("Column", "name type_code")
DESCRIPTION = [
    Column("clinician_id", 20),
    Column("metric_value", 1700),
    Column("period_start", 1082),
    Column("message", 25),
    Column("is_active", 16),
    Column("signed_at", 1114),
]


def test_an_empty_postgres_result_keeps_its_column_types():
    frame = _postgres_frame(DESCRIPTION, [])
    assert frame.schema == pl.Schema(
        {
            "clinician_id": pl.Int64,
            "metric_value": pl.Float64,
            "period_start": pl.Date,
            "message": pl.String,
            "is_active": pl.Boolean,
            "signed_at": pl.Datetime("us"),
        }
    )
    assert frame.filter(pl.col("period_start") >= dt.date(2026, 11, 1)).is_empty()
    assert frame.filter(pl.col("message").str.contains("emergency contact")).is_empty()


def test_postgres_numeric_reads_as_float_and_nulls_keep_the_type():
    rows = [(1, Decimal("84.62"), dt.date(2026, 11, 1), "a", True, None), (2, None, None, None, None, None)]
    frame = _postgres_frame(DESCRIPTION, rows)
    assert frame["metric_value"].to_list() == [84.62, None]
    assert frame["signed_at"].dtype == pl.Datetime("us") and frame["signed_at"].null_count() == 2


def test_tables_go_to_streamlit_as_arrow_with_the_types_the_pandas_route_gave():
    frame = pl.DataFrame(
        {"client": ["A"], "pill": [["84.6"]], "start_time": [dt.time(9, 30)], "visits": [None]},
        schema_overrides={"visits": pl.Int64},
    )
    table = _arrow(frame)
    assert str(table.schema.field("pill").type) == "list<item: string>"
    assert str(table.schema.field("start_time").type) == "time64[us]"
    assert table.to_pylist() == [
        {"client": "A", "pill": ["84.6"], "start_time": dt.time(9, 30), "visits": None}
    ]
