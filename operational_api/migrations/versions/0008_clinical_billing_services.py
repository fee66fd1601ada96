"""Clinical and billing services (issue 13): optimistic-concurrency versions on notes, treatment plans, claims
and charges; credit balances (the part of a manual payment above a charge's balance, recorded on purpose).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VERSIONED = ("clinical_notes", "treatment_plans", "claims", "charges")


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "credit_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("charge_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_balances_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_credit_balances_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_credit_balances_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_credit_balances_charge_id_charges")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_credit_balances_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_balances")),
    )
    op.create_index(op.f("ix_credit_balances_payment_id"), "credit_balances", ["payment_id"])
    op.create_index(op.f("ix_credit_balances_client_id"), "credit_balances", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_balances_client_id"), table_name="credit_balances")
    op.drop_index(op.f("ix_credit_balances_payment_id"), table_name="credit_balances")
    op.drop_table("credit_balances")
    for table in reversed(VERSIONED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
