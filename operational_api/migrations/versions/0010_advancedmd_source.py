"""AdvancedMD as a production source: the shared rate-limit state and charge submissions.

Revision ID: 0010_advancedmd_source
Revises: 0004
Create Date: 2026-12-04

- advancedmd_rate_limits: one row per office key holding the limiter's booked call instants, locked
  by every process that calls AdvancedMD (ingest/advancedmd/ratelimit_sql.py).
- advancedmd_charge_submissions: one row per store charge sent through savecharges (the ids AdvancedMD
  returned) or refused (the field it named), so a retry never submits a charge twice.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_advancedmd_source"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advancedmd_rate_limits",
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("office_key", name=op.f("pk_advancedmd_rate_limits")),
    )
    op.create_table(
        "advancedmd_charge_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.Integer(), nullable=False),
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("advancedmd_visit_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("advancedmd_charge_ids", sa.String(length=200), nullable=True),
        sa.Column("refused_field", sa.String(length=100), nullable=True),
        sa.Column("refused_reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status in ('SUBMITTED', 'REFUSED')",
            name=op.f("ck_advancedmd_charge_submissions_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_advancedmd_charge_submissions_charge_id_charges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advancedmd_charge_submissions")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_advancedmd_charge_submissions_charge_id")),
    )


def downgrade() -> None:
    op.drop_table("advancedmd_charge_submissions")
    op.drop_table("advancedmd_rate_limits")
