"""Typed, normalised AdvancedMD records and their parsing from response elements.

Field templates: getupdated*/getdatevisits take child elements whose attributes *name the
fields you want* (``alias="AmdFieldName"``). We always use the lower-cased AMD field name as the
alias, and the simulator renders getdemographic with the same names, so a single parser per
entity serves every action.

PHI fields are excluded from ``repr`` so that an accidentally logged record shows ids only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from ingest.advancedmd.normalize import (
    clean_email,
    clean_phone,
    clean_text,
    clean_zip,
    parse_amd_date,
    parse_amd_datetime,
    parse_amd_naive,
    parse_bool,
    parse_decimal,
    parse_id,
    parse_int,
    split_list,
    split_name,
)
from ingest.advancedmd.protocol import children_of, element, lower_attrs

PATIENT_FIELDS: tuple[str, ...] = (
    "LastName",
    "FirstName",
    "MiddleName",
    "Name",
    "Chart",
    "DOB",
    "Sex",
    "Address1",
    "Address2",
    "City",
    "State",
    "Zip",
    "HomePhone",
    "OfficePhone",
    "Email",
    "ProvProfile",
    "ProvProfileCode",
    "FinClassCode",
    "CreatedAt",
    "ChangedAt",
)
INSURANCE_FIELDS: tuple[str, ...] = (
    "Active",
    "SequenceNumber",
    "EffectiveStartDate",
    "EffectiveEndDate",
    "CarCode",
    "CarName",
    "SubIDNumber",
    "SubRelationship",
    "GroupName",
    "GroupNumber",
    "CopayDollarAmount",
)
VISIT_FIELDS: tuple[str, ...] = (
    "PatientID",
    "VisitDate",
    "VisitStartDateTime",
    "Duration",
    "ApptStatus",
    "AppointmentType",
    "ColumnHeading",
    "ProfileCode",
    "FacilityCode",
    "ChargesPosted",
    # The front desk's workflow times (practice-local wall clock, as the visit start) and confirmation, and who
    # entered the visit: the measures' check-in time, confirmation and online booking come from these when
    # AdvancedMD is the scheduling record (orchestration/defs/advancedmd/README.md).
    "ArriveTime",
    "SeenTime",
    "ConfirmedAt",
    "CreatedAt",
    "CreatedBy",
    "ModifiedAt",
)
# The visit's patient, nested in each visit of getupdatedvisits/getdatevisits: only the date of birth, so the
# landing can tell whether the client was a minor on the visit date (``AmdVisit.patient_dob``; the date itself
# never reaches the warehouse). Patient changes do not mark a visit changed: the patient sync re-derives the
# flag of the patient's landed visits (``WarehouseSink``).
VISIT_PATIENT_FIELDS: tuple[str, ...] = ("DOB",)
CHARGE_FIELDS: tuple[str, ...] = (
    "ChargeCode",
    "Fee",
    "Units",
    "Modifiers",
    "DiagnosisCodesICD10",
    "BeginDateOfService",
    "EndDateOfService",
    "PostingDate",
    "PosValue",
    "CreatedAt",
    "ChangedAt",
)

APPT_STATUS_LABELS: dict[int, str] = {
    0: "MADE",
    1: "ARRIVED",
    2: "OTHER",
    3: "SEEN",
    5: "MOVED",
    10: "CANCELLED",
    11: "DELETED",
    12: "NOSHOW",
}


def template(tag: str, fields: tuple[str, ...]) -> ET.Element:
    """``<tag lastname="LastName" .../>``: the alias is the lower-cased field name."""
    return element(tag, {f.lower(): f for f in fields})


@dataclass(frozen=True)
class AmdInsurance:
    """One insurance coverage of a patient."""

    insurance_id: int
    patient_id: int
    sequence: int | None
    carrier_code: str | None
    carrier_name: str | None
    subscriber_id: str | None = field(repr=False)
    relationship: str | None
    group_number: str | None = field(repr=False)
    group_name: str | None
    copay: Decimal | None
    effective_start: date | None
    effective_end: date | None
    active: bool | None


@dataclass(frozen=True)
class AmdPatient:
    """A patient's demographics (text upper case as stored by AMD; phones digits; e-mail lower)."""

    patient_id: int
    chart: str | None
    last_name: str | None = field(repr=False)
    first_name: str | None = field(repr=False)
    middle_name: str | None = field(repr=False)
    dob: date | None = field(repr=False)
    sex: str | None = field(repr=False)
    address1: str | None = field(repr=False)
    address2: str | None = field(repr=False)
    city: str | None = field(repr=False)
    state: str | None = field(repr=False)
    zip_code: str | None = field(repr=False)
    home_phone: str | None = field(repr=False)
    office_phone: str | None = field(repr=False)
    email: str | None = field(repr=False)
    provider_id: int | None
    provider_code: str | None
    fin_class_code: str | None
    created_at: datetime | None
    changed_at: datetime | None
    insurances: tuple[AmdInsurance, ...] = ()


@dataclass(frozen=True)
class AmdCharge:
    """One charge line on a visit."""

    charge_id: int
    visit_id: int
    patient_id: int | None
    cpt_code: str | None
    modifiers: tuple[str, ...]
    units: int | None
    fee: Decimal | None
    diagnosis_codes: tuple[str, ...] = field(repr=False)
    begin_date_of_service: date | None
    end_date_of_service: date | None
    posting_date: date | None
    place_of_service: str | None
    created_at: datetime | None
    changed_at: datetime | None


@dataclass(frozen=True)
class AmdVisit:
    """A visit/appointment. ``start`` is the naive practice-local wall-clock time, as AMD stores it."""

    visit_id: int
    patient_id: int | None
    visit_date: date | None
    start: datetime | None
    duration_minutes: int | None
    appt_status: int | None
    appointment_type: str | None
    column_heading: str | None
    provider_code: str | None
    facility_code: str | None
    charges_posted: bool | None
    created_at: datetime | None
    modified_at: datetime | None
    arrive_time: datetime | None = None  # naive practice-local wall clock, as ``start``
    seen_time: datetime | None = None  # naive practice-local wall clock
    confirmed_at: datetime | None = None
    created_by: str | None = None  # the AdvancedMD user (login) who entered the visit
    # PHI: used at landing for the minor flag, then dropped.
    patient_dob: date | None = field(default=None, repr=False)

    @property
    def appt_status_label(self) -> str | None:
        return None if self.appt_status is None else APPT_STATUS_LABELS.get(self.appt_status, "UNKNOWN")

    @property
    def on_schedule(self) -> bool:
        """AMD: status values below 10 are on the schedule."""
        return self.appt_status is not None and self.appt_status < 10


@dataclass(frozen=True)
class PatientStub:
    """A lookuppatient hit (id and chart only; the name is dropped on purpose)."""

    patient_id: int
    chart: str | None


def insurance_from_element(el: ET.Element, patient_id: int) -> AmdInsurance:
    a = lower_attrs(el)
    return AmdInsurance(
        insurance_id=parse_id(a.get("id")) or 0,
        patient_id=patient_id,
        sequence=parse_int(a.get("sequencenumber")),
        carrier_code=clean_text(a.get("carcode")),
        carrier_name=clean_text(a.get("carname")),
        subscriber_id=clean_text(a.get("subidnumber")),
        relationship=clean_text(a.get("subrelationship")),
        group_number=clean_text(a.get("groupnumber")),
        group_name=clean_text(a.get("groupname")),
        copay=parse_decimal(a.get("copaydollaramount")),
        effective_start=parse_amd_date(a.get("effectivestartdate")),
        effective_end=parse_amd_date(a.get("effectiveenddate")),
        active=parse_bool(a.get("active")),
    )


def patient_from_element(el: ET.Element, server_tz: tzinfo) -> AmdPatient:
    """Parse a ``<patient>`` of getupdatedpatients (insurancelist) or getdemographic (insplanlist)."""
    a = lower_attrs(el)
    patient_id = parse_id(a.get("id"))
    if patient_id is None:
        raise ValueError("patient element without id")
    last, first, middle = clean_text(a.get("lastname")), clean_text(a.get("firstname")), None
    middle = clean_text(a.get("middlename"))
    if last is None and first is None and a.get("name"):
        last, first, middle = split_name(a.get("name"))
    insurances = [
        insurance_from_element(i, patient_id)
        for i in children_of(el, "insurancelist", "insurance") + children_of(el, "insplanlist", "insplan")
    ]
    insurances.sort(key=lambda i: (i.sequence or 99, i.insurance_id))
    return AmdPatient(
        patient_id=patient_id,
        chart=clean_text(a.get("chart")),
        last_name=last,
        first_name=first,
        middle_name=middle,
        dob=parse_amd_date(a.get("dob")),
        sex=clean_text(a.get("sex")),
        address1=clean_text(a.get("address1")),
        address2=clean_text(a.get("address2")),
        city=clean_text(a.get("city")),
        state=clean_text(a.get("state")),
        zip_code=clean_zip(a.get("zip")),
        home_phone=clean_phone(a.get("homephone")),
        office_phone=clean_phone(a.get("officephone")),
        email=clean_email(a.get("email")),
        provider_id=parse_id(a.get("provprofile")),
        provider_code=clean_text(a.get("provprofilecode")),
        fin_class_code=clean_text(a.get("finclasscode")),
        created_at=parse_amd_datetime(a.get("createdat"), server_tz),
        changed_at=parse_amd_datetime(a.get("changedat"), server_tz),
        insurances=tuple(insurances),
    )


def visit_from_element(el: ET.Element, server_tz: tzinfo) -> AmdVisit:
    a = lower_attrs(el)
    visit_id = parse_id(a.get("id"))
    if visit_id is None:
        raise ValueError("visit element without id")
    nested = el.find("patient")
    patient_id = parse_id(a.get("patientid"))
    if patient_id is None and nested is not None:
        patient_id = parse_id(nested.get("id"))
    return AmdVisit(
        visit_id=visit_id,
        patient_id=patient_id,
        visit_date=parse_amd_date(a.get("visitdate")),
        start=parse_amd_naive(a.get("visitstartdatetime")),
        duration_minutes=parse_int(a.get("duration")),
        appt_status=parse_int(a.get("apptstatus")),
        appointment_type=clean_text(a.get("appointmenttype")),
        column_heading=clean_text(a.get("columnheading")),
        provider_code=clean_text(a.get("profilecode")),
        facility_code=clean_text(a.get("facilitycode")),
        charges_posted=parse_bool(a.get("chargesposted")),
        created_at=parse_amd_datetime(a.get("createdat"), server_tz),
        modified_at=parse_amd_datetime(a.get("modifiedat"), server_tz),
        arrive_time=parse_amd_naive(a.get("arrivetime")),
        seen_time=parse_amd_naive(a.get("seentime")),
        confirmed_at=parse_amd_datetime(a.get("confirmedat"), server_tz),
        created_by=clean_text(a.get("createdby")),
        patient_dob=parse_amd_date(nested.get("dob")) if nested is not None else None,
    )


def charge_from_element(
    el: ET.Element, visit_id: int, patient_id: int | None, server_tz: tzinfo
) -> AmdCharge:
    a = lower_attrs(el)
    charge_id = parse_id(a.get("id"))
    if charge_id is None:
        raise ValueError("charge element without id")
    fee = parse_decimal(a.get("fee"))
    return AmdCharge(
        charge_id=charge_id,
        visit_id=visit_id,
        patient_id=patient_id,
        cpt_code=clean_text(a.get("chargecode")),
        modifiers=split_list(a.get("modifiers")),
        units=parse_int(a.get("units")),
        fee=None if fee is None else fee.quantize(Decimal("0.01")),
        diagnosis_codes=split_list(a.get("diagnosiscodesicd10")),
        begin_date_of_service=parse_amd_date(a.get("begindateofservice")),
        end_date_of_service=parse_amd_date(a.get("enddateofservice")),
        posting_date=parse_amd_date(a.get("postingdate")),
        place_of_service=clean_text(a.get("posvalue")),
        created_at=parse_amd_datetime(a.get("createdat"), server_tz),
        changed_at=parse_amd_datetime(a.get("changedat"), server_tz),
    )


def has_visit_payload(el: ET.Element) -> bool:
    """Whether a visit element carries fields (vs. a bare ``id``/``updatestatus`` deletion marker)."""
    return any(k.lower() not in {"id", "updatestatus"} for k in el.attrib)


# ----------------------------------------------------------------------------- eligibility / 277


@dataclass(frozen=True)
class EligibilityResult:
    """Outcome of a 270/271 check. ``eligible`` is None when the payer rejected the inquiry."""

    patient_id: int
    coverage_id: int
    service_type: str
    eligibility_id: int
    status: str  # ACTIVE | INACTIVE | REJECTED | ERROR
    eligible: bool | None
    plan_name: str | None
    copay: Decimal | None
    deductible: Decimal | None
    deductible_remaining: Decimal | None
    reject_reason: str | None
    checked_at: datetime
    from_cache: bool = False


@dataclass(frozen=True)
class ClaimStatusDetail:
    """One 277 STC: category (A/P/F/R/E/D family) plus status code."""

    category_code: str
    category_description: str
    status_code: str | None
    payment_amount: Decimal | None
    icn: str | None

    @property
    def family(self) -> str:
        """``ACKNOWLEDGED`` / ``PENDING`` / ``FINALIZED`` / ``REQUEST`` / ``ERROR`` / ``SEARCH`` / ``UNKNOWN``."""
        from ingest.advancedmd.claimstatus import category_family

        return category_family(self.category_code)


@dataclass(frozen=True)
class ClaimStatusEntry:
    claim_id: int | None
    request_status_id: int | None
    verified_at: datetime | None
    details: tuple[ClaimStatusDetail, ...]


@dataclass(frozen=True)
class ClaimStatusResult:
    visit_id: int
    carrier_code: str
    claims: tuple[ClaimStatusEntry, ...]


@dataclass(frozen=True)
class ChargeBilling:
    """A charge's billing to insurance (getchargedetaildataicd10): the date it went to a carrier on a claim
    (``datebilled``) and that carrier (``lastbilledcarrier``); both None while it was never billed."""

    charge_id: int
    date_billed: date | None
    carrier_code: str | None


@dataclass(frozen=True)
class AmdClaimStatus:
    """One claim of a visit at a carrier as the 277 answers it, with the date it was billed (the claim's
    submission: the 277 carries none). The first STC of the claim is its status."""

    claim_id: int
    visit_id: int
    patient_id: int
    carrier_code: str
    billed_date: date
    category_code: str
    status_code: str | None
    payment_amount: Decimal | None
    verified_at: datetime | None


@dataclass(frozen=True)
class AmdTransaction:
    """A payment or write-off on one charge (gettxhistory). ``source``: INS (insurance) or PAT (patient)."""

    transaction_id: int
    charge_id: int
    visit_id: int | None
    patient_id: int
    kind: str  # PAYMENT | WRITEOFF
    amount: Decimal
    transaction_date: date | None
    source: str
    code: str | None


@dataclass(frozen=True)
class TxHistoryPage:
    """One page of gettxhistory: transactions of the page's charges, and the page count."""

    transactions: tuple[AmdTransaction, ...]
    page: int
    page_count: int
    charge_count: int
