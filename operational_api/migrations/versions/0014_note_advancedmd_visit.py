"""A clinical note may name the AdvancedMD visit it documents (issue 16).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

- clinical_notes.advancedmd_visit_id: with AdvancedMD as the system of record for scheduling, the session a note
  documents may exist only in AdvancedMD (no store appointment). The note then names AdvancedMD's visit id
  (Visit_UID) instead of `appointment_id`; the warehouse pairs it with the visit
  (stg_operational__clinical_notes). Null for every existing note.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch): on SQLite a batch rebuilds the table, which fails the notes' foreign keys.
    op.add_column("clinical_notes", sa.Column("advancedmd_visit_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clinical_notes") as batch:
        batch.drop_column("advancedmd_visit_id")
