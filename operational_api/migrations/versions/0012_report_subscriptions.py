"""Module 10 reports: saved custom reports and report subscriptions.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

- saved_reports: a user's custom report by name (measures, scope, grain, range as JSON).
- report_subscriptions: a recipient, a report (fixed name or custom:<id>), a cadence and filters; delivery goes
  through the notification outbox keyed (report:<name>, recipient, period), so a period is sent once.
Neither table is exported to the warehouse.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_saved_reports_owner_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_reports")),
        sa.UniqueConstraint("owner_user_id", "name", name=op.f("uq_saved_reports_owner_user_id_name")),
    )
    op.create_table(
        "report_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_name", sa.String(length=120), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), nullable=False),
        sa.Column("cadence", sa.String(length=10), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "cadence in ('daily', 'weekly', 'monthly')",
            name=op.f("ck_report_subscriptions_cadence_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"], ["users.id"], name=op.f("fk_report_subscriptions_recipient_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_report_subscriptions_created_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_subscriptions")),
        sa.UniqueConstraint(
            "report_name",
            "recipient_user_id",
            "cadence",
            name=op.f("uq_report_subscriptions_report_name_recipient_user_id_cadence"),
        ),
    )


def downgrade() -> None:
    op.drop_table("report_subscriptions")
    op.drop_table("saved_reports")
