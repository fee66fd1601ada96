"""Operational store: the clinical and billing entities of PRD modules 1-7.

Conventions (one home for each):
- Keys are integer identities (`<entity>_id` in the warehouse); the store never reuses them.
- Every `*_at` column is a naive UTC timestamp; `*_date` columns are calendar dates in the
  practice's time zone (a service date is what the clinician and the payer both call the day).
- Money is `Numeric(12, 2)` dollars.
- Enumerations are stored as plain strings checked by CHECK constraints, so SQLite and
  PostgreSQL hold the same values and the warehouse can read them without a type mapping.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ingest.advancedmd.watermarks import ingest_watermarks as _ingest_watermarks

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    ADMIN = "ADMIN"
    CLINICIAN = "CLINICIAN"
    SUPERVISOR = "SUPERVISOR"
    BILLING = "BILLING"
    FRONT_DESK = "FRONT_DESK"
    CLIENT = "CLIENT"


class LicenseType(enum.StrEnum):
    LPC = "LPC"
    LPC_ASSOCIATE = "LPC_ASSOCIATE"
    LMSW = "LMSW"
    LCSW = "LCSW"
    LMFT = "LMFT"
    PSYCHOLOGIST = "PSYCHOLOGIST"
    PSYCHIATRIST = "PSYCHIATRIST"


class ClientStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DISCHARGED = "DISCHARGED"


class AppointmentType(enum.StrEnum):
    INITIAL_EVALUATION = "INITIAL_EVALUATION"
    FOLLOW_UP = "FOLLOW_UP"
    MEDICATION_MANAGEMENT = "MEDICATION_MANAGEMENT"
    THERAPY_SESSION = "THERAPY_SESSION"
    GROUP_THERAPY = "GROUP_THERAPY"
    FAMILY_THERAPY = "FAMILY_THERAPY"


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    CONFIRMED = "CONFIRMED"
    CHECKED_IN = "CHECKED_IN"
    COMPLETED = "COMPLETED"
    NO_SHOW = "NO_SHOW"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"


class NoteType(enum.StrEnum):
    SOAP_NOTE = "SOAP_NOTE"
    PROGRESS_NOTE = "PROGRESS_NOTE"
    INTAKE_ASSESSMENT = "INTAKE_ASSESSMENT"
    PSYCHIATRIC_EVALUATION = "PSYCHIATRIC_EVALUATION"
    TREATMENT_PLAN = "TREATMENT_PLAN"
    SAFETY_PLAN = "SAFETY_PLAN"
    DISCHARGE_SUMMARY = "DISCHARGE_SUMMARY"
    CRISIS_INTERVENTION = "CRISIS_INTERVENTION"


class NoteStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    IN_REVIEW = "IN_REVIEW"
    SIGNED = "SIGNED"
    AMENDED = "AMENDED"


class ConsentType(enum.StrEnum):
    INFORMED = "INFORMED"
    GUARDIAN = "GUARDIAN"
    TELEHEALTH = "TELEHEALTH"


class ChargeStatus(enum.StrEnum):
    UNBILLED = "UNBILLED"
    BILLED = "BILLED"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    DENIED = "DENIED"
    VOID = "VOID"
    ADJUSTMENT = "ADJUSTMENT"


class PaymentMethod(enum.StrEnum):
    CASH = "CASH"
    CHECK = "CHECK"
    CREDIT_CARD = "CREDIT_CARD"
    DEBIT_CARD = "DEBIT_CARD"
    INSURANCE = "INSURANCE"
    OTHER = "OTHER"


class ClaimStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DENIED = "DENIED"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"


class EraReviewStatus(enum.StrEnum):
    """Where one ERA claim payment stands: waiting for a person, posted, or set aside."""

    PENDING = "PENDING"
    AUTO_POSTED = "AUTO_POSTED"
    RESOLVED = "RESOLVED"
    UNMATCHABLE = "UNMATCHABLE"


class MatchMethod(enum.StrEnum):
    """The PRD's matching levels (5, manual review, ends in MANUAL when a person picks the charge)."""

    CCN_EXACT = "CCN_EXACT"
    CLIENT_DATE_AMOUNT = "CLIENT_DATE_AMOUNT"
    CLIENT_CPT_AMOUNT = "CLIENT_CPT_AMOUNT"
    FUZZY = "FUZZY"
    MANUAL = "MANUAL"


class AlertSeverity(enum.StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class AlertStatus(enum.StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


def _one_of(column: str, values: type[enum.StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} in ({allowed})", name=f"{column}_allowed")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class ChangeStampMixin:
    """The change column every exported table has (issue 17): the incremental landing
    (mentalspace_platform/landing/operational.py) re-lands a row only when its `updated_at` differs from the
    landed copy's, so every write path must move it. ORM and Core updates get `onupdate`; a service stamps its
    injected clock instead (services/listing.py `touch`); raw SQL and bulk inserts set it themselves."""

    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow, onupdate=_utcnow)


class TimestampMixin(ChangeStampMixin):
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


# --- Module 1: users -------------------------------------------------------------------------


class User(TimestampMixin, Base):
    """A staff member or a portal client who can sign in."""

    __tablename__ = "users"
    __table_args__ = (
        _one_of("role", Role),
        CheckConstraint(
            "license_type is null or license_type in "
            "('LPC','LPC_ASSOCIATE','LMSW','LCSW','LMFT','PSYCHOLOGIST','PSYCHIATRIST')",
            name="license_type_allowed",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    license_type: Mapped[str | None] = mapped_column(String(20))
    npi: Mapped[str | None] = mapped_column(
        String(10)
    )  # National Provider Identifier (AdvancedMD provider link)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    hired_date: Mapped[dt.date | None] = mapped_column(Date)
    weekly_session_target: Mapped[int | None] = mapped_column(SmallInteger)
    # TOTP (operational_api/mfa.py): the shared secret, when enrolment was confirmed, and the last time
    # step a code was accepted for, so one code cannot be used twice. A null enrolled_at = enrol at sign-in.
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enrolled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)


class ClinicianAvailability(ChangeStampMixin, Base):
    """One weekly working slot of a clinician (weekday 0 = Monday, local practice time)."""

    __tablename__ = "clinician_availability"
    __table_args__ = (CheckConstraint("weekday between 0 and 6", name="weekday_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger, default=60)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    # Optimistic concurrency (services/README.md): an update names the version it read; 0017 adds it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}


class HipaaTraining(ChangeStampMixin, Base):
    """One completed annual HIPAA training of a staff member."""

    __tablename__ = "hipaa_trainings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    completed_date: Mapped[dt.date] = mapped_column(Date)
    expires_date: Mapped[dt.date] = mapped_column(Date)


# --- Module 2: clients -----------------------------------------------------------------------


class Client(TimestampMixin, Base):
    """A person receiving care. Demographic columns are PHI and never leave the store except as
    completeness flags and a display name (first name + last initial)."""

    __tablename__ = "clients"
    __table_args__ = (_one_of("status", ClientStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(200))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(30))
    referring_provider: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=ClientStatus.ACTIVE)
    primary_clinician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    is_high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    has_suicidal_ideation: Mapped[bool] = mapped_column(Boolean, default=False)
    is_emancipated: Mapped[bool] = mapped_column(Boolean, default=False)
    is_self_pay: Mapped[bool] = mapped_column(Boolean, default=False)
    # The client agreed to appointment reminders by that channel (issue 15); without it nothing is sent.
    has_email_contact_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    has_sms_contact_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    portal_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    portal_activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    intake_date: Mapped[dt.date | None] = mapped_column(Date)
    discharged_date: Mapped[dt.date | None] = mapped_column(Date)
    # Optimistic concurrency (API ETag / If-Match): bumped by every ORM update.
    version: Mapped[int] = mapped_column(Integer, server_default="1", default=1)

    __mapper_args__ = {"version_id_col": version}

    def is_minor_on(self, on: dt.date) -> bool:
        """Whether the client is under 18 on a date; unknown DOB counts as adult (flagged elsewhere)."""
        if self.date_of_birth is None:
            return False
        dob = self.date_of_birth
        age = on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
        return age < 18


class Guardian(ChangeStampMixin, Base):
    """A parent or legal guardian of a minor client."""

    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))


class Payer(ChangeStampMixin, Base):
    """An insurance payer (identified on 835s by its payer id)."""

    __tablename__ = "payers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    payer_code: Mapped[str] = mapped_column(String(40), unique=True)
    # Optimistic concurrency (services/README.md): an update names the version it read; 0017 adds it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}


class InsurancePolicy(ChangeStampMixin, Base):
    """A client's coverage with one payer; rank 1 is primary, 2 secondary."""

    __tablename__ = "insurance_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    rank: Mapped[int] = mapped_column(SmallInteger, default=1)
    member_id: Mapped[str] = mapped_column(String(60))
    group_number: Mapped[str | None] = mapped_column(String(60))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    termination_date: Mapped[dt.date | None] = mapped_column(Date)


class InsuranceVerification(ChangeStampMixin, Base):
    """One eligibility / benefits verification of a policy."""

    __tablename__ = "insurance_verifications"
    __table_args__ = (CheckConstraint("status in ('VERIFIED','FAILED','PENDING')", name="status_allowed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("insurance_policies.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    is_eligible: Mapped[bool | None] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20), default="MANUAL")
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# --- Module 3: scheduling --------------------------------------------------------------------


class Appointment(TimestampMixin, Base):
    """One booked session. A rescheduled original keeps status RESCHEDULED and points nowhere;
    its replacement carries `rescheduled_from_id`."""

    __tablename__ = "appointments"
    __table_args__ = (
        _one_of("status", AppointmentStatus),
        _one_of("appointment_type", AppointmentType),
        Index("ix_appointments_clinician_start", "clinician_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    appointment_type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.SCHEDULED)
    start_at: Mapped[dt.datetime] = mapped_column(DateTime)
    end_at: Mapped[dt.datetime] = mapped_column(DateTime)
    is_telehealth: Mapped[bool] = mapped_column(Boolean, default=False)
    is_booked_online: Mapped[bool] = mapped_column(Boolean, default=False)
    is_recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    recurrence_rule: Mapped[str | None] = mapped_column(String(100))
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    cancellation_reason: Mapped[str | None] = mapped_column(String(40))
    booked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    arrived_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    clinician_ready_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # A group or family session is one slot shared by its clients: each client's appointment points at the
    # session's first appointment, and the no-double-booking constraints let appointments of one slot overlap.
    shared_slot_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    # A recurring series: every occurrence points at the series' first appointment.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    # Booked outside the clinician's availability by an authorised user (audited; see services/appointments.py).
    availability_override_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    availability_override_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, server_default="1", default=1)

    __mapper_args__ = {"version_id_col": version}


class AppointmentStatusChange(ChangeStampMixin, Base):
    """One status transition of an appointment, in order."""

    __tablename__ = "appointment_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime)


# --- Module 4: clinical documentation --------------------------------------------------------


class ClinicalNote(TimestampMixin, Base):
    """One clinical note. `content` is note text (PHI) and never leaves the store."""

    __tablename__ = "clinical_notes"
    __table_args__ = (_one_of("note_type", NoteType), _one_of("status", NoteStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    # With AdvancedMD as the scheduling record a session may exist only there: the note names AdvancedMD's visit
    # id instead of an appointment (0014; the warehouse pairs them, stg_operational__clinical_notes).
    advancedmd_visit_id: Mapped[int | None] = mapped_column(BigInteger)
    note_type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default=NoteStatus.DRAFT)
    content: Mapped[str | None] = mapped_column(Text)
    icd10_codes: Mapped[str | None] = mapped_column(String(100))
    requires_cosign: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cosigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cosigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Optimistic concurrency (services/README.md): an update names the version it read; 0008 adds it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}


class NoteAmendment(ChangeStampMixin, Base):
    """An amendment (changes the note) or addendum (adds to it) after signature."""

    __tablename__ = "note_amendments"
    __table_args__ = (CheckConstraint("kind in ('AMENDMENT','ADDENDUM')", name="kind_allowed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("clinical_notes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class TreatmentPlan(ChangeStampMixin, Base):
    """A client's treatment plan; Georgia wants a review every 90 days while the client is active."""

    __tablename__ = "treatment_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_notes.id"))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    review_due_date: Mapped[dt.date] = mapped_column(Date)
    reviewed_date: Mapped[dt.date | None] = mapped_column(Date)
    superseded_date: Mapped[dt.date | None] = mapped_column(Date)
    # Optimistic concurrency (services/README.md): an update names the version it read; 0008 adds it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}


class SafetyPlan(ChangeStampMixin, Base):
    """A safety plan for a client with suicidal ideation or otherwise high risk."""

    __tablename__ = "safety_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_notes.id"))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    review_due_date: Mapped[dt.date] = mapped_column(Date)
    superseded_date: Mapped[dt.date | None] = mapped_column(Date)


class Consent(ChangeStampMixin, Base):
    """A signed consent: informed (annual), guardian (for minors), telehealth."""

    __tablename__ = "consents"
    __table_args__ = (_one_of("consent_type", ConsentType),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    consent_type: Mapped[str] = mapped_column(String(20))
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardians.id"))
    signed_date: Mapped[dt.date] = mapped_column(Date)
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)
    revoked_date: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1", default=1)

    __mapper_args__ = {"version_id_col": version}


class CaseInput(ChangeStampMixin, Base):
    """A contribution to a client's case by a discipline other than the treating clinician's
    (psychiatry consult, case conference, care coordination)."""

    __tablename__ = "case_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    discipline: Mapped[str] = mapped_column(String(40))
    input_date: Mapped[dt.date] = mapped_column(Date)


# --- Module 5: billing -----------------------------------------------------------------------


class Claim(ChangeStampMixin, Base):
    """A claim submitted to a payer; `claim_control_number` is our CLM01 / the 835's CLP01."""

    __tablename__ = "claims"
    __table_args__ = (_one_of("status", ClaimStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    claim_control_number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    total_charge_amount: Mapped[Decimal] = mapped_column(Money)
    denial_carc_code: Mapped[str | None] = mapped_column(String(10))
    rejection_reason: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rejected_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    denied_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    adjudicated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Optimistic concurrency (services/README.md): an update names the version it read; 0008 adds it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}


class Charge(Base):
    """One charge line (CPT code + units) for a service; `created_at` is charge entry time."""

    __tablename__ = "charges"
    __table_args__ = (_one_of("status", ChargeStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_notes.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    service_date: Mapped[dt.date] = mapped_column(Date)
    cpt_code: Mapped[str] = mapped_column(String(10))
    modifiers: Mapped[str | None] = mapped_column(String(20))
    units: Mapped[int] = mapped_column(SmallInteger, default=1)
    diagnosis_codes: Mapped[str | None] = mapped_column(String(100))
    charge_amount: Mapped[Decimal] = mapped_column(Money)
    payment_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    adjustment_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    patient_responsibility_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(20), default=ChargeStatus.UNBILLED)
    is_billing_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow, onupdate=_utcnow)
    # Optimistic concurrency (services/README.md): an update names the version it read; 0008 adds it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}


class Payment(ChangeStampMixin, Base):
    """Money received: a client payment or an insurance payment (one per 835 check/EFT)."""

    __tablename__ = "payments"
    __table_args__ = (_one_of("payment_method", PaymentMethod),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    era_file_id: Mapped[int | None] = mapped_column(ForeignKey("era_files.id"))
    payment_amount: Mapped[Decimal] = mapped_column(Money)
    payment_method: Mapped[str] = mapped_column(String(20))
    payment_date: Mapped[dt.date] = mapped_column(Date)
    check_number: Mapped[str | None] = mapped_column(String(60), index=True)
    transaction_id: Mapped[str | None] = mapped_column(String(60))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PaymentApplication(ChangeStampMixin, Base):
    """The part of a payment applied to one charge (negative for a reversal)."""

    __tablename__ = "payment_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    era_claim_id: Mapped[int | None] = mapped_column(ForeignKey("era_claims.id"))
    applied_amount: Mapped[Decimal] = mapped_column(Money)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ChargeAdjustment(ChangeStampMixin, Base):
    """An adjustment on a charge: CAS group + CARC from an ERA, or a manual write-off."""

    __tablename__ = "charge_adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    era_claim_id: Mapped[int | None] = mapped_column(ForeignKey("era_claims.id"))
    group_code: Mapped[str] = mapped_column(String(2))
    carc_code: Mapped[str] = mapped_column(String(10))
    rarc_codes: Mapped[str | None] = mapped_column(String(100))
    adjustment_amount: Mapped[Decimal] = mapped_column(Money)
    adjusted_at: Mapped[dt.datetime] = mapped_column(DateTime)


class EraFile(ChangeStampMixin, Base):
    """One uploaded 835 file (identified by its SHA-256)."""

    __tablename__ = "era_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_hash: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    interchange_control_number: Mapped[str | None] = mapped_column(String(20))
    trace_number: Mapped[str | None] = mapped_column(String(60))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    payment_amount: Mapped[Decimal] = mapped_column(Money)
    payment_method: Mapped[str | None] = mapped_column(String(10))
    payment_date: Mapped[dt.date | None] = mapped_column(Date)
    matching_status: Mapped[str] = mapped_column(String(20), default="PENDING")
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    auto_matched_count: Mapped[int] = mapped_column(Integer, default=0)
    manual_review_count: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class EraClaim(ChangeStampMixin, Base):
    """One CLP claim payment of an ERA file, with how it was matched to our charges.

    `claim_control_number` is CLP01 as the payer wrote it; `matched_charge_id` is set when the CLP
    covers one charge (line-level matches live on `era_service_lines`). `payment_id` is the
    Payment of the CLP's check (one per ST). The patient name and member id as printed on the
    835 are PHI: kept for the review queue, never exported. `claim_adjustments` holds the
    claim-level CAS triplets [[group, carc, amount], ...] and remark codes, so a manual resolution
    can post without the file.
    """

    __tablename__ = "era_claims"
    __table_args__ = (
        _one_of("review_status", EraReviewStatus),
        _one_of("match_method", MatchMethod),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    era_file_id: Mapped[int] = mapped_column(ForeignKey("era_files.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    segment_position: Mapped[int] = mapped_column(Integer)
    payer_claim_control_number: Mapped[str | None] = mapped_column(String(60))
    claim_control_number: Mapped[str] = mapped_column(String(60))
    claim_status_code: Mapped[str] = mapped_column(String(4))
    charge_amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    patient_responsibility_amount: Mapped[Decimal] = mapped_column(Money)
    patient_last_name: Mapped[str | None] = mapped_column(String(100))
    patient_first_name: Mapped[str | None] = mapped_column(String(100))
    patient_member_id: Mapped[str | None] = mapped_column(String(60))
    service_from_date: Mapped[dt.date | None] = mapped_column(Date)
    service_to_date: Mapped[dt.date | None] = mapped_column(Date)
    claim_adjustments: Mapped[dict | None] = mapped_column(JSON)
    matched_claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    matched_charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))
    match_method: Mapped[str | None] = mapped_column(String(30))
    match_confidence: Mapped[float | None] = mapped_column()
    match_reasons: Mapped[str | None] = mapped_column(String(300))
    review_status: Mapped[str] = mapped_column(String(20), default=EraReviewStatus.PENDING)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class EraServiceLine(ChangeStampMixin, Base):
    """One SVC service line of an ERA claim payment, with the charge it was matched to.

    `adjustments` holds the line's CAS triplets [[group, carc, amount], ...]; `rarc_codes` its LQ
    remark codes, comma-separated.
    """

    __tablename__ = "era_service_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    era_claim_id: Mapped[int] = mapped_column(ForeignKey("era_claims.id"), index=True)
    segment_position: Mapped[int] = mapped_column(Integer)
    cpt_code: Mapped[str | None] = mapped_column(String(10))
    modifiers: Mapped[str | None] = mapped_column(String(20))
    units: Mapped[Decimal | None] = mapped_column(Numeric(9, 2))
    service_date: Mapped[dt.date | None] = mapped_column(Date)
    charge_amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    allowed_amount: Mapped[Decimal | None] = mapped_column(Money)
    adjustments: Mapped[list | None] = mapped_column(JSON)
    rarc_codes: Mapped[str | None] = mapped_column(String(100))
    matched_charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)


class EraMatchCandidate(ChangeStampMixin, Base):
    """A ranked candidate (claim, and charge when one line) for an ERA claim awaiting manual review;
    `reasons` says why it scored as it did, in codes and day/amount offsets (never names)."""

    __tablename__ = "era_match_candidates"
    __table_args__ = (UniqueConstraint("era_claim_id", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    era_claim_id: Mapped[int] = mapped_column(ForeignKey("era_claims.id"), index=True)
    rank: Mapped[int] = mapped_column(SmallInteger)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))
    score: Mapped[float] = mapped_column()
    reasons: Mapped[str | None] = mapped_column(String(300))


# --- Module 6: AdvancedMD integration -------------------------------------------------------


class AdvancedMDSyncStatus(enum.StrEnum):
    LINKED = "LINKED"  # the patient's chart number names one of our clients
    UNMATCHED = "UNMATCHED"  # no client found for the chart number: someone has to link it
    DELETED = "DELETED"  # deleted in AdvancedMD; the link is kept for history


class AdvancedMDPatient(TimestampMixin, Base):
    """The link between an AdvancedMD patient and our client (PRD Module 6: AdvancedMDPatient).

    Written by the AdvancedMD sync (orchestration/defs/advancedmd), keyed by office key and the
    patient id AdvancedMD gave; `client_id` stays empty while the patient is UNMATCHED."""

    __tablename__ = "advancedmd_patients"
    __table_args__ = (
        UniqueConstraint("office_key", "advancedmd_patient_id"),
        _one_of("sync_status", AdvancedMDSyncStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_key: Mapped[str] = mapped_column(String(32))
    advancedmd_patient_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    sync_status: Mapped[str] = mapped_column(String(20))
    sync_error: Mapped[str | None] = mapped_column(String(200))
    last_synced_at: Mapped[dt.datetime] = mapped_column(DateTime)


# How far each incremental AdvancedMD sync has landed, per office key and entity. The table is
# defined next to its only user (ingest.advancedmd.watermarks, SQLAlchemy Core); it is copied into
# this metadata so the migrations and the models stay one schema.
IngestWatermark = _ingest_watermarks.to_metadata(Base.metadata)


# --- Module 7: supervision, compliance, goals ------------------------------------------------


class SupervisionSession(ChangeStampMixin, Base):
    """One supervision session between a supervisor and a supervisee."""

    __tablename__ = "supervision_sessions"
    __table_args__ = (
        CheckConstraint("session_type in ('INDIVIDUAL','GROUP')", name="session_type_allowed"),
        Index("ix_supervision_sessions_supervisee_date", "supervisee_id", "session_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    session_date: Mapped[dt.date] = mapped_column(Date)
    duration_hours: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    session_type: Mapped[str] = mapped_column(String(20))
    is_note_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BreachIncident(ChangeStampMixin, Base):
    """A suspected or confirmed privacy breach (no PHI in the summary)."""

    __tablename__ = "breach_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    severity: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime)
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ComplianceRule(TimestampMixin, Base):
    """One parameter of a configurable compliance rule (the PRD's GeorgiaComplianceRule), e.g.
    NOTE_SIGNATURE / billing_hold_day = 14, or SUPERVISION_HOURS / hours_per_month for LMSW = 4.

    Kept as one row per parameter rather than a JSON blob so the warehouse can join on it with
    plain SQL on both DuckDB and PostgreSQL; thresholds live here, never in model SQL."""

    __tablename__ = "compliance_rules"
    __table_args__ = (UniqueConstraint("rule_type", "parameter", "license_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_type: Mapped[str] = mapped_column(String(60))
    parameter: Mapped[str] = mapped_column(String(60))
    license_type: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    description: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ComplianceAlert(TimestampMixin, Base):
    """One alert raised by the warehouse; `alert_key` is stable across re-runs so a condition that
    is still open never opens a second alert."""

    __tablename__ = "compliance_alerts"
    __table_args__ = (
        _one_of("severity", AlertSeverity),
        _one_of("status", AlertStatus),
        Index("ix_compliance_alerts_target_status", "target_user_id", "status"),
        Index("ix_compliance_alerts_supervisor_status", "supervisor_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_key: Mapped[str] = mapped_column(String(200), unique=True)
    alert_type: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    action_required: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    alert_metadata: Mapped[dict | None] = mapped_column("metadata", JSON)


class PerformanceGoal(TimestampMixin, Base):
    """A target for one user on one metric over a period."""

    __tablename__ = "performance_goals"
    __table_args__ = (
        CheckConstraint("status in ('ACTIVE','ACHIEVED','MISSED')", name="status_allowed"),
        Index("ix_performance_goals_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    metric_key: Mapped[str] = mapped_column(String(60))
    target_value: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="ACTIVE")


class PracticeSetting(ChangeStampMixin, Base):
    """A practice-wide setting (time zone, revenue target, name)."""

    __tablename__ = "practice_settings"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(200))


# Tables the warehouse receives. Columns listed under PHI_COLUMNS are dropped on the way out:
# the warehouse gets completeness flags instead (see orchestration's operational copy).
PHI_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": (
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "phone",
        "address",
        "city",
        "zip_code",
        "emergency_contact_name",
        "emergency_contact_phone",
        "referring_provider",
    ),
    "guardians": ("full_name", "phone"),
    "insurance_policies": ("member_id", "group_number"),
    "era_claims": ("patient_last_name", "patient_first_name", "patient_member_id"),
    "clinical_notes": ("content",),
    "note_amendments": ("content",),
    # Free text typed by billing staff: it may name the client, so it stays in the store.
    "credit_balances": ("reason",),
    "users": ("password_hash", "mfa_secret"),
    "appointments": ("availability_override_reason",),
}

# Models declared in their own modules register on Base's metadata when imported here (keep at the end).
from operational_api import audit as _audit  # noqa: E402,F401
from operational_api import models_advancedmd as _models_advancedmd  # noqa: E402,F401 - AdvancedMD tables (0010)
from operational_api import models_api as _models_api  # noqa: E402,F401
from operational_api import models_audit as _models_audit  # noqa: E402,F401
from operational_api import models_billing as _models_billing  # noqa: E402,F401
from operational_api import models_credentials as _credentials  # noqa: E402,F401
from operational_api.notifications import models as _notifications_models  # noqa: E402, F401
from operational_api.reports import models as _reports_models  # noqa: E402, F401
