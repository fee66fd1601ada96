"""A change column on every exported table (issue 17): the 15-minute refresh lands a table with `updated_at` by
key, only the rows whose (id, updated_at) differ from the landed copy; the tables without it were read, re-landed
and diffed whole every 15 minutes (~1.7 M rows on a 100-clinician practice).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

- updated_at (naive UTC, not null) on each table of CHANGED, filled for the rows there: from `created_at` where
  the table has one, else the migration's time. It is a change stamp, not a business date: the value only has to
  move when the row changes (models.ChangeStampMixin).
- The store's schema revision is part of every landed table's fingerprint, so the first landing after this
  migration is whole and the landed copies get the column.
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# In foreign-key order (parents first), as 0001 created them.
CHANGED = (
    "payers",
    "practice_settings",
    "breach_incidents",
    "clinician_availability",
    "era_files",
    "hipaa_trainings",
    "supervision_sessions",
    "case_inputs",
    "claims",
    "guardians",
    "insurance_policies",
    "payments",
    "appointment_status_history",
    "consents",
    "insurance_verifications",
    "note_amendments",
    "safety_plans",
    "treatment_plans",
    "credit_balances",
    "era_claims",
    "charge_adjustments",
    "era_match_candidates",
    "era_service_lines",
    "payment_applications",
)
WITH_CREATED_AT = {"payments", "note_amendments", "credit_balances"}


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for table in CHANGED:
        # Added nullable, filled, then made NOT NULL: SQLite cannot add a NOT NULL column without a default, and a
        # server default would stamp later raw inserts with this migration's time.
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        fill = "coalesce(created_at, :now)" if table in WITH_CREATED_AT else ":now"
        op.get_bind().execute(sa.text(f"update {table} set updated_at = {fill}"), {"now": now})
        with op.batch_alter_table(table) as batch:
            batch.alter_column("updated_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    for table in reversed(CHANGED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("updated_at")
