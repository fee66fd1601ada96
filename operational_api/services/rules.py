"""The store-side twins of the warehouse's compliance definitions, for the service layer's checks at write time.

Each function says which dbt model it mirrors; the parameters come from `compliance_rules` (as the warehouse's
`rule_value` reads them), so a practice that changes a rule changes both. `tests/operational_api/api/` checks the
pairs agree on the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from operational_api.models import Client, ComplianceRule, Consent, HipaaTraining, InsurancePolicy
from operational_api.services.errors import InvalidInput
from operational_api.settings import practice_timezone

# The active rule parameters, read once per transaction (session.info, dropped when it ends): a booking reads
# three or more (each informed consent's validity, the age of majority) and each was a query of its own.
_RULE_VALUES = "compliance_rule_values"


def rule_value(session: Session, rule_type: str, parameter: str) -> int:
    """One active rule parameter (the warehouse's `rule_value` macro: the highest active value)."""
    values = session.info.get(_RULE_VALUES)
    if values is None:
        rows = session.execute(
            select(ComplianceRule.rule_type, ComplianceRule.parameter, func.max(ComplianceRule.value))
            .where(ComplianceRule.is_active)
            .group_by(ComplianceRule.rule_type, ComplianceRule.parameter)
        )
        values = session.info[_RULE_VALUES] = {(r, p): v for r, p, v in rows if v is not None}
    value = values.get((rule_type, parameter))
    if value is None:
        raise InvalidInput(
            "compliance_rule.missing",
            f"compliance rule {rule_type}.{parameter} is not set (no active row in compliance_rules)",
        )
    return int(value)


@event.listens_for(Session, "after_transaction_end")
def _forget_rule_values(session: Session, transaction: SessionTransaction) -> None:
    # The next transaction reads them afresh (a rule changed since applies to it).
    if transaction.parent is None:
        session.info.pop(_RULE_VALUES, None)


def local_date(at: dt.datetime) -> dt.date:
    """The practice-local date of a naive UTC timestamp (how the warehouse cuts appointment_date)."""
    return at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(practice_timezone())).date()


def local_today(now: dt.datetime) -> dt.date:
    return local_date(now)


def age_on(date_of_birth: dt.date, on: dt.date) -> int:
    """Whole years: the birthday counts from its own day (29 February's on 1 March), as export._age_on."""
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def is_minor_on_date(session: Session, client: Client, on: dt.date) -> bool:
    """export.py's `is_minor_on_date`: under MINOR_CONSENT.adult_age_years on a practice-local date. An unknown
    date of birth counts as adult (and fails complete demographics), as in the warehouse."""
    if client.date_of_birth is None:
        return False
    return age_on(client.date_of_birth, on) < rule_value(session, "MINOR_CONSENT", "adult_age_years")


# int_consents_with_validity: the validity rule of each consent type (telehealth has none).
_CONSENT_VALIDITY_RULE = {"INFORMED": "INFORMED_CONSENT", "GUARDIAN": "MINOR_CONSENT"}


def consent_current_until(session: Session, consent: Consent) -> dt.date | None:
    """int_consents_with_validity.current_until_date: the earliest of the stored expiry, signature + the type's
    validity days, and the revocation; exclusive (expired on that date); None = open-ended."""
    ends: list[dt.date] = [d for d in (consent.expiry_date, consent.revoked_date) if d is not None]
    rule = _CONSENT_VALIDITY_RULE.get(consent.consent_type)
    if rule is not None:
        ends.append(consent.signed_date + dt.timedelta(days=rule_value(session, rule, "validity_days")))
    return min(ends) if ends else None


# Built once (a booking checks up to three consent types).
_CONSENTS_SIGNED_BY = select(Consent).where(
    Consent.client_id == bindparam("client_id"),
    Consent.consent_type == bindparam("consent_type"),
    Consent.signed_date <= bindparam("on"),
)


def has_current_consent(session: Session, client_id: int, consent_type: str, on: dt.date) -> bool:
    """A consent of that type signed by `on` and current on it (int_client_consents_by_period's test)."""
    consents = session.scalars(
        _CONSENTS_SIGNED_BY, {"client_id": client_id, "consent_type": consent_type, "on": on}
    ).all()
    for consent in consents:
        until = consent_current_until(session, consent)
        if until is None or on < until:
            return True
    return False


def training_current_on(session: Session, user_id: int, on: dt.date) -> bool:
    """int_staff_hipaa_training_by_period: a training completed by `on` and before the earlier of its stored
    expiry and completion + HIPAA_TRAINING.validity_days (expired on that date)."""
    return training_current_until(session, user_id, on) is not None


def training_current_until(session: Session, user_id: int, on: dt.date) -> dt.date | None:
    """The local date the user's training stops being current (exclusive) when it is current on `on`, else None.
    Every day from `on` to it is current too (the trainings completed by `on` are completed by then)."""
    trainings = session.scalars(
        select(HipaaTraining).where(HipaaTraining.user_id == user_id, HipaaTraining.completed_date <= on)
    ).all()
    if not trainings:
        return None
    validity = dt.timedelta(days=rule_value(session, "HIPAA_TRAINING", "validity_days"))
    until = max(min(t.expires_date, t.completed_date + validity) for t in trainings)
    return until if on < until else None


def local_day_start(day: dt.date) -> dt.datetime:
    """The naive UTC instant the practice-local `day` begins (the inverse of `local_date` at midnight)."""
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(practice_timezone()))
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def _present(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def missing_demographic_fields(client: Client, policies: Iterable[InsurancePolicy]) -> list[str]:
    """dim_clients.missing_demographic_fields, field for field and in its order (the PRD's required fields: name,
    DOB, address with city and ZIP, phone, emergency contact, insurance with a member id unless self-pay)."""
    missing = []
    if not (_present(client.first_name) or _present(client.last_name)):
        missing.append("name")
    if client.date_of_birth is None:
        missing.append("date of birth")
    for label, value in (
        ("street address", client.address),
        ("city", client.city),
        ("ZIP code", client.zip_code),
        ("phone", client.phone),
        ("emergency contact", client.emergency_contact_name),
    ):
        if not _present(value):
            missing.append(label)
    if not client.is_self_pay:
        policies = list(policies)
        if not policies:
            missing.append("insurance")
        elif not any(_present(p.member_id) for p in policies):
            missing.append("insurance member id")
    return missing


def client_missing_demographics(session: Session, client: Client) -> list[str]:
    return clients_missing_demographics(session, [client])[client.id]


def clients_missing_demographics(session: Session, clients: Iterable[Client]) -> dict[int, list[str]]:
    """`missing_demographic_fields` per client id, with one query for all their policies: a list page of 50
    clients made 50 policy queries, the slowest read of the API benchmark (bench/api.py)."""
    clients = list(clients)
    policies: dict[int, list[InsurancePolicy]] = {c.id: [] for c in clients}
    if clients:
        for policy in session.scalars(select(InsurancePolicy).where(InsurancePolicy.client_id.in_(policies))):
            policies[policy.client_id].append(policy)
    return {c.id: missing_demographic_fields(c, policies[c.id]) for c in clients}
