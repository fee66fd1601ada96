"""Credentials at their boundaries, on SQLite and PostgreSQL: the password policy, argon2id and the bcrypt
upgrade, TOTP and recovery codes, the lockout (4th vs 5th failure, 29 vs 31 minutes), HIPAA training
(expiring today vs yesterday) and its exception, and the audit rows each attempt leaves.

One small store per test with an administrator and a clinician; the clock is passed in.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import select

from operational_api import mfa, passwords
from operational_api.audit import AuditEvent
from operational_api.auth import (
    ENROLMENT_REQUIRED,
    REFUSED,
    TRAINING_SUSPENDED,
    AccessSuspended,
    EnrolmentRequired,
    SignInError,
    authenticate,
    begin_enrolment,
    check_password,
    complete_sign_in,
    confirm_enrolment,
)
from operational_api.db import get_engine, migrate, session_scope
from operational_api.models import HipaaTraining, User
from operational_api.services import users as admin
from operational_api.services.errors import Forbidden, InvalidInput, RuleViolation
from tests.conftest import new_pg_database

T0 = dt.datetime(2026, 12, 4, 9, 0, 0)
PASSWORD = "Harbour-Lamp-42!"
EMAIL = "pat.doe@practice.example"
ADMIN_EMAIL = "ada.admin@practice.example"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OPERATOR = admin.CommandLineOperator("test")


def code(at: dt.datetime, secret: str = SECRET) -> str:
    return mfa.current_code(secret, at)


def _people(engine) -> dict[str, int]:
    migrate(engine)
    ids = {}
    with session_scope(engine) as session:
        for email, role in ((ADMIN_EMAIL, "ADMIN"), (EMAIL, "CLINICIAN")):
            user = admin.create_user(
                session,
                OPERATOR,
                admin.NewUser(email=email, first_name="Pat", last_name="Doe", role=role, password=PASSWORD),
                source="cli",
                now=T0,
            )
            user.mfa_secret, user.mfa_enrolled_at = SECRET, T0
            session.add(
                HipaaTraining(
                    user_id=user.id, completed_date=dt.date(2026, 6, 1), expires_date=dt.date(2027, 6, 1)
                )
            )
            ids[role] = user.id
    return ids


@pytest.fixture(scope="module")
def pg_template():
    """A migrated PostgreSQL database with the two people, copied per test (CREATE DATABASE ... TEMPLATE):
    a tenth of the time of migrating a new database each time."""
    with new_pg_database() as url:
        engine = get_engine(url)
        _people(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "postgresql":
        template = request.getfixturevalue("pg_template")
        name = template.rsplit("/", 1)[1]
        with new_pg_database(template=name) as url:
            engine = get_engine(url)
            yield engine
            engine.dispose()
    else:
        yield request.getfixturevalue("sqlite_store")


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("credentials") / "template.db"
    engine = get_engine(f"sqlite:///{path}")
    _people(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_store(sqlite_template, tmp_path):
    shutil.copy(sqlite_template, tmp_path / "store.db")
    return get_engine(f"sqlite:///{tmp_path / 'store.db'}")


def refused(engine, password=PASSWORD, totp: str | None = "000000", at=T0, email=EMAIL) -> str:
    with pytest.raises(SignInError) as caught:
        authenticate(engine, email, password, totp, source="api", now=at)
    return str(caught.value)


def locked_at(engine, email=EMAIL):
    with session_scope(engine) as session:
        return session.scalar(select(User.locked_at).where(User.email == email))


def events(engine, action: str | None = None) -> list[AuditEvent]:
    with session_scope(engine) as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


# --- password policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Aa1!aaaaaaa", "at least 12 characters (this one has 11)"),
        ("aa1!aaaaaaaa", "an upper-case letter"),
        ("AA1!AAAAAAAA", "a lower-case letter"),
        ("Aa!!aaaaaaaa", "a digit"),
        ("Aa11aaaaaaaa", "a special character"),
        ("Welcome2024!!", "common-password list"),
        ("P@ssw0rd2024!", "common-password list"),
        ("Qwerty123456!", "common-password list"),
    ],
)
def test_each_rule_of_the_password_policy(password, problem):
    problems = passwords.policy_problems(password)
    assert len(problems) == 1 and problem in problems[0], problems


def test_twelve_characters_with_every_class_is_accepted():
    assert passwords.policy_problems("Aa1!aaaaaaaa") == []
    assert passwords.HASHER.verify(passwords.hash_password("Aa1!aaaaaaaa"), "Aa1!aaaaaaaa")
    assert passwords.hash_password(PASSWORD).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_the_common_password_list_is_shipped_with_its_provenance():
    text = passwords.COMMON_PASSWORDS_FILE.read_text()
    assert "Provenance:" in text and len(passwords.common_passwords()) > 50


def test_a_bcrypt_hash_verifies_and_becomes_argon2id_at_the_next_sign_in(store):
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    with session_scope(store) as session:
        session.scalar(select(User).where(User.email == EMAIL)).password_hash = legacy
    assert authenticate(store, EMAIL, PASSWORD, code(T0), source="api", now=T0).role == "CLINICIAN"
    with session_scope(store) as session:
        stored = session.scalar(select(User.password_hash).where(User.email == EMAIL))
    assert stored.startswith("$argon2id$") and passwords.verify(stored, PASSWORD) == (True, False)


# --- TOTP, recovery codes, one message ------------------------------------------------------------------


def test_every_refusal_reads_the_same(store):
    unknown = refused(store, email="nobody@practice.example")
    wrong_password = refused(store, password="Wrong-Password-1!", totp=code(T0))
    wrong_code = refused(store)
    no_code = refused(store, totp=None)
    assert unknown == wrong_password == wrong_code == no_code == REFUSED


def test_a_totp_code_signs_in_once(store):
    at = T0 + dt.timedelta(seconds=5)
    assert authenticate(store, EMAIL, PASSWORD, code(at), source="api", now=at).user_id
    assert refused(store, totp=code(at), at=at + dt.timedelta(seconds=1)) == REFUSED, "a replayed code"
    later = at + dt.timedelta(seconds=30)
    assert authenticate(store, EMAIL, PASSWORD, code(later), source="api", now=later).user_id
    # One step of drift either way is accepted (a phone's clock a little off).
    drift = T0 + dt.timedelta(minutes=5)
    assert authenticate(
        store, EMAIL, PASSWORD, code(drift - dt.timedelta(seconds=30)), source="api", now=drift
    )


def test_a_recovery_code_works_once(store):
    with session_scope(store) as session:
        user = session.scalar(select(User).where(User.email == EMAIL))
        from operational_api.auth import replace_recovery_codes

        codes = replace_recovery_codes(session, user.id, T0)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert authenticate(store, EMAIL, PASSWORD, codes[3].upper(), source="api", now=T0).user_id
    assert refused(store, totp=codes[3]) == REFUSED, "a used recovery code is refused"
    assert authenticate(store, EMAIL, PASSWORD, codes[4], source="api", now=T0).user_id
    used = events(store, "auth.mfa_recovery_code_used")
    assert [e.detail["codes_left"] for e in used] == [9, 8]
    with session_scope(store) as session:
        from operational_api.models_credentials import MfaRecoveryCode

        stored = set(session.scalars(select(MfaRecoveryCode.code_hash)))
    assert not stored & {c.replace("-", "") for c in codes}, "codes are stored hashed"


def test_enrolment_shows_a_qr_code_and_gives_ten_recovery_codes(store):
    with session_scope(store) as session:
        admin.reset_mfa(session, OPERATOR, _id(session, EMAIL), source="cli", now=T0)
    with pytest.raises(EnrolmentRequired, match=ENROLMENT_REQUIRED):
        authenticate(store, EMAIL, PASSWORD, code(T0), source="api", now=T0)
    accepted = check_password(store, EMAIL, PASSWORD, source="dashboards", now=T0)
    assert accepted.needs_enrolment
    enrolment = begin_enrolment(accepted)
    assert enrolment.qr_svg().lstrip().startswith("<?xml") and enrolment.qr_png().startswith(b"\x89PNG")
    assert enrolment.provisioning_uri.startswith("otpauth://totp/MentalSpace:")
    with pytest.raises(SignInError, match="not recognised"):
        confirm_enrolment(store, accepted, enrolment, "123456", now=T0)
    user, codes = confirm_enrolment(store, accepted, enrolment, code(T0, enrolment.secret), now=T0)
    assert user.role == "CLINICIAN" and len(codes) == 10
    later = T0 + dt.timedelta(minutes=1)
    assert authenticate(store, EMAIL, PASSWORD, code(later, enrolment.secret), source="api", now=later)
    assert [e.outcome for e in events(store, "auth.mfa_enrol")] == ["refused", "ok"]


def test_the_password_step_expires_after_five_minutes(sqlite_store):
    accepted = check_password(sqlite_store, EMAIL, PASSWORD, source="dashboards", now=T0)
    late = T0 + dt.timedelta(minutes=5, seconds=1)
    with pytest.raises(SignInError, match="not recognised"):
        complete_sign_in(sqlite_store, accepted, code(late), now=late)


# --- lockout -------------------------------------------------------------------------------------------


def test_the_fifth_failure_locks_not_the_fourth_and_bad_codes_count(store):
    refused(store, password="Wrong-Password-1!")
    refused(store, password="Wrong-Password-1!")
    refused(store)  # right password, wrong code
    refused(store)
    assert locked_at(store) is None, "four failures do not lock"
    assert authenticate(store, EMAIL, PASSWORD, code(T0), source="api", now=T0).user_id
    for _ in range(4):
        refused(store)
    assert locked_at(store) is None, "a complete sign-in starts the count again"
    refused(store)
    assert locked_at(store) == T0, "the fifth bad code locks"
    later = T0 + dt.timedelta(seconds=40)
    assert refused(store, totp=code(later), at=later) == REFUSED, "locked: even the right code is refused"


def test_a_correct_password_does_not_reset_the_count(store):
    for _ in range(4):
        refused(store)
    check_password(store, EMAIL, PASSWORD, source="dashboards", now=T0)
    refused(store)
    assert locked_at(store) == T0


def test_a_lockout_lasts_30_minutes(store):
    for _ in range(5):
        refused(store)
    at29 = T0 + dt.timedelta(minutes=29)
    assert refused(store, totp=code(at29), at=at29) == REFUSED
    at31 = T0 + dt.timedelta(minutes=31)
    assert authenticate(store, EMAIL, PASSWORD, code(at31), source="api", now=at31).user_id
    assert locked_at(store) is None


def test_an_administrator_unlocks(store):
    for _ in range(5):
        refused(store)
    with session_scope(store) as session:
        admin_user = session.scalar(select(User).where(User.email == ADMIN_EMAIL))
    actor = authenticate(store, ADMIN_EMAIL, PASSWORD, code(T0), source="dashboards", now=T0)
    assert actor.user_id == admin_user.id
    with session_scope(store) as session:
        assert admin.unlock_user(session, actor, _id(session, EMAIL), source="dashboards", now=T0) is True
    later = T0 + dt.timedelta(minutes=1)
    assert authenticate(store, EMAIL, PASSWORD, code(later), source="api", now=later).user_id


# --- HIPAA training ------------------------------------------------------------------------------------


def _training_expires(engine, day: dt.date | None) -> None:
    with session_scope(engine) as session:
        user_id = _id(session, EMAIL)
        session.query(HipaaTraining).filter_by(user_id=user_id).delete()
        if day:
            session.add(
                HipaaTraining(user_id=user_id, completed_date=day - dt.timedelta(days=365), expires_date=day)
            )


def test_training_expiring_tomorrow_signs_in_expiring_today_suspends(store):
    # The warehouse's definition (services/rules.training_current_on): expired ON its expiry date, the day the
    # dashboards count it expired, in the practice's time zone (T0 is 04:00 in New York, the same date).
    _training_expires(store, T0.date() + dt.timedelta(days=1))
    assert authenticate(store, EMAIL, PASSWORD, code(T0), source="api", now=T0).user_id
    _training_expires(store, T0.date())
    later = T0 + dt.timedelta(minutes=1)
    with pytest.raises(AccessSuspended) as caught:
        authenticate(store, EMAIL, PASSWORD, code(later), source="api", now=later)
    assert str(caught.value) == TRAINING_SUSPENDED and "HIPAA training" in TRAINING_SUSPENDED
    # The suspension is said only to someone who knows the password.
    assert refused(store, password="Wrong-Password-1!", at=later) == REFUSED


def test_no_training_record_suspends_until_an_exception_or_a_record(store):
    _training_expires(store, None)
    with pytest.raises(AccessSuspended):
        authenticate(store, EMAIL, PASSWORD, code(T0), source="api", now=T0)
    with session_scope(store) as session, pytest.raises(InvalidInput, match="at most 30 days"):
        admin.grant_training_exception(
            session,
            OPERATOR,
            _id(session, EMAIL),
            until=T0 + dt.timedelta(days=31),
            reason="x",
            source="cli",
            now=T0,
        )
    with session_scope(store) as session:
        admin.grant_training_exception(
            session,
            OPERATOR,
            _id(session, EMAIL),
            until=T0 + dt.timedelta(days=2),
            reason="course booked for Monday",
            source="cli",
            now=T0,
        )
    at = T0 + dt.timedelta(days=2) - dt.timedelta(minutes=1)
    assert authenticate(store, EMAIL, PASSWORD, code(at), source="api", now=at).user_id
    after = T0 + dt.timedelta(days=2, minutes=1)
    with pytest.raises(AccessSuspended):
        authenticate(store, EMAIL, PASSWORD, code(after), source="api", now=after)
    with session_scope(store) as session:
        admin.record_training(session, OPERATOR, _id(session, EMAIL), after.date(), source="cli", now=after)
    assert authenticate(
        store,
        EMAIL,
        PASSWORD,
        code(after + dt.timedelta(minutes=1)),
        source="api",
        now=after + dt.timedelta(minutes=1),
    )
    granted = events(store, "user.training_exception")
    assert len(granted) == 1 and granted[0].detail["reason"] == "course booked for Monday"


# --- administration ------------------------------------------------------------------------------------


def _id(session, email: str) -> int:
    return admin.user_by_email(session, email).id


def test_the_last_active_administrator_cannot_be_removed(store):
    with session_scope(store) as session:
        admin_id = _id(session, ADMIN_EMAIL)
        with pytest.raises(RuleViolation) as caught:
            admin.deactivate_user(session, OPERATOR, admin_id, source="cli", now=T0)
        assert caught.value.rule == "user.last_admin"
        with pytest.raises(RuleViolation, match="last active administrator"):
            admin.set_role(session, OPERATOR, admin_id, "CLINICIAN", source="cli", now=T0)
    with session_scope(store) as session:
        admin.set_role(session, OPERATOR, _id(session, EMAIL), "ADMIN", source="cli", now=T0)
    with session_scope(store) as session:
        admin.deactivate_user(session, OPERATOR, admin_id, source="cli", now=T0)
    with session_scope(store) as session, pytest.raises(RuleViolation, match="last active administrator"):
        admin.set_role(session, OPERATOR, _id(session, EMAIL), "BILLING", source="cli", now=T0)


def test_only_an_administrator_administers(store):
    clinician = authenticate(store, EMAIL, PASSWORD, code(T0), source="dashboards", now=T0)
    with session_scope(store) as session, pytest.raises(Forbidden):
        admin.unlock_user(session, clinician, clinician.user_id, source="dashboards", now=T0)


def test_every_change_is_audited_with_its_actor(store):
    actor = authenticate(store, ADMIN_EMAIL, PASSWORD, code(T0), source="dashboards", now=T0)
    with session_scope(store) as session:
        created = admin.create_user(
            session,
            actor,
            admin.NewUser(
                email="New.Person@practice.example", first_name="New", last_name="Person", role="clinician"
            ),
            source="dashboards",
            now=T0,
        )
        new_id = created.id
        supervisor = _id(session, ADMIN_EMAIL)
        admin.set_licence(session, actor, new_id, "lpc", source="dashboards", now=T0)
        admin.link_supervisor(session, actor, new_id, supervisor, source="dashboards", now=T0)
        admin.set_password(session, actor, new_id, "Quiet-River-77?", source="dashboards", now=T0)
        admin.reset_mfa(session, actor, new_id, source="dashboards", now=T0)
        admin.record_training(session, actor, new_id, T0.date(), source="dashboards", now=T0)
        with pytest.raises(InvalidInput, match="12 characters"):
            admin.set_password(session, actor, new_id, "Short-1!", source="dashboards", now=T0)
    rows = [e for e in events(store) if e.action.startswith("user.") and e.entity_id == str(new_id)]
    assert [e.action for e in rows] == [
        "user.create",
        "user.set_licence",
        "user.link_supervisor",
        "user.set_password",
        "user.reset_mfa",
        "user.record_training",
    ]
    assert {e.actor_user_id for e in rows} == {actor.user_id}
    with session_scope(store) as session:
        listed = {u.email: u for u in admin.list_users(session, actor, now=T0)}
    assert listed["new.person@practice.example"].license_type == "LPC"
    assert not listed["new.person@practice.example"].mfa_enrolled


def test_sign_ins_and_failures_are_audited_without_the_typed_address(store):
    refused(store, email="someone-typed-a-password-here@x.example")
    refused(store)
    authenticate(store, EMAIL, PASSWORD, code(T0), source="api:2001:db8:85a3::8a2e:370:7334", now=T0)
    rows = [e for e in events(store) if e.action.startswith("auth.")]
    assert [(e.action, e.outcome) for e in rows] == [
        ("auth.sign_in", "refused"),
        ("auth.mfa", "refused"),
        ("auth.sign_in", "ok"),
    ]
    assert rows[0].actor_user_id is None and "someone-typed" not in str(rows[0].detail)
    # The surface is the source; the address (an IPv6 one is longer than the column) goes to the detail.
    assert rows[2].source == "api" and rows[2].detail == {
        "mfa": "totp",
        "from": "2001:db8:85a3::8a2e:370:7334",
    }
