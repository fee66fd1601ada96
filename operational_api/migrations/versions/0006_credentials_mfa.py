"""Credentials: TOTP MFA on users, one-time recovery codes, HIPAA training exceptions.

Revision ID: 0006_credentials_mfa
Revises: 0005
Create Date: 2026-12-04

- users.mfa_secret / mfa_enrolled_at / mfa_last_step: the TOTP secret, when its enrolment was confirmed,
  and the last accepted time step (a code is good once).
- mfa_recovery_codes: 10 per user, SHA-256 digests, each used once.
- hipaa_training_exceptions: an administrator's time-boxed permission to sign in without current training.

Existing bcrypt password hashes stay as they are: they verify, and are rehashed to argon2id at the next
successful sign-in (operational_api/passwords.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_credentials_mfa"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mfa_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("mfa_enrolled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("mfa_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "mfa_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mfa_recovery_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_recovery_codes")),
    )
    op.create_index(op.f("ix_mfa_recovery_codes_user_id"), "mfa_recovery_codes", ["user_id"], unique=False)
    op.create_table(
        "hipaa_training_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "expires_at > granted_at", name=op.f("ck_hipaa_training_exceptions_expires_after_granted")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_hipaa_training_exceptions_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_hipaa_training_exceptions_granted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hipaa_training_exceptions")),
    )
    op.create_index(
        op.f("ix_hipaa_training_exceptions_user_id"), "hipaa_training_exceptions", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_hipaa_training_exceptions_user_id"), table_name="hipaa_training_exceptions")
    op.drop_table("hipaa_training_exceptions")
    op.drop_index(op.f("ix_mfa_recovery_codes_user_id"), table_name="mfa_recovery_codes")
    op.drop_table("mfa_recovery_codes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("mfa_last_step")
        batch_op.drop_column("mfa_enrolled_at")
        batch_op.drop_column("mfa_secret")
