"""Which rows of the largest facts a refresh rebuilds: those whose inputs its landings changed (issue 17).

The largest facts (fct_charges, fct_appointments, fct_clinical_notes, fct_claims, fct_payments: incremental
strategy `by_key`, dbt_project/macros/fact_keys.sql) are rebuilt by key in the refresh's models build rather than whole: a working day
changes a few thousand of the millions of rows of a large practice, and rebuilding them whole was most of that
build. Each fact says in its SQL which changed keys reach which of its rows (a charge is rebuilt when it, one of its
payment applications or adjustments, its claim, its client or one of its client's policies changed).

**The ledger** (`refresh_state.fact_key_changes`). The operational landing records, in its own transaction, the
keys of every changed or deleted row of the tables the keyed facts read, with the values of its references before
and after the change (`key_rows`): a moved payment application names both charges. A table those facts read that
landed whole records a `whole` row instead, and so does any other write into `raw_operational` that records no keys
(`Warehouse.write_together`). A build of the models reads the ledger (`plan_facts_build`) and builds by key only
when it can trust it:
- an earlier build of the facts under the same dbt project and settings is recorded (a `built` row: without one,
  the facts' rows may come from other definitions);
- no `whole` row: some change is not listed by key;
- the store is the system of record for scheduling and billing (AdvancedMD's syncs land no keys);
- the facts' tables hold rows (PostgreSQL empties its unlogged tables when it recovers from a crash).
Otherwise it rebuilds the facts whole. After the build succeeded it removes the batches it planned from and records
itself (`record_facts_built`), in one transaction; a batch landed meanwhile stays for the next build (rebuilding a
key twice is harmless, missing one is not).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from functools import cache

import polars as pl
from sqlalchemy import Table

from mentalspace_platform.environment import Environment
from mentalspace_platform.measure_window import (
    RAW_OPERATIONAL,
    STATE_SCHEMA,
    measures_context,
    sources_read_by,
    systems_of_record,
)

LEDGER_TABLE = "fact_key_changes"
# dbt reads it when a keyed fact runs (dbt_project/macros/fact_keys.sql): an environment variable, not a dbt var,
# for the reason the measures' window is one (macros/metric_window.sql: vars that differ re-parse the project).
BY_KEY_VAR = "MENTALSPACE_FACTS_BY_KEY"
# The incremental strategy of the facts rebuilt by key, as their SQL names it.
BY_KEY_STRATEGY = "by_key"
# The facts' tables: found empty, they are rebuilt whole (see the module docstring).
KEYED_FACTS = ("fct_charges", "fct_appointments", "fct_clinical_notes", "fct_claims", "fct_payments")
FACTS_SCHEMA = "marts"

KEYS, WHOLE, BUILT = "keys", "whole", "built"
LEDGER_SCHEMA = {
    "batch_id": pl.Utf8,
    "kind": pl.Utf8,  # KEYS, WHOLE or BUILT
    "table_name": pl.Utf8,
    "column_name": pl.Utf8,  # "id" for the row's own key, else a reference column
    "key_value": pl.Int64,
    "note": pl.Utf8,  # WHOLE: why; BUILT: the build's context (measure_window.measures_context)
    "marked_at": pl.Datetime("us"),
}


@cache
def tables_read_by_keyed_facts() -> frozenset[str]:
    """The store tables a fact rebuilt by key reads, directly or through other models (from the project's SQL)."""
    keyed = sources_read_by(lambda path, sql: f"'{BY_KEY_STRATEGY}'" in sql)
    return frozenset(table for source, table in keyed if source == "operational")


def new_batch() -> str:
    return uuid.uuid4().hex


def ledger_frame(rows: Iterable[dict]) -> pl.DataFrame:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return pl.DataFrame(
        [
            {
                "batch_id": r["batch_id"],
                "kind": r["kind"],
                "table_name": r.get("table_name"),
                "column_name": r.get("column_name"),
                "key_value": r.get("key_value"),
                "note": r.get("note", ""),
                "marked_at": now,
            }
            for r in rows
        ],
        schema=LEDGER_SCHEMA,
    )


def whole_rows(batch_id: str, table_name: str, why: str) -> pl.DataFrame:
    """A table the keyed facts read changed without its keys (landed whole, or written by another path)."""
    return ledger_frame([{"batch_id": batch_id, "kind": WHOLE, "table_name": table_name, "note": why}])


def key_rows(batch_id: str, table: Table, old: pl.DataFrame, new: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The keys one table's landing changes: of the rows it changes or removes (`old`, their landed rows' id and
    references) and of the rows that replace or join them (`new`, as exported), the id and each reference."""
    frames = [f for f in [old, *new] if f.height]
    parts = []
    for column in _keyed_columns(table):
        values = [f[column] for f in frames if column in f.columns]
        if not values:
            continue
        keys = pl.concat([v.cast(pl.Int64) for v in values]).drop_nulls().unique().sort()
        parts.append(
            pl.DataFrame(
                {"column_name": column, "key_value": keys},
                schema={"column_name": pl.Utf8, "key_value": pl.Int64},
            )
        )
    if not parts:
        return ledger_frame([])
    keyed = pl.concat(parts)
    return ledger_frame([]).vstack(
        keyed.select(
            pl.lit(batch_id).alias("batch_id"),
            pl.lit(KEYS).alias("kind"),
            pl.lit(str(table.name)).alias("table_name"),
            pl.col("column_name"),
            pl.col("key_value"),
            pl.lit("").alias("note"),
            pl.lit(dt.datetime.now(dt.UTC).replace(tzinfo=None)).cast(pl.Datetime("us")).alias("marked_at"),
        )
    )


def _keyed_columns(table: Table) -> list[str]:
    """A row's own key and its references to other rows, as the ledger lists them."""
    return list(
        dict.fromkeys(["id", *(fk.parent.name for fk in table.foreign_keys if fk.column.name == "id")])
    )


def landed_references(warehouse, table: Table, keys: Sequence[int], landed_columns: set[str]) -> pl.DataFrame:
    """The landed rows' id and references (those landed) of the given keys, before the landing replaces them."""
    columns = [c for c in _keyed_columns(table) if c in landed_columns]
    if not keys or "id" not in columns:
        return pl.DataFrame()
    names = ", ".join(f'"{c}"' for c in columns)
    ordered = sorted(set(keys))
    frames = [
        warehouse.query(
            f'select {names} from {RAW_OPERATIONAL}."{table.name}" '
            f'where "id" in ({", ".join(str(int(k)) for k in ordered[i : i + 5_000])})'
        )
        for i in range(0, len(ordered), 5_000)
    ]
    return pl.concat(frames, how="vertical_relaxed")


@dataclasses.dataclass(frozen=True)
class FactsPlan:
    """How a build of the models rebuilds the keyed facts, from the ledger it read."""

    batches: tuple[str, ...]  # the ledger's batches when planned: removed once the build succeeded
    context: str
    by_key: bool
    reason: str  # why whole, or what the keys come from

    @property
    def env(self) -> dict[str, str]:
        """The environment of the dbt build (dbt_project/macros/fact_keys.sql reads it)."""
        return {BY_KEY_VAR: "1" if self.by_key else ""}


def plan_facts_build(warehouse, env: Environment, *, whole_because: str = "") -> FactsPlan:
    """Read the ledger in `warehouse` (the build's copy) and decide whether the keyed facts are built by key
    (never when `whole_because` says why the whole warehouse is rebuilt)."""
    context = measures_context(env)
    ledger = (
        warehouse.query(
            f"select distinct batch_id, kind, table_name, note from {STATE_SCHEMA}.{LEDGER_TABLE}"
            f" where kind <> '{KEYS}' or column_name = 'id'"
        )
        if warehouse.has_table(STATE_SCHEMA, LEDGER_TABLE)
        else pl.DataFrame(
            schema={"batch_id": pl.Utf8, "kind": pl.Utf8, "table_name": pl.Utf8, "note": pl.Utf8}
        )
    )
    batches = tuple(sorted(set(ledger["batch_id"].to_list())))
    built = ledger.filter(pl.col("kind") == BUILT)
    wholes = ledger.filter(pl.col("kind") == WHOLE)
    keyed = ledger.filter(pl.col("kind") == KEYS)

    def plan(by_key: bool, reason: str) -> FactsPlan:
        return FactsPlan(batches, context, by_key, reason)

    if whole_because:
        return plan(False, whole_because)
    other_records = [name for name, record in systems_of_record().items() if record != "store"]
    if other_records:
        return plan(
            False, f"AdvancedMD is a system of record ({', '.join(other_records)}): its syncs list no keys"
        )
    if not built.height:
        return plan(False, "no earlier build of the facts recorded")
    if any(note != context for note in built["note"].to_list()):
        return plan(False, "the dbt project or its settings changed since the facts were built")
    if wholes.height:
        why = sorted({f"{t}: {n}" for t, n in wholes.select("table_name", "note").iter_rows()})
        return plan(False, f"changes not listed by key ({'; '.join(why)})")
    emptied = [name for name in KEYED_FACTS if warehouse.is_empty(FACTS_SCHEMA, name)]
    if emptied:
        return plan(False, f"{', '.join(emptied)} empty (PostgreSQL empties unlogged tables after a crash)")
    tables = sorted(set(keyed["table_name"].to_list()))
    return plan(True, f"changed rows of {', '.join(tables)}" if tables else "nothing changed")


def record_facts_built(warehouse, plan: FactsPlan) -> None:
    """After the build succeeded: remove the batches it planned from and record it, in one transaction."""
    from mentalspace_platform.warehouse import TableWrite

    built = new_batch()
    warehouse.write_together(
        [
            *(
                TableWrite(STATE_SCHEMA, LEDGER_TABLE, [ledger_frame([])], partition=("batch_id", batch))
                for batch in plan.batches
            ),
            TableWrite(
                STATE_SCHEMA,
                LEDGER_TABLE,
                [ledger_frame([{"batch_id": built, "kind": BUILT, "note": plan.context}])],
                partition=("batch_id", built),
            ),
        ]
    )
