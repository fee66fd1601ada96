"""The scheduling rules through HTTP: each refusal has its rule id, and nothing is written."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from operational_api.models import Appointment, AppointmentStatusChange, Consent
from operational_api.models_api import WaitlistEntry
from operational_api.services.appointments import TRANSITIONS
from tests.operational_api.api.conftest import Api, booking, iso, new_client, next_slot


def _refused(api: Api, response: httpx.Response, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule


def _counts(api: Api) -> tuple[int, int]:
    return api.count(Appointment), api.count(AppointmentStatusChange)


def test_booking_without_current_informed_consent_is_refused(api: Api):
    client_id = new_client(api, consents=())
    before = _counts(api)
    _refused(
        api,
        api.as_role("FRONT_DESK").post("/appointments", json=booking(api, client_id)),
        409,
        "consent.informed_missing",
    )
    assert _counts(api) == before
    # Signed, then expired by the INFORMED_CONSENT validity rule (365 days): refused on the day it lapses.
    admin = api.as_role("ADMIN")
    admin.post(
        f"/clients/{client_id}/consents", json={"consent_type": "INFORMED", "signed_date": "2025-06-03"}
    )
    start = dt.datetime(2026, 6, 3, 14)  # practice-local 3 June 2026 = signature + 365 days
    _refused(
        api,
        api.as_role("FRONT_DESK").post(
            "/appointments", json=booking(api, client_id, (start, start + dt.timedelta(minutes=50)))
        ),
        409,
        "consent.informed_missing",
    )
    assert _counts(api) == before


def test_revoked_informed_consent_blocks_booking(api: Api):
    client_id = new_client(api)
    consents = api.as_role("ADMIN").get(f"/clients/{client_id}/consents").json()
    revoked = api.as_role("ADMIN").post(
        f"/consents/{consents[0]['id']}/revoke", json={"revoked_date": "2026-06-01"}
    )
    assert revoked.status_code == 200 and revoked.json()["is_current"] is False
    before = _counts(api)
    _refused(
        api,
        api.as_role("FRONT_DESK").post("/appointments", json=booking(api, client_id)),
        409,
        "consent.informed_missing",
    )
    assert _counts(api) == before


def test_minor_needs_a_current_guardian_consent(api: Api):
    slot = next_slot()
    # 17 on the appointment date (turns 18 the day after): a minor.
    dob = (slot[0] - dt.timedelta(hours=4)).date().replace(year=slot[0].year - 18) + dt.timedelta(days=1)
    minor = new_client(api, dob=dob)
    before = _counts(api)
    _refused(
        api,
        api.as_role("FRONT_DESK").post("/appointments", json=booking(api, minor, slot)),
        409,
        "consent.guardian_missing",
    )
    assert _counts(api) == before
    # 18 on the birthday itself: an adult, no guardian consent needed.
    adult = new_client(api, dob=dob - dt.timedelta(days=1))
    assert api.as_role("FRONT_DESK").post("/appointments", json=booking(api, adult, slot)).status_code == 201
    # An emancipated minor, and a minor with a guardian consent, may be booked.
    emancipated = new_client(api, dob=dob, emancipated=True)
    assert api.as_role("FRONT_DESK").post("/appointments", json=booking(api, emancipated)).status_code == 201
    consented = new_client(api, dob=dob, consents=("INFORMED", "GUARDIAN"))
    assert api.as_role("FRONT_DESK").post("/appointments", json=booking(api, consented)).status_code == 201


def test_telehealth_needs_a_telehealth_consent(api: Api):
    client_id = new_client(api)
    before = _counts(api)
    response = api.as_role("FRONT_DESK").post(
        "/appointments", json=booking(api, client_id, is_telehealth=True)
    )
    _refused(api, response, 409, "consent.telehealth_missing")
    assert _counts(api) == before
    ok = new_client(api, consents=("INFORMED", "TELEHEALTH"))
    assert (
        api.as_role("FRONT_DESK").post("/appointments", json=booking(api, ok, is_telehealth=True)).status_code
        == 201
    )


def test_no_double_booking_of_clinician_or_client_but_group_slots_are_shared(api: Api):
    front = api.as_role("FRONT_DESK")
    first, second, third = new_client(api), new_client(api), new_client(api)
    start, end = next_slot()
    assert front.post("/appointments", json=booking(api, first, (start, end))).status_code == 201
    before = _counts(api)
    overlapping = (start + dt.timedelta(minutes=30), end + dt.timedelta(minutes=30))
    _refused(
        api,
        front.post("/appointments", json=booking(api, second, overlapping)),
        409,
        "appointment.double_booked",
    )
    # The same client with another clinician at the same time.
    other = booking(api, first, (start, end), clinician_id=api.world.clinician_b)
    _refused(api, front.post("/appointments", json=other), 409, "appointment.double_booked")
    assert _counts(api) == before
    # Back to back is not an overlap.
    assert (
        front.post(
            "/appointments", json=booking(api, second, (end, end + dt.timedelta(minutes=10)))
        ).status_code
        == 201
    )
    # A group session: one slot shared by its clients.
    g_start, g_end = next_slot()
    group = front.post(
        "/appointments", json=booking(api, first, (g_start, g_end), appointment_type="GROUP_THERAPY")
    ).json()
    joined = front.post(
        "/appointments",
        json={
            "client_id": third,
            "clinician_id": api.world.clinician_a,
            "start_at": iso(g_start),
            "end_at": iso(g_end),
            "shared_slot_id": group["id"],
        },
    )
    assert joined.status_code == 201 and joined.json()["shared_slot_id"] == group["id"]
    # ... but not by an individual appointment.
    _refused(
        api,
        front.post("/appointments", json=booking(api, second, (g_start, g_end))),
        409,
        "appointment.double_booked",
    )


def test_bookings_stay_inside_availability_unless_an_authorised_user_overrides(api: Api):
    client_id = new_client(api)
    day = next_slot()[0].date()
    early = dt.datetime.combine(day, dt.time(10))  # 06:00 in New York
    slot = (early, early + dt.timedelta(minutes=50))
    before = _counts(api)
    _refused(
        api,
        api.as_role("FRONT_DESK").post("/appointments", json=booking(api, client_id, slot)),
        409,
        "appointment.outside_availability",
    )
    forbidden = api.as_role("FRONT_DESK").post(
        "/appointments", json=booking(api, client_id, slot, availability_override_reason="crisis")
    )
    _refused(api, forbidden, 403, "appointment.override_forbidden")
    assert _counts(api) == before
    ok = api.as_role("SUPERVISOR").post(
        "/appointments", json=booking(api, client_id, slot, availability_override_reason="crisis")
    )
    assert ok.status_code == 201 and ok.json()["availability_override_by"] == api.world.users["SUPERVISOR"]


def test_state_machine_and_outcomes(api: Api):
    assert TRANSITIONS["CANCELLED"] == frozenset() and "COMPLETED" not in TRANSITIONS["SCHEDULED"]
    front = api.as_role("FRONT_DESK")
    client_id = new_client(api)
    start, end = next_slot()
    appt = front.post("/appointments", json=booking(api, client_id, (start, end))).json()
    aid = appt["id"]
    _refused(api, front.post(f"/appointments/{aid}/complete"), 409, "appointment.invalid_transition")
    api.clock.now = start - dt.timedelta(minutes=5)
    front = api.as_role("FRONT_DESK")
    checked = front.post(f"/appointments/{aid}/check-in", json={})
    assert checked.status_code == 200 and checked.json()["arrived_at"]
    api.clock.now = start + dt.timedelta(minutes=2)
    clinician = api.as_role("CLINICIAN")
    assert clinician.post(f"/appointments/{aid}/clinician-ready").json()["clinician_ready_at"]
    _refused(api, clinician.post(f"/appointments/{aid}/clinician-ready"), 409, "appointment.already_ready")
    api.clock.now = end
    clinician = api.as_role("CLINICIAN")
    done = clinician.post(f"/appointments/{aid}/complete")
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"
    history_before = api.count(AppointmentStatusChange)
    _refused(
        api,
        clinician.post(f"/appointments/{aid}/cancel", json={"reason": "ILLNESS"}),
        409,
        "appointment.invalid_transition",
    )
    _refused(api, clinician.post(f"/appointments/{aid}/complete"), 409, "appointment.invalid_transition")
    assert api.count(AppointmentStatusChange) == history_before

    # Cancel, then no completing a cancelled appointment; a late cancel is recorded as such.
    api.clock.now = dt.datetime(2026, 6, 1, 12)
    front = api.as_role("FRONT_DESK")
    other = front.post("/appointments", json=booking(api, client_id)).json()
    late = front.post(f"/appointments/{other['id']}/cancel", json={"reason": "ILLNESS", "late": True}).json()
    assert late["status"] == "CANCELLED" and late["cancellation_reason"] == "LATE_CANCEL"
    _refused(
        api,
        front.post(f"/appointments/{other['id']}/check-in", json={}),
        409,
        "appointment.invalid_transition",
    )

    # A no-show only once the appointment has started.
    third = front.post("/appointments", json=booking(api, client_id)).json()
    _refused(api, front.post(f"/appointments/{third['id']}/no-show"), 409, "appointment.not_started")
    api.clock.now = dt.datetime.fromisoformat(third["start_at"]).replace(tzinfo=None) + dt.timedelta(
        minutes=20
    )
    assert (
        api.as_role("FRONT_DESK").post(f"/appointments/{third['id']}/no-show").json()["status"] == "NO_SHOW"
    )


def test_cannot_complete_while_demographics_are_incomplete(api: Api):
    client_id = new_client(api, complete=False)
    front = api.as_role("FRONT_DESK")
    start, end = next_slot()
    aid = front.post("/appointments", json=booking(api, client_id, (start, end))).json()["id"]
    api.clock.now = start
    front = api.as_role("FRONT_DESK")
    front.post(f"/appointments/{aid}/check-in", json={})
    api.clock.now = end
    front = api.as_role("FRONT_DESK")
    before = _counts(api)
    response = front.post(f"/appointments/{aid}/complete")
    _refused(api, response, 409, "appointment.demographics_incomplete")
    assert "street address" in response.json()["detail"] and "Test" not in response.json()["detail"]
    assert _counts(api) == before and front.get(f"/appointments/{aid}").json()["status"] == "CHECKED_IN"
    etag = front.get(f"/clients/{client_id}").headers["ETag"]
    front.patch(
        f"/clients/{client_id}",
        json={
            "phone": "555-0100",
            "address": "1 Main St",
            "city": "Atlanta",
            "zip_code": "30301",
            "emergency_contact_name": "Em",
            "is_self_pay": True,
        },
        headers={"If-Match": etag},
    )
    assert front.post(f"/appointments/{aid}/complete").json()["status"] == "COMPLETED"


def test_reschedule_links_the_replacement_and_frees_the_slot_for_the_waitlist(api: Api):
    front = api.as_role("FRONT_DESK")
    client_id, waiting = new_client(api), new_client(api)
    start, end = next_slot()
    original = front.post("/appointments", json=booking(api, client_id, (start, end))).json()
    entry = front.post(
        "/waitlist",
        json={
            "client_id": waiting,
            "clinician_id": api.world.clinician_a,
            "window_start_at": iso(start - dt.timedelta(hours=1)),
            "window_end_at": iso(end + dt.timedelta(hours=1)),
        },
    ).json()
    assert entry["status"] == "WAITING"
    new_start, new_end = next_slot()
    replacement = front.post(
        f"/appointments/{original['id']}/reschedule",
        json={"start_at": iso(new_start), "end_at": iso(new_end)},
    )
    assert replacement.status_code == 201 and replacement.json()["rescheduled_from_id"] == original["id"]
    assert front.get(f"/appointments/{original['id']}").json()["status"] == "RESCHEDULED"
    offered = front.get(f"/waitlist/{entry['id']}").json()
    assert offered["status"] == "OFFERED" and offered["offered_start_at"] == original["start_at"]
    booked = front.post(f"/waitlist/{entry['id']}/book")
    assert booked.status_code == 201 and booked.json()["client_id"] == waiting
    assert front.get(f"/waitlist/{entry['id']}").json()["status"] == "BOOKED"
    # A reschedule into a taken slot is refused and leaves the original as it was.
    taken = booked.json()
    before = _counts(api)
    clash = front.post(
        f"/appointments/{replacement.json()['id']}/reschedule",
        json={"start_at": taken["start_at"], "end_at": taken["end_at"]},
    )
    _refused(api, clash, 409, "appointment.double_booked")
    assert _counts(api) == before
    assert front.get(f"/appointments/{replacement.json()['id']}").json()["status"] == "SCHEDULED"
    assert api.count(WaitlistEntry, WaitlistEntry.id == entry["id"]) == 1


def test_recurring_series_is_all_or_nothing(api: Api):
    front = api.as_role("FRONT_DESK")
    client_id = new_client(api)
    start, end = next_slot()
    series = front.post(
        "/appointments/series",
        json={**booking(api, client_id, (start, end)), "interval_weeks": 1, "occurrences": 4},
    )
    assert series.status_code == 201, series.text
    items = series.json()["items"]
    assert len(items) == 4 and {a["series_id"] for a in items} == {series.json()["series_id"]}
    assert all(a["recurrence_rule"] == "FREQ=WEEKLY;INTERVAL=1;COUNT=4" for a in items)
    # A second series for another client whose 3rd occurrence hits the first series: nothing is booked.
    other = new_client(api)
    clash_start = dt.datetime.fromisoformat(items[0]["start_at"]).replace(tzinfo=None) - dt.timedelta(weeks=2)
    before = _counts(api)
    response = front.post(
        "/appointments/series",
        json={**booking(api, other, (clash_start, clash_start + dt.timedelta(minutes=50))), "occurrences": 3},
    )
    _refused(api, response, 409, "appointment.double_booked")
    assert "occurrence 3 of 3" in response.json()["detail"]
    assert _counts(api) == before


@pytest.mark.parametrize("role", ["BILLING"])
def test_roles_that_never_schedule_are_refused_before_validation(api: Api, role: str):
    response = api.as_role(role).post("/appointments", json={})
    _refused(api, response, 403, "auth.role_forbidden")
    assert api.count(Consent, Consent.id < 0) == 0
