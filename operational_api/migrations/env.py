"""Alembic environment: the engine comes from operational_api.db, never from an ini file."""

from alembic import context
from sqlalchemy import text

from operational_api.models import Base

config = context.config
engine = config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"


def _set_sqlite_foreign_keys(connection, on: bool) -> None:
    # Honoured only outside a transaction: sent on its own and committed.
    connection.execute(text(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"))
    connection.commit()


with engine.connect() as connection:
    if sqlite:
        # A batch operation rebuilds a table (create the new one, copy, drop the old, rename): with foreign keys
        # on, dropping a table other rows reference fails as soon as the store holds a practice. The references
        # are checked as a whole before the migration commits instead.
        _set_sqlite_foreign_keys(connection, on=False)
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).all()
                if broken:
                    tables = ", ".join(sorted({row[0] for row in broken}))
                    raise RuntimeError(f"the migration left rows whose references are missing, in: {tables}")
    finally:
        if sqlite:
            _set_sqlite_foreign_keys(connection, on=True)
