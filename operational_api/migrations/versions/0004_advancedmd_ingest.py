"""AdvancedMD ingest: sync watermarks and the patient link table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

- ingest_watermarks: how far each incremental sync has landed, per office key and entity (the
  ``servertime`` AdvancedMD answered, stored verbatim; see ingest/advancedmd/watermarks.py).
- advancedmd_patients: the PRD's AdvancedMDPatient, one row per AdvancedMD patient with the
  client it is linked to (by chart number), the sync status and when it was last synced.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_watermarks",
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("watermark", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("office_key", "entity", name=op.f("pk_ingest_watermarks")),
    )
    op.create_table(
        "advancedmd_patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("advancedmd_patient_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("sync_status", sa.String(length=20), nullable=False),
        sa.Column("sync_error", sa.String(length=200), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "sync_status in ('LINKED', 'UNMATCHED', 'DELETED')",
            name=op.f("ck_advancedmd_patients_sync_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_advancedmd_patients_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advancedmd_patients")),
        sa.UniqueConstraint(
            "office_key",
            "advancedmd_patient_id",
            name=op.f("uq_advancedmd_patients_office_key_advancedmd_patient_id"),
        ),
    )
    with op.batch_alter_table("advancedmd_patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_advancedmd_patients_client_id"), ["client_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("advancedmd_patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advancedmd_patients_client_id"))
    op.drop_table("advancedmd_patients")
    op.drop_table("ingest_watermarks")
