"""The synthetic practice is deterministic and realistic enough to exercise every metric and alert."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest

from operational_api.synthetic import PracticeSpec, generate

SPEC = PracticeSpec(clinicians=10, months=8, seed=7, as_of=dt.date(2026, 11, 25))


@pytest.fixture(scope="module")
def practice():
    return generate(SPEC)


def _rows(practice, table):
    t = practice.tables[table]
    return [dict(zip(t.columns, row, strict=True)) for row in t.rows]


def test_same_spec_gives_identical_rows(practice):
    again = generate(SPEC)
    for name, table in practice.tables.items():
        assert table.rows == again.tables[name].rows, name


def test_different_seed_gives_different_rows(practice):
    other = generate(PracticeSpec(clinicians=10, months=8, seed=8, as_of=SPEC.as_of))
    assert other.tables["appointments"].rows != practice.tables["appointments"].rows


def test_no_show_rates_vary_by_clinician_within_realistic_bounds(practice):
    final = defaultdict(Counter)
    for a in _rows(practice, "appointments"):
        if a["status"] in ("COMPLETED", "NO_SHOW", "CANCELLED"):
            final[a["clinician_id"]][a["status"]] += 1
    rates = [c["NO_SHOW"] / sum(c.values()) for c in final.values()]
    assert min(rates) >= 0.05 and max(rates) <= 0.24
    assert max(rates) - min(rates) > 0.04, "clinicians should differ"
    overall = sum(c["NO_SHOW"] for c in final.values()) / sum(sum(c.values()) for c in final.values())
    assert 0.08 <= overall <= 0.20


def test_no_clinician_is_double_booked(practice):
    starts = Counter(
        (a["clinician_id"], a["start_at"])
        for a in _rows(practice, "appointments")
        if a["status"] != "RESCHEDULED"
    )
    assert max(starts.values()) == 1


def test_no_overlapping_appointments_for_a_clinician_or_a_client(practice):
    """The store refuses overlaps (migration 0007: exclusion constraints / triggers); the generator never makes
    one, so the bulk loader loads on both databases. Shared group slots would be the only exception."""
    for key in ("clinician_id", "client_id"):
        spans = defaultdict(list)
        for a in _rows(practice, "appointments"):
            if a["status"] not in ("CANCELLED", "RESCHEDULED") and a.get("shared_slot_id") is None:
                spans[a[key]].append((a["start_at"], a["end_at"]))
        for who, times in spans.items():
            times.sort()
            for (_, end), (start, _) in zip(times, times[1:], strict=False):
                assert start >= end, f"{key} {who} has overlapping appointments at {start}"


def test_note_signing_has_a_long_tail_past_7_and_14_days(practice):
    appointments = {a["id"]: a for a in _rows(practice, "appointments")}
    lags = []
    unsigned_old = 0
    for n in _rows(practice, "clinical_notes"):
        if n["appointment_id"] is None:
            continue
        end = appointments[n["appointment_id"]]["end_at"]
        if n["signed_at"] is not None:
            lags.append((n["signed_at"] - end).total_seconds() / 86400)
        elif end < dt.datetime(2026, 11, 11):
            unsigned_old += 1
    same_day = sum(1 for lag in lags if lag < 0.5) / len(lags)
    assert 0.6 < same_day < 0.95
    assert sum(1 for lag in lags if lag > 7) > 20
    assert sum(1 for lag in lags if lag > 14) > 5
    assert unsigned_old > 0


def test_every_compliance_scenario_is_present(practice):
    as_of = SPEC.as_of
    clients = _rows(practice, "clients")
    consents = _rows(practice, "consents")
    minors = [c for c in clients if c["date_of_birth"] and (as_of - c["date_of_birth"]).days < 18 * 365]
    assert minors
    guardian_consented = {c["client_id"] for c in consents if c["consent_type"] == "GUARDIAN"}
    assert any(m["id"] not in guardian_consented for m in minors), "some minors lack guardian consent"
    telehealth_clients = {a["client_id"] for a in _rows(practice, "appointments") if a["is_telehealth"]}
    tele_consented = {c["client_id"] for c in consents if c["consent_type"] == "TELEHEALTH"}
    assert telehealth_clients - tele_consented, "some telehealth clients lack consent"
    expiring = [
        c for c in consents if c["expiry_date"] and as_of <= c["expiry_date"] <= as_of + dt.timedelta(days=30)
    ]
    assert expiring, "some consents expire within 30 days"
    high_risk = {c["id"] for c in clients if c["is_high_risk"]}
    with_plan = {s["client_id"] for s in _rows(practice, "safety_plans")}
    assert high_risk - with_plan, "some high-risk clients have no safety plan"
    assert any(
        c["phone"] is None or c["address"] is None or c["emergency_contact_name"] is None for c in clients
    )
    claims = _rows(practice, "claims")
    assert {"DENIED", "REJECTED", "ACCEPTED"} <= {c["status"] for c in claims}
    assert any(
        a["status"] == "SCHEDULED" and a["start_at"] < dt.datetime(2026, 11, 24)
        for a in _rows(practice, "appointments")
    )
    charges = _rows(practice, "charges")
    assert any(ch["is_billing_hold"] for ch in charges)
    lags = [(ch["created_at"].date() - ch["service_date"]).days for ch in charges if ch["appointment_id"]]
    assert max(lags) > 3


def test_supervision_falls_short_for_some_supervisee_months(practice):
    users = {u["id"]: u for u in _rows(practice, "users")}
    hours = defaultdict(float)
    for s in _rows(practice, "supervision_sessions"):
        hours[(s["supervisee_id"], s["session_date"].replace(day=1))] += float(s["duration_hours"])
    required = {"LPC": 2, "LPC_ASSOCIATE": 2, "LMSW": 4}
    short = [k for k, h in hours.items() if h < required[users[k[0]]["license_type"]]]
    assert hours and short


def test_clients_agree_to_each_combination_of_reminder_channels(practice):
    combos = Counter(
        (c["has_email_contact_consent"], c["has_sms_contact_consent"]) for c in _rows(practice, "clients")
    )
    assert set(combos) == {(True, False), (False, True), (True, True), (False, False)}
    assert combos[(False, False)] < combos[(True, False)]  # most clients take at least one channel
    settings = dict((k, v) for _, k, v, _ in practice.tables["practice_settings"].rows)
    assert settings["practice_address"] and settings["telehealth_url"].startswith("https://")
