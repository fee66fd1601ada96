"""The AdvancedMD session shared by every process (issue 16): AdvancedMD certifies a client that caches its token
until the end of the day, and each Dagster run is its own process.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

- advancedmd_sessions: one row per office key holding the current usercontext token, its api host, when it was
  issued, expires and is to be refreshed, and which account it belongs to; locked by a process while it logs in
  (ingest/advancedmd/sessions_sql.py). The token is a secret: the table is not exported to the warehouse.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advancedmd_sessions",
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("webserver", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("office_key", name=op.f("pk_advancedmd_sessions")),
    )


def downgrade() -> None:
    op.drop_table("advancedmd_sessions")
