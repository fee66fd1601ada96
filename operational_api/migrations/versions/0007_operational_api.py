"""The operational API (issue 13): token sessions, signing key, idempotency keys, the waitlist, optimistic
concurrency versions, and the no-double-booking rule as a database constraint.

PostgreSQL: two exclusion constraints (btree_gist) on appointments that still hold their slot (any status but
CANCELLED and RESCHEDULED): one per clinician (appointments of one shared group/family slot may overlap each
other) and one per client. SQLite: triggers that raise `appointment.double_booked` on the same overlap; the
API's write transactions begin IMMEDIATE so concurrent bookings queue instead of racing.

Revision ID: 0007
Revises: 0006_credentials_mfa
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006_credentials_mfa"
branch_labels = None
depends_on = None

FREE_STATUSES = "('CANCELLED','RESCHEDULED')"

# The trigger bounds its search to appointments starting up to a day earlier (the service refuses anything
# longer than 12 hours), so a booking checks a day of the clinician's calendar through the (clinician, start)
# index instead of their whole history.
_SQLITE_OVERLAP = f"""
    SELECT RAISE(ABORT, 'appointment.double_booked: the clinician or the client already has an appointment then')
    WHERE EXISTS (
        SELECT 1 FROM appointments a
        WHERE a.clinician_id = NEW.clinician_id
          AND a.start_at > datetime(NEW.start_at, '-1 day') AND a.start_at < NEW.end_at AND NEW.start_at < a.end_at
          AND a.status NOT IN {FREE_STATUSES}
          AND coalesce(a.shared_slot_id, a.id) IS NOT coalesce(NEW.shared_slot_id, NEW.id, -1)
          {{self_clinician}}
    ) OR EXISTS (
        SELECT 1 FROM appointments a
        WHERE a.client_id = NEW.client_id
          AND a.start_at < NEW.end_at AND NEW.start_at < a.end_at
          AND a.status NOT IN {FREE_STATUSES}
          {{self_client}}
    );
"""


def _version_column() -> sa.Column:
    return sa.Column("version", sa.Integer(), server_default="1", nullable=False)


def upgrade() -> None:
    op.create_table(
        "api_signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_signing_keys")),
    )
    op.create_table(
        "api_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("refresh_jti", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_sessions")),
    )
    op.create_index("ix_api_sessions_user_id", "api_sessions", ["user_id"])
    op.create_table(
        "api_idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_keys")),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name=op.f("uq_api_idempotency_keys_user_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(_version_column())
    with op.batch_alter_table("consents") as batch:
        batch.add_column(_version_column())
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("shared_slot_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("availability_override_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("availability_override_reason", sa.String(length=200), nullable=True))
        batch.add_column(_version_column())
        batch.create_foreign_key(
            op.f("fk_appointments_shared_slot_id_appointments"), "appointments", ["shared_slot_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_appointments_series_id_appointments"), "appointments", ["series_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_appointments_availability_override_by_users"),
            "users",
            ["availability_override_by"],
            ["id"],
        )
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("appointment_type", sa.String(length=30), nullable=False),
        sa.Column("is_telehealth", sa.Boolean(), nullable=False),
        sa.Column("window_start_at", sa.DateTime(), nullable=False),
        sa.Column("window_end_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("offered_start_at", sa.DateTime(), nullable=True),
        sa.Column("offered_end_at", sa.DateTime(), nullable=True),
        sa.Column("offered_at", sa.DateTime(), nullable=True),
        sa.Column("booked_appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _version_column(),
        sa.CheckConstraint(
            "status in ('WAITING','OFFERED','BOOKED','CANCELLED')",
            name=op.f("ck_waitlist_entries_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["booked_appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_booked_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_waitlist_entries_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_waitlist_entries_clinician_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_waitlist_entries_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index("ix_waitlist_entries_client_id", "waitlist_entries", ["client_id"])
    op.create_index("ix_waitlist_entries_clinician_status", "waitlist_entries", ["clinician_id", "status"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("create extension if not exists btree_gist")
        op.execute(
            "alter table appointments add constraint ex_appointments_clinician_overlap exclude using gist ("
            "clinician_id with =, tsrange(start_at, end_at, '[)') with &&, (coalesce(shared_slot_id, id)) with <>"
            f") where (status not in {FREE_STATUSES})"
        )
        op.execute(
            "alter table appointments add constraint ex_appointments_client_overlap exclude using gist ("
            "client_id with =, tsrange(start_at, end_at, '[)') with &&"
            f") where (status not in {FREE_STATUSES})"
        )
    else:
        body = _SQLITE_OVERLAP
        op.execute(
            f"CREATE TRIGGER appointments_no_overlap_insert BEFORE INSERT ON appointments "
            f"WHEN NEW.status NOT IN {FREE_STATUSES} BEGIN "
            + body.format(self_clinician="", self_client="")
            + " END"
        )
        op.execute(
            "CREATE TRIGGER appointments_no_overlap_update BEFORE UPDATE OF "
            "status, start_at, end_at, clinician_id, client_id, shared_slot_id ON appointments "
            f"WHEN NEW.status NOT IN {FREE_STATUSES} BEGIN "
            + body.format(self_clinician="AND a.id <> NEW.id", self_client="AND a.id <> NEW.id")
            + " END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("alter table appointments drop constraint if exists ex_appointments_client_overlap")
        op.execute("alter table appointments drop constraint if exists ex_appointments_clinician_overlap")
    else:
        op.execute("DROP TRIGGER IF EXISTS appointments_no_overlap_update")
        op.execute("DROP TRIGGER IF EXISTS appointments_no_overlap_insert")
    op.drop_index("ix_waitlist_entries_clinician_status", table_name="waitlist_entries")
    op.drop_index("ix_waitlist_entries_client_id", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_constraint(op.f("fk_appointments_availability_override_by_users"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_appointments_series_id_appointments"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_appointments_shared_slot_id_appointments"), type_="foreignkey")
        for column in ("version", "availability_override_reason", "availability_override_by", "series_id"):
            batch.drop_column(column)
        batch.drop_column("shared_slot_id")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("version")
    op.drop_table("api_idempotency_keys")
    op.drop_index("ix_api_sessions_user_id", table_name="api_sessions")
    op.drop_table("api_sessions")
    op.drop_table("api_signing_keys")
