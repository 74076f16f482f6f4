"""Account rules: registration, sign-in with lock-out, passwords, and recovery by link or code."""
from datetime import timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.auth import services
from portal.auth.models import LoginAttempt, PasswordReset, User
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notifications.models import Notification
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_committee_member,
    gen_community,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)

IP = "203.0.113.5"


def register(login, password="long enough 1", name="Wang Fang"):
    return services.register_account(login=login, display_name=name, password=password)


def fail_logins(login, times, ip=IP):
    for _ in range(times):
        with pytest.raises(DomainError):
            services.authenticate(login, "wrong password", ip)


def move_attempts_back(minutes):
    for attempt in db.session.scalars(db.select(LoginAttempt)):
        attempt.at -= timedelta(minutes=minutes)
    db.session.flush()


# --- Registration -----------------------------------------------------------------------------------

def test_register_by_phone_keeps_the_eleven_digits():
    user = register("+86 138 1234 5678")
    assert user.phone == "13812345678" and user.email is None


def test_register_by_email_lower_cases_it():
    user = register("Wang.Fang@Example.ORG")
    assert user.email == "wang.fang@example.org" and user.phone is None


@pytest.mark.parametrize("login", ["2381234567", "1381234567", "138123456789", "not an address"])
def test_register_refuses_a_malformed_login(login):
    with pytest.raises(DomainError) as error:
        register(login)
    assert error.value.field == "login"


def test_registering_a_login_already_taken_creates_nothing_and_tells_its_owner():
    owner = register("13812345678")
    assert register("138 1234 5678", name="Stranger") is None
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1
    told = db.session.scalars(db.select(Notification).where(Notification.event == "registration_attempt")).all()
    assert [n.recipient_id for n in told] == [owner.id]


def test_the_owner_is_told_of_registration_attempts_once_a_day():
    owner = register("owner@example.org")
    for _ in range(3):
        register("Owner@Example.org")
    assert db.session.scalar(db.select(db.func.count(Notification.id)).where(
        Notification.recipient_id == owner.id, Notification.event == "registration_attempt")) == 1
    register("owner@example.org", name="Later")
    assert services.register_account(login="owner@example.org", display_name="x", password="long enough 1",
                                     now=utcnow() + timedelta(days=1, minutes=1)) is None
    assert db.session.scalar(db.select(db.func.count(Notification.id)).where(
        Notification.event == "registration_attempt")) == 2


def test_register_refuses_a_short_password():
    with pytest.raises(DomainError) as error:
        register("13812345678", password="short")
    assert error.value.field == "password"


def test_register_records_when_consent_was_given():
    before = utcnow()
    user = register("a@example.org")
    assert before <= user.consented_at <= utcnow()
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.register")).object_id == user.id


# --- Sign-in and lock-out ---------------------------------------------------------------------------

def test_authenticate_accepts_the_right_password_and_audits_it():
    user = gen_user(phone="13900000001")
    assert services.authenticate("139 0000 0001", DEFAULT_PASSWORD, IP) is user
    assert user.last_login_at is not None
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.login")).actor_id == user.id


def test_wrong_password_is_refused_counted_and_audited():
    user = gen_user()
    fail_logins(user.email, 1)
    attempt = db.session.scalar(db.select(LoginAttempt))
    assert (attempt.account, attempt.ip) == (user.email, IP)
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.login_failed"))
    assert entry.subject_user_id == user.id and entry.details["ip"] == IP


def test_ten_failures_lock_the_account_even_from_other_addresses():
    user = gen_user()
    for n in range(9):
        fail_logins(user.email, 1, ip=f"198.51.100.{n}")
    with pytest.raises(services.LockedOut):
        services.authenticate(user.email, "wrong", "198.51.100.200")
    with pytest.raises(services.LockedOut):
        services.authenticate(user.email, DEFAULT_PASSWORD, "192.0.2.77")


def test_the_right_password_is_refused_while_locked_and_the_refusal_is_audited():
    user = gen_user()
    fail_logins(user.email, 10)
    with pytest.raises(services.LockedOut) as error:
        services.authenticate(user.email, DEFAULT_PASSWORD, "192.0.2.1")
    assert "15 minutes" in str(error.value.message)
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.login_locked"))


@pytest.fixture
def address_limit(app):
    app.config["LOGIN_ADDRESS_FAILURE_LIMIT"] = 12
    yield 12
    app.config["LOGIN_ADDRESS_FAILURE_LIMIT"] = 100


def test_failures_from_one_address_on_a_few_accounts_do_not_lock_out_its_other_users(address_limit):
    """A shared network: ten neighbours mistyping once each leave an eleventh free to sign in from it."""
    for person in [gen_user() for _ in range(10)]:
        fail_logins(person.email, 1)
    other = gen_user()
    assert services.authenticate(other.email, DEFAULT_PASSWORD, IP) is other


def test_an_address_failing_on_many_accounts_is_locked_for_every_account_at_its_own_limit(address_limit):
    for person in [gen_user() for _ in range(address_limit)]:
        fail_logins(person.email, 1)
    other = gen_user()
    with pytest.raises(services.LockedOut):
        services.authenticate(other.email, DEFAULT_PASSWORD, IP)
    assert services.authenticate(other.email, DEFAULT_PASSWORD, "192.0.2.9") is other


def test_the_address_limit_is_far_higher_than_the_account_limit(app):
    assert app.config["LOGIN_ADDRESS_FAILURE_LIMIT"] >= 10 * app.config["LOGIN_FAILURE_LIMIT"]


def test_failures_for_unknown_accounts_count_toward_the_address(address_limit):
    fail_logins("nobody@example.org", 10)
    fail_logins("nobody-else@example.org", address_limit - 10)
    with pytest.raises(services.LockedOut):
        services.check_lockout("someone-else@example.org", IP)


def test_lock_lifts_after_fifteen_minutes():
    user = gen_user()
    fail_logins(user.email, 10)
    move_attempts_back(14)
    with pytest.raises(services.LockedOut):
        services.check_lockout(user.email, "192.0.2.1")
    move_attempts_back(2)
    assert services.authenticate(user.email, DEFAULT_PASSWORD, IP) is user


def test_failures_spread_beyond_the_window_do_not_lock():
    user = gen_user()
    fail_logins(user.email, 5)
    move_attempts_back(20)
    fail_logins(user.email, 5)
    assert services.authenticate(user.email, DEFAULT_PASSWORD, IP) is user


def test_a_successful_sign_in_clears_the_accounts_failures():
    user = gen_user()
    fail_logins(user.email, 9)
    services.authenticate(user.email, DEFAULT_PASSWORD, "192.0.2.1")
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id)).where(LoginAttempt.account == user.email)) == 0


def test_limit_and_window_come_from_configuration(app):
    user = gen_user()
    app.config["LOGIN_FAILURE_LIMIT"] = 3
    try:
        fail_logins(user.email, 3)
        with pytest.raises(services.LockedOut):
            services.check_lockout(user.email, "192.0.2.1")
    finally:
        app.config["LOGIN_FAILURE_LIMIT"] = 10


def test_a_deactivated_account_cannot_sign_in():
    user = gen_user(is_active_account=False)
    with pytest.raises(DomainError):
        services.authenticate(user.email, DEFAULT_PASSWORD, IP)


# --- Account page and password change -------------------------------------------------------------

def test_profile_changes_name_language_and_text_size():
    user = gen_user()
    services.update_profile(user, user, display_name="  Li Lei ", locale="zh", large_text=True)
    assert (user.display_name, user.locale, user.large_text) == ("Li Lei", "zh", True)


def test_nobody_changes_another_persons_profile():
    user, other = gen_user(), gen_user()
    with pytest.raises(NotAllowed):
        services.update_profile(other, user, display_name="X", locale="en", large_text=False)


def test_change_password_refuses_a_wrong_current_password():
    user = gen_user()
    old_hash = user.password_hash
    with pytest.raises(DomainError) as error:
        services.change_password(user, user, current_password="not it", new_password="a new password")
    assert error.value.field == "current_password" and user.password_hash == old_hash


def test_change_password_sets_the_new_one_and_ends_every_session():
    user = gen_user()
    session_id = user.get_id()
    services.change_password(user, user, current_password=DEFAULT_PASSWORD, new_password="a new password",
                             now=utcnow() + timedelta(seconds=1))
    assert services.check_password(user, "a new password")
    assert user.get_id() != session_id
    assert db.session.scalar(db.select(Notification).where(Notification.event == "password_changed"))


# --- Reset links ------------------------------------------------------------------------------------

def link_token(reset_url):
    return reset_url.rsplit("/reset/", 1)[1]


def test_reset_link_goes_to_the_outbox_with_the_configured_base_url():
    user = gen_user()
    services.request_password_reset(user.email.upper())
    note = db.session.scalar(db.select(Notification).where(Notification.event == "password_reset_link"))
    assert note.recipient_id == user.id
    assert note.payload["url"].startswith("https://yishi.test/reset/")
    reset = db.session.scalar(db.select(PasswordReset))
    assert reset.kind == "link" and reset.expires_at - reset.created_at == timedelta(minutes=30)


@pytest.mark.parametrize("login", ["nobody@example.org", "13800000000"])
def test_no_link_is_sent_for_unknown_accounts(login):
    assert services.request_password_reset(login) is None
    assert db.session.scalar(db.select(Notification)) is None


def test_no_link_is_sent_to_a_phone_account():
    user = gen_user(phone="13800000009")
    assert services.request_password_reset(user.phone) is None


def test_reset_links_are_rationed_so_a_mailbox_cannot_be_flooded():
    user = gen_user()
    sent = [services.request_password_reset(user.email) for _ in range(5)]
    assert sum(r is not None for r in sent) == services.RESET_LINKS_PER_LIFETIME


def test_reset_link_works_once():
    user = gen_user()
    services.request_password_reset(user.email)
    url = db.session.scalar(db.select(Notification)).payload["url"]
    services.reset_password_with_link(link_token(url), "brand new password")
    assert services.check_password(user, "brand new password")
    with pytest.raises(DomainError):
        services.reset_password_with_link(link_token(url), "another password")


def test_reset_link_expires_after_thirty_minutes():
    user = gen_user()
    services.request_password_reset(user.email)
    url = db.session.scalar(db.select(Notification)).payload["url"]
    with pytest.raises(DomainError):
        services.reset_for_token(link_token(url), now=utcnow() + timedelta(minutes=31))


def test_tampered_reset_link_is_refused():
    user = gen_user()
    services.request_password_reset(user.email)
    token = link_token(db.session.scalar(db.select(Notification)).payload["url"])
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", token + "x"):
        with pytest.raises(DomainError):
            services.reset_for_token(bad)


def test_setting_a_new_password_cancels_outstanding_links():
    user = gen_user()
    services.request_password_reset(user.email)
    url = db.session.scalar(db.select(Notification)).payload["url"]
    services.change_password(user, user, current_password=DEFAULT_PASSWORD, new_password="a new password")
    with pytest.raises(DomainError):
        services.reset_for_token(link_token(url))


# --- Reset codes ------------------------------------------------------------------------------------

@pytest.fixture
def neighbourhood():
    community = gen_community()
    person = gen_user(phone="13700000001")
    gen_residency(person, community)
    return community, person


def test_committee_member_of_the_persons_community_issues_a_code(neighbourhood):
    community, person = neighbourhood
    member = gen_committee_member(community)
    code = services.issue_reset_code(member, person)
    assert len(code) == 8 and set(code) <= set(services.CODE_ALPHABET)
    reset = db.session.scalar(db.select(PasswordReset))
    assert reset.kind == "code" and reset.issued_by_id == member.id and code not in reset.code_hash
    assert reset.expires_at - reset.created_at == timedelta(hours=24)


def test_issuing_a_code_is_audited(neighbourhood):
    community, person = neighbourhood
    member = gen_committee_member(community)
    services.issue_reset_code(member, person)
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.reset_code_issued"))
    assert (entry.actor_id, entry.object_id, entry.subject_user_id) == (member.id, person.id, person.id)


def test_admin_may_issue_a_code(neighbourhood):
    _, person = neighbourhood
    assert services.issue_reset_code(gen_user(is_admin=True), person)


def test_only_an_admin_may_issue_a_code_for_an_admin(neighbourhood):
    community, _ = neighbourhood
    admin_resident = gen_user(is_admin=True)
    gen_residency(admin_resident, community)
    with pytest.raises(NotAllowed):
        services.issue_reset_code(gen_committee_member(community), admin_resident)
    assert services.issue_reset_code(gen_user(is_admin=True), admin_resident)


def test_committee_member_of_another_community_may_not_issue_a_code(neighbourhood):
    _, person = neighbourhood
    with pytest.raises(NotAllowed):
        services.issue_reset_code(gen_committee_member(gen_community()), person)


def test_property_staff_may_not_issue_a_code(neighbourhood):
    community, person = neighbourhood
    staff = gen_user()
    gen_membership(staff, gen_organization("property_company", community=community))
    with pytest.raises(NotAllowed):
        services.issue_reset_code(staff, person)


def test_plain_resident_may_not_issue_a_code(neighbourhood):
    community, person = neighbourhood
    neighbour = gen_user()
    gen_residency(neighbour, community)
    with pytest.raises(NotAllowed):
        services.issue_reset_code(neighbour, person)


def test_a_new_code_cancels_the_previous_one(neighbourhood):
    community, person = neighbourhood
    member = gen_committee_member(community)
    first = services.issue_reset_code(member, person)
    services.issue_reset_code(member, person)
    with pytest.raises(DomainError) as error:
        services.reset_password_with_code(person.phone, first, "brand new password", IP)
    assert error.value.field == "code"


def test_reset_code_works_once_in_any_case_and_spacing(neighbourhood):
    community, person = neighbourhood
    code = services.issue_reset_code(gen_committee_member(community), person)
    typed = f"{code[:4].lower()} {code[4:]}"
    assert services.reset_password_with_code(person.phone, typed, "brand new password", IP) is person
    assert services.check_password(person, "brand new password")
    with pytest.raises(DomainError):
        services.reset_password_with_code(person.phone, code, "another password", IP)


def test_reset_code_expires_after_twenty_four_hours(neighbourhood):
    community, person = neighbourhood
    code = services.issue_reset_code(gen_committee_member(community), person)
    with pytest.raises(DomainError):
        services.reset_password_with_code(person.phone, code, "brand new password", IP,
                                          now=utcnow() + timedelta(hours=24, minutes=1))


def test_unknown_code_is_refused_and_counts_as_a_failed_attempt(neighbourhood):
    _, person = neighbourhood
    with pytest.raises(DomainError) as error:
        services.reset_password_with_code(person.phone, "ABCDEFGH", "brand new password", IP)
    assert error.value.field == "code"
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id))) == 1


def test_wrong_codes_lock_out_like_wrong_passwords(neighbourhood):
    community, person = neighbourhood
    for _ in range(10):
        with pytest.raises(DomainError):
            services.reset_password_with_code(person.phone, "ABCDEFGH", "brand new password", IP)
    code = services.issue_reset_code(gen_committee_member(community), person)
    with pytest.raises(services.LockedOut):
        services.reset_password_with_code(person.phone, code, "brand new password", IP)


def test_a_code_for_one_person_does_not_reset_another(neighbourhood):
    community, person = neighbourhood
    other = gen_user(phone="13700000002")
    gen_residency(other, community)
    code = services.issue_reset_code(gen_committee_member(community), person)
    with pytest.raises(DomainError):
        services.reset_password_with_code(other.phone, code, "brand new password", IP)
    assert db.session.get(User, other.id).password_hash == other.password_hash


def test_passwords_are_argon2id_and_only_the_suite_lowers_the_cost():
    from portal.config import Config
    assert not hasattr(Config, "ARGON2_PARAMS")  # production: argon2-cffi's recommended parameters
    person = gen_user(password="a long enough password")
    assert person.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in person.password_hash
