"""Engines and schema migrations for the operational store (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Integer, MetaData, create_engine, event, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from operational_api.errors import PlatformError
from operational_api.settings import database_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Alembic runs a migration through module globals (`alembic.context`, `alembic.op`) that each run installs and removes:
# two threads of one process migrating at once (a test's store while the suite's background thread builds a shared
# practice) removed each other's and failed with KeyError. One migration per process at a time.
_ALEMBIC_LOCK = threading.Lock()


def _normalise_url(url: str) -> str:
    # People paste the libpq form; SQLAlchemy needs the driver spelled out for psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def get_engine(url: str | None = None) -> Engine:
    """An engine for the store, checked to be reachable; a bad URL is a one-line PlatformError."""
    raw = url or database_url()
    try:
        engine_url = make_url(_normalise_url(raw))
    except ArgumentError as exc:
        raise PlatformError(f"DATABASE_URL is not a database URL: {redact(raw)}") from exc
    if engine_url.get_backend_name() == "sqlite":
        if engine_url.database and engine_url.database != ":memory:":
            Path(engine_url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(engine_url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine_url.get_backend_name() == "postgresql":
        engine = create_engine(engine_url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    else:
        raise PlatformError(
            f"DATABASE_URL uses '{engine_url.get_backend_name()}': only sqlite and postgresql are supported"
        )
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise PlatformError(f"cannot reach the operational store at {redact(raw)}: {reason}") from None
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the dashboards read while a build writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    with _ALEMBIC_LOCK:
        command.downgrade(alembic_config(engine), revision)


def wipe(engine: Engine) -> None:
    """Drop every table of the store (data and schema) in one transaction, ready for `migrate`.

    Much faster than downgrading through every migration: with foreign keys on, SQLite turns each
    DROP TABLE into a row-by-row DELETE with reference checks (23 s on the demo practice)."""
    metadata = MetaData()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # Only honoured outside a transaction, hence before the first statement of this one.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        metadata.reflect(conn)
        metadata.drop_all(conn)
        conn.commit()
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # the connection goes back to the pool


# The generator's signature in the store: one practice_settings row (written last by `mentalspace generate`)
# holding the practice's seed and size and a fingerprint of every non-empty table: its row count and highest
# integer id. A row added afterwards (by hand, an API write, an ERA posting, an AdvancedMD sync) raises a count
# or an id, so the fingerprint no longer matches and the store counts as holding a practice's own records.
# Cheap (a count and a max per table, no row is read) at the price of two blind spots, both harmless for a
# synthetic practice: edits of generated rows, and on SQLite deleting the newest row of a table and adding one.
GENERATED_MARKER_KEY = "synthetic_practice"
# Rows the platform derives from the others on every build (the alert sync, the messages it queues: alerts,
# digests, reminders), and what people using the demo leave behind (audit rows of every sign-in and page view,
# MFA recovery codes), so they say nothing about origin.
DERIVED_TABLES = frozenset(
    {
        "compliance_alerts",
        "notification_outbox",
        "audit_events",
        "audit_exports",
        "audit_purges",
        "mfa_recovery_codes",
    }
)
# Rows the migrations themselves write into an empty store (0002's Georgia compliance rules).
MIGRATION_SEEDED_TABLES = frozenset({"alembic_version", "compliance_rules"})


@dataclass(frozen=True)
class StoreOrigin:
    """What the store holds, as far as replacing it is concerned."""

    rows: int  # rows beyond what the migrations seed: 0 means there is nothing to lose
    generated: bool  # every one of them was made by the generator (true for an empty store)
    reason: str = ""  # why not, in counts only (never record content)


def _table_shapes(conn: Connection) -> dict[str, list[int]]:
    """Row count and highest integer id of every non-empty table (a new empty table changes nothing)."""
    metadata = MetaData()
    metadata.reflect(conn)
    shapes: dict[str, list[int]] = {}
    for name, table in sorted(metadata.tables.items()):
        key = list(table.primary_key.columns)
        columns = [func.count()]
        if len(key) == 1 and isinstance(key[0].type, Integer):
            columns.append(func.max(key[0]))
        count, *highest = conn.execute(select(*columns).select_from(table)).one()
        if count:
            shapes[name] = [int(count), *(int(h) for h in highest if h is not None)]
    return shapes


def _fingerprint(shapes: dict[str, list[int]]) -> str:
    kept = {name: shape for name, shape in shapes.items() if name not in DERIVED_TABLES}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def mark_generated(engine: Engine, **practice: object) -> None:
    """Record that the store now holds exactly what the generator made (call it last, after every write)."""
    from operational_api.models import PracticeSetting

    settings = PracticeSetting.__table__
    with engine.begin() as conn:
        conn.execute(settings.delete().where(settings.c.key == GENERATED_MARKER_KEY))
        # The marker row is part of what it fingerprints: insert it first, fill in its value after.
        conn.execute(settings.insert().values(key=GENERATED_MARKER_KEY, value="{}"))
        shapes = _table_shapes(conn)
        rows = sum(s[0] for name, s in shapes.items() if name not in DERIVED_TABLES | MIGRATION_SEEDED_TABLES)
        value = json.dumps(
            {**practice, "rows": rows, "fingerprint": _fingerprint(shapes)},
            default=str,
            separators=(",", ":"),
        )
        conn.execute(settings.update().where(settings.c.key == GENERATED_MARKER_KEY).values(value=value))


def store_origin(engine: Engine) -> StoreOrigin:
    """Whether the store is empty, holds only the generator's synthetic practice, or holds other records."""
    with engine.connect() as conn:
        shapes = _table_shapes(conn)
        rows = sum(s[0] for name, s in shapes.items() if name not in DERIVED_TABLES | MIGRATION_SEEDED_TABLES)
        if not rows:
            return StoreOrigin(0, True)
        marker = None
        if "practice_settings" in shapes:
            from operational_api.models import PracticeSetting

            settings = PracticeSetting.__table__
            marker = conn.execute(
                select(settings.c.value).where(settings.c.key == GENERATED_MARKER_KEY)
            ).scalar()
    try:
        made = json.loads(marker) if marker else None
    except ValueError:
        made = None
    if not isinstance(made, dict) or "fingerprint" not in made:
        tables = sorted(n for n in shapes if n not in DERIVED_TABLES | MIGRATION_SEEDED_TABLES)
        return StoreOrigin(
            rows,
            False,
            f"it holds {rows:,} rows ({', '.join(tables[:3])}"
            f"{', ...' if len(tables) > 3 else ''}) not made by the generator",
        )
    if made["fingerprint"] == _fingerprint(shapes):
        return StoreOrigin(rows, True)
    return StoreOrigin(
        rows,
        False,
        f"it holds records not made by the generator ({rows:,} rows now, "
        f"{int(made.get('rows', 0)):,} generated; rows were added or removed since)",
    )


def is_migrated(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls everything back on any error."""
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
