"""Finds columns that would let a reader recover clients' dates of birth: shared by the export test and the
warehouse test, so both hold the same definition of "derived from the date of birth"."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

# A date N days, months or years after the birth date moves by at most a few days from one client to another
# (month lengths, leap days, a 29 February clamped to the 28th, UTC vs local midnight).
CALENDAR_SLACK_DAYS = 3
MIN_CLIENTS = 5
_NAMED_AFTER_BIRTH = re.compile(r"birth|dob|adult_on|eighteen", re.IGNORECASE)
ALLOWED_NAMES = {"has_date_of_birth"}


def _client_key(table: str, frame: pl.DataFrame) -> str | None:
    if table.rsplit(".", 1)[-1] == "clients" and "client_id" not in frame.columns:
        return "id"
    return "client_id" if "client_id" in frame.columns else None


def dob_derived_columns(tables: dict[str, pl.DataFrame], dobs: dict[int, dt.date]) -> list[str]:
    """`table.column` for every column named after the birth date, or holding dates that sit a fixed
    calendar offset (N days, months or years, N may be 0) from each client's date of birth."""
    born = pl.DataFrame(
        {"_key": list(dobs), "_dob": list(dobs.values())}, schema={"_key": pl.Int64, "_dob": pl.Date}
    ).drop_nulls()
    found = []
    for table, frame in tables.items():
        found += [
            f"{table}.{c}" for c in frame.columns if _NAMED_AFTER_BIRTH.search(c) and c not in ALLOWED_NAMES
        ]
        key = _client_key(table, frame)
        if key is None:
            continue
        dated = [c for c, t in frame.schema.items() if t == pl.Date or isinstance(t, pl.Datetime)]
        keyed = frame.select(pl.col(key).cast(pl.Int64).alias("_key"), *dated).join(born, on="_key")
        for column in dated:
            offsets = keyed.filter(pl.col(column).is_not_null()).select(
                "_key", days=(pl.col(column).cast(pl.Date) - pl.col("_dob")).dt.total_days()
            )
            if (
                offsets["_key"].n_unique() >= MIN_CLIENTS
                and offsets["days"].max() - offsets["days"].min() <= CALENDAR_SLACK_DAYS
            ):
                found.append(f"{table}.{column}")
    return found
