"""PostgreSQL roles the platform documents: the application's own role on the operational store, and the
read-only analyst role on the warehouse. Both commands are idempotent: re-run them after each migration.

- Application role (`mentalspace db grant-app-role ROLE`): what the API, dashboards and Dagster connect as. Full
  DML on the store's tables except the audit log's, where it may only INSERT and SELECT: audit rows can be
  neither changed nor removed by the application, whatever its code does (the triggers of migration 0011 refuse
  it as well). Migrations and the 7-year purge run as the owner role, never as this one.
- Analyst role (`mentalspace warehouse grant-analyst ROLE`): USAGE + SELECT on `marts` and `reference` only, and
  read-only transactions, so analysts never see `raw_*`, `staging` or `intermediate` (which hold row-level data
  the marts aggregate) and cannot write anything.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, text

from operational_api.errors import PlatformError

AUDIT_TABLES = ("audit_events", "audit_exports", "audit_purges")
ANALYST_SCHEMAS = ("marts", "reference")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _checked_role(role: str) -> str:
    if not _ROLE_NAME.match(role):
        raise PlatformError(
            f"role name '{role}' is not a plain lower-case PostgreSQL name (letters, digits, underscore)"
        )
    return role


def _require_postgres(engine: Engine, what: str) -> None:
    if engine.dialect.name != "postgresql":
        raise PlatformError(
            f"{what} is for PostgreSQL; the store at {engine.url.render_as_string(hide_password=True)} is "
            f"{engine.dialect.name} (an embedded database has no roles)"
        )


def _ensure_role(conn: Connection, role: str, password: str | None) -> bool:
    """Create the login role when missing; refuse one that grants could not restrict. True when created."""
    found = conn.execute(
        text("select rolsuper, rolbypassrls from pg_roles where rolname = :r"), {"r": role}
    ).first()
    if found is None:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        created = True
    else:
        if found.rolsuper:
            raise PlatformError(
                f"role '{role}' is a superuser: grants cannot restrict it; use a separate, ordinary role"
            )
        created = False
    if password:
        # Literal, not a bind parameter: utility statements take no parameters. Quotes doubled.
        conn.exec_driver_sql(f"ALTER ROLE \"{role}\" PASSWORD '{password.replace(chr(39), chr(39) * 2)}'")
    return created


def grant_app_role(engine: Engine, role: str, *, password: str | None = None) -> bool:
    """Give `role` what the application needs on the store, and no UPDATE/DELETE/TRUNCATE on the audit log."""
    _require_postgres(engine, "grant-app-role")
    role = _checked_role(role)
    with engine.begin() as conn:
        owner = conn.execute(
            text(
                "select tableowner from pg_tables where schemaname = 'public' and tablename = 'audit_events'"
            )
        ).scalar()
        if owner is None:
            raise PlatformError("the store has no audit_events table yet: run `mentalspace init` first")
        if owner == role:
            raise PlatformError(
                f"role '{role}' owns the store's tables (it ran the migrations), so grants cannot restrict it; "
                f"the application needs a role of its own"
            )
        created = _ensure_role(conn, role, password)
        database = conn.execute(text("select current_database()")).scalar()
        for statement in (
            f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
            f'GRANT USAGE ON SCHEMA public TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM "{role}"',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {", ".join(AUDIT_TABLES)} FROM "{role}"',
        ):
            conn.exec_driver_sql(statement)
    return created


def grant_analyst(engine: Engine, role: str, *, password: str | None = None) -> bool:
    """Create (or bring up to date) the warehouse's read-only analyst role: marts and reference only."""
    _require_postgres(engine, "grant-analyst")
    role = _checked_role(role)
    with engine.begin() as conn:
        present = set(
            conn.execute(
                text("select nspname from pg_namespace where nspname = any(:s)"), {"s": list(ANALYST_SCHEMAS)}
            ).scalars()
        )
        missing = [s for s in ANALYST_SCHEMAS if s not in present]
        if missing:
            raise PlatformError(
                f"the warehouse has no {', '.join(missing)} schema yet: run `mentalspace build` first"
            )
        created = _ensure_role(conn, role, password)
        database = conn.execute(text("select current_database()")).scalar()
        builder = conn.execute(text("select current_user")).scalar()
        statements = [
            f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
            f'ALTER ROLE "{role}" SET default_transaction_read_only = on',
        ]
        for schema in ANALYST_SCHEMAS:
            statements += [
                f'GRANT USAGE ON SCHEMA {schema} TO "{role}"',
                f'GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO "{role}"',
                # dbt replaces its tables on every build: new ones get the grant from their creator's defaults.
                f'ALTER DEFAULT PRIVILEGES FOR ROLE "{builder}" IN SCHEMA {schema} GRANT SELECT ON TABLES TO "{role}"',
            ]
        for statement in statements:
            conn.exec_driver_sql(statement)
    return created
