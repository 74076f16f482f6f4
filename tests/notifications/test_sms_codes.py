"""Signing in and recovering an account with a one-time SMS code, through each provider's local server: the code
arrives as a text, works once, for 5 minutes and 5 tries; asking is rate-limited per number and per address;
and no answer (page or time) tells whether a number has an account. Also the SMS settings page and the
administrator's counts."""
import re
import time
from datetime import timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.errors import DomainError
from portal.extensions import db
from portal.notifications import sms, sms_codes
from portal.notifications.sms_models import SmsCode, SmsMessage, SmsPreference
from tests.csrf import csrf_token
from tests.factories import DEFAULT_PASSWORD, gen_user
from tests.notifications.test_sms import provider  # noqa: F401  (fixture)

ACCOUNT, NO_ACCOUNT = "13800001234", "13899991234"  # both shown as 138****1234


def ask(client, number, **kwargs):
    """Ask for a code; closing the response (as a WSGI server does once it has sent it) sends the text."""
    response = client.post("/login/sms", data={"phone": number, "csrf_token": csrf_token(client, "/login/sms")},
                           **kwargs)
    response.close()
    return response


def enter(client, number, code, password=""):
    return client.post("/login/sms/code", data={"phone": number, "code": code, "password": password,
                                                 "csrf_token": csrf_token(client, "/login/sms/code")})


def texted_code(provider) -> str:
    params = provider.accepted[-1]["params"]
    return params["code"] if isinstance(params, dict) else params[0]


def scrub(html: str) -> str:
    return re.sub(r'name="csrf_token" (?:type="hidden" )?value="[^"]+"', "", html)


def test_the_code_comes_by_text_and_signs_in_once(app, provider):
    person = gen_user(phone=ACCOUNT)
    db.session.commit()
    client = app.test_client()
    assert "Sign in with a code by text message" in client.get("/login").get_data(as_text=True)

    response = ask(client, ACCOUNT)

    assert response.status_code == 302 and response.headers["Location"].endswith("/login/sms/code")
    assert len(provider.accepted) == 1  # sent once the page had answered
    code = texted_code(provider)
    assert re.fullmatch(r"\d{6}", code)
    params = provider.accepted[0]["params"]
    assert params in ({"code": code, "minutes": "5"}, [code, "5"])
    message = db.session.scalar(db.select(SmsMessage))
    assert message.status == "sent" and message.params is None  # the code is not kept once sent
    assert ACCOUNT in client.get("/login/sms/code").get_data(as_text=True)  # the number is filled in

    signed_in = enter(client, ACCOUNT, code)
    assert signed_in.status_code == 302
    assert client.get("/account").status_code == 200
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.login",
                                                         AuditEntry.subject_user_id == person.id)) is not None
    # Once only.
    other = app.test_client()
    assert "not right" in enter(other, ACCOUNT, code).get_data(as_text=True)
    assert len(provider.accepted) == 1


def test_a_number_without_an_account_gets_the_same_answer_and_no_text(app, provider):
    gen_user(phone=ACCOUNT)
    db.session.commit()
    provider.delay = 1.0  # a slow provider: the account's answer would be a second late if it waited for it
    answers = []
    for number in (ACCOUNT, NO_ACCOUNT):
        client = app.test_client()
        started = time.perf_counter()
        response = client.post("/login/sms", data={"phone": number, "csrf_token": csrf_token(client, "/login/sms")})
        elapsed = time.perf_counter() - started  # the answer is complete here; the text goes on close
        response.close()
        page = client.get(response.headers["Location"])
        answers.append((response.status_code, response.headers["Location"], scrub(page.get_data(as_text=True))
                        .replace(number, "NUMBER"), elapsed))
    assert answers[0][:3] == answers[1][:3]
    assert "138****1234" in answers[0][2]
    # The text goes after the answer, so the account's answer is not slower by a provider's round trip.
    assert answers[0][3] < answers[1][3] + 0.25
    assert [m["phone"] for m in provider.accepted] == [ACCOUNT]
    # Both requests wrote a code row; only the account's has an owner.
    assert [c.user_id is not None for c in db.session.scalars(db.select(SmsCode).order_by(SmsCode.id))] == \
        [True, False]
    # Guessing for the number without an account says what a wrong code says.
    client = app.test_client()
    assert "not right" in enter(client, NO_ACCOUNT, "123456").get_data(as_text=True)


def test_five_wrong_tries_end_the_code(app, provider):
    gen_user(phone=ACCOUNT)
    db.session.commit()
    client = app.test_client()
    ask(client, ACCOUNT)
    code = texted_code(provider)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(sms_codes.MAX_TRIES):
        assert "not right" in enter(client, ACCOUNT, wrong).get_data(as_text=True)
    response = enter(client, ACCOUNT, code)
    assert response.status_code == 200 and "not right" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(SmsCode)).tries == sms_codes.MAX_TRIES


def test_a_code_works_for_five_minutes_and_a_new_one_ends_the_old(app, provider):
    from portal.clock import utcnow
    gen_user(phone=ACCOUNT)
    db.session.commit()
    asked_at = utcnow()
    sms_codes.request_code(ACCOUNT, "10.0.0.1", now=asked_at)
    db.session.commit()
    sms.drain(asked_at)
    old = texted_code(provider)
    with pytest.raises(DomainError):
        sms_codes.sign_in_with_code(ACCOUNT, old, "10.0.0.1", now=asked_at + timedelta(minutes=5, seconds=1))
    db.session.rollback()

    sms_codes.request_code(ACCOUNT, "10.0.0.1", now=asked_at + timedelta(seconds=30))
    db.session.commit()
    sms.drain(asked_at + timedelta(seconds=30))
    new = texted_code(provider)
    if new != old:
        with pytest.raises(DomainError):
            sms_codes.sign_in_with_code(ACCOUNT, old, "10.0.0.1", now=asked_at + timedelta(minutes=1))
        db.session.rollback()
    assert sms_codes.sign_in_with_code(ACCOUNT, new, "10.0.0.1", now=asked_at + timedelta(minutes=4)).phone == ACCOUNT


def test_a_code_text_that_cannot_go_within_five_minutes_expires(app, provider):
    from portal.clock import utcnow
    gen_user(phone=ACCOUNT)
    db.session.commit()
    now = utcnow()
    sms_codes.request_code(ACCOUNT, "10.0.0.1", now=now)
    db.session.commit()
    provider.go_down()
    assert sms.drain(now).retrying == 1
    provider.come_back()
    assert sms.drain(now + timedelta(minutes=6)).expired == 1
    message = db.session.scalar(db.select(SmsMessage))
    assert message.status == "expired" and message.params is None and provider.accepted == []


def test_asking_is_rate_limited_per_number_whether_or_not_it_has_an_account(app, provider):
    gen_user(phone=ACCOUNT)
    db.session.commit()
    pages = []
    for number in (ACCOUNT, NO_ACCOUNT):
        client = app.test_client()
        for _ in range(sms_codes.CODES_PER_NUMBER):
            assert ask(client, number).status_code == 302
        refused = ask(client, number)
        assert refused.status_code == 200
        pages.append(scrub(refused.get_data(as_text=True)).replace(number, "NUMBER"))
    assert "Too many unsuccessful tries" in pages[0]
    assert pages[0] == pages[1]
    assert len(provider.accepted) == sms_codes.CODES_PER_NUMBER


def test_asking_is_rate_limited_per_address(app, provider, monkeypatch):
    monkeypatch.setattr(sms_codes, "CODES_PER_ADDRESS", 3)
    client = app.test_client()
    for n in range(3):
        assert ask(client, f"1370000000{n}").status_code == 302
    assert "Too many unsuccessful tries" in ask(client, "13700000009").get_data(as_text=True)
    other_address = app.test_client()
    assert ask(other_address, "13700000009", environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 302


def test_recovery_sets_a_new_password(app, provider):
    gen_user(phone=ACCOUNT)
    db.session.commit()
    client = app.test_client()
    ask(client, ACCOUNT)
    assert enter(client, ACCOUNT, texted_code(provider), password="short").status_code == 200
    ask(client, ACCOUNT)
    response = enter(client, ACCOUNT, texted_code(provider), password="a brand new sentence")
    assert response.status_code == 302
    fresh = app.test_client()
    assert fresh.post("/login", data={"login": ACCOUNT, "password": DEFAULT_PASSWORD,
                                      "csrf_token": csrf_token(fresh, "/login")}).status_code == 200
    assert fresh.post("/login", data={"login": ACCOUNT, "password": "a brand new sentence",
                                      "csrf_token": csrf_token(fresh, "/login")}).status_code == 302


def test_a_person_who_turned_codes_off_gets_none(app, provider):
    person = gen_user(phone=ACCOUNT)
    db.session.add(SmsPreference(user_id=person.id, group="code", enabled=False))
    db.session.commit()
    assert ask(app.test_client(), ACCOUNT).status_code == 302
    assert provider.accepted == []


def test_without_configuration_there_is_no_sms_sign_in(client):
    assert not sms_codes.available()
    assert "not available" in client.get("/login/sms").get_data(as_text=True)
    assert "not available" in ask(client, ACCOUNT).get_data(as_text=True)
    assert "text message" not in client.get("/login").get_data(as_text=True)


# --- the settings page and the counts ------------------------------------------------------------------------------

def test_settings_page_stores_a_persons_choices(app, auth, client):
    person = gen_user(phone=ACCOUNT)
    db.session.commit()
    auth.login(person)
    page = client.get("/notifications/sms").get_data(as_text=True)
    assert "A ballot I may vote in opens" in page and "138****1234" in page
    assert "does not send text messages" in page
    data = {"csrf_token": csrf_token(client, "/notifications/sms"), "issue_resolved": "y", "ballot_opened": "y",
            "code": "y"}  # ballot_closing unticked
    assert client.post("/notifications/sms", data=data).status_code == 302
    assert sms.choices_of([person.id])[person.id] == {"issue_resolved": True, "ballot_opened": True,
                                                      "ballot_closing": False, "code": True}
    assert db.session.scalar(db.select(AuditEntry).where(
        AuditEntry.action == "notifications.sms_preferences_changed")) is not None
    assert 'id="ballot_closing"' in client.get("/notifications/sms").get_data(as_text=True)


def test_usage_page_is_the_administrators(app, auth, client, provider):
    admin, resident = gen_user(is_admin=True, email="root@example.org"), gen_user(phone=ACCOUNT)
    db.session.commit()
    ask(app.test_client(), ACCOUNT)
    auth.login(resident)
    assert client.get("/admin/sms").status_code == 403
    auth.logout()
    auth.login(admin)
    page = client.get("/admin/sms").get_data(as_text=True)
    assert "This month" in page and re.search(r"<td>1</td><td>10000</td>", page)


def test_forgot_password_page_offers_the_text_message_code(client, provider):
    assert "Get a code by text message" in client.get("/forgot-password").get_data(as_text=True)


def test_a_deleted_account_keeps_no_sms_choices_messages_or_codes(app, provider):
    from portal import events
    person = gen_user(phone=ACCOUNT)
    db.session.add(SmsPreference(user_id=person.id, group="code", enabled=True))
    db.session.commit()
    sms_codes.request_code(ACCOUNT, "10.0.0.1")
    db.session.commit()
    events.account_anonymized.send(person)
    db.session.commit()
    assert db.session.scalar(db.select(SmsPreference)) is None
    assert db.session.scalar(db.select(SmsMessage)) is None
    assert db.session.scalar(db.select(SmsCode)).user_id is None
