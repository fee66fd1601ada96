"""Remittances for our own claims: the store side of :mod:`edi835.generate`.

`claim_specs_from_store` reads claims and charges of the operational store (PHI stays in this
process: the names go into the 835 the way a payer would print them, nothing is logged): by
default only claims the payer has not answered yet, since a remittance for a claim already paid is
a duplicate (or a secondary payer's) that a scenario has to ask for. `write_remittance` writes the
835 plus its ground-truth JSON. `standalone_specs` invents claims
without a store (the benchmark files), and `load_specs_into_store` loads such invented claims into
an empty store so they can be matched and posted end to end.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select, text

from edi835.generate import (
    ClaimSpec,
    GeneratedRemittance,
    RemittanceOptions,
    ServiceLineSpec,
    generate_remittance,
    synthetic_claim_specs,
)
from operational_api.errors import PlatformError
from operational_api.models import Charge, Claim, ClaimStatus, Client, InsurancePolicy, Payer

# A payer only remits claims it accepted: rejected claims never reach adjudication.
REMITTABLE_STATUSES = tuple(s.value for s in ClaimStatus if s != ClaimStatus.REJECTED)

# Claims the payer already answered: a charge with insurance money (reversals netted) or with an
# adjustment (a denial is an answer too).
_ANSWERED_SQL = """
select ch.claim_id from payment_applications pa
join payments p on p.id = pa.payment_id join charges ch on ch.id = pa.charge_id
where p.payment_method = 'INSURANCE' and ch.claim_id is not null
group by ch.claim_id, pa.charge_id having abs(sum(pa.applied_amount)) >= 0.005
union
select ch.claim_id from charge_adjustments a join charges ch on ch.id = a.charge_id
where ch.claim_id is not null
group by ch.claim_id, a.charge_id having abs(sum(a.adjustment_amount)) >= 0.005
"""


class NothingToRemit(PlatformError):
    """The store has submitted claims, but the payer has answered every one of them."""


@dataclass(frozen=True)
class WrittenRemittance:
    """Where a generated remittance went and what is in it."""

    path: Path
    truth_path: Path
    claim_count: int  # our claims in the file
    clp_count: int  # CLP segments (splits and corrections add some)
    size_bytes: int


def claim_specs_from_store(
    engine: Engine,
    limit: int | None = None,
    seed: int = 1,
    claim_ids: Sequence[int] | None = None,
    *,
    include_paid: bool = False,
) -> list[ClaimSpec]:
    """Our submitted (not rejected) claims as specs, in claim id order.

    Only claims with no insurance payment and no adjustment on their charges yet, unless
    ``include_paid`` (a duplicate or secondary-payer scenario); :class:`NothingToRemit` when the
    store has claims but every one is already answered. ``limit`` takes a seeded sample when the
    store holds more; ``claim_ids`` picks exact claims. The member id is the client's policy with
    the claim's payer.
    """
    with engine.connect() as conn:
        query = (
            select(
                Claim.id,
                Claim.claim_control_number,
                Claim.client_id,
                Payer.payer_code,
                Payer.name,
                Client.last_name,
                Client.first_name,
            )  # fmt: skip
            .join(Payer, Payer.id == Claim.payer_id)
            .join(Client, Client.id == Claim.client_id)
            .where(Claim.status.in_(REMITTABLE_STATUSES))
            .order_by(Claim.id)
        )
        if claim_ids is not None:
            query = query.where(Claim.id.in_(list(claim_ids)))
        claims = conn.execute(query).all()
        if not include_paid and claims:
            answered = {row[0] for row in conn.execute(text(_ANSWERED_SQL))}
            remittable = [row for row in claims if row[0] not in answered]
            if not remittable:
                raise NothingToRemit(
                    f"no claims to remit: all {len(claims)} submitted claims already carry an insurance "
                    "payment or adjustment (--include-paid remits them again, as duplicates or for a "
                    "secondary payer)"
                )
            claims = remittable
        if limit is not None and len(claims) > limit:
            claims = sorted(random.Random(seed).sample(claims, limit), key=lambda r: r[0])
        wanted = {r[0] for r in claims}
        policies: dict[tuple[int, str], str] = {}
        for client_id, payer_code, member_id in conn.execute(
            select(InsurancePolicy.client_id, Payer.payer_code, InsurancePolicy.member_id)
            .join(Payer, Payer.id == InsurancePolicy.payer_id)
            .order_by(InsurancePolicy.rank, InsurancePolicy.id)
        ):
            policies.setdefault((client_id, payer_code), member_id)
        lines: dict[int, list[ServiceLineSpec]] = {}
        charge_rows = conn.execute(
            select(
                Charge.claim_id,
                Charge.id,
                Charge.service_date,
                Charge.cpt_code,
                Charge.modifiers,
                Charge.units,
                Charge.charge_amount,
            )  # fmt: skip
            .join(Claim, Claim.id == Charge.claim_id)
            .where(Claim.status.in_(REMITTABLE_STATUSES), Charge.status != "VOID")
            .order_by(Charge.claim_id, Charge.id)
        )
        for claim_id, charge_id, day, cpt, modifiers, units, amount in charge_rows:
            if claim_id in wanted:
                mods = tuple(m for m in (modifiers or "").replace(":", ",").split(",") if m.strip())
                lines.setdefault(claim_id, []).append(
                    ServiceLineSpec(day, cpt, Decimal(amount), mods, int(units or 1), charge_id)
                )
    specs = []
    for claim_id, ccn, client_id, payer_code, payer_name, last, first in claims:
        if claim_id not in lines:
            continue  # a claim without charges has nothing to pay
        specs.append(
            ClaimSpec(
                claim_control_number=ccn,
                payer_code=payer_code,
                payer_name=payer_name.upper(),
                patient_last_name=last,
                patient_first_name=first,
                service_lines=tuple(lines[claim_id]),
                member_id=policies.get((client_id, payer_code)),
                claim_id=claim_id,
                client_id=client_id,
            )
        )
    return specs


def standalone_specs(n: int, seed: int = 1) -> list[ClaimSpec]:
    """``n`` invented claims (no store): see :func:`edi835.generate.synthetic_claim_specs`."""
    return synthetic_claim_specs(n, seed=seed)


def write_remittance(
    specs: Sequence[ClaimSpec],
    out_dir: str | Path,
    options: RemittanceOptions | None = None,
    stem: str | None = None,
) -> WrittenRemittance:
    """Render ``specs`` and write ``<stem>.835`` and ``<stem>.truth.json`` into ``out_dir``."""
    if not specs:
        raise PlatformError("no claims to remit: the store has no submitted claims with charges")
    opts = options or RemittanceOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or f"era_{len(specs)}_seed{opts.seed}"
    remittance: GeneratedRemittance = generate_remittance(specs, opts)
    path = out / f"{stem}.835"
    truth_path = out / f"{stem}.truth.json"
    data = remittance.to_bytes()
    path.write_bytes(data)
    truth_path.write_text(json.dumps(remittance.ground_truth, indent=1))
    return WrittenRemittance(path, truth_path, len(specs), remittance.claim_count, len(data))


def load_specs_into_store(
    engine: Engine, specs: Sequence[ClaimSpec], as_of: dt.date = dt.date(2026, 11, 25)
) -> int:
    """Load invented claims (with their clients, payers, policies and charges) into an empty,
    migrated store, keeping the specs' ids; returns the number of rows written."""
    from operational_api.bulk import load_tables

    now = dt.datetime.combine(as_of, dt.time(12))
    users = [
        (1, "billing1@practice.example", "Bill", "Ing", "BILLING", None, True, 0, now, now),
        (2, "clinician2@practice.example", "Clin", "Ician", "CLINICIAN", "LPC", True, 0, now, now),
    ]
    payer_ids: dict[str, int] = {}
    payers = []
    clients: dict[int, tuple] = {}
    policies = []
    claims = []
    charges = []
    for spec in specs:
        if spec.payer_code not in payer_ids:
            payer_ids[spec.payer_code] = len(payer_ids) + 1
            payers.append((payer_ids[spec.payer_code], spec.payer_name.title(), spec.payer_code))
        client_id = spec.client_id
        if client_id is None or spec.claim_id is None:
            raise PlatformError("specs to load need claim and client ids")
        if client_id not in clients:
            clients[client_id] = (client_id, spec.patient_first_name, spec.patient_last_name, "ACTIVE", False, False,
                                  False, False, now, now)  # fmt: skip
            if spec.member_id:
                policies.append((len(policies) + 1, client_id, payer_ids[spec.payer_code], 1, spec.member_id,
                                 as_of - dt.timedelta(days=400)))  # fmt: skip
        total = sum((line.charge_amount for line in spec.service_lines), Decimal("0"))
        first_day = min(line.service_date for line in spec.service_lines)
        submitted = dt.datetime.combine(first_day, dt.time(18))
        claims.append((spec.claim_id, client_id, payer_ids[spec.payer_code], spec.claim_control_number, "ACCEPTED",
                       total, submitted))  # fmt: skip
        for line in spec.service_lines:
            charges.append((line.charge_id, client_id, 2, spec.claim_id, line.service_date, line.cpt_code,
                            ",".join(line.modifiers) or None, line.units, line.charge_amount, Decimal("0"),
                            Decimal("0"), Decimal("0"), "BILLED", False, submitted, submitted))  # fmt: skip
    tables = {
        "users": (_cols("id email first_name last_name role license_type is_active failed_login_count "
                        "created_at updated_at"), users),
        "payers": (_cols("id name payer_code"), payers),
        "clients": (_cols("id first_name last_name status is_high_risk has_suicidal_ideation is_emancipated "
                          "is_self_pay created_at updated_at"), list(clients.values())),
        "insurance_policies": (_cols("id client_id payer_id rank member_id effective_date"), policies),
        "claims": (_cols("id client_id payer_id claim_control_number status total_charge_amount submitted_at"),
                   claims),
        "charges": (_cols("id client_id clinician_id claim_id service_date cpt_code modifiers units charge_amount "
                          "payment_amount adjustment_amount patient_responsibility_amount status is_billing_hold "
                          "created_at updated_at"), charges),
    }  # fmt: skip
    return sum(load_tables(engine, tables).values())


def _cols(names: str) -> list[str]:
    return names.split()
