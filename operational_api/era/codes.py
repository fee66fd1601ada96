"""Short labels for the 835 codes the ERA posting and review screens show.

Our own wording, kept short on purpose: the official CARC/RARC lists belong to X12 (see
shared/reference/codes/PROVENANCE.md for why they are not copied), and the group and claim-status
lists come from the 005010 TR3 (shared/reference/codes/*.csv). An unknown code is shown as itself.
"""

from __future__ import annotations

GROUP_LABELS = {
    "CO": "contractual obligation",
    "CR": "correction or reversal",
    "OA": "other adjustment",
    "PI": "payer-initiated reduction",
    "PR": "patient responsibility",
}

CLAIM_STATUS_LABELS = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "primary, forwarded to another payer",
    "20": "secondary, forwarded to another payer",
    "21": "tertiary, forwarded to another payer",
    "22": "reversal of an earlier payment",
    "23": "not our claim, forwarded",
    "25": "pricing only, no payment",
}

CARC_LABELS = {
    "1": "deductible",
    "2": "coinsurance",
    "3": "copay",
    "16": "claim lacks information",
    "27": "coverage ended before service",
    "29": "filing limit passed",
    "45": "above the contracted fee",
    "50": "not medically necessary",
    "96": "not covered",
    "97": "bundled into another service",
    "197": "authorization missing",
    "204": "not covered by this plan",
    "253": "sequestration",
}

RARC_LABELS = {
    "M15": "billed separately, paid as bundled",
    "M51": "procedure code missing or invalid",
    "M62": "authorization number missing or invalid",
    "MA01": "appeal rights notice",
    "MA130": "claim incomplete, resubmit (no appeal)",
    "N130": "see plan benefit documents",
    "N211": "not appealable",
    "N290": "rendering provider id missing or invalid",
    "N54": "differs from the authorized service",
}

PLB_LABELS = {
    "72": "authorized return",
    "B2": "rebate",
    "CS": "adjustment",
    "FB": "forwarding balance",
    "IR": "tax withholding",
    "L3": "penalty",
    "L6": "interest",
    "WO": "overpayment recovery",
    "WU": "unspecified recovery",
}

# CARCs that mean "the payer will not pay this service" (as opposed to a price reduction).
DENIAL_CARCS = frozenset({"16", "27", "29", "50", "96", "97", "197", "204"})

_TABLES = {
    "group": GROUP_LABELS,
    "claim_status": CLAIM_STATUS_LABELS,
    "carc": CARC_LABELS,
    "rarc": RARC_LABELS,
    "plb": PLB_LABELS,
}


def label(kind: str, code: str | None) -> str:
    """The short label of a code ("carc", "rarc", "group", "claim_status", "plb"); the code itself
    when we have no label for it."""
    if code is None:
        return ""
    return _TABLES[kind].get(code, code)


def describe_adjustment(group: str, carc: str) -> str:
    """E.g. "CO-45 above the contracted fee"."""
    return f"{group}-{carc} {label('carc', carc)}".rstrip()
