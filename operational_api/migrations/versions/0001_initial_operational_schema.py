"""initial operational schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compliance_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_type", sa.String(length=60), nullable=False),
        sa.Column("parameter", sa.String(length=60), nullable=False),
        sa.Column("license_type", sa.String(length=20), nullable=True),
        sa.Column("value", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_rules")),
        sa.UniqueConstraint(
            "rule_type",
            "parameter",
            "license_type",
            name=op.f("uq_compliance_rules_rule_type_parameter_license_type"),
        ),
    )
    op.create_table(
        "payers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("payer_code", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
        sa.UniqueConstraint("payer_code", name=op.f("uq_payers_payer_code")),
    )
    op.create_table(
        "practice_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_settings")),
        sa.UniqueConstraint("key", name=op.f("uq_practice_settings_key")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("license_type", sa.String(length=20), nullable=True),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("failed_login_count", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("hired_date", sa.Date(), nullable=True),
        sa.Column("weekly_session_target", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "license_type is null or license_type in ('LPC','LPC_ASSOCIATE','LMSW','LCSW','LMFT','PSYCHOLOGIST','PSYCHIATRIST')",
            name=op.f("ck_users_license_type_allowed"),
        ),
        sa.CheckConstraint(
            "role in ('ADMIN', 'CLINICIAN', 'SUPERVISOR', 'BILLING', 'FRONT_DESK', 'CLIENT')",
            name=op.f("ck_users_role_allowed"),
        ),
        sa.ForeignKeyConstraint(["supervisor_id"], ["users.id"], name=op.f("fk_users_supervisor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "breach_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reported_by", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reported_by"], ["users.id"], name=op.f("fk_breach_incidents_reported_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_incidents")),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=30), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("zip_code", sa.String(length=10), nullable=True),
        sa.Column("emergency_contact_name", sa.String(length=200), nullable=True),
        sa.Column("emergency_contact_phone", sa.String(length=30), nullable=True),
        sa.Column("referring_provider", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("primary_clinician_id", sa.Integer(), nullable=True),
        sa.Column("is_high_risk", sa.Boolean(), nullable=False),
        sa.Column("has_suicidal_ideation", sa.Boolean(), nullable=False),
        sa.Column("is_emancipated", sa.Boolean(), nullable=False),
        sa.Column("is_self_pay", sa.Boolean(), nullable=False),
        sa.Column("portal_user_id", sa.Integer(), nullable=True),
        sa.Column("portal_activated_at", sa.DateTime(), nullable=True),
        sa.Column("intake_date", sa.Date(), nullable=True),
        sa.Column("discharged_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status in ('ACTIVE', 'INACTIVE', 'DISCHARGED')", name=op.f("ck_clients_status_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["portal_user_id"], ["users.id"], name=op.f("fk_clients_portal_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["primary_clinician_id"], ["users.id"], name=op.f("fk_clients_primary_clinician_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clients_primary_clinician_id"), ["primary_clinician_id"], unique=False
        )

    op.create_table(
        "clinician_availability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.CheckConstraint("weekday between 0 and 6", name=op.f("ck_clinician_availability_weekday_range")),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_clinician_availability_clinician_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinician_availability")),
    )
    with op.batch_alter_table("clinician_availability", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinician_availability_clinician_id"), ["clinician_id"], unique=False
        )

    op.create_table(
        "compliance_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_key", sa.String(length=200), nullable=False),
        sa.Column("alert_type", sa.String(length=60), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("target_user_id", sa.Integer(), nullable=True),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("entity_type", sa.String(length=40), nullable=True),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("action_required", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "severity in ('INFO', 'WARNING', 'CRITICAL')", name=op.f("ck_compliance_alerts_severity_allowed")
        ),
        sa.CheckConstraint(
            "status in ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')", name=op.f("ck_compliance_alerts_status_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_compliance_alerts_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(["admin_id"], ["users.id"], name=op.f("fk_compliance_alerts_admin_id_users")),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_compliance_alerts_resolved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["users.id"], name=op.f("fk_compliance_alerts_supervisor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"], ["users.id"], name=op.f("fk_compliance_alerts_target_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_alerts")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_compliance_alerts_alert_key")),
    )
    with op.batch_alter_table("compliance_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_compliance_alerts_supervisor_status", ["supervisor_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_compliance_alerts_target_status", ["target_user_id", "status"], unique=False
        )

    op.create_table(
        "era_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("interchange_control_number", sa.String(length=20), nullable=True),
        sa.Column("trace_number", sa.String(length=60), nullable=True),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("payment_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("payment_method", sa.String(length=10), nullable=True),
        sa.Column("payment_date", sa.Date(), nullable=True),
        sa.Column("matching_status", sa.String(length=20), nullable=False),
        sa.Column("auto_matched_count", sa.Integer(), nullable=False),
        sa.Column("manual_review_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_era_files_payer_id_payers")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_era_files_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_era_files")),
        sa.UniqueConstraint("file_hash", name=op.f("uq_era_files_file_hash")),
    )
    op.create_table(
        "hipaa_trainings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("completed_date", sa.Date(), nullable=False),
        sa.Column("expires_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_hipaa_trainings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hipaa_trainings")),
    )
    with op.batch_alter_table("hipaa_trainings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hipaa_trainings_user_id"), ["user_id"], unique=False)

    op.create_table(
        "performance_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("metric_key", sa.String(length=60), nullable=False),
        sa.Column("target_value", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status in ('ACTIVE','ACHIEVED','MISSED')", name=op.f("ck_performance_goals_status_allowed")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_performance_goals_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_goals")),
    )
    with op.batch_alter_table("performance_goals", schema=None) as batch_op:
        batch_op.create_index("ix_performance_goals_user_status", ["user_id", "status"], unique=False)

    op.create_table(
        "supervision_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("duration_hours", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("session_type", sa.String(length=20), nullable=False),
        sa.Column("is_note_signed", sa.Boolean(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "session_type in ('INDIVIDUAL','GROUP')",
            name=op.f("ck_supervision_sessions_session_type_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"], ["users.id"], name=op.f("fk_supervision_sessions_supervisee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["users.id"], name=op.f("fk_supervision_sessions_supervisor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_sessions")),
    )
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supervision_sessions_supervisee_date", ["supervisee_id", "session_date"], unique=False
        )

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("appointment_type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("is_telehealth", sa.Boolean(), nullable=False),
        sa.Column("is_booked_online", sa.Boolean(), nullable=False),
        sa.Column("is_recurring", sa.Boolean(), nullable=False),
        sa.Column("recurrence_rule", sa.String(length=100), nullable=True),
        sa.Column("rescheduled_from_id", sa.Integer(), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=40), nullable=True),
        sa.Column("booked_at", sa.DateTime(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(), nullable=True),
        sa.Column("clinician_ready_at", sa.DateTime(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "appointment_type in ('INITIAL_EVALUATION', 'FOLLOW_UP', 'MEDICATION_MANAGEMENT', 'THERAPY_SESSION', 'GROUP_THERAPY', 'FAMILY_THERAPY')",
            name=op.f("ck_appointments_appointment_type_allowed"),
        ),
        sa.CheckConstraint(
            "status in ('SCHEDULED', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'NO_SHOW', 'CANCELLED', 'RESCHEDULED')",
            name=op.f("ck_appointments_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_appointments_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_appointments_clinician_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["rescheduled_from_id"],
            ["appointments.id"],
            name=op.f("fk_appointments_rescheduled_from_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_client_id"), ["client_id"], unique=False)
        batch_op.create_index("ix_appointments_clinician_start", ["clinician_id", "start_at"], unique=False)

    op.create_table(
        "case_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("discipline", sa.String(length=40), nullable=False),
        sa.Column("input_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_case_inputs_client_id_clients")),
        sa.ForeignKeyConstraint(
            ["contributor_id"], ["users.id"], name=op.f("fk_case_inputs_contributor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_inputs")),
    )
    with op.batch_alter_table("case_inputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_inputs_client_id"), ["client_id"], unique=False)

    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("claim_control_number", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_charge_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("denial_carc_code", sa.String(length=10), nullable=True),
        sa.Column("rejection_reason", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(), nullable=True),
        sa.Column("denied_at", sa.DateTime(), nullable=True),
        sa.Column("adjudicated_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status in ('SUBMITTED', 'ACCEPTED', 'REJECTED', 'DENIED', 'PAID', 'PARTIALLY_PAID')",
            name=op.f("ck_claims_status_allowed"),
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_claims_client_id_clients")),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_claims_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("claim_control_number", name=op.f("uq_claims_claim_control_number")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_client_id"), ["client_id"], unique=False)

    op.create_table(
        "guardians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("relationship", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_guardians_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardians")),
    )
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guardians_client_id"), ["client_id"], unique=False)

    op.create_table(
        "insurance_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("member_id", sa.String(length=60), nullable=False),
        sa.Column("group_number", sa.String(length=60), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("termination_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_insurance_policies_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["payers.id"], name=op.f("fk_insurance_policies_payer_id_payers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_policies")),
    )
    with op.batch_alter_table("insurance_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insurance_policies_client_id"), ["client_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("era_file_id", sa.Integer(), nullable=True),
        sa.Column("payment_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("payment_method", sa.String(length=20), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("check_number", sa.String(length=60), nullable=True),
        sa.Column("transaction_id", sa.String(length=60), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "payment_method in ('CASH', 'CHECK', 'CREDIT_CARD', 'DEBIT_CARD', 'INSURANCE', 'OTHER')",
            name=op.f("ck_payments_payment_method_allowed"),
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_payments_client_id_clients")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_payments_created_by_users")),
        sa.ForeignKeyConstraint(
            ["era_file_id"], ["era_files.id"], name=op.f("fk_payments_era_file_id_era_files")
        ),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_payments_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_client_id"), ["client_id"], unique=False)

    op.create_table(
        "appointment_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_status_history_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name=op.f("fk_appointment_status_history_changed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_status_history")),
    )
    with op.batch_alter_table("appointment_status_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_status_history_appointment_id"), ["appointment_id"], unique=False
        )

    op.create_table(
        "clinical_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("note_type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("icd10_codes", sa.String(length=100), nullable=True),
        sa.Column("requires_cosign", sa.Boolean(), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("cosigned_by", sa.Integer(), nullable=True),
        sa.Column("cosigned_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "note_type in ('SOAP_NOTE', 'PROGRESS_NOTE', 'INTAKE_ASSESSMENT', 'PSYCHIATRIC_EVALUATION', 'TREATMENT_PLAN', 'SAFETY_PLAN', 'DISCHARGE_SUMMARY', 'CRISIS_INTERVENTION')",
            name=op.f("ck_clinical_notes_note_type_allowed"),
        ),
        sa.CheckConstraint(
            "status in ('DRAFT', 'IN_REVIEW', 'SIGNED', 'AMENDED')",
            name=op.f("ck_clinical_notes_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_clinical_notes_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_clinical_notes_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_clinical_notes_clinician_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cosigned_by"], ["users.id"], name=op.f("fk_clinical_notes_cosigned_by_users")
        ),
        sa.ForeignKeyConstraint(["signed_by"], ["users.id"], name=op.f("fk_clinical_notes_signed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_notes")),
    )
    with op.batch_alter_table("clinical_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_notes_appointment_id"), ["appointment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_clinical_notes_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_clinical_notes_clinician_id"), ["clinician_id"], unique=False)

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("consent_type", sa.String(length=20), nullable=False),
        sa.Column("guardian_id", sa.Integer(), nullable=True),
        sa.Column("signed_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("revoked_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "consent_type in ('INFORMED', 'GUARDIAN', 'TELEHEALTH')",
            name=op.f("ck_consents_consent_type_allowed"),
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_consents_client_id_clients")),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["guardians.id"], name=op.f("fk_consents_guardian_id_guardians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_client_id"), ["client_id"], unique=False)

    op.create_table(
        "insurance_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_eligible", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("verified_by", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status in ('VERIFIED','FAILED','PENDING')",
            name=op.f("ck_insurance_verifications_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_insurance_verifications_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["insurance_policies.id"],
            name=op.f("fk_insurance_verifications_policy_id_insurance_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"], ["users.id"], name=op.f("fk_insurance_verifications_verified_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_verifications")),
    )
    with op.batch_alter_table("insurance_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insurance_verifications_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_insurance_verifications_policy_id"), ["policy_id"], unique=False)

    op.create_table(
        "charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("cpt_code", sa.String(length=10), nullable=False),
        sa.Column("modifiers", sa.String(length=20), nullable=True),
        sa.Column("units", sa.SmallInteger(), nullable=False),
        sa.Column("diagnosis_codes", sa.String(length=100), nullable=True),
        sa.Column("charge_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("payment_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("adjustment_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("patient_responsibility_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_billing_hold", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status in ('UNBILLED', 'BILLED', 'PAID', 'PARTIALLY_PAID', 'DENIED', 'VOID', 'ADJUSTMENT')",
            name=op.f("ck_charges_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_charges_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_charges_claim_id_claims")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_charges_client_id_clients")),
        sa.ForeignKeyConstraint(["clinician_id"], ["users.id"], name=op.f("fk_charges_clinician_id_users")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_charges_created_by_users")),
        sa.ForeignKeyConstraint(
            ["note_id"], ["clinical_notes.id"], name=op.f("fk_charges_note_id_clinical_notes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charges_appointment_id"), ["appointment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_charges_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_charges_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_charges_clinician_id"), ["clinician_id"], unique=False)

    op.create_table(
        "note_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind in ('AMENDMENT','ADDENDUM')", name=op.f("ck_note_amendments_kind_allowed")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_note_amendments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["clinical_notes.id"], name=op.f("fk_note_amendments_note_id_clinical_notes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_amendments")),
    )
    with op.batch_alter_table("note_amendments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_amendments_note_id"), ["note_id"], unique=False)

    op.create_table(
        "safety_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("review_due_date", sa.Date(), nullable=False),
        sa.Column("superseded_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_safety_plans_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_safety_plans_clinician_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["clinical_notes.id"], name=op.f("fk_safety_plans_note_id_clinical_notes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_plans")),
    )
    with op.batch_alter_table("safety_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_plans_client_id"), ["client_id"], unique=False)

    op.create_table(
        "treatment_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("review_due_date", sa.Date(), nullable=False),
        sa.Column("reviewed_date", sa.Date(), nullable=True),
        sa.Column("superseded_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_treatment_plans_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["users.id"], name=op.f("fk_treatment_plans_clinician_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["clinical_notes.id"], name=op.f("fk_treatment_plans_note_id_clinical_notes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_plans")),
    )
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_treatment_plans_client_id"), ["client_id"], unique=False)

    op.create_table(
        "era_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("era_file_id", sa.Integer(), nullable=False),
        sa.Column("segment_position", sa.Integer(), nullable=False),
        sa.Column("payer_claim_control_number", sa.String(length=60), nullable=True),
        sa.Column("claim_control_number", sa.String(length=60), nullable=False),
        sa.Column("claim_status_code", sa.String(length=4), nullable=False),
        sa.Column("charge_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("patient_responsibility_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("matched_claim_id", sa.Integer(), nullable=True),
        sa.Column("matched_charge_id", sa.Integer(), nullable=True),
        sa.Column("match_method", sa.String(length=30), nullable=True),
        sa.Column("match_confidence", sa.Float(), nullable=True),
        sa.Column("review_status", sa.String(length=20), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["era_file_id"], ["era_files.id"], name=op.f("fk_era_claims_era_file_id_era_files")
        ),
        sa.ForeignKeyConstraint(
            ["matched_charge_id"], ["charges.id"], name=op.f("fk_era_claims_matched_charge_id_charges")
        ),
        sa.ForeignKeyConstraint(
            ["matched_claim_id"], ["claims.id"], name=op.f("fk_era_claims_matched_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_era_claims")),
    )
    with op.batch_alter_table("era_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_era_claims_era_file_id"), ["era_file_id"], unique=False)

    op.create_table(
        "charge_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.Integer(), nullable=False),
        sa.Column("era_claim_id", sa.Integer(), nullable=True),
        sa.Column("group_code", sa.String(length=2), nullable=False),
        sa.Column("carc_code", sa.String(length=10), nullable=False),
        sa.Column("rarc_codes", sa.String(length=100), nullable=True),
        sa.Column("adjustment_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("adjusted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_charge_adjustments_charge_id_charges")
        ),
        sa.ForeignKeyConstraint(
            ["era_claim_id"], ["era_claims.id"], name=op.f("fk_charge_adjustments_era_claim_id_era_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_adjustments")),
    )
    with op.batch_alter_table("charge_adjustments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_adjustments_charge_id"), ["charge_id"], unique=False)

    op.create_table(
        "payment_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.Integer(), nullable=False),
        sa.Column("era_claim_id", sa.Integer(), nullable=True),
        sa.Column("applied_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_payment_applications_charge_id_charges")
        ),
        sa.ForeignKeyConstraint(
            ["era_claim_id"], ["era_claims.id"], name=op.f("fk_payment_applications_era_claim_id_era_claims")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_applications_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_applications")),
    )
    with op.batch_alter_table("payment_applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_applications_charge_id"), ["charge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_applications_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_applications_payment_id"))
        batch_op.drop_index(batch_op.f("ix_payment_applications_charge_id"))

    op.drop_table("payment_applications")
    with op.batch_alter_table("charge_adjustments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_adjustments_charge_id"))

    op.drop_table("charge_adjustments")
    with op.batch_alter_table("era_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_era_claims_era_file_id"))

    op.drop_table("era_claims")
    with op.batch_alter_table("treatment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_plans_client_id"))

    op.drop_table("treatment_plans")
    with op.batch_alter_table("safety_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_plans_client_id"))

    op.drop_table("safety_plans")
    with op.batch_alter_table("note_amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_amendments_note_id"))

    op.drop_table("note_amendments")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charges_clinician_id"))
        batch_op.drop_index(batch_op.f("ix_charges_client_id"))
        batch_op.drop_index(batch_op.f("ix_charges_claim_id"))
        batch_op.drop_index(batch_op.f("ix_charges_appointment_id"))

    op.drop_table("charges")
    with op.batch_alter_table("insurance_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_verifications_policy_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_verifications_client_id"))

    op.drop_table("insurance_verifications")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_client_id"))

    op.drop_table("consents")
    with op.batch_alter_table("clinical_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_notes_clinician_id"))
        batch_op.drop_index(batch_op.f("ix_clinical_notes_client_id"))
        batch_op.drop_index(batch_op.f("ix_clinical_notes_appointment_id"))

    op.drop_table("clinical_notes")
    with op.batch_alter_table("appointment_status_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_status_history_appointment_id"))

    op.drop_table("appointment_status_history")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_client_id"))

    op.drop_table("payments")
    with op.batch_alter_table("insurance_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_policies_client_id"))

    op.drop_table("insurance_policies")
    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardians_client_id"))

    op.drop_table("guardians")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_client_id"))

    op.drop_table("claims")
    with op.batch_alter_table("case_inputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_inputs_client_id"))

    op.drop_table("case_inputs")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_clinician_start")
        batch_op.drop_index(batch_op.f("ix_appointments_client_id"))

    op.drop_table("appointments")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_supervision_sessions_supervisee_date")

    op.drop_table("supervision_sessions")
    with op.batch_alter_table("performance_goals", schema=None) as batch_op:
        batch_op.drop_index("ix_performance_goals_user_status")

    op.drop_table("performance_goals")
    with op.batch_alter_table("hipaa_trainings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hipaa_trainings_user_id"))

    op.drop_table("hipaa_trainings")
    op.drop_table("era_files")
    with op.batch_alter_table("compliance_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_alerts_target_status")
        batch_op.drop_index("ix_compliance_alerts_supervisor_status")

    op.drop_table("compliance_alerts")
    with op.batch_alter_table("clinician_availability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinician_availability_clinician_id"))

    op.drop_table("clinician_availability")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_primary_clinician_id"))

    op.drop_table("clients")
    op.drop_table("breach_incidents")
    op.drop_table("users")
    op.drop_table("practice_settings")
    op.drop_table("payers")
    op.drop_table("compliance_rules")
