"""AdvancedMD demographics both ways (issue 16): what the push last agreed with AdvancedMD, and open conflicts.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

- advancedmd_demographic_sync: one row per (office key, linked client): one-way digests of the demographic and
  insurance fields last pushed (or accepted), AdvancedMD's changedat at that moment, and a CONFLICT status with
  the field names when both sides changed since (ingest/advancedmd/demographics.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advancedmd_demographic_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("advancedmd_patient_id", sa.BigInteger(), nullable=False),
        sa.Column("field_digests", sa.Text(), nullable=False),
        sa.Column("advancedmd_changed_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("conflict_fields", sa.String(length=300), nullable=True),
        sa.Column("conflict_at", sa.DateTime(), nullable=True),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status in ('IN_SYNC', 'CONFLICT')", name=op.f("ck_advancedmd_demographic_sync_status_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_advancedmd_demographic_sync_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advancedmd_demographic_sync")),
        sa.UniqueConstraint(
            "office_key", "client_id", name=op.f("uq_advancedmd_demographic_sync_office_key_client_id")
        ),
    )
    with op.batch_alter_table("advancedmd_demographic_sync") as batch:
        batch.create_index(batch.f("ix_advancedmd_demographic_sync_client_id"), ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_table("advancedmd_demographic_sync")
