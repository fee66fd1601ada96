"""Clients through HTTP: demographics completeness as the warehouse counts it, guardians, insurance policies and
verifications, consents and their currency; refusals write nothing."""

from __future__ import annotations

from operational_api.models import Consent, InsurancePolicy
from tests.operational_api.api.conftest import Api, new_client


def test_completeness_follows_the_warehouse_definition(api: Api):
    front = api.as_role("FRONT_DESK")
    created = front.post(
        "/clients",
        json={
            "first_name": "Ins",
            "last_name": "Ured",
            "date_of_birth": "1980-01-02",
            "primary_clinician_id": api.world.clinician_a,
            "phone": "555-0100",
            "address": "1 Main St",
            "city": "Atlanta",
            "zip_code": "30301",
            "emergency_contact_name": "Em",
        },
    ).json()
    assert created["missing_demographic_fields"] == ["insurance"] and not created["has_complete_demographics"]
    cid = created["id"]
    billing = api.as_role("BILLING")
    policy = billing.post(
        f"/clients/{cid}/insurance-policies",
        json={"payer_id": api.world.payer_id, "member_id": "XYZ1", "effective_date": "2026-01-01"},
    )
    assert policy.status_code == 201
    client = front.get(f"/clients/{cid}").json()
    assert client["missing_demographic_fields"] == [] and client["has_complete_demographics"]
    verification = billing.post(
        f"/clients/{cid}/insurance-policies/{policy.json()['id']}/verifications",
        json={"status": "VERIFIED", "is_eligible": True},
    )
    assert (
        verification.status_code == 201 and verification.json()["verified_by"] == api.world.users["BILLING"]
    )
    assert len(billing.get(f"/clients/{cid}/insurance-verifications").json()) == 1
    before = api.count(InsurancePolicy)
    unknown_payer = billing.post(
        f"/clients/{cid}/insurance-policies",
        json={"payer_id": 10**6, "member_id": "X", "effective_date": "2026-01-01"},
    )
    assert unknown_payer.status_code == 422 and unknown_payer.json()["rule"] == "insurance.payer_unknown"
    assert api.count(InsurancePolicy) == before


def test_guardian_consent_needs_a_guardian_of_that_client(api: Api):
    admin = api.as_role("ADMIN")
    cid, other = new_client(api), new_client(api)
    others_guardian = admin.post(
        f"/clients/{other}/guardians", json={"full_name": "Someone Else", "relationship": "PARENT"}
    ).json()["id"]
    before = api.count(Consent)
    for guardian_id in (None, others_guardian):
        response = admin.post(
            f"/clients/{cid}/consents",
            json={"consent_type": "GUARDIAN", "signed_date": "2026-05-01", "guardian_id": guardian_id},
        )
        assert response.status_code == 422 and response.json()["rule"] == "consent.guardian_required"
    future = admin.post(
        f"/clients/{cid}/consents", json={"consent_type": "TELEHEALTH", "signed_date": "2026-07-01"}
    )
    assert future.status_code == 422 and future.json()["rule"] == "consent.signed_in_future"
    assert api.count(Consent) == before


def test_consent_currency_and_revocation(api: Api):
    admin = api.as_role("ADMIN")
    cid = new_client(api, consents=())
    informed = admin.post(
        f"/clients/{cid}/consents", json={"consent_type": "INFORMED", "signed_date": "2025-07-01"}
    ).json()
    # Signed 2025-07-01, 365 validity days: current until (exclusive) 2026-07-01.
    assert informed["current_until_date"] == "2026-07-01" and informed["is_current"]
    telehealth = admin.post(
        f"/clients/{cid}/consents", json={"consent_type": "TELEHEALTH", "signed_date": "2026-01-01"}
    ).json()
    assert telehealth["current_until_date"] is None
    revoked = admin.post(f"/consents/{telehealth['id']}/revoke", json={})
    assert revoked.status_code == 200 and revoked.json()["revoked_date"] == "2026-06-01"
    assert not revoked.json()["is_current"]
    again = admin.post(f"/consents/{telehealth['id']}/revoke", json={})
    assert again.status_code == 409 and again.json()["rule"] == "consent.already_revoked"
    stale = admin.post(f"/consents/{informed['id']}/revoke", json={}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412


def test_clinicians_see_and_change_only_their_clients(api: Api):
    clinician = api.as_role("CLINICIAN")
    own = clinician.post("/clients", json={"first_name": "Own", "last_name": "Client"})
    assert own.status_code == 201 and own.json()["primary_clinician_id"] == api.world.clinician_a
    theirs = clinician.post(
        "/clients",
        json={"first_name": "Not", "last_name": "Mine", "primary_clinician_id": api.world.clinician_b},
    )
    assert theirs.status_code == 404 and theirs.json()["rule"] == "clinician.not_found"
    listed = {c["id"] for c in clinician.get("/clients", params={"limit": 500}).json()["items"]}
    assert api.world.client_in in listed and api.world.client_out not in listed


def test_front_desk_records_reminder_consent_per_channel(api: Api):
    front = api.as_role("FRONT_DESK")
    created = front.post(
        "/clients",
        json={"first_name": "Re", "last_name": "Minder", "primary_clinician_id": api.world.clinician_a},
    ).json()
    assert (created["has_email_contact_consent"], created["has_sms_contact_consent"]) == (False, False)
    changed = front.patch(
        f"/clients/{created['id']}",
        json={"has_sms_contact_consent": True},
        headers={"If-Match": f'"{created["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    again = front.get(f"/clients/{created['id']}").json()
    assert (again["has_email_contact_consent"], again["has_sms_contact_consent"]) == (False, True)
