"""AdvancedMD as a production source: the shared rate-limit state and charge submissions.

Revision ID: 0010_advancedmd_source
Revises: 0009_notifications
Create Date: 2026-12-04

- advancedmd_rate_limits: one row per office key holding the limiter's booked call instants, locked
  by every process that calls AdvancedMD (ingest/advancedmd/ratelimit_sql.py).
- advancedmd_charge_submissions: one row per store charge sent through savecharges (the ids AdvancedMD
  returned) or refused (the field it named), so a retry never submits a charge twice.
- users.npi and advancedmd_provider_links: AdvancedMD provider profiles linked to clinicians, by NPI first,
  then by an administrator's mapping.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_advancedmd_source"
down_revision = "0009_notifications"
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

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("npi", sa.String(length=10), nullable=True))
    op.create_table(
        "advancedmd_provider_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_key", sa.String(length=32), nullable=False),
        sa.Column("provider_code", sa.String(length=40), nullable=False),
        sa.Column("advancedmd_provider_id", sa.Integer(), nullable=True),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("link_source", sa.String(length=10), nullable=True),
        sa.Column("sync_status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "sync_status in ('LINKED', 'UNMATCHED')",
            name=op.f("ck_advancedmd_provider_links_sync_status_allowed"),
        ),
        sa.CheckConstraint(
            "link_source is null or link_source in ('NPI', 'ADMIN')",
            name=op.f("ck_advancedmd_provider_links_link_source_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_advancedmd_provider_links_clinician_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advancedmd_provider_links")),
        sa.UniqueConstraint(
            "office_key", "provider_code", name=op.f("uq_advancedmd_provider_links_office_key_provider_code")
        ),
    )
    with op.batch_alter_table("advancedmd_provider_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_advancedmd_provider_links_clinician_id"), ["clinician_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("advancedmd_provider_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advancedmd_provider_links_clinician_id"))
    op.drop_table("advancedmd_provider_links")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("npi")
    op.drop_table("advancedmd_charge_submissions")
    op.drop_table("advancedmd_rate_limits")
