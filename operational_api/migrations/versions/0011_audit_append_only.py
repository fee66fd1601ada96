"""The audit log is append-only: triggers refuse UPDATE, DELETE (and TRUNCATE) of audit rows; exports and purges.

A row may be deleted only once it is older than the 7-year retention (`mentalspace audit purge`, which records
the anchor the chain is then verified from). On PostgreSQL the application's own role additionally has no
UPDATE/DELETE/TRUNCATE grant on these tables (`mentalspace db grant-app-role`), so only the owner role that runs
migrations can purge, and only rows past retention.

Revision ID: 0011
Revises: 0010_advancedmd_source
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010_advancedmd_source"
branch_labels = None
depends_on = None

RETENTION_YEARS = 7  # = operational_api.audit_chain.RETENTION_YEARS (a migration must not import app code)
# Table -> the column that dates its rows for the retention rule (None: never deleted).
APPEND_ONLY = {"audit_events": "occurred_at", "audit_exports": None, "audit_purges": None}


def _sqlite_triggers(table: str, dated_by: str | None) -> list[str]:
    message = f"{table} is append-only"
    delete_when = f"WHEN old.{dated_by} >= datetime('now', '-{RETENTION_YEARS} years') " if dated_by else ""
    delete_message = (
        f"{message}: rows younger than {RETENTION_YEARS} years cannot be deleted" if dated_by else message
    )
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}: rows cannot be updated'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {delete_when}"
        f"BEGIN SELECT RAISE(ABORT, '{delete_message}'); END",
    ]


def _pg_statements(table: str, dated_by: str | None) -> list[str]:
    if dated_by:
        delete_rule = (
            f"IF TG_OP = 'DELETE' AND OLD.{dated_by} < (now() AT TIME ZONE 'UTC') - interval '{RETENTION_YEARS} years' "
            f"THEN RETURN OLD; END IF;"
        )
    else:
        delete_rule = ""
    return [
        f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {delete_rule}
            RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""",
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
    ]


def upgrade() -> None:
    op.create_table(
        "audit_exports",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=True),
        sa.Column("last_id", sa.BigInteger(), nullable=True),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_audit_exports")),
    )
    op.create_table(
        "audit_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("through_id", sa.BigInteger(), nullable=False),
        sa.Column("through_hash", sa.String(length=64), nullable=False),
        sa.Column("cutoff", sa.DateTime(), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_purges")),
    )
    build = _pg_statements if op.get_bind().dialect.name == "postgresql" else _sqlite_triggers
    for table, dated_by in APPEND_ONLY.items():
        for statement in build(table, dated_by):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("audit_purges")
    op.drop_table("audit_exports")
