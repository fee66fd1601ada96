"""ERA matching and posting: service lines, review candidates, and what a match was based on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

- era_claims: the check's payment (one Payment per ST), the patient as printed on the 835 (PHI,
  for the review queue only), statement dates, claim-level adjustments, match reasons, who
  resolved a review and when; allowed values for review_status and match_method.
- era_files: claim_count.
- era_service_lines: one row per SVC with its CAS/LQ detail and the charge it was matched to.
- era_match_candidates: ranked candidates for claims waiting in the manual review queue.
- payments.check_number is indexed: re-uploads are recognised by ISA13 + TRN02.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REVIEW_STATUSES = "'PENDING', 'AUTO_POSTED', 'RESOLVED', 'UNMATCHABLE'"
MATCH_METHODS = "'CCN_EXACT', 'CLIENT_DATE_AMOUNT', 'CLIENT_CPT_AMOUNT', 'FUZZY', 'MANUAL'"


def upgrade() -> None:
    with op.batch_alter_table("era_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("era_files", schema=None) as batch_op:
        batch_op.alter_column("claim_count", server_default=None)

    with op.batch_alter_table("era_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("patient_last_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("patient_first_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("patient_member_id", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("service_from_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("service_to_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("claim_adjustments", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("match_reasons", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_era_claims_payment_id_payments"), "payments", ["payment_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_era_claims_resolved_by_users"), "users", ["resolved_by"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_era_claims_matched_claim_id"), ["matched_claim_id"], unique=False
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_era_claims_review_status_allowed"), f"review_status in ({REVIEW_STATUSES})"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_era_claims_match_method_allowed"), f"match_method in ({MATCH_METHODS})"
        )

    op.create_table(
        "era_service_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("era_claim_id", sa.Integer(), nullable=False),
        sa.Column("segment_position", sa.Integer(), nullable=False),
        sa.Column("cpt_code", sa.String(length=10), nullable=True),
        sa.Column("modifiers", sa.String(length=20), nullable=True),
        sa.Column("units", sa.Numeric(precision=9, scale=2), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("charge_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("allowed_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("adjustments", sa.JSON(), nullable=True),
        sa.Column("rarc_codes", sa.String(length=100), nullable=True),
        sa.Column("matched_charge_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["era_claim_id"], ["era_claims.id"], name=op.f("fk_era_service_lines_era_claim_id_era_claims")
        ),
        sa.ForeignKeyConstraint(
            ["matched_charge_id"], ["charges.id"], name=op.f("fk_era_service_lines_matched_charge_id_charges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_era_service_lines")),
    )
    with op.batch_alter_table("era_service_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_era_service_lines_era_claim_id"), ["era_claim_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_era_service_lines_matched_charge_id"), ["matched_charge_id"], unique=False
        )

    op.create_table(
        "era_match_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("era_claim_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_era_match_candidates_charge_id_charges")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_era_match_candidates_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["era_claim_id"], ["era_claims.id"], name=op.f("fk_era_match_candidates_era_claim_id_era_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_era_match_candidates")),
        sa.UniqueConstraint("era_claim_id", "rank", name=op.f("uq_era_match_candidates_era_claim_id_rank")),
    )
    with op.batch_alter_table("era_match_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_era_match_candidates_era_claim_id"), ["era_claim_id"], unique=False
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_check_number"), ["check_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_check_number"))

    with op.batch_alter_table("era_match_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_era_match_candidates_era_claim_id"))
    op.drop_table("era_match_candidates")

    with op.batch_alter_table("era_service_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_era_service_lines_matched_charge_id"))
        batch_op.drop_index(batch_op.f("ix_era_service_lines_era_claim_id"))
    op.drop_table("era_service_lines")

    with op.batch_alter_table("era_claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_era_claims_match_method_allowed"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_era_claims_review_status_allowed"), type_="check")
        batch_op.drop_index(batch_op.f("ix_era_claims_matched_claim_id"))
        batch_op.drop_constraint(batch_op.f("fk_era_claims_resolved_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_era_claims_payment_id_payments"), type_="foreignkey")
        for column in (
            "resolved_at",
            "resolved_by",
            "match_reasons",
            "claim_adjustments",
            "service_to_date",
            "service_from_date",
            "patient_member_id",
            "patient_first_name",
            "patient_last_name",
            "payment_id",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("era_files", schema=None) as batch_op:
        batch_op.drop_column("claim_count")
