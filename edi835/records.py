"""Typed, immutable records for one parsed 835 file.

The records mirror the 835 loop structure (interchange -> functional group -> transaction set
(:class:`Remittance`) -> claim (2100) -> service line (2110)). They are built on demand from the
segment store that :func:`edi835.parse` keeps (see ``ParseResult.transactions``); the vectorised flat
tables are the fast path and never need them.

Money is :class:`~decimal.Decimal`, exactly as written in the file (reversals keep their sign);
``None`` when the element is empty or not a number. Dates are :class:`datetime.date` (``None`` when
absent or not CCYYMMDD). Fields that hold person names or member IDs are excluded from ``repr`` so
that logging a record does not leak PHI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "Adjustment",
    "Contact",
    "DateReference",
    "Delimiters",
    "EntityName",
    "FunctionalGroup",
    "InpatientAdjudication",
    "Interchange",
    "OutpatientAdjudication",
    "Party",
    "Payment",
    "Procedure",
    "ProviderAdjustment",
    "ProviderSummary",
    "Quantity",
    "RawSegment",
    "Reference",
    "RemarkCode",
    "Remittance",
    "ServiceLine",
    "SupplementalAmount",
    "Claim",
]


@dataclass(frozen=True, slots=True)
class Delimiters:
    """Delimiters one interchange declares in its ISA (or the defaults for a bare ST..SE file)."""

    element: str
    segment: str
    component: str
    repetition: str | None


@dataclass(frozen=True, slots=True)
class RawSegment:
    """A segment kept as its elements, e.g. one the parser does not know (never dropped)."""

    segment_position: int
    segment_id: str
    elements: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Reference:
    """REF: a qualified reference identifier (REF01 qualifier, REF02 value)."""

    segment_position: int
    qualifier: str | None
    value: str | None


@dataclass(frozen=True, slots=True)
class DateReference:
    """DTM: a qualified date (e.g. 405 production, 232/233 statement, 472 service)."""

    segment_position: int
    qualifier: str | None
    date: dt.date | None


@dataclass(frozen=True, slots=True)
class SupplementalAmount:
    """AMT: a qualified supplemental amount (e.g. AU coverage, B6 allowed, I interest)."""

    segment_position: int
    qualifier: str | None
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class Quantity:
    """QTY: a qualified quantity (e.g. CA covered days, ZK/ZL Medicare visits)."""

    segment_position: int
    qualifier: str | None
    quantity: Decimal | None


@dataclass(frozen=True, slots=True)
class Contact:
    """PER: a contact (function code, name and up to three communication numbers)."""

    segment_position: int
    function_code: str | None
    name: str | None
    communications: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Party:
    """Payer (1000A, N1*PR) or payee (1000B, N1*PE) with its address, references and contacts."""

    segment_position: int
    entity_code: str | None
    name: str | None
    id_qualifier: str | None
    identifier: str | None
    address_lines: tuple[str, ...] = ()
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    references: tuple[Reference, ...] = ()
    contacts: tuple[Contact, ...] = ()
    remittance_delivery_method: tuple[str, ...] = ()
    additional_names: tuple[tuple[str, ...], ...] = ()

    @property
    def npi(self) -> str | None:
        """The NPI when the party is identified by one (N103 = XX)."""
        return self.identifier if self.id_qualifier == "XX" else None


@dataclass(frozen=True, slots=True)
class EntityName:
    """NM1 in the claim loop: patient (QC), insured (IL), corrected name (74), rendering provider
    (82), crossover carrier (TT), corrected priority payer (PR), other subscriber (GB).

    Person names and identifiers are PHI and therefore hidden from ``repr``.
    """

    segment_position: int
    entity_code: str | None
    entity_type: str | None
    last_or_organization_name: str | None = field(repr=False)
    first_name: str | None = field(repr=False)
    middle_name: str | None = field(repr=False)
    suffix: str | None = field(repr=False)
    id_qualifier: str | None
    identifier: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Payment:
    """BPR: financial information (BPR02 total payment) and TRN: the check or EFT trace."""

    transaction_handling_code: str | None
    amount: Decimal | None
    credit_debit_flag: str | None
    payment_method_code: str | None
    payment_format_code: str | None
    payment_date: dt.date | None
    trace_type_code: str | None
    trace_number: str | None
    originating_company_id: str | None


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    """TS3 / TS2 provider summary information of one LX header-number group."""

    segment_position: int
    segment_id: str
    elements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One CAS triplet (group, CARC, amount, quantity) at claim or service-line level."""

    segment_position: int
    sequence: int
    level: str
    group_code: str | None
    carc_code: str | None
    amount: Decimal | None
    quantity: Decimal | None


@dataclass(frozen=True, slots=True)
class RemarkCode:
    """One remark code: LQ (service line) or MOA/MIA (claim) remark codes."""

    segment_position: int
    source_segment: str
    source_element: str
    code_list_qualifier: str | None
    code: str


@dataclass(frozen=True, slots=True)
class InpatientAdjudication:
    """MIA: inpatient adjudication information (elements as written; MIA05/20-23 remark codes)."""

    segment_position: int
    covered_days_or_visits: Decimal | None
    elements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutpatientAdjudication:
    """MOA: outpatient adjudication information."""

    segment_position: int
    reimbursement_rate: Decimal | None
    hcpcs_payable_amount: Decimal | None
    esrd_payment_amount: Decimal | None
    nonpayable_professional_component_amount: Decimal | None
    remark_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Procedure:
    """A composite medical procedure (SVC01 / SVC06): qualifier, code, modifiers, description."""

    qualifier: str | None
    code: str | None
    modifiers: tuple[str, ...]
    description: str | None


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """Loop 2110: one SVC service line with its dates, adjustments, references and remarks."""

    segment_position: int
    procedure: Procedure
    charge_amount: Decimal | None
    paid_amount: Decimal | None
    revenue_code: str | None
    units_paid: Decimal | None
    original_procedure: Procedure | None
    original_units: Decimal | None
    dates: tuple[DateReference, ...]
    adjustments: tuple[Adjustment, ...]
    references: tuple[Reference, ...]
    amounts: tuple[SupplementalAmount, ...]
    quantities: tuple[Quantity, ...]
    remark_codes: tuple[RemarkCode, ...]

    @property
    def service_date(self) -> dt.date | None:
        """DTM*472, else the DTM*150 period start."""
        by_qualifier = {d.qualifier: d.date for d in self.dates}
        return by_qualifier.get("472") or by_qualifier.get("150")

    @property
    def adjustment_total(self) -> Decimal:
        """Sum of this line's CAS amounts."""
        return sum((a.amount or Decimal(0) for a in self.adjustments), Decimal(0))


@dataclass(frozen=True, slots=True)
class Claim:
    """Loop 2100: one CLP claim payment with its names, adjustments, dates and service lines."""

    segment_position: int
    header_number: str | None
    patient_control_number: str | None = field(repr=False)
    status_code: str | None
    charge_amount: Decimal | None
    paid_amount: Decimal | None
    patient_responsibility_amount: Decimal | None
    filing_indicator_code: str | None
    payer_claim_control_number: str | None
    facility_type_code: str | None
    frequency_code: str | None
    drg_code: str | None
    drg_weight: Decimal | None
    discharge_fraction: Decimal | None
    adjustments: tuple[Adjustment, ...]
    names: tuple[EntityName, ...]
    inpatient: InpatientAdjudication | None
    outpatient: OutpatientAdjudication | None
    references: tuple[Reference, ...]
    dates: tuple[DateReference, ...]
    contacts: tuple[Contact, ...]
    amounts: tuple[SupplementalAmount, ...]
    quantities: tuple[Quantity, ...]
    service_lines: tuple[ServiceLine, ...]
    remark_codes: tuple[RemarkCode, ...]

    @property
    def is_reversal(self) -> bool:
        """CLP02 = 22: reversal of a previous payment (amounts keep the file's signs)."""
        return self.status_code == "22"

    @property
    def patient(self) -> EntityName | None:
        """NM1*QC, the patient (PHI)."""
        return next((n for n in self.names if n.entity_code == "QC"), None)

    @property
    def adjustment_total(self) -> Decimal:
        """Sum of claim-level and line-level CAS amounts."""
        total = sum((a.amount or Decimal(0) for a in self.adjustments), Decimal(0))
        return total + sum((line.adjustment_total for line in self.service_lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB reason/amount pair (composite reason code and reference, e.g. ``WO:ABC123``)."""

    segment_position: int
    sequence: int
    provider_id: str | None
    fiscal_period_date: dt.date | None
    reason_code: str | None
    reference_id: str | None
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class Remittance:
    """One ST..SE 835 transaction set: a single payment (or non-payment) advice."""

    segment_position: int
    transaction_set_control_number: str | None
    implementation_convention: str | None
    version: str | None
    payment: Payment
    currency_code: str | None
    references: tuple[Reference, ...]
    dates: tuple[DateReference, ...]
    payer: Party | None
    payee: Party | None
    provider_summaries: tuple[ProviderSummary, ...]
    claims: tuple[Claim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    # Segments the 835 guide does not define, or known ones where the guide does not allow them.
    unknown_segments: tuple[RawSegment, ...]
    segment_count: int
    declared_segment_count: str | None

    @property
    def production_date(self) -> dt.date | None:
        """DTM*405 of the header."""
        return next((d.date for d in self.dates if d.qualifier == "405"), None)

    @property
    def is_balanced(self) -> bool:
        """BPR02 == sum(CLP04) - sum(PLB amounts)."""
        paid = sum((c.paid_amount or Decimal(0) for c in self.claims), Decimal(0))
        plb = sum((p.amount or Decimal(0) for p in self.provider_adjustments), Decimal(0))
        return (self.payment.amount or Decimal(0)) == paid - plb


@dataclass(frozen=True, slots=True)
class FunctionalGroup:
    """GS..GE functional group."""

    segment_position: int
    functional_id_code: str | None
    sender_code: str | None
    receiver_code: str | None
    date: str | None
    time: str | None
    control_number: str | None
    version: str | None
    transactions: tuple[Remittance, ...]


@dataclass(frozen=True, slots=True)
class Interchange:
    """ISA..IEA interchange with its delimiters and functional groups."""

    segment_position: int
    sender_id_qualifier: str | None
    sender_id: str | None
    receiver_id_qualifier: str | None
    receiver_id: str | None
    date: str | None
    time: str | None
    version: str | None
    control_number: str | None
    usage_indicator: str | None
    delimiters: Delimiters
    groups: tuple[FunctionalGroup, ...]
