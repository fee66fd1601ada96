"""pandera (polars backend) schemas for AdvancedMD batches, and quarantine of invalid rows.

``validate_batch(records)`` turns a list of normalised records (one type) into a polars frame,
validates it lazily and splits it into rows to land and rows to quarantine, each quarantined row
with a ``quarantine_reason`` naming the columns and checks that failed. Reasons never contain the
failing values (they may be PHI); the row itself sits in the quarantine frame for review.
Money is ``Decimal(12, 2)``; instants are UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.engines import polars_engine as pe
from pandera.errors import SchemaErrors

from ingest.advancedmd.records import (
    AmdCharge,
    AmdClaimStatus,
    AmdInsurance,
    AmdPatient,
    AmdTransaction,
    AmdVisit,
    EligibilityResult,
)

MONEY = pe.Decimal(precision=12, scale=2)
UTC_TS = pe.DateTime(time_zone="UTC")
_MIN_DOB = date(1900, 1, 1)


class _Base(pa.DataFrameModel):
    class Config:
        strict = False
        coerce = True


class PatientSchema(_Base):
    patient_id: int = pa.Field(gt=0)
    chart: str = pa.Field(nullable=True)
    last_name: str = pa.Field(nullable=True, str_length={"min_value": 1, "max_value": 100})
    first_name: str = pa.Field(nullable=True, str_length={"min_value": 1, "max_value": 100})
    middle_name: str = pa.Field(nullable=True)
    dob: pl.Date = pa.Field(nullable=True, ge=_MIN_DOB)
    sex: str = pa.Field(nullable=True, isin=["M", "F", "U", "X", "O"])
    address1: str = pa.Field(nullable=True)
    address2: str = pa.Field(nullable=True)
    city: str = pa.Field(nullable=True)
    state: str = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    zip_code: str = pa.Field(nullable=True, str_matches=r"^\d{5}(-\d{4})?$")
    home_phone: str = pa.Field(nullable=True, str_matches=r"^\d{10}$")
    office_phone: str = pa.Field(nullable=True, str_matches=r"^\d{10}$")
    email: str = pa.Field(nullable=True, str_matches=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    provider_id: int = pa.Field(nullable=True, gt=0)
    provider_code: str = pa.Field(nullable=True)
    fin_class_code: str = pa.Field(nullable=True)
    created_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]
    changed_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]


class InsuranceSchema(_Base):
    insurance_id: int = pa.Field(gt=0)
    patient_id: int = pa.Field(gt=0)
    sequence: int = pa.Field(nullable=True, ge=1, le=9)
    carrier_code: str = pa.Field(nullable=True)
    carrier_name: str = pa.Field(nullable=True)
    subscriber_id: str = pa.Field(nullable=True)
    relationship: str = pa.Field(nullable=True)
    group_number: str = pa.Field(nullable=True)
    group_name: str = pa.Field(nullable=True)
    copay: MONEY = pa.Field(nullable=True, ge=0)  # type: ignore[valid-type]
    effective_start: pl.Date = pa.Field(nullable=True)
    effective_end: pl.Date = pa.Field(nullable=True)
    active: bool = pa.Field(nullable=True)

    @pa.dataframe_check
    def coverage_period_is_ordered(cls, data: Any) -> Any:
        lf = data.lazyframe
        return lf.select(
            pl.col("effective_end").is_null()
            | pl.col("effective_start").is_null()
            | (pl.col("effective_end") >= pl.col("effective_start"))
        )


class VisitSchema(_Base):
    visit_id: int = pa.Field(gt=0)
    patient_id: int = pa.Field(gt=0)
    visit_date: pl.Date = pa.Field()
    start: pl.Datetime = pa.Field(nullable=True)
    duration_minutes: int = pa.Field(nullable=True, ge=0, le=24 * 60)
    appt_status: int = pa.Field(isin=[0, 1, 2, 3, 5, 10, 11, 12])
    appointment_type: str = pa.Field(nullable=True)
    column_heading: str = pa.Field(nullable=True)
    provider_code: str = pa.Field(nullable=True)
    facility_code: str = pa.Field(nullable=True)
    charges_posted: bool = pa.Field(nullable=True)
    created_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]
    modified_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]
    arrive_time: pl.Datetime = pa.Field(nullable=True)
    seen_time: pl.Datetime = pa.Field(nullable=True)
    confirmed_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]
    created_by: str = pa.Field(nullable=True)
    patient_dob: pl.Date = pa.Field(nullable=True)


PROCEDURE_CODE_RE = r"^(\d{5}|\d{4}[FTU]|[A-V]\d{4}|[A-Z][A-Z0-9]{1,9})$"


class ChargeSchema(_Base):
    charge_id: int = pa.Field(gt=0)
    visit_id: int = pa.Field(gt=0)
    patient_id: int = pa.Field(nullable=True, gt=0)
    # AdvancedMD procedure codes: CPT (incl. category II/III), HCPCS level II, or a code the practice defines
    # (a no-show or late-cancellation fee): with AdvancedMD as the billing record those are charges too.
    cpt_code: str = pa.Field(str_matches=PROCEDURE_CODE_RE)
    modifiers: str = pa.Field(nullable=True, str_matches=r"^[A-Z0-9]{2}(,[A-Z0-9]{2}){0,3}$")
    units: int = pa.Field(ge=1, le=99)
    fee: MONEY = pa.Field(nullable=True, ge=0)  # type: ignore[valid-type]
    diagnosis_codes: str = pa.Field(
        nullable=True,
        str_matches=r"^[A-TV-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?(,[A-TV-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?)*$",
    )
    begin_date_of_service: pl.Date = pa.Field(nullable=True)
    end_date_of_service: pl.Date = pa.Field(nullable=True)
    posting_date: pl.Date = pa.Field(nullable=True)
    place_of_service: str = pa.Field(nullable=True, str_matches=r"^\d{2}$")
    created_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]
    changed_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]

    @pa.dataframe_check
    def service_dates_are_ordered(cls, data: Any) -> Any:
        return data.lazyframe.select(
            pl.col("end_date_of_service").is_null()
            | pl.col("begin_date_of_service").is_null()
            | (pl.col("end_date_of_service") >= pl.col("begin_date_of_service"))
        )


class EligibilitySchema(_Base):
    patient_id: int = pa.Field(gt=0)
    coverage_id: int = pa.Field(gt=0)
    service_type: str = pa.Field(str_matches=r"^[0-9A-Z]{1,2}$")
    eligibility_id: int = pa.Field(gt=0)
    status: str = pa.Field(isin=["ACTIVE", "INACTIVE", "REJECTED", "ERROR"])
    eligible: bool = pa.Field(nullable=True)
    plan_name: str = pa.Field(nullable=True)
    copay: MONEY = pa.Field(nullable=True, ge=0)  # type: ignore[valid-type]
    deductible: MONEY = pa.Field(nullable=True, ge=0)  # type: ignore[valid-type]
    deductible_remaining: MONEY = pa.Field(nullable=True, ge=0)  # type: ignore[valid-type]
    reject_reason: str = pa.Field(nullable=True)
    checked_at: UTC_TS = pa.Field()  # type: ignore[valid-type]


class TransactionSchema(_Base):
    transaction_id: int = pa.Field(gt=0)
    charge_id: int = pa.Field(gt=0)
    visit_id: int = pa.Field(nullable=True, gt=0)
    patient_id: int = pa.Field(gt=0)
    kind: str = pa.Field(isin=["PAYMENT", "WRITEOFF"])
    amount: MONEY = pa.Field()  # type: ignore[valid-type]  # refunds and reversals are negative
    transaction_date: pl.Date = pa.Field()
    source: str = pa.Field(isin=["INS", "PAT"])
    code: str = pa.Field(nullable=True)


class ClaimStatusSchema(_Base):
    claim_id: int = pa.Field(gt=0)
    visit_id: int = pa.Field(gt=0)
    patient_id: int = pa.Field(gt=0)
    carrier_code: str = pa.Field(str_length={"min_value": 1, "max_value": 20})
    billed_date: pl.Date = pa.Field()
    category_code: str = pa.Field(str_matches=r"^[A-Z][0-9A-Z]{1,2}$")
    status_code: str = pa.Field(nullable=True)
    payment_amount: MONEY = pa.Field(nullable=True)  # type: ignore[valid-type]
    verified_at: UTC_TS = pa.Field(nullable=True)  # type: ignore[valid-type]


# record type -> (schema, id column, polars dtypes that inference cannot know from None-only columns)
_MONEY_PL = pl.Decimal(12, 2)
_SPECS: dict[type, tuple[type[_Base], str]] = {
    AmdPatient: (PatientSchema, "patient_id"),
    AmdInsurance: (InsuranceSchema, "insurance_id"),
    AmdVisit: (VisitSchema, "visit_id"),
    AmdCharge: (ChargeSchema, "charge_id"),
    EligibilityResult: (EligibilitySchema, "eligibility_id"),
    AmdTransaction: (TransactionSchema, "transaction_id"),
    AmdClaimStatus: (ClaimStatusSchema, "claim_id"),
}
_ENTITY_TYPES = {
    "patients": AmdPatient,
    "insurance": AmdInsurance,
    "visits": AmdVisit,
    "charges": AmdCharge,
    "eligibility": EligibilityResult,
    "transactions": AmdTransaction,
    "claims": AmdClaimStatus,
}


def _cell(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, tuple) and (not value or isinstance(value[0], str)):
        return ",".join(value) or None
    return value


def _polars_type(py: Any, name: str) -> pl.DataType | None:
    text = str(py)
    if "Decimal" in text:
        return _MONEY_PL
    if "datetime" in text:
        return pl.Datetime("us", "UTC") if name != "start" else pl.Datetime("us")
    if "date" in text:
        return pl.Date()
    if "bool" in text:
        return pl.Boolean()
    if "int" in text:
        return pl.Int64()
    if "str" in text:
        return pl.Utf8()
    return None


def records_to_frame(records: Sequence[Any], record_type: type) -> pl.DataFrame:
    """Flatten dataclass records (nested tuples of records are dropped; code tuples are joined)."""
    cols = [f for f in fields(record_type) if f.name != "insurances"]
    schema: dict[str, pl.DataType] = {}
    for f in cols:
        dtype = _polars_type(f.type, f.name)
        if dtype is not None:
            schema[f.name] = dtype
    rows = [{f.name: _cell(getattr(r, f.name)) for f in cols} for r in records]
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def validate_batch(records: Sequence[Any], *, entity: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate one batch of records of a single type.

    Returns ``(valid_df, quarantine_df)``; ``quarantine_df`` has the same columns plus
    ``quarantine_reason`` (e.g. ``"zip_code: str_matches; duplicate patient_id in batch"``).
    ``entity`` (patients/insurance/visits/charges/eligibility) is needed only for empty batches.
    """
    if records:
        record_type = type(records[0])
        if any(type(r) is not record_type for r in records):
            raise ValueError("validate_batch needs records of a single type")
    elif entity in _ENTITY_TYPES:
        record_type = _ENTITY_TYPES[entity]
    else:
        raise ValueError("empty batch: pass entity= to name its type")
    if record_type not in _SPECS:
        raise ValueError(f"no schema for {record_type.__name__}")
    schema, id_col = _SPECS[record_type]
    df = records_to_frame(records, record_type).with_row_index("_row")
    reasons: dict[int, list[str]] = {}
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
        for row in fc.iter_rows(named=True):
            check = str(row["check"]).split("(")[0]
            where = row["column"] if row["column"] not in (None, schema.__name__) else "row"
            idx = row["index"]
            if idx is None:  # dtype/column-level failure: applies to every row
                for i in range(df.height):
                    reasons.setdefault(i, []).append(f"{where}: {check}")
            else:
                reasons.setdefault(int(idx), []).append(f"{where}: {check}")
    dup_mask = df.select(pl.col(id_col).is_duplicated() & ~pl.col(id_col).is_first_distinct()).to_series()
    for i, dup in enumerate(dup_mask):
        if dup:
            reasons.setdefault(i, []).append(f"duplicate {id_col} in batch")
    bad = sorted(reasons)
    reason_df = pl.DataFrame(
        {"_row": bad, "quarantine_reason": ["; ".join(dict.fromkeys(reasons[i])) for i in bad]},
        schema={"_row": pl.UInt32, "quarantine_reason": pl.Utf8},
    )
    quarantine = df.join(reason_df, on="_row", how="inner").drop("_row")
    valid = df.join(reason_df, on="_row", how="anti").drop("_row")
    return valid, quarantine


__all__ = [
    "ChargeSchema",
    "ClaimStatusSchema",
    "EligibilitySchema",
    "InsuranceSchema",
    "PatientSchema",
    "VisitSchema",
    "records_to_frame",
    "validate_batch",
]
