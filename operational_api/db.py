"""Engines and schema migrations for the operational store (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from operational_api.errors import PlatformError
from operational_api.settings import database_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


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
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
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
