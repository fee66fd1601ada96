"""Appointment reminders to clients (issue 15): contact consent per channel, and client recipients in the outbox.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

- clients.has_email_contact_consent / has_sms_contact_consent: the client agreed to reminders by that channel
  (false for every existing client: nobody is contacted until their consent is recorded).
- notification_outbox: a row's recipient is a user or a client (recipient_client_id, exactly one of the two),
  unique per (kind, client, period) as per (kind, user, period); status `withdrawn` for a reminder whose
  appointment was cancelled, rescheduled or had begun before it could go.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

STATUSES_BEFORE = "'queued', 'sent', 'failed_permanent', 'bounced'"


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping the old `clients`
    # fails its foreign keys as soon as the store holds a practice.
    for column in ("has_email_contact_consent", "has_sms_contact_consent"):
        op.add_column("clients", sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("notification_outbox") as batch:
        batch.alter_column("recipient_user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("recipient_client_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_notification_outbox_recipient_client_id_clients"),
            "clients",
            ["recipient_client_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            op.f("uq_notification_outbox_kind_recipient_client_id_period"),
            ["kind", "recipient_client_id", "period"],
        )
        batch.create_check_constraint(
            op.f("ck_notification_outbox_one_recipient"),
            "(recipient_user_id is null) <> (recipient_client_id is null)",
        )
        batch.drop_constraint(op.f("ck_notification_outbox_status_allowed"), type_="check")
        batch.create_check_constraint(
            op.f("ck_notification_outbox_status_allowed"), f"status in ({STATUSES_BEFORE}, 'withdrawn')"
        )


def downgrade() -> None:
    op.execute("delete from notification_outbox where recipient_client_id is not null")
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_constraint(op.f("ck_notification_outbox_status_allowed"), type_="check")
        batch.create_check_constraint(
            op.f("ck_notification_outbox_status_allowed"), f"status in ({STATUSES_BEFORE})"
        )
        batch.drop_constraint(op.f("ck_notification_outbox_one_recipient"), type_="check")
        batch.drop_constraint(op.f("uq_notification_outbox_kind_recipient_client_id_period"), type_="unique")
        batch.drop_constraint(op.f("fk_notification_outbox_recipient_client_id_clients"), type_="foreignkey")
        batch.drop_column("recipient_client_id")
        batch.alter_column("recipient_user_id", existing_type=sa.Integer(), nullable=False)
    for column in ("has_sms_contact_consent", "has_email_contact_consent"):
        op.drop_column("clients", column)
