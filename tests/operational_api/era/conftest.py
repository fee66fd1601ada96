"""Stores and remittances for the ERA tests: real SQLite files, and PostgreSQL when configured."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from edi835.generate import ClaimSpec, RemittanceOptions, ServiceLineSpec
from operational_api.db import get_engine
from tests.conftest import fresh_sqlite_store, new_pg_database

# A payer that prints exactly what we billed: the focused tests add one kind of noise at a time.
NOISE_FREE = {
    "mangled_ccn_rate": 0.0,
    "name_variant_rate": 0.0,
    "missing_member_id_rate": 0.0,
    "date_shift_rate": 0.0,
    "dropped_modifier_rate": 0.0,
    "reversal_rate": 0.0,
    "correction_rate": 0.0,
    "split_rate": 0.0,
    "denial_rate": 0.0,
    "zero_pay_rate": 0.0,
    "forwarded_rate": 0.0,
    "interest_rate": 0.0,
    "recovery_rate": 0.0,
}


def clean_options(seed: int = 1, **overrides) -> RemittanceOptions:
    return RemittanceOptions(seed=seed, **{**NOISE_FREE, **overrides})


def spec(
    claim_id: int,
    client_id: int,
    last: str,
    first: str,
    member: str | None,
    day: dt.date,
    lines: tuple[tuple[str, str], ...] = (("90837", "175.00"),),
    payer: str = "SYN01",
    modifiers: tuple[str, ...] = (),
    first_charge_id: int | None = None,
) -> ClaimSpec:
    """One claim (charge ids default to claim_id * 10 + line number)."""
    base = first_charge_id if first_charge_id is not None else claim_id * 10
    return ClaimSpec(
        claim_control_number=f"MS{claim_id:08d}",
        payer_code=payer,
        payer_name="PEACHSTATE HEALTH PLAN" if payer == "SYN01" else f"PAYER {payer}",
        patient_last_name=last,
        patient_first_name=first,
        service_lines=tuple(
            ServiceLineSpec(day, cpt, Decimal(amount), modifiers, 1, base + i)
            for i, (cpt, amount) in enumerate(lines)
        ),
        member_id=member,
        claim_id=claim_id,
        client_id=client_id,
    )


def as_printed(s: ClaimSpec, **changes) -> ClaimSpec:
    """The payer's version of our claim (what ends up in the 835)."""
    return dataclasses.replace(s, **changes)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh store at the latest schema: a copy of the migrated SQLite file, and of the migrated PostgreSQL
    database when configured."""
    if request.param == "sqlite":
        yield fresh_sqlite_store(request.getfixturevalue("migrated_sqlite"), tmp_path / "store.db")
        return
    with new_pg_database(template=request.getfixturevalue("migrated_pg")) as url:
        yield url


@pytest.fixture
def sqlite_url(migrated_sqlite, tmp_path) -> str:
    return fresh_sqlite_store(migrated_sqlite, tmp_path / "store.db")


@pytest.fixture
def engine(db_url):
    eng = get_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    eng = get_engine(sqlite_url)
    yield eng
    eng.dispose()
