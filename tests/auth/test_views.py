"""Account pages as a browser uses them: forms with CSRF tokens, messages next to fields, redirects."""
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from flask import url_for

from portal.audit.models import AuditEntry
from portal.auth import services
from portal.auth.models import LoginAttempt, PasswordReset, User
from portal.clock import utcnow
from portal.extensions import db
from portal.notifications.models import Notification
from portal.places.models import Residency
from tests.csrf import TOKEN, csrf_token
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_committee_member,
    gen_community,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)

NEW_PASSWORD = "a brand new password"


def post_form(client, path, data, **options):
    """Post as a browser does: open the page first (with the same options: address, host), then send
    its form with the token it carried."""
    page = client.get(path, **options).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": TOKEN.search(page).group(1)}, **options)


def registration(**overrides):
    data = {"login": "13812345678", "display_name": "Wang Fang", "password": "long enough 1",
            "confirm": "long enough 1", "consent": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count(model.id)).where(*where))


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


# --- Registration -----------------------------------------------------------------------------------

def test_register_by_phone_records_consent_and_leads_to_signing_in_with_the_login_filled_in(client):
    response = post_form(client, "/register", registration())
    assert response.status_code == 302
    user = db.session.scalar(db.select(User))
    assert user.phone == "13812345678" and user.consented_at is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Now sign in" in page and 'value="13812345678"' in page
    response = post_form(client, response.headers["Location"], {"login": "13812345678", "password": "long enough 1"})
    assert "Welcome, Wang Fang. Your account is ready." in client.get("/account").get_data(as_text=True)


def test_after_registering_and_signing_in_the_person_goes_on_to_claim_their_unit(app, client):
    response = post_form(client, "/register", registration())
    with app.test_request_context():
        expected = url_for("residents.claim") if "residents.claim" in app.view_functions else url_for("home.index")
    response = post_form(client, response.headers["Location"], {"login": "13812345678", "password": "long enough 1"})
    assert response.headers["Location"] == expected


def test_register_by_email(client):
    post_form(client, "/register", registration(login="Wang@Example.org"))
    assert db.session.scalar(db.select(User)).email == "wang@example.org"


def _refused(response, message, kept=None):
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in page
    if kept:
        assert f'value="{kept}"' in page
    assert "long enough 1" not in page  # passwords are never sent back
    assert count(User) == 0


def test_register_refuses_a_wrong_format_phone_and_keeps_the_input(client):
    response = post_form(client, "/register", registration(login="1381234567", display_name="Li Lei"))
    _refused(response, "11 digits starting with 1", kept="Li Lei")
    assert 'value="1381234567"' in response.get_data(as_text=True)


def test_register_refuses_mismatched_confirmation(client):
    response = post_form(client, "/register", registration(confirm="long enough 2"))
    _refused(response, "The two passwords are not the same.", kept="13812345678")


def test_register_requires_consent_to_the_privacy_notice(client):
    response = post_form(client, "/register", registration(consent=None))
    _refused(response, "please agree to the privacy notice", kept="13812345678")


def test_registering_a_taken_login_answers_exactly_as_a_new_one(app, client):
    """A stranger learns nothing: the same redirect, the same next page; only the owner is told."""
    owner = gen_user(phone="13812345678")
    db.session.commit()
    taken = post_form(client, "/register", registration())
    taken_page = client.get(taken.headers["Location"]).get_data(as_text=True)
    fresh_client = app.test_client()
    fresh = post_form(fresh_client, "/register", registration(login="13812345679"))
    fresh_page = fresh_client.get(fresh.headers["Location"]).get_data(as_text=True)
    assert (taken.status_code, taken.headers["Location"]) == (fresh.status_code, fresh.headers["Location"])
    taken_page, fresh_page = (TOKEN.sub("", taken_page).replace("13812345678", "N"),
                              TOKEN.sub("", fresh_page).replace("13812345679", "N"))
    assert taken_page == fresh_page
    assert "already" not in taken_page.replace("already had an account", "")
    assert count(User) == 2 and not signed_in(client)
    assert db.session.scalar(db.select(Notification.recipient_id).where(
        Notification.event == "registration_attempt")) == owner.id


def test_register_shows_the_message_next_to_its_field(client):
    page = post_form(client, "/register", registration(login="nonsense")).get_data(as_text=True)
    assert 'id="login-error"' in page and 'aria-invalid="true"' in page


def test_register_form_is_labelled_and_autocompletes(client):
    page = client.get("/register").get_data(as_text=True)
    for name in ("login", "display_name", "password", "confirm", "consent"):
        assert f'for="{name}"' in page or f'id="{name}"' in page
    assert 'autocomplete="username"' in page and 'autocomplete="new-password"' in page
    assert "style=" not in page and "hx-on" not in page
    assert 'href="/privacy"' in page


def test_a_ten_megabyte_registration_is_refused_with_a_page(client):
    response = client.post("/register", data=b"x=" + b"a" * (10 * 1024 * 1024),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_posting_without_a_csrf_token_is_refused(app, client):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    response = client.post("/register", data=registration())
    assert response.status_code == 400
    assert count(User) == 0


def test_privacy_notice_is_public_and_says_what_others_see(client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "138****5678" in page and "3 years" in page


def test_privacy_notice_is_in_chinese_for_chinese_readers(client):
    page = client.get("/privacy", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page


# --- Sign-in and sign-out ---------------------------------------------------------------------------

@pytest.fixture
def person():
    user = gen_user(email="fang@example.org")
    db.session.commit()
    return user


def test_sign_in_and_sign_out(client, auth, person):
    response = auth.login(person)
    assert response.status_code == 302
    assert signed_in(client)
    auth.logout()
    assert not signed_in(client)


def test_sign_in_follows_next_only_within_the_site(client, person):
    data = {"login": person.email, "password": DEFAULT_PASSWORD}
    assert post_form(client, "/login?next=/notifications/", data).headers["Location"] == "/notifications/"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    for target in ("//evil.example/", "/\\evil.example", "https://evil.example/"):
        assert post_form(client, f"/login?next={target}", data).headers["Location"] == "/"
        client.post("/logout", data={"csrf_token": csrf_token(client)})


def test_wrong_password_shows_a_message_and_keeps_the_login(client, person):
    response = post_form(client, "/login", {"login": person.email, "password": "nope"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "is not right" in page and f'value="{person.email}"' in page
    assert count(LoginAttempt) == 1


def test_remember_me_sets_the_remember_cookie(client, auth, person):
    response = auth.login(person, remember=True)
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert "remember_token=" in cookies
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    expires = parsedate_to_datetime(cookie.split("Expires=", 1)[1].split(";", 1)[0])
    assert abs(expires - utcnow() - timedelta(days=30)) < timedelta(minutes=5)


def test_without_remember_me_there_is_no_remember_cookie(client, auth, person):
    response = auth.login(person)
    assert "remember_token=" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_remember_cookie_signs_in_after_the_session_ends(app, auth, person):
    client = app.test_client()
    Auth = type(auth)
    Auth(client).login(person, remember=True)
    client.delete_cookie("session")
    assert signed_in(client)


def test_ten_failures_lock_the_account_with_a_message_even_for_the_right_password(client, person):
    for n in range(10):
        post_form(client, "/login", {"login": person.email, "password": "nope"},
                  environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
    response = post_form(client, "/login", {"login": person.email, "password": DEFAULT_PASSWORD},
                         environ_base={"REMOTE_ADDR": "192.0.2.200"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "try again in about 15 minutes" in page
    assert not signed_in(client)


def test_ten_failures_from_one_address_do_not_lock_other_accounts_from_it(client):
    people = [gen_user() for _ in range(11)]
    db.session.commit()
    for somebody in people[:10]:
        post_form(client, "/login", {"login": somebody.email, "password": "nope"})
    response = post_form(client, "/login", {"login": people[10].email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and signed_in(client)


def test_many_failures_from_one_address_lock_other_accounts_from_it(app, client):
    app.config["LOGIN_ADDRESS_FAILURE_LIMIT"] = 12
    try:
        people = [gen_user() for _ in range(13)]
        db.session.commit()
        for somebody in people[:12]:
            post_form(client, "/login", {"login": somebody.email, "password": "nope"})
        response = post_form(client, "/login", {"login": people[12].email, "password": DEFAULT_PASSWORD})
        assert "try again in about" in response.get_data(as_text=True)
        assert not signed_in(client)
    finally:
        app.config["LOGIN_ADDRESS_FAILURE_LIMIT"] = 100


def test_lock_lifts_after_fifteen_minutes(client, person):
    for _ in range(10):
        post_form(client, "/login", {"login": person.email, "password": "nope"})
    for attempt in db.session.scalars(db.select(LoginAttempt)):
        attempt.at -= timedelta(minutes=16)
    db.session.commit()
    response = post_form(client, "/login", {"login": person.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert count(LoginAttempt, LoginAttempt.account == person.email) == 0


def test_failed_locked_and_successful_sign_ins_are_audited(client, person):
    for _ in range(11):
        post_form(client, "/login", {"login": person.email, "password": "nope"})
    actions = {e.action for e in db.session.scalars(db.select(AuditEntry))}
    assert {"account.login_failed", "account.login_locked"} <= actions


# --- Account page -----------------------------------------------------------------------------------

def test_account_page_needs_sign_in(client):
    assert client.get("/account").status_code == 302


def test_account_page_saves_name_language_and_text_size(client, auth, person):
    auth.login(person)
    response = post_form(client, "/account", {"display_name": "Fang W.", "locale": "zh", "large_text": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, person.id)
    assert (user.display_name, user.locale, user.large_text) == ("Fang W.", "zh", True)
    page = client.get("/account").get_data(as_text=True)
    assert 'class="large-text"' in page and 'lang="zh-CN"' in page


def test_account_page_refuses_an_empty_name(client, auth, person):
    auth.login(person)
    response = post_form(client, "/account", {"display_name": "", "locale": "en"})
    assert response.status_code == 200 and "Enter the name others will see." in response.get_data(as_text=True)


def test_header_language_switch_is_kept_with_the_account(client, auth, person):
    auth.login(person)
    response = client.post("/language", data={"language": "zh", "next": "/account",
                                              "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, person.id).locale == "zh"


def test_change_password_refuses_a_wrong_current_password(client, auth, person):
    auth.login(person)
    response = post_form(client, "/account/password",
                         {"current_password": "not it", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 200
    assert "This is not your current password." in response.get_data(as_text=True)
    db.session.expire_all()
    assert services.check_password(db.session.get(User, person.id), DEFAULT_PASSWORD)


def test_change_password_keeps_this_session_and_ends_the_others(app, client, auth, person):
    other_device = app.test_client()
    type(auth)(other_device).login(person, remember=True)
    auth.login(person)
    response = post_form(client, "/account/password",
                         {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other_device)
    auth.logout()
    assert auth.login(person, password=NEW_PASSWORD).status_code == 302


def test_an_old_remember_cookie_does_not_sign_in_after_a_password_change(app, client, auth, person):
    stolen = app.test_client()
    type(auth)(stolen).login(person, remember=True)
    stolen.delete_cookie("session")
    auth.login(person)
    post_form(client, "/account/password",
              {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert not signed_in(stolen)


def test_change_password_keeps_this_devices_remember_cookie_working(app, client, auth, person):
    auth.login(person, remember=True)
    post_form(client, "/account/password",
              {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    client.delete_cookie("session")
    assert signed_in(client)


# --- Reset by link ----------------------------------------------------------------------------------

def reset_url():
    db.session.expire_all()
    note = db.session.scalar(db.select(Notification).where(Notification.event == "password_reset_link"))
    return note.payload["url"]


def path_of(url):
    return url.removeprefix("https://yishi.test")


def test_forgot_password_says_the_same_for_known_and_unknown_accounts(client, person):
    known = post_form(client, "/forgot-password", {"login": person.email}).get_data(as_text=True)
    unknown = post_form(client, "/forgot-password", {"login": "nobody@example.org"}).get_data(as_text=True)
    assert "If an account is registered with that e-mail address" in known
    assert known.split("<main")[1] == unknown.split("<main")[1]


def test_reset_link_host_comes_from_the_configured_base_url_not_the_request(client, person):
    post_form(client, "/forgot-password", {"login": person.email}, base_url="http://evil.example")
    url = reset_url()
    assert url.startswith("https://yishi.test/reset/") and "evil" not in url


def test_reset_link_works_once(client, auth, person):
    post_form(client, "/forgot-password", {"login": person.email})
    path = path_of(reset_url())
    assert client.get(path).status_code == 200
    response = post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert auth.login(person, password=NEW_PASSWORD).status_code == 302
    again = client.get(path)
    assert again.status_code == 200 and "This reset link is not valid" in again.get_data(as_text=True)


def test_reset_link_arrives_by_email_at_once(client, auth, person, smtp_inbox):
    post_form(client, "/forgot-password", {"login": person.email})
    [message] = smtp_inbox.messages
    assert message["To"] == person.email
    text = message.get_payload()[0].get_payload(decode=True).decode()
    url = reset_url()
    assert url in text
    response = post_form(client, path_of(url), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert auth.login(person, password=NEW_PASSWORD).status_code == 302


def test_reset_page_keeps_the_token_out_of_caches(client, person):
    post_form(client, "/forgot-password", {"login": person.email})
    assert client.get(path_of(reset_url())).headers["Cache-Control"] == "no-store"


def test_reset_link_refuses_mismatched_passwords_without_using_the_link(client, person):
    post_form(client, "/forgot-password", {"login": person.email})
    path = path_of(reset_url())
    response = post_form(client, path, {"password": NEW_PASSWORD, "confirm": "something else"})
    assert response.status_code == 200 and "The two passwords are not the same." in response.get_data(as_text=True)
    assert count(PasswordReset, PasswordReset.used_at.is_not(None)) == 0


def test_expired_reset_link_is_refused_with_a_way_to_ask_again(client, person):
    post_form(client, "/forgot-password", {"login": person.email})
    path = path_of(reset_url())
    reset = db.session.scalar(db.select(PasswordReset))
    reset.created_at -= timedelta(minutes=31)
    reset.expires_at -= timedelta(minutes=31)
    db.session.commit()
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This reset link is not valid" in page and 'href="/forgot-password"' in page


def test_tampered_reset_link_is_refused(client, person):
    post_form(client, "/forgot-password", {"login": person.email})
    path = path_of(reset_url())
    response = client.get(path[:-3] + ("abc" if not path.endswith("abc") else "xyz"))
    assert response.status_code == 200 and "This reset link is not valid" in response.get_data(as_text=True)
    assert client.get("/reset/not-a-token").status_code == 200


def test_reset_link_signs_out_other_sessions(app, client, auth, person):
    other_device = app.test_client()
    type(auth)(other_device).login(person)
    post_form(client, "/forgot-password", {"login": person.email})
    post_form(client, path_of(reset_url()), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert not signed_in(other_device)


# --- Reset by code ----------------------------------------------------------------------------------

@pytest.fixture
def resident():
    community = gen_community()
    user = gen_user(phone="13700000001")
    gen_residency(user, community)
    db.session.commit()
    return user


def _community_of(user):
    return db.session.scalar(db.select(Residency).where(Residency.user_id == user.id)).community


def issue_code_as(client, auth, issuer, target):
    auth.login(issuer)
    return post_form(client, f"/users/{target.id}/reset-code", {})


def code_on(page):
    return page.split('class="code-display">', 1)[1].split("<", 1)[0]


def test_committee_member_issues_a_code_shown_once(client, auth, resident):
    member = gen_committee_member(_community_of(resident))
    db.session.commit()
    assert client.get(f"/users/{resident.id}/reset-code").status_code == 302  # not signed in yet
    response = issue_code_as(client, auth, member, resident)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    code = code_on(response.get_data(as_text=True))
    assert len(code) == 8
    assert count(AuditEntry, AuditEntry.action == "account.reset_code_issued") == 1


def test_admin_issues_a_code(client, auth, resident):
    admin = gen_user(is_admin=True)
    db.session.commit()
    assert issue_code_as(client, auth, admin, resident).status_code == 200


@pytest.mark.parametrize("who", ["other_committee", "property_staff", "plain_resident"])
def test_others_may_not_issue_a_code(client, auth, resident, who):
    community = _community_of(resident)
    if who == "other_committee":
        issuer = gen_committee_member(gen_community())
    elif who == "property_staff":
        issuer = gen_user()
        gen_membership(issuer, gen_organization("property_company", community=community))
    else:
        issuer = gen_user()
        gen_residency(issuer, community)
    db.session.commit()
    auth.login(issuer)
    assert client.get(f"/users/{resident.id}/reset-code").status_code == 403
    assert client.post(f"/users/{resident.id}/reset-code", data={"csrf_token": csrf_token(client)}).status_code == 403
    assert count(PasswordReset) == 0


def test_anonymous_visitors_may_not_issue_a_code(client, resident):
    response = client.post(f"/users/{resident.id}/reset-code", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count(PasswordReset) == 0


def test_reset_code_page_sets_a_new_password_once(app, client, auth, resident):
    member = gen_committee_member(_community_of(resident))
    db.session.commit()
    desk = app.test_client()
    code = code_on(issue_code_as(desk, type(auth)(desk), member, resident).get_data(as_text=True))
    form = {"login": resident.phone, "code": code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = post_form(client, "/reset-code", form)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert auth.login(resident, password=NEW_PASSWORD).status_code == 302
    auth.logout()
    again = post_form(client, "/reset-code", {**form, "password": "yet another one", "confirm": "yet another one"})
    assert again.status_code == 200 and "This code is not right" in again.get_data(as_text=True)


def test_unknown_code_is_refused_on_the_form_keeping_the_input(client, resident):
    response = post_form(client, "/reset-code", {"login": resident.phone, "code": "ZZZZ2222",
                                                 "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="code-error"' in page and f'value="{resident.phone}"' in page and NEW_PASSWORD not in page
    assert count(LoginAttempt) == 1


def test_expired_code_is_refused(app, client, auth, resident):
    member = gen_committee_member(_community_of(resident))
    db.session.commit()
    desk = app.test_client()
    code = code_on(issue_code_as(desk, type(auth)(desk), member, resident).get_data(as_text=True))
    reset = db.session.scalar(db.select(PasswordReset))
    reset.created_at -= timedelta(hours=25)
    reset.expires_at -= timedelta(hours=25)
    db.session.commit()
    response = post_form(client, "/reset-code", {"login": resident.phone, "code": code,
                                                 "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "This code is not right" in response.get_data(as_text=True)


def test_reset_code_form_uses_one_time_code_autocomplete(client):
    page = client.get("/reset-code").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and 'autocomplete="new-password"' in page
