"""X12 277 Health Care Claim Status Category Codes (the STC01-1 values AdvancedMD passes through).

Descriptions are short paraphrases of the published category names, kept only as labels; the
code is what we store. Unknown codes are kept and labelled ``UNKNOWN``, never dropped, because
payers do send codes newer than any list we ship. What a code means for the measures (accepted,
rejected, no answer yet) is the warehouse's: ``dbt_project/seeds/terminology__x12_277_claim_categories.csv``.

:func:`visit_claim_statuses` reads one visit's claims: AdvancedMD bills a visit's charges together, so the
detail of the visit's first charge line says whether (``datebilled``) and to which carrier
(``lastbilledcarrier``) the visit was billed; only a billed visit costs the 276/277 request.

:func:`visits_due` bounds one run: a practice with more open visits than a night's budget has them asked in turn.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from ingest.advancedmd.records import AmdClaimStatus

if TYPE_CHECKING:
    from ingest.advancedmd.client import AdvancedMDClient

# Visits one claim-status run asks at most: 2 calls each (tier 3 + tier 2), 20 minutes off-peak (schedules.py).
MAX_VISITS_PER_RUN = 2_400

CATEGORY_CODES: dict[str, str] = {
    "A0": "Acknowledgement/Forwarded",
    "A1": "Acknowledgement/Receipt",
    "A2": "Acknowledgement/Acceptance into adjudication system",
    "A3": "Acknowledgement/Returned as unprocessable claim",
    "A4": "Acknowledgement/Not found",
    "A5": "Acknowledgement/Split claim",
    "A6": "Acknowledgement/Rejected for missing information",
    "A7": "Acknowledgement/Rejected for invalid information",
    "A8": "Acknowledgement/Rejected for relational field in error",
    "P0": "Pending: adjudication/details",
    "P1": "Pending/In process",
    "P2": "Pending/Payer review",
    "P3": "Pending/Provider requested information",
    "P4": "Pending/Patient requested information",
    "P5": "Pending/Payer administrative/system hold",
    "F0": "Finalized",
    "F1": "Finalized/Payment",
    "F2": "Finalized/Denial",
    "F3": "Finalized/Revised",
    "F3F": "Finalized/Forwarded",
    "F3N": "Finalized/Not forwarded",
    "F4": "Finalized/Adjudication complete, no payment forthcoming",
    "R0": "Requests for additional information/General requests",
    "R1": "Requests for additional information/Entity requests",
    "R3": "Requests for additional information/Claim/line",
    "R4": "Requests for additional information/Documentation",
    "R5": "Request for more specific detail",
    "E0": "Response not possible: error on submitted request data",
    "E1": "Response not possible: system status",
    "E2": "Information holder is not responding",
    "E3": "Correction required: relational fields in error",
    "E4": "Trading partner agreement specific requirement not met",
    "D0": "Data search unsuccessful",
}

_FAMILIES = {
    "A": "ACKNOWLEDGED",
    "P": "PENDING",
    "F": "FINALIZED",
    "R": "REQUEST",
    "E": "ERROR",
    "D": "SEARCH",
}


def describe_category(code: str) -> str:
    """Label for a 277 category code; ``UNKNOWN`` for codes not in our list."""
    return CATEGORY_CODES.get(code.strip().upper(), "UNKNOWN")


def category_family(code: str) -> str:
    """First letter of the category tells the claim's stage."""
    code = code.strip().upper()
    return _FAMILIES.get(code[:1], "UNKNOWN") if code else "UNKNOWN"


def visit_claim_statuses(
    client: AdvancedMDClient, visit_id: int, patient_id: int, first_charge_id: int
) -> list[AmdClaimStatus]:
    """The claims of a visit at the carrier it was last billed to, each with its first STC and the date billed
    (the claim's submission date). Empty when the visit was never billed. A 277 entry without a claim id (the
    payer found no claim, A4) is not a claim of ours and is left out."""
    billing = client.get_charge_billing(first_charge_id)
    if billing.date_billed is None or not billing.carrier_code:
        return []
    answer = client.get_claim_status(visit_id, billing.carrier_code)
    statuses = []
    for claim in answer.claims:
        if claim.claim_id is None or not claim.details:
            continue
        first = claim.details[0]
        statuses.append(
            AmdClaimStatus(
                claim_id=claim.claim_id,
                visit_id=visit_id,
                patient_id=patient_id,
                carrier_code=answer.carrier_code,
                billed_date=billing.date_billed,
                category_code=first.category_code,
                status_code=first.status_code,
                payment_amount=first.payment_amount,
                verified_at=claim.verified_at,
            )
        )
    return statuses


def visits_due(visit_ids: Sequence[int], max_visits: int, day: date) -> list[int]:
    """The visits to ask on ``day``: all of them when they fit in ``max_visits``; else the visits are split into
    ``turns`` groups by visit id (the fewest turns whose groups all fit) and the group whose turn it is asked, the
    turn moving on each day. A visit's group depends only on its id and the number of turns, so while that number
    holds every open visit is asked every ``turns`` nights, whatever is finalized meanwhile (an order such as oldest
    first, or a slice by position, would leave the same visits behind night after night)."""
    cap = max(1, max_visits)
    turns = max(1, math.ceil(len(visit_ids) / cap))
    while max(Counter(v % turns for v in visit_ids).values(), default=0) > cap:
        turns += 1
    turn = day.toordinal() % turns
    return [v for v in visit_ids if v % turns == turn]
