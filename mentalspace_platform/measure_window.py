"""Which periods of the measures a refresh recomputes: those its landed changes can touch (issue 17).

The measures (dbt `models/marts/metrics`) are incremental by period: a build with the vars period_start and
period_end recomputes the periods starting in that window and keeps the others (dbt_project/macros/metric_window.sql).
A refresh passes the window that covers every period its changes can alter, computed here; a build without one
(`--full-refresh`) recomputes every period. The costliest by-period intermediates they read (int_*_by_period with
incremental strategy `period_window`) are recomputed for the same window, in the refresh's models build.

**The rule.** Every change to the measures' inputs is recorded in the warehouse as a *mark*
(`refresh_state.measure_changes`): the earliest business date it touches, or none (every period). A build of the
measures reads the marks, recomputes the periods from `window_start(earliest)` on, and removes the marks it read
(in its own transaction: a mark added meanwhile by another run stays for the next build). It also leaves a mark of
its own "today" (`BUILT_AS_OF`), since measures also change as days pass (the running period, claims settling,
retention judged 90 days on): without one (never built, or built by another project or settings, `context`) the
next build recomputes every period.

- A landed row touches the dates it carries (every date and timestamp column but the change stamp), before and after
  the change, the dates of the rows it refers to (its parents, through foreign keys, transitively) and of the rows
  referring to it (its children) and theirs: a late note counts on its appointment's date, a payment applied today
  on its charge's, a payment on its applications' charges'. Those are found in the landed copy before the landing
  writes (with the new rows, in the landing's transaction).
- A row of a table no windowed model reads (a measure, a by-period intermediate; `tables_read_by_windowed_models`,
  from the project's SQL) touches nothing: every model reading it is rebuilt whole by every build. The alert sync
  restamps the store's open alerts after every refresh; counted as changes, they stretched the next refresh's window
  back to the oldest open alert's date (seven months at the 1,000-clinician practice).
- A row of a table every period reads the current state of (a client's clinician, completeness or discharge, a
  user, the rules, the settings: `UNDATED_TABLES`), or of a table without dates, touches every period; so does
  a table the window cannot diff (landed for the first time, other columns) and any landing of raw data that does
  not date its changes (ERA files, AdvancedMD syncs, a full landing: `Warehouse.write_together` marks those).
- A period reads dates after its own end: a visit counts as rebooked by a booking up to `rebook_window_days` (30)
  later; a supervision note is late SUPERVISION_NOTE.deadline_days (7) after the session, and a period is
  "settled" the dictionary's `alert_lag_days` (42) after it ends, both judged on "today". So
  the window starts `LOOKAHEAD_DAYS` before the earliest touched date (and a day more for UTC timestamps against
  practice-local dates), at the first period (day, Monday-start week or month) containing that day.
  tests/mentalspace_platform/test_measure_window.py checks the constant against the project's vars, the
  dictionary and the rules.
  Everything else a period reads lies before its as-of date (the active clients, consents and balances of that
  day, the previous period, six months of benchmark), so a change never reaches further back.
- A measure that reads arbitrarily later data (client retention judges a client on their latest engagement, ever)
  is recomputed whole by every build (dbt `meta: recompute_every_period`; `fct_practice_metrics` replaces its rows
  of every period too): cheap, and no lookahead can bound it.

When unsure the rule says "every period": a wider window costs seconds, a narrower one a wrong figure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import cache

import polars as pl
from sqlalchemy import Date, DateTime, Table

from mentalspace_platform.catalog import project_files_digest
from mentalspace_platform.environment import DBT_PROJECT_DIR, Environment

STATE_SCHEMA = "refresh_state"
MARKS_TABLE = "measure_changes"
RAW_OPERATIONAL = "raw_operational"
# Longest span after a period's end that a windowed measure reads (see the module docstring): the settling lag of
# the dictionary (42 days), the rebook window (30) and the supervision-note deadline (7), with room to spare.
LOOKAHEAD_DAYS = 45
# UTC timestamps against practice-local dates: a change at 01:00 UTC is the day before in the Americas.
TIMEZONE_DAYS = 1
# The latest period a window reaches: every period from its start on (future appointments have periods too).
LAST_PERIOD = dt.date(9999, 12, 31)
# Tables whose rows every period reads as they are now (no history): a change touches every period.
UNDATED_TABLES = frozenset(
    {
        "clients",
        "users",
        "compliance_rules",
        "practice_settings",
        "payers",
        "guardians",
        "advancedmd_patients",
        "advancedmd_provider_links",
    }
)
# References no measure counts a row on the other end's dates of (in neither direction): an appointment of a
# series, of a group slot or rescheduled from another counts on its own dates (dbt reads no series or slot, and
# carries the reschedule's original only to fct_appointments); a verification on its own dates, never its
# policy's. Followed, they would stretch a window back to a series' or a policy's first day.
# tests/mentalspace_platform/test_measure_window.py checks that no measure reads them.
NOT_FOLLOWED = frozenset(
    {
        ("appointments", "series_id"),
        ("appointments", "shared_slot_id"),
        ("appointments", "rescheduled_from_id"),
        ("insurance_verifications", "policy_id"),
    }
)
# Raw schemas that no model built by period window (a measure, a by-period intermediate) reads, directly or
# through other models: landing into them touches no period. The 835 files' own data feeds the ERA marts only; the
# payments an ERA posts reach the measures through the store, landed and dated like any change.
# tests/mentalspace_platform/test_measure_window.py checks this against the project's SQL.
UNWINDOWED_RAW_SCHEMAS = frozenset({"raw_era"})
# The change stamp says when a row changed, not which periods it counts in.
NOT_BUSINESS_DATES = frozenset({"updated_at"})
# Columns of UNDATED_TABLES no model reads beyond passing them along: a row whose other columns are as landed
# touches nothing. A sign-in stamps the user's row (last_login_at, and updated_at with it) every few minutes;
# without this every refresh of the working day would recompute every period. For the other tables, the change
# stamp: a client's new phone number or e-mail address is not exported (only has_phone ..., export.py), so such an
# edit, made every day in a practice, reaches the landed row as a new stamp alone.
IGNORED_COLUMNS = {
    "users": frozenset({"updated_at", "last_login_at", "failed_login_count", "mfa_last_step"}),
}
IGNORED_BY_DEFAULT = NOT_BUSINESS_DATES
# Foreign keys followed up (parents of parents ...) from a changed row.
PARENT_DEPTH = 3
# Above this many changed rows of one table, every period (the IN lists would be long; a window would be wide).
MAX_KEYS = 50_000
# The mark a build of the measures leaves: its own "today".
BUILT_AS_OF = "measures_built"
# Environment variables dbt_project.yml reads (default "store") that change every period's figure.
SYSTEM_OF_RECORD_VARS = ("MENTALSPACE_SCHEDULING_RECORD", "MENTALSPACE_BILLING_RECORD")

MARK_SCHEMA = {
    "mark_id": pl.Utf8,
    "source": pl.Utf8,
    "changed_from": pl.Date,  # null: every period
    "context": pl.Utf8,
    "marked_at": pl.Datetime("us"),
}


@dataclasses.dataclass(frozen=True)
class Mark:
    """One recorded change to the measures' inputs (or a build's own as-of date, `BUILT_AS_OF`)."""

    mark_id: str
    source: str  # the raw schema landed, or BUILT_AS_OF
    changed_from: dt.date | None  # None: every period
    context: str = ""  # a build's: measures_context(); a change's: why it touches every period


def mark_frame(marks: Iterable[Mark]) -> pl.DataFrame:
    """Marks as rows of `refresh_state.measure_changes`."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        {
            "mark_id": m.mark_id,
            "source": m.source,
            "changed_from": m.changed_from,
            "context": m.context,
            "marked_at": now,
        }
        for m in marks
    ]
    return pl.DataFrame(rows, schema=MARK_SCHEMA)


def new_mark(source: str, changed_from: dt.date | None, context: str = "") -> Mark:
    return Mark(uuid.uuid4().hex, source, changed_from, context)


def every_period_marks(schemas: Iterable[str]) -> pl.DataFrame:
    """The marks of a landing that does not date its changes (a raw schema written whole or by file); none for the
    schemas no windowed model reads (UNWINDOWED_RAW_SCHEMAS)."""
    return mark_frame(new_mark(schema, None) for schema in sorted(set(schemas) - UNWINDOWED_RAW_SCHEMAS))


def every_period_mark_statements(source: str, *, postgres: bool) -> list[tuple[str, list]]:
    """The same mark as SQL statements (%s parameters), for a landing writing through its own connection."""
    from mentalspace_platform.warehouse import schema_lock_sql

    mark = new_mark(source, None)
    table = f"{STATE_SCHEMA}.{MARKS_TABLE}"
    return [
        *([schema_lock_sql(STATE_SCHEMA)] if postgres else []),
        (f"create schema if not exists {STATE_SCHEMA}", []),
        (
            f"create table if not exists {table} "
            "(mark_id varchar, source varchar, changed_from date, context varchar, marked_at timestamp)",
            [],
        ),
        (
            f"insert into {table} (mark_id, source, changed_from, context, marked_at) values (%s, %s, null, '', %s)",
            [mark.mark_id, source, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        ),
    ]


def read_marks(warehouse) -> list[Mark]:
    """Every mark not yet consumed by a build of the measures (none when the table does not exist)."""
    if not warehouse.has_table(STATE_SCHEMA, MARKS_TABLE):
        return []
    frame = warehouse.query(
        f"select mark_id, source, changed_from, context from {STATE_SCHEMA}.{MARKS_TABLE}"
    )
    return [
        Mark(row["mark_id"], row["source"], _as_date(row["changed_from"]), row["context"] or "")
        for row in frame.iter_rows(named=True)
    ]


def measures_context(env: Environment) -> str:
    """What every period's figure depends on besides the data: the dbt project, the target, the practice's time
    zone and the systems of record. A build under another context than the last one recomputes every period."""
    digest = project_files_digest()
    # As dbt_project.yml resolves them (an unset variable is its default).
    settings = {
        "target": env.dbt_target,
        "timezone": env.practice_timezone,
        **systems_of_record(),
    }
    digest.update(repr(sorted(settings.items())).encode())
    return digest.hexdigest()


def systems_of_record() -> dict[str, str]:
    """SYSTEM_OF_RECORD_VARS as dbt_project.yml resolves them (unset: "store")."""
    return {name: os.environ.get(name) or "store" for name in SYSTEM_OF_RECORD_VARS}


def window_start(earliest: dt.date) -> dt.date:
    """The first period start to recompute when `earliest` is the earliest date a change touches: the earliest
    period (day, Monday-start week or month) containing any day a period could read it from."""
    reads_from = earliest - dt.timedelta(days=LOOKAHEAD_DAYS + TIMEZONE_DAYS)
    week = reads_from - dt.timedelta(days=reads_from.weekday())
    return min(week, reads_from.replace(day=1))


def measures_window(
    marks: Sequence[Mark], today: dt.date, context: str, *, measures_emptied: bool = False
) -> tuple[tuple[dt.date, dt.date] | None, str]:
    """The periods (by start, inclusive) a build of the measures must recompute, or None for every period; and
    why (for the run's log)."""
    built = [m for m in marks if m.source == BUILT_AS_OF]
    if not built:
        return None, "no earlier build of the measures recorded"
    if measures_emptied:
        return (
            None,
            "the measures' table is empty (PostgreSQL empties unlogged tables when it recovers from a crash)",
        )
    if any(m.context != context or m.changed_from is None for m in built):
        return None, "the dbt project or its settings changed since the last build"
    every = sorted(
        {m.source + (f": {m.context}" if m.context else "") for m in marks if m.changed_from is None}
    )
    if every:
        return None, f"changes that may touch every period ({', '.join(every)})"
    # Measures change with the date too (the running period, settling): the last build's "today" on.
    earliest = min([*(m.changed_from for m in marks), today])
    return (window_start(earliest), LAST_PERIOD), f"changes from {earliest.isoformat()} on"


# --- what a landing's changes touch -------------------------------------------------------------------------


@cache
def tables_read_by_windowed_models() -> frozenset[str]:
    """The store tables (the project's `operational` source) that a model built by period window reads, directly
    or through other models and macros: changes to the others touch no period, since every model reading them is
    rebuilt whole by every build (the store's compliance alerts, restamped by every alert sync, are read by none).
    A table counts as read if any branch of a model's jinja reads it, whatever the build's settings."""
    return frozenset(table for source, table in sources_read_by_windowed_models() if source == "operational")


_REF = re.compile(r"""\bref\(\s*['"](\w+)['"]\s*\)""")
_SOURCE = re.compile(r"""\bsource\(\s*['"](\w+)['"]\s*,\s*['"](\w+)['"]\s*\)""")
_MACRO = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")
_CALL = re.compile(r"\b(\w+)\s*\(")
# The measures (incremental `period_window` by the folder's config in dbt_project.yml).
WINDOWED_FOLDER = "models/marts/metrics/"


def sources_read_by_windowed_models() -> frozenset[tuple[str, str]]:
    """(source, table) of every source a windowed model (a measure, a by-period intermediate) reads, directly or
    through the models and macros it uses, from the project's SQL text."""
    return sources_read_by(lambda path, sql: path.startswith(WINDOWED_FOLDER) or "period_window" in sql)


def sources_read_by(picked: Callable[[str, str], bool]) -> frozenset[tuple[str, str]]:
    """(source, table) of every source the picked models (by project path and SQL text) read, directly or through
    the models and macros they use, from the project's SQL text."""
    models = {
        path.stem: (path.relative_to(DBT_PROJECT_DIR).as_posix(), path.read_text())
        for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")
    }
    macros: dict[str, str] = {}
    for path in (DBT_PROJECT_DIR / "macros").rglob("*.sql"):
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in _MACRO.finditer(text)]
        for (start, name), (end, _) in zip(starts, [*starts[1:], (len(text), "")], strict=True):
            macros[name] = text[start:end]

    # One scan of the text for every name called, not a regex search per macro (0.24 -> 0.04 CPU-s a process).
    def calls(sql: str) -> set[str]:
        return set(_CALL.findall(sql)) & macros.keys()

    # A macro's text with that of every macro it calls, transitively.
    expanded: dict[str, str] = {}
    for name in macros:
        seen, unread = {name}, [name]
        while unread:
            for called in calls(macros[unread.pop()]) - seen:
                seen.add(called)
                unread.append(called)
        expanded[name] = "\n".join(macros[m] for m in seen)

    def text_of(model: str) -> str:
        sql = models[model][1]
        return "\n".join([sql, *(expanded[m] for m in calls(sql))])

    roots = [name for name, (path, sql) in models.items() if picked(path, sql)]
    read: set[tuple[str, str]] = set()
    seen, unread = set(roots), list(roots)
    while unread:
        sql = text_of(unread.pop())
        read |= set(_SOURCE.findall(sql))
        for parent in set(_REF.findall(sql)) - seen:
            if parent in models:
                seen.add(parent)
                unread.append(parent)
    return frozenset(read)


def business_date_columns(table: Table, exported: Iterable[str]) -> list[str]:
    exported = set(exported)
    return [
        c.name
        for c in table.columns
        if isinstance(c.type, Date | DateTime) and c.name in exported and c.name not in NOT_BUSINESS_DATES
    ]


class TouchedDates:
    """The earliest date a landing's changes touch, found in the landed copy (before it is written) and in the
    new rows. `every_period` once anything touches every period."""

    def __init__(self, warehouse, tables: dict[str, Table], landed_columns: dict[str, set[str]]) -> None:
        self.warehouse = warehouse
        self.tables = tables
        self.columns = landed_columns  # landed table -> its columns
        self.earliest: dt.date | None = None
        self.every_period = False
        self.reasons: list[str] = []
        self._asked: set[tuple] = set()  # (table, column, keys, depth, children) already looked up

    def _touch(self, value) -> None:
        value = _as_date(value)
        if value is not None and (self.earliest is None or value < self.earliest):
            self.earliest = value

    def touch_every_period(self, why: str) -> None:
        self.every_period = True
        self.reasons.append(why)

    def add_change(self, name: str, old_keys: Sequence[int], new_rows: Sequence[pl.DataFrame] = ()) -> None:
        """One table's changes: `old_keys` are the keys whose landed rows change or go, `new_rows` the rows that
        replace or join them (frames of its exported columns). Call it before the landing writes them."""
        if self.every_period or name not in tables_read_by_windowed_models():
            return
        new_rows = [f for f in new_rows if f.height]
        new_height = sum(f.height for f in new_rows)
        if not old_keys and not new_height:
            return
        table = self.tables[name]
        if name in UNDATED_TABLES:
            if self._unchanged_but_ignored(name, list(old_keys), new_rows):
                return
            return self.touch_every_period(f"{name} changed (every period reads it as it is now)")
        if name not in self.columns or not business_date_columns(table, self.columns[name]):
            return self.touch_every_period(f"{name} changed (no landed copy, or no dates)")
        if len(old_keys) > MAX_KEYS or new_height > MAX_KEYS:
            return self.touch_every_period(f"{name}: too many changes to date")
        # Before: the rows as landed, their parents and their children.
        self._landed(name, "id", list(old_keys), depth=0, children=True)
        # After: the new rows' own dates and their parents' (as landed: a parent changed in this landing touches
        # its own dates). Rows referring to a new key are new themselves, and date themselves through it.
        for frame in new_rows:
            for column in business_date_columns(table, frame.columns):
                self._touch(frame[column].min())
            self._parents(
                table, lambda column, frame=frame: frame[column].drop_nulls().unique().to_list(), depth=1
            )

    def _unchanged_but_ignored(self, name: str, keys: list, new_rows: Sequence[pl.DataFrame]) -> bool:
        ignored = IGNORED_COLUMNS.get(name, IGNORED_BY_DEFAULT)
        if not keys or len(keys) > MAX_KEYS or name not in self.columns:
            return False
        landed = pl.concat(
            [
                self.warehouse.query(
                    f'select * from {RAW_OPERATIONAL}."{name}" where "id" in ({", ".join(str(int(k)) for k in chunk)})'
                )
                for chunk in _chunks(sorted(set(keys)))
            ],
            how="vertical_relaxed",
        )
        new = pl.concat(new_rows, how="vertical_relaxed") if new_rows else landed.clear()
        kept = [c for c in new.columns if c not in ignored]
        compared = changed_rows(
            landed.select([c for c in landed.columns if c not in ignored]), new.select(kept)
        )
        return compared is not None and not compared[0] and compared[1].height == 0

    def _landed(self, name: str, column: str, keys: list, *, depth: int, children: bool) -> None:
        if not keys or self.every_period:
            return
        table = self.tables[name]
        if name in UNDATED_TABLES or name not in tables_read_by_windowed_models() or name not in self.columns:
            return
        dates = business_date_columns(table, self.columns[name])
        for chunk in _chunks(sorted(set(keys))):
            asked = (name, column, tuple(chunk), depth, children)
            if asked in self._asked:
                continue
            self._asked.add(asked)
            where = f'"{column}" in ({", ".join(str(int(k)) for k in chunk)})'
            if dates:
                mins = self.warehouse.query(
                    "select "
                    + ", ".join(f'min("{d}") as "{d}"' for d in dates)
                    + f' from {RAW_OPERATIONAL}."{name}" where {where}'
                )
                for d in dates:
                    self._touch(mins[d][0])
            if depth < PARENT_DEPTH:
                self._parents(
                    table,
                    lambda fk_column, where=where: self.warehouse.query(
                        f'select distinct "{fk_column}" as k from {RAW_OPERATIONAL}."{name}" '
                        f'where {where} and "{fk_column}" is not null'
                    )["k"].to_list(),
                    depth=depth + 1,
                )
            if children and column == "id":
                self._children(name, chunk)

    def _parents(self, table: Table, keys_of, *, depth: int) -> None:
        for fk in table.foreign_keys:
            parent = fk.column.table.name
            if fk.column.name != "id" or fk.parent.name not in self.columns.get(table.name, ()):
                continue
            if (table.name, fk.parent.name) in NOT_FOLLOWED:
                continue
            if parent in UNDATED_TABLES or parent not in tables_read_by_windowed_models():
                continue
            self._landed(parent, "id", keys_of(fk.parent.name), depth=depth, children=False)

    def _children(self, name: str, keys: Sequence[int]) -> None:
        if not keys:
            return
        for child in self.tables.values():
            for fk in child.foreign_keys:
                if (
                    fk.column.table.name == name
                    and fk.column.name == "id"
                    and (child.name, fk.parent.name) not in NOT_FOLLOWED
                ):
                    # And the rows those refer to: a payment counts in its applications' charges' periods.
                    self._landed(child.name, fk.parent.name, list(keys), depth=1, children=False)


def changed_rows(old: pl.DataFrame, new: pl.DataFrame) -> tuple[list[int], pl.DataFrame] | None:
    """A whole-landed table's changes against its landed copy: the keys whose landed rows change or go, and the
    new or changed rows. None when the two cannot be compared (other columns or types, no key)."""
    if "id" not in new.columns or set(old.columns) != set(new.columns):
        return None
    try:
        old = old.select(new.columns).cast(dict(new.schema))
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        return None
    old_hashed = old.select("id", _row=old.hash_rows())
    new_hashed = new.select("id", _row=new.hash_rows())
    changed_new = new_hashed.join(old_hashed, on=["id", "_row"], how="anti")["id"]
    gone_old = old_hashed.join(new_hashed, on=["id", "_row"], how="anti")["id"]
    return sorted(set(gone_old.to_list())), new.filter(pl.col("id").is_in(changed_new.to_list()))


def _chunks(keys: list, size: int = 5_000) -> Iterable[list]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


# --- a build of the measures --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MeasuresPlan:
    """What a build of the measures without partitions recomputes, from the marks it read."""

    marks: tuple[Mark, ...]
    today: dt.date
    context: str
    window: tuple[dt.date, dt.date] | None  # None: every period
    reason: str  # why every period, or what the window starts from


def plan_measures_build(warehouse, env: Environment, *, every_period: bool = False) -> MeasuresPlan:
    """Read the marks in `warehouse` (the build's copy) and decide the window (none when `every_period`)."""
    from operational_api.export import export_today

    marks = tuple(read_marks(warehouse))
    today = export_today(
        env.practice_timezone, dt.date.fromisoformat(env.as_of_date) if env.as_of_date else None
    )
    context = measures_context(env)
    window, reason = (
        (None, "every period asked for")
        if every_period
        else measures_window(marks, today, context, measures_emptied=warehouse.is_empty(*MEASURES_TABLE))
    )
    return MeasuresPlan(marks, today, context, window, reason)


# The warehouse's models are unlogged tables on PostgreSQL (dbt_project.yml), which a crash recovery empties; the
# marks, in a logged table, would then describe periods that are gone. The measures' table is built last of the
# windowed models and holds rows for every period of any practice with data: found empty, every period is rebuilt.
MEASURES_TABLE = ("marts", "fct_practice_metrics")


# A refresh's two dbt builds share one plan. The models' build (which windows the by-period intermediates) records
# the plan it made; the measures' build of the same run uses it rather than reading the marks again, so it
# consumes only the marks the intermediates were built from: a mark landed in between (an ERA file, an AdvancedMD
# sync) stays for the next refresh instead of being consumed by a build whose intermediates never saw it.
PLANS_TABLE = "measure_plans"


def record_plan(warehouse, run_id: str, plan: MeasuresPlan) -> None:
    """Keep `plan` for the measures' build of run `run_id` (refreshes run one at a time: the table holds one)."""
    from mentalspace_platform.warehouse import TableWrite

    recorded = {
        "marks": [[m.mark_id, m.source, _iso(m.changed_from), m.context] for m in plan.marks],
        "today": plan.today.isoformat(),
        "context": plan.context,
        "window": None if plan.window is None else [d.isoformat() for d in plan.window],
        "reason": plan.reason,
    }
    frame = pl.DataFrame(
        {"run_id": [run_id], "plan": [json.dumps(recorded)]}, schema={"run_id": pl.Utf8, "plan": pl.Utf8}
    )
    warehouse.write_together([TableWrite(STATE_SCHEMA, PLANS_TABLE, [frame])])


def recorded_plan(warehouse, run_id: str) -> MeasuresPlan | None:
    """The plan the models' build of run `run_id` recorded, if it did."""
    if not warehouse.has_table(STATE_SCHEMA, PLANS_TABLE):
        return None
    rows = warehouse.query(
        f"select plan from {STATE_SCHEMA}.{PLANS_TABLE} where run_id = '{run_id.replace(chr(39), '')}'"
    )
    if not rows.height:
        return None
    recorded = json.loads(rows["plan"][0])
    window = recorded["window"]
    return MeasuresPlan(
        marks=tuple(
            Mark(i, source, _as_date(changed), context) for i, source, changed, context in recorded["marks"]
        ),
        today=dt.date.fromisoformat(recorded["today"]),
        context=recorded["context"],
        window=None
        if window is None
        else (dt.date.fromisoformat(window[0]), dt.date.fromisoformat(window[1])),
        reason=recorded["reason"],
    )


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def record_measures_built(warehouse, plan: MeasuresPlan) -> None:
    """After the build succeeded: remove the marks it read and leave its own, in one transaction."""
    from mentalspace_platform.warehouse import TableWrite

    empty = mark_frame([])
    built = new_mark(BUILT_AS_OF, plan.today, plan.context)
    warehouse.write_together(
        [
            *(
                TableWrite(STATE_SCHEMA, MARKS_TABLE, [empty], partition=("mark_id", m.mark_id))
                for m in plan.marks
            ),
            TableWrite(
                STATE_SCHEMA, MARKS_TABLE, [mark_frame([built])], partition=("mark_id", built.mark_id)
            ),
        ]
    )
