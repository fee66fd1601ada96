"""Every alert rule on a hand-built practice, at its day boundaries in the practice's time zone,
through the real pipeline (store -> Dagster -> dbt -> alert sync), on DuckDB and PostgreSQL: a `mentalspace build`,
then the 15-minute refresh as the schedule runs it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mentalspace_platform.environment import SKIP_DATA_TESTS_VAR
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import (
    Appointment,
    Charge,
    Client,
    ClinicalNote,
    ComplianceAlert,
    Consent,
    HipaaTraining,
    InsurancePolicy,
    InsuranceVerification,
    Payer,
    PracticeSetting,
    SafetyPlan,
    SupervisionSession,
    TreatmentPlan,
    User,
)
from orchestration.defs.dbt.run_config import REALTIME_REFRESH
from tests.conftest import run_cli
from tests.orchestration.conftest import deployment, run_refresh

AS_OF = "2026-11-25"
TZ = ZoneInfo("America/New_York")
D = dt.date.fromisoformat


def _utc(local: str) -> dt.datetime:
    return dt.datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(dt.UTC).replace(tzinfo=None)


class Practice:
    """Builds the scenario row by row; ids are explicit so expected alert keys can name them."""

    def __init__(self, session) -> None:
        self.s = session
        self.appointment_id = 0
        self.note_id = 0

    def appointment(self, clinician, client, local_start, status="COMPLETED", telehealth=False):
        self.appointment_id += 1
        start = _utc(local_start)
        self.s.add(
            Appointment(
                id=self.appointment_id,
                client_id=client,
                clinician_id=clinician,
                appointment_type="THERAPY_SESSION",
                status=status,
                start_at=start,
                end_at=start + dt.timedelta(minutes=50),
                booked_at=start - dt.timedelta(days=7),
                is_telehealth=telehealth,
            )
        )
        self.s.flush()
        return self.appointment_id

    def unsigned_session(self, clinician, client, local_start):
        appointment = self.appointment(clinician, client, local_start)
        self.note_id += 1
        self.s.add(
            ClinicalNote(
                id=self.note_id,
                client_id=client,
                clinician_id=clinician,
                appointment_id=appointment,
                note_type="PROGRESS_NOTE",
                status="DRAFT",
                created_at=_utc(local_start),
            )
        )
        self.s.flush()
        return self.note_id


def build_scenario(url: str) -> dict[str, int]:
    engine = get_engine(url)
    migrate(engine)
    with session_scope(engine) as s:
        p = Practice(s)
        s.add_all(
            [
                User(id=1, email="admin@x.example", first_name="Ad", last_name="Min", role="ADMIN"),
                User(
                    id=2,
                    email="sup@x.example",
                    first_name="Su",
                    last_name="Per",
                    role="SUPERVISOR",
                    license_type="LPC",
                ),
                User(
                    id=3,
                    email="a@x.example",
                    first_name="Al",
                    last_name="A",
                    role="CLINICIAN",
                    license_type="LMSW",
                    supervisor_id=2,
                ),
                User(
                    id=4,
                    email="b@x.example",
                    first_name="Be",
                    last_name="B",
                    role="CLINICIAN",
                    license_type="LPC_ASSOCIATE",
                    supervisor_id=2,
                ),
                User(id=5, email="fd@x.example", first_name="Fr", last_name="Desk", role="FRONT_DESK"),
                User(id=6, email="bill@x.example", first_name="Bi", last_name="Ller", role="BILLING"),
                PracticeSetting(id=1, key="monthly_revenue_target", value="10000"),
                Payer(id=1, name="Synthetic Payer", payer_code="SYN01"),
            ]
        )
        s.flush()
        s.add_all(
            [
                HipaaTraining(
                    id=1, user_id=1, completed_date=D("2025-12-10"), expires_date=D("2026-12-10")
                ),  # expiring
                HipaaTraining(id=2, user_id=2, completed_date=D("2026-06-01"), expires_date=D("2027-06-01")),
                HipaaTraining(
                    id=3, user_id=3, completed_date=D("2025-11-25"), expires_date=D("2026-11-25")
                ),  # expires today
                # user 4: no training on record
                HipaaTraining(id=4, user_id=5, completed_date=D("2026-05-01"), expires_date=D("2027-05-01")),
                HipaaTraining(
                    id=5, user_id=6, completed_date=D("2025-12-25"), expires_date=D("2026-12-25")
                ),  # exactly 30 days
                HipaaTraining(id=6, user_id=6, completed_date=D("2024-12-25"), expires_date=D("2025-12-25")),
            ]
        )
        adult = D("1990-01-01")
        clients = [
            # id, primary clinician, high risk, emancipated, date of birth, phone
            (1, 3, False, False, adult, "4045550001"),
            (2, 3, False, False, adult, None),  # incomplete demographics
            (3, 3, True, False, adult, "4045550003"),  # high risk, no safety plan
            (4, 2, False, False, adult, "4045550004"),  # no treatment plan
            (5, 3, True, False, adult, "4045550005"),  # high risk with a current safety plan
            (6, 4, False, False, D("2012-05-01"), "4045550006"),  # minor without guardian consent
            (7, 4, False, True, D("2012-05-01"), "4045550007"),  # emancipated minor
            (8, 4, False, False, D("2012-05-01"), "4045550008"),  # minor with guardian consent
        ]
        for cid, clinician, high_risk, emancipated, dob, phone in clients:
            s.add(
                Client(
                    id=cid,
                    first_name=f"C{cid}",
                    last_name="Synthetic",
                    status="ACTIVE",
                    date_of_birth=dob,
                    phone=phone,
                    address="1 Synthetic Way",
                    emergency_contact_name="E C",
                    is_high_risk=high_risk,
                    is_emancipated=emancipated,
                    primary_clinician_id=clinician,
                    is_self_pay=cid != 1 and cid != 5,
                )
            )
        s.flush()
        # Notes of clinician 3, counted in days since the session, in New York time.
        p.unsigned_session(3, 1, "2026-11-21 10:00")  # note 1: 4 days - nothing yet
        p.unsigned_session(3, 1, "2026-11-20 10:00")  # note 2: 5 days - reminder
        p.unsigned_session(3, 1, "2026-11-18 10:00")  # note 3: 7 days - supervisor alert
        p.unsigned_session(3, 1, "2026-11-12 10:00")  # note 4: 13 days - still day-7 stage
        held_note = p.unsigned_session(3, 1, "2026-11-11 10:00")  # note 5: 14 days - billing hold
        p.unsigned_session(3, 2, "2026-11-20 22:30")  # note 6: ends 23:20 New York = Nov 21 UTC: 5 days
        s.add(
            Charge(
                id=1,
                client_id=1,
                clinician_id=3,
                appointment_id=5,
                note_id=held_note,
                service_date=D("2026-11-11"),
                cpt_code="90837",
                charge_amount=Decimal("175.00"),
                status="UNBILLED",
                created_at=_utc("2026-11-11 12:00"),
            )
        )
        s.add(
            Charge(
                id=2,
                client_id=1,
                clinician_id=3,
                appointment_id=None,
                note_id=None,
                service_date=D("2026-11-02"),
                cpt_code="90834",
                charge_amount=Decimal("130.00"),
                status="UNBILLED",
                created_at=_utc("2026-11-02 12:00"),
            )
        )
        s.add(
            ClinicalNote(
                id=7,
                client_id=1,
                clinician_id=3,
                appointment_id=None,
                note_type="PROGRESS_NOTE",
                status="SIGNED",
                created_at=_utc("2026-11-03 12:00"),
                signed_at=_utc("2026-11-03 13:00"),
            )
        )
        # One client an hour: a clinician cannot be double-booked (migration 0007).
        for cid in (3, 4, 5, 6, 7, 8):
            p.appointment(3 if cid < 6 else 4, cid, f"2026-11-02 {9 + cid % 3:02d}:00")
        # Treatment plans: day 80 reminder, day 90 alert, day 91 out of compliance, day 79 nothing.
        s.add_all(
            [
                TreatmentPlan(
                    id=1,
                    client_id=1,
                    clinician_id=3,
                    effective_date=D("2026-09-06"),
                    review_due_date=D("2026-12-05"),
                ),
                TreatmentPlan(
                    id=2,
                    client_id=2,
                    clinician_id=3,
                    effective_date=D("2026-08-27"),
                    review_due_date=D("2026-11-25"),
                ),
                TreatmentPlan(
                    id=3,
                    client_id=3,
                    clinician_id=3,
                    effective_date=D("2026-08-26"),
                    review_due_date=D("2026-11-24"),
                ),
                TreatmentPlan(
                    id=5,
                    client_id=5,
                    clinician_id=3,
                    effective_date=D("2026-06-01"),
                    review_due_date=D("2026-08-30"),
                    reviewed_date=D("2026-09-07"),
                ),
                SafetyPlan(
                    id=1,
                    client_id=5,
                    clinician_id=3,
                    effective_date=D("2026-11-01"),
                    review_due_date=D("2027-01-30"),
                ),
            ]
        )
        s.add_all(
            [
                Consent(
                    id=1,
                    client_id=1,
                    consent_type="INFORMED",
                    signed_date=D("2025-12-25"),
                    expiry_date=D("2026-12-25"),
                ),
                Consent(
                    id=2,
                    client_id=2,
                    consent_type="INFORMED",
                    signed_date=D("2025-11-25"),
                    expiry_date=D("2026-11-25"),
                ),
                Consent(
                    id=3,
                    client_id=3,
                    consent_type="INFORMED",
                    signed_date=D("2025-12-26"),
                    expiry_date=D("2026-12-26"),
                ),
                Consent(
                    id=5,
                    client_id=5,
                    consent_type="INFORMED",
                    signed_date=D("2026-03-01"),
                    expiry_date=D("2027-03-01"),
                ),
                Consent(
                    id=8,
                    client_id=8,
                    consent_type="GUARDIAN",
                    signed_date=D("2026-03-01"),
                    expiry_date=D("2027-03-01"),
                ),
                Consent(id=9, client_id=2, consent_type="TELEHEALTH", signed_date=D("2026-03-01")),
            ]
        )
        p.appointment(3, 1, "2026-11-03 11:00", telehealth=True)  # client 1: telehealth without consent
        p.appointment(3, 2, "2026-11-03 12:00", telehealth=True)  # client 2: with consent
        # Supervision in October: clinician 3 (LMSW, 4 h) logged 3 h; clinician 4 (LPC Associate, 2 h) logged 2 h.
        s.add_all(
            [
                SupervisionSession(
                    id=1,
                    supervisee_id=3,
                    supervisor_id=2,
                    session_date=D("2026-10-05"),
                    duration_hours=Decimal("3"),
                    session_type="INDIVIDUAL",
                ),
                SupervisionSession(
                    id=2,
                    supervisee_id=4,
                    supervisor_id=2,
                    session_date=D("2026-10-06"),
                    duration_hours=Decimal("2"),
                    session_type="INDIVIDUAL",
                ),
            ]
        )
        # Front desk: one appointment not closed out after 24 h, one that is not 24 h old yet.
        stale = p.appointment(3, 3, "2026-11-23 10:00", status="SCHEDULED")
        p.appointment(3, 3, "2026-11-25 10:00", status="SCHEDULED")
        # Upcoming visits: client 1 insured but never verified; client 5 verified.
        s.add_all(
            [
                InsurancePolicy(
                    id=1, client_id=1, payer_id=1, member_id="SYN1", effective_date=D("2025-01-01")
                ),
                InsurancePolicy(
                    id=5, client_id=5, payer_id=1, member_id="SYN5", effective_date=D("2025-01-01")
                ),
            ]
        )
        s.flush()
        s.add(
            InsuranceVerification(
                id=1,
                policy_id=5,
                client_id=5,
                status="VERIFIED",
                verified_at=_utc("2026-11-20 09:00"),
                expires_at=_utc("2027-02-20 09:00"),
            )
        )
        unverified = p.appointment(3, 1, "2026-11-27 10:00", status="SCHEDULED")
        p.appointment(3, 5, "2026-11-27 11:00", status="SCHEDULED")
        # Clinician 4: KVR 33% both of the last two weeks, no-shows 67% last week.
        for week in ("2026-11-09", "2026-11-16"):
            monday = D(week)
            p.appointment(4, 6, f"{monday} 09:00", status="COMPLETED")
            p.appointment(4, 7, f"{monday + dt.timedelta(days=1)} 09:00", status="NO_SHOW")
            p.appointment(4, 8, f"{monday + dt.timedelta(days=2)} 09:00", status="NO_SHOW")
        # Practice KVR: September 100%, October 50%.
        for day in ("2026-09-08", "2026-09-09", "2026-09-10", "2026-09-11"):
            p.appointment(2, 4, f"{day} 09:00")
        p.appointment(2, 4, "2026-10-06 09:00")
        p.appointment(2, 4, "2026-10-07 09:00", status="NO_SHOW")
        add_one_definition_cases(s, p)
    engine.dispose()
    return {"held_note": held_note, "stale": stale, "unverified": unverified}


def add_one_definition_cases(s, p: Practice) -> None:
    """Cases where the alerts used to disagree with the measures: each alert below is raised (or not) exactly as
    the measure counts the client or staff member on the as-of date."""
    adult = D("1990-01-01")
    for cid, dob, high_risk in (
        (9, adult, False),
        (10, adult, False),
        (11, D("2012-05-01"), False),
        (12, adult, False),
        (13, adult, True),
        (14, adult, False),
    ):
        s.add(
            Client(
                id=cid,
                first_name=f"C{cid}",
                last_name="Synthetic",
                status="ACTIVE",
                date_of_birth=dob,
                phone="4045550100",
                address="1 Synthetic Way",
                emergency_contact_name="E C",
                is_high_risk=high_risk,
                primary_clinician_id=3,
                is_self_pay=True,
            )
        )
    s.flush()
    for hour, cid in enumerate((9, 10, 11, 13), start=13):
        p.appointment(3, cid, f"2026-11-04 {hour}:00")
    p.appointment(3, 12, "2026-11-04 10:00", telehealth=True)
    p.appointment(3, 14, "2026-06-01 09:00")  # client 14: status ACTIVE, but no visit in the last 90 days
    s.add_all(
        [
            # Signed over a year ago: lapsed on 2026-10-01 although the stored expiry is later.
            Consent(
                id=20,
                client_id=9,
                consent_type="INFORMED",
                signed_date=D("2025-10-01"),
                expiry_date=D("2027-10-01"),
            ),
            # No stored expiry: lapsed a year after signature.
            Consent(id=21, client_id=10, consent_type="INFORMED", signed_date=D("2025-06-01")),
            Consent(
                id=22,
                client_id=11,
                consent_type="INFORMED",
                signed_date=D("2026-06-01"),
                expiry_date=D("2027-06-01"),
            ),
            Consent(id=23, client_id=11, consent_type="GUARDIAN", signed_date=D("2025-01-01")),
            Consent(
                id=24,
                client_id=12,
                consent_type="INFORMED",
                signed_date=D("2026-06-01"),
                expiry_date=D("2027-06-01"),
            ),
            # Never revoked, but expired before the session.
            Consent(
                id=25,
                client_id=12,
                consent_type="TELEHEALTH",
                signed_date=D("2026-01-01"),
                expiry_date=D("2026-10-01"),
            ),
            Consent(
                id=26,
                client_id=13,
                consent_type="INFORMED",
                signed_date=D("2026-06-01"),
                expiry_date=D("2027-06-01"),
            ),
            # Safety plan: the stored review date is in 2027, but 90 days from taking effect ended on 2026-09-29.
            SafetyPlan(
                id=2,
                client_id=13,
                clinician_id=3,
                effective_date=D("2026-07-01"),
                review_due_date=D("2027-01-01"),
            ),
            User(id=7, email="bill2@x.example", first_name="Bo", last_name="Oks", role="BILLING"),
        ]
    )
    s.flush()
    # Stored expiry a year and a half after completion: lapsed on 2026-06-01, so expired, not "expiring".
    s.add(HipaaTraining(id=7, user_id=7, completed_date=D("2025-06-01"), expires_date=D("2026-12-31")))
    s.flush()


ONE_DEFINITION_EXPECTED = {
    "informed_consent_expired:client:9",
    "informed_consent_expired:client:10",
    "minor_without_guardian_consent:client:11",
    "telehealth_without_consent:client:12",
    "safety_plan_missing:client:13",
    "hipaa_training_expired:user:7",
    # The supervisor (LPC, 2 h a month) has no supervisor of their own; the measure counts them, so does the alert.
    "supervision_hours_below_requirement:user_month:2:2026-10-01",
}
ONE_DEFINITION_NOT_EXPECTED = {
    "hipaa_training_expiring:user:7",
    "treatment_plan_missing:client:14",
    "informed_consent_expired:client:14",  # not an active client
}


EXPECTED = {
    "unsigned_note_reminder:clinical_note:2",
    "unsigned_note_reminder:clinical_note:6",
    "unsigned_note_reminder:clinical_note:3",
    "unsigned_note_overdue:clinical_note:4",
    "unsigned_note_billing_hold:clinical_note:5",
    "unsigned_note_backlog:user:3",
    "treatment_plan_review_reminder:client:1",
    "treatment_plan_review_due:client:2",
    "treatment_plan_out_of_compliance:client:3",
    "treatment_plan_missing:client:4",
    "informed_consent_expiring:client:1",
    "informed_consent_expired:client:2",
    "informed_consent_expired:client:4",
    "minor_without_guardian_consent:client:6",
    "telehealth_without_consent:client:1",
    "safety_plan_missing:client:3",
    "hipaa_training_expiring:user:1",
    "hipaa_training_expired:user:3",
    "hipaa_training_expired:user:4",
    "hipaa_training_expiring:user:6",
    "supervision_hours_below_requirement:user_month:3:2026-10-01",
    "appointment_status_not_updated:appointment:{stale}",
    "note_without_appointment:clinical_note:7",
    "charge_without_appointment_or_note:charge:2",
    "appointment_insurance_not_verified:appointment:{unverified}",
    "completed_with_incomplete_demographics:client:2",
    "kvr_below_70_two_weeks:user:4:2026-11-16",
    "no_show_rate_above_20:user:4:2026-11-16",
    "practice_kvr_down_month_over_month:practice:0:2026-10-01",
    "revenue_below_target_two_months:practice:0:2026-10-01",
    "compliance_violations_multiple_clinicians:practice:0",
} | ONE_DEFINITION_EXPECTED
NOT_EXPECTED = {
    "unsigned_note_reminder:clinical_note:1",  # day 4
    "treatment_plan_review_reminder:client:5",  # day 79
    "informed_consent_expiring:client:3",  # 31 days out
    "informed_consent_expired:client:5",
    "minor_without_guardian_consent:client:7",  # emancipated
    "minor_without_guardian_consent:client:8",  # consented
    "telehealth_without_consent:client:2",
    "safety_plan_missing:client:5",
    "hipaa_training_expired:user:2",
    "supervision_hours_below_requirement:user_month:4:2026-10-01",
    "appointment_status_not_updated:appointment:{stale_plus_one}",
    "unsigned_note_overdue:clinical_note:3",  # day 7 is the deadline day: signing today is on time
} | ONE_DEFINITION_NOT_EXPECTED


def _store_alerts(url: str) -> dict[str, ComplianceAlert]:
    engine = get_engine(url)
    with session_scope(engine) as s:
        alerts = {a.alert_key: a for a in s.scalars(select(ComplianceAlert))}
    engine.dispose()
    return alerts


def _run_scenario(url: str, env: dict[str, str], check_release: bool, data_tests: bool = False) -> None:
    ids = build_scenario(url)
    expected = {k.format(**ids) for k in EXPECTED}
    not_expected = {k.format(stale_plus_one=ids["stale"] + 1) for k in NOT_EXPECTED}
    # dbt's data tests too, where asked: the suite's builds leave them out (tests/conftest.py), but this practice's
    # edge cases (day boundaries, missing records) are where a key or relationship test can fail that the
    # generated practices they run on never trip.
    first = run_cli("build", env={**env, SKIP_DATA_TESTS_VAR: "0" if data_tests else "1"})
    assert first.returncode == 0, first.stderr[-3000:]
    alerts = _store_alerts(url)
    open_keys = {k for k, a in alerts.items() if a.status == "OPEN"}
    assert expected - open_keys == set(), "missing alerts"
    assert not_expected & open_keys == set(), "alerts past their boundary"
    hold = alerts["unsigned_note_billing_hold:clinical_note:5"]
    assert (hold.severity, hold.target_user_id, hold.supervisor_id, hold.admin_id) == ("CRITICAL", 3, 2, 1)
    # PRD critical alerts: a note approaching the deadline is critical and reaches the supervisor on day 7.
    for key, supervisor in (
        ("unsigned_note_reminder:clinical_note:2", None),
        ("unsigned_note_reminder:clinical_note:3", 2),
        ("unsigned_note_overdue:clinical_note:4", 2),
    ):
        assert (alerts[key].severity, alerts[key].supervisor_id, alerts[key].admin_id) == (
            "CRITICAL",
            supervisor,
            None,
        )
    assert alerts["hipaa_training_expiring:user:1"].severity == "CRITICAL"
    for alert in alerts.values():
        assert "Synthetic" not in alert.message and "C1 " not in alert.message  # ids, never names
    engine = get_engine(url)
    with session_scope(engine) as s:
        assert s.get(Charge, 1).is_billing_hold
    # Then the 15-minute refresh, as the schedule runs it (incremental): a second run changes nothing.
    with deployment(env) as defs:
        run_refresh(defs, REALTIME_REFRESH)
        again = _store_alerts(url)
        assert {k: (a.id, a.status) for k, a in again.items()} == {
            k: (a.id, a.status) for k, a in alerts.items()
        }
        if not check_release:
            return
        # Signing the held note clears its alert and releases the charge.
        with session_scope(engine) as s:
            note = s.get(ClinicalNote, ids["held_note"])
            note.status, note.signed_at, note.signed_by = "SIGNED", _utc("2026-11-25 09:00"), 3
        run_refresh(defs, REALTIME_REFRESH)
    after = _store_alerts(url)
    assert after["unsigned_note_billing_hold:clinical_note:5"].status == "RESOLVED"
    with session_scope(engine) as s:
        assert not s.get(Charge, 1).is_billing_hold


def test_every_alert_rule_on_duckdb(parsed_var_dir):
    url = f"sqlite:///{parsed_var_dir / 'operational.db'}"
    _run_scenario(
        url,
        {"MENTALSPACE_VAR_DIR": str(parsed_var_dir), "MENTALSPACE_AS_OF_DATE": AS_OF},
        check_release=True,
        data_tests=True,
    )


@pytest.mark.postgres
def test_every_alert_rule_on_postgres(var_dir, parsed_pg_database):
    env = {
        "MENTALSPACE_VAR_DIR": str(var_dir),
        "MENTALSPACE_AS_OF_DATE": AS_OF,
        "DATABASE_URL": parsed_pg_database,
        "DBT_TARGET": "prod",
        "MENTALSPACE_WAREHOUSE_URL": parsed_pg_database,
    }
    _run_scenario(parsed_pg_database, env, check_release=False)
