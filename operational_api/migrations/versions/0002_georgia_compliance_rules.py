"""Default Georgia compliance rules (PRD Module 7, "Georgia-Specific Compliance Rules").

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Practices edit these rows; the warehouse reads them, so no threshold is hard-coded in SQL.
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (rule_type, parameter, license_type, value, description)
DEFAULT_RULES = [
    ("NOTE_SIGNATURE", "reminder_day", None, 5, "Remind the clinician when a note is unsigned on day 5"),
    (
        "NOTE_SIGNATURE",
        "supervisor_alert_day",
        None,
        7,
        "Georgia: notes signed within 7 days; alert the supervisor on day 7",
    ),
    (
        "NOTE_SIGNATURE",
        "billing_hold_day",
        None,
        14,
        "Hold the charge from submission when its note is unsigned on day 14",
    ),
    (
        "NOTE_SIGNATURE",
        "supervisor_backlog_count",
        None,
        5,
        "Escalate to the supervisor above this many unsigned notes",
    ),
    (
        "TREATMENT_PLAN_REVIEW",
        "review_interval_days",
        None,
        90,
        "Georgia: treatment plans reviewed every 90 days",
    ),
    ("TREATMENT_PLAN_REVIEW", "reminder_day", None, 80, "Remind on day 80 after the last review"),
    ("TREATMENT_PLAN_REVIEW", "alert_day", None, 90, "Alert on day 90"),
    ("TREATMENT_PLAN_REVIEW", "out_of_compliance_day", None, 91, "Out of compliance from day 91"),
    ("INFORMED_CONSENT", "validity_days", None, 365, "Georgia: informed consent renewed annually"),
    ("INFORMED_CONSENT", "reminder_days_before", None, 30, "Remind 30 days before the consent expires"),
    (
        "MINOR_CONSENT",
        "adult_age_years",
        None,
        18,
        "Clients under 18 need guardian consent (emancipated minors excepted)",
    ),
    ("MINOR_CONSENT", "validity_days", None, 365, "Guardian consent renewed annually"),
    (
        "TELEHEALTH_CONSENT",
        "required",
        None,
        1,
        "A separate telehealth consent before the first telehealth session",
    ),
    ("SUPERVISION_HOURS", "hours_per_month", "LPC", 2, "Georgia: LPCs log 2 supervision hours a month"),
    (
        "SUPERVISION_HOURS",
        "hours_per_month",
        "LPC_ASSOCIATE",
        2,
        "Georgia: LPC Associates log 2 supervision hours a month",
    ),
    ("SUPERVISION_HOURS", "hours_per_month", "LMSW", 4, "Georgia: LMSWs log 4 supervision hours a month"),
    ("SUPERVISION_NOTE", "deadline_days", None, 7, "Supervision notes signed within 7 days"),
    ("HIPAA_TRAINING", "validity_days", None, 365, "Annual HIPAA training"),
    ("HIPAA_TRAINING", "reminder_days_before", None, 30, "Remind 30 days before the training expires"),
    (
        "SAFETY_PLAN",
        "review_interval_days",
        None,
        90,
        "A safety plan counts as current until its review date",
    ),
    (
        "APPOINTMENT_STATUS",
        "stale_after_hours",
        None,
        24,
        "Appointments still scheduled 24 h after their time",
    ),
]

rules = sa.table(
    "compliance_rules",
    sa.column("rule_type", sa.String),
    sa.column("parameter", sa.String),
    sa.column("license_type", sa.String),
    sa.column("value", sa.Numeric),
    sa.column("description", sa.Text),
    sa.column("is_active", sa.Boolean),
    sa.column("created_at", sa.DateTime),
    sa.column("updated_at", sa.DateTime),
)


def upgrade() -> None:
    now = dt.datetime(2026, 11, 25)
    op.bulk_insert(
        rules,
        [
            {
                "rule_type": rule_type,
                "parameter": parameter,
                "license_type": license_type,
                "value": value,
                "description": description,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
            for rule_type, parameter, license_type, value, description in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    op.execute("delete from compliance_rules")
