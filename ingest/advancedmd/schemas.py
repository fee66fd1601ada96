"""pandera (polars backend) schemas for AdvancedMD batches, and quarantine of invalid rows.

``validate_batch(records)`` turns a list of normalised records (one type) into a polars frame,
validates it lazily and splits it into rows to land and rows to quarantine, each quarantined row
with a ``quarantine_reason`` naming the columns and checks that failed. Reasons never contain the
failing values (they may be PHI); the row itself sits in the quarantine frame for review.
Money is ``Decimal(12, 2)``; instants are UTC.

The schemas below are the one statement of the rules. A batch is first judged by ``rows_passing``,
which runs those same check functions as one polars query; pandera's validation (30-40 ms a batch,
even an empty one; the query takes a few) runs only for a batch with a failing row, to name every
failure as pandera does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from functools import cache, cached_property, partial
from typing import Any

import pandera.backends.polars.builtin_checks  # noqa: F401  (registers the checks' polars functions, for rows_passing)
import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
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


@dataclass(frozen=True)
class _Plan:
    """A schema's rules as polars work: the dtype each column must already have, the columns that
    must hold no null, and each check's function with its arguments bound (pandera's own)."""

    dtypes: dict[str, pl.DataType]
    not_null: tuple[str, ...]
    # (column, or "*" for a frame-wide check; (bound check function, ignore_na))
    checks: tuple[tuple[str, Any], ...]

    @cached_property  # read for every column of every batch
    def checked(self) -> frozenset[str]:
        """The columns a check reads: every column, where a frame-wide check may read any."""
        keys = {key for key, _ in self.checks}
        return frozenset(self.dtypes) if "*" in keys else frozenset(keys)


def _plain_column(column: Any) -> bool:
    return not (column.unique or column.regex or not column.required or column.default is not None)


@cache
def _plan(schema: type[_Base]) -> _Plan | None:
    """None when the schema uses a feature the plan does not model: pandera then judges every batch."""
    frame = schema.to_schema()
    if frame.unique or frame.ordered or frame.add_missing_columns or frame.parsers:
        return None
    dtypes: dict[str, pl.DataType] = {}
    not_null: list[str] = []
    checks: list[tuple[str, Any]] = []
    for name, column in frame.columns.items():
        dtype = column.dtype.type
        # A float column's "null" includes NaN in pandera; no schema here has one, so the plan need not.
        if not _plain_column(column) or column.parsers or dtype.is_float():
            return None
        dtypes[name] = dtype
        if not column.nullable:
            not_null.append(name)
        checks += [(name, check) for check in column.checks]
    checks += [("*", check) for check in frame.checks]
    if any(check.element_wise or check.groupby is not None for _, check in checks):
        return None
    return _Plan(
        dtypes,
        tuple(not_null),
        tuple(
            (key, (partial(check._check_fn, **check._check_kwargs), check.ignore_na)) for key, check in checks
        ),
    )


def _needs_no_coercion(actual: pl.DataType | None, name: str, plan: _Plan) -> bool:
    """Whether pandera's coercion of this column could not change a verdict. Beyond an exact dtype: a
    timestamp only relabelled to another time zone (``arrive_time``, naive in the schema, is built as UTC),
    on a column with no check but nullity, which a cast keeps."""
    expected = plan.dtypes[name]
    if actual == expected:
        return True
    return isinstance(actual, pl.Datetime) and isinstance(expected, pl.Datetime) and name not in plan.checked


def rows_passing(df: pl.DataFrame, schema: type[_Base]) -> pl.Series | None:
    """Per row of ``df``, whether pandera would pass it; None where the plan cannot judge the batch.

    The frame is built with the schema's dtypes (``records_to_frame``), so coercion has nothing to do;
    a batch with a column whose coercion could matter is left to pandera (None). A null check result
    passes where the check's ``ignore_na`` says so, as in pandera's polars backend. One polars query.
    """
    plan = _plan(schema)
    if plan is None or not all(_needs_no_coercion(df.schema.get(name), name, plan) for name in plan.dtypes):
        return None
    lf = df.lazy()
    parts = [lf.select(pl.col(name).is_not_null().alias(f"not_null:{name}")) for name in plan.not_null]
    verdicts = [pl.col(f"not_null:{name}") for name in plan.not_null]
    for i, (key, (check_fn, ignore_na)) in enumerate(plan.checks):
        output = check_fn(PolarsData(lf, key))
        names = output.collect_schema().names()
        parts.append(output.select(pl.col(name).alias(f"{i}:{name}") for name in names))
        for name in names:
            result = pl.col(f"{i}:{name}")
            verdicts.append(result | result.is_null() if ignore_na else result.fill_null(False))
    if not verdicts:
        return pl.Series("passes", [True] * df.height, dtype=pl.Boolean)
    return (
        pl.concat(parts, how="horizontal")
        .select(pl.all_horizontal(verdicts).alias("passes"))
        .collect()
        .to_series()
    )


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
    df = records_to_frame(records, record_type)
    reasons: dict[int, list[str]] = {}
    try:
        passing = rows_passing(df, schema)
        if passing is None or not passing.all():
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
    seen: set[Any] = set()
    for i, record in enumerate(records):  # a repeat of an id earlier in the batch; the first one may land
        record_id = getattr(record, id_col)
        if record_id in seen:
            reasons.setdefault(i, []).append(f"duplicate {id_col} in batch")
        seen.add(record_id)
    quarantine_reason = pl.Series(
        "quarantine_reason", ["; ".join(dict.fromkeys(reasons[i])) for i in sorted(reasons)], dtype=pl.Utf8
    )
    if not reasons:
        return df, df.clear().with_columns(quarantine_reason)
    bad = pl.Series([i in reasons for i in range(df.height)], dtype=pl.Boolean)
    return df.filter(~bad), df.filter(bad).with_columns(quarantine_reason)


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
