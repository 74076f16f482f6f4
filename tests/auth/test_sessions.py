"""Sessions that end on the server (signing out ends this browser's only), sign out everywhere, lock-out
that a wrong current password counts toward, and lock-out that holds under guesses sent at once (issue #18)."""
import logging
import threading
from datetime import timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.auth import services, views
from portal.auth.models import LoginAttempt, SignedInSession, User, session_key_digest
from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db
from tests.auth.test_views import NEW_PASSWORD, post_form, signed_in
from tests.csrf import csrf_token
from tests.factories import DEFAULT_PASSWORD, gen_user


@pytest.fixture
def person():
    user = gen_user(email="fang@example.org")
    db.session.commit()
    return user


def copy_cookies(app, source, names=("session", "remember_token")):
    """Another browser holding copies of `source`'s cookies, as someone who copied them would."""
    thief = app.test_client()
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            thief.set_cookie(name, cookie.value)
    return thief


def reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- Signing out ends the session on the server -------------------------------------------------------

def test_a_copy_of_the_session_cookie_stops_working_at_sign_out(app, client, auth, person):
    auth.login(person)
    copy = copy_cookies(app, client, names=("session",))
    assert signed_in(copy)
    auth.logout()
    assert not signed_in(copy)
    assert not signed_in(client)


def test_a_copy_of_the_remember_cookie_stops_working_at_sign_out(app, client, auth, person):
    auth.login(person, remember=True)
    copy = copy_cookies(app, client, names=("remember_token",))
    assert signed_in(copy)
    auth.logout()
    assert not signed_in(copy_cookies(app, copy, names=("remember_token",)))


def test_signing_out_in_one_browser_leaves_the_other_signed_in(app, client, auth, person):
    phone = app.test_client()
    type(auth)(phone).login(person, remember=True)
    auth.login(person, remember=True)
    library = copy_cookies(app, client)
    auth.logout()
    assert not signed_in(client) and not signed_in(library)
    library.delete_cookie("session")
    assert not signed_in(library)  # nor by the copied remember cookie
    assert signed_in(phone)
    phone.delete_cookie("session")
    assert signed_in(phone)  # its remember cookie still signs it in
    rows = db.session.scalars(db.select(SignedInSession).where(SignedInSession.user_id == person.id)).all()
    assert sorted(row.ended_at is None for row in rows) == [False, True]


def test_each_sign_in_is_a_session_of_its_own_keeping_only_the_keys_digest(app, client, auth, person):
    auth.login(person)
    type(auth)(app.test_client()).login(person)
    rows = db.session.scalars(db.select(SignedInSession).where(SignedInSession.user_id == person.id)).all()
    assert len(rows) == 2 and len({row.key_digest for row in rows}) == 2
    assert all(row.ended_at is None and row.created_at and len(row.key_digest) == 64 for row in rows)
    key = User.parse_session_id(_session_user_id(client))[2]
    assert key and session_key_digest(key) in {row.key_digest for row in rows}
    assert all(key not in row.key_digest for row in rows)


def _session_user_id(client) -> str:
    with client.session_transaction() as session:
        return session["_user_id"]


def test_a_cookie_from_before_session_keys_signs_nobody_in(app, client, auth, person):
    auth.login(person)
    with client.session_transaction() as session:
        session["_user_id"] = f"{person.id}:{reload(person).session_generation}"
    assert not signed_in(client)


def test_a_password_change_ends_the_other_browsers_and_keeps_this_one(app, client, auth, person):
    phone = app.test_client()
    type(auth)(phone).login(person, remember=True)
    auth.login(person, remember=True)
    response = post_form(client, "/account/password",
                         {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in(client) and not signed_in(phone)
    phone.delete_cookie("session")
    assert not signed_in(phone)
    client.delete_cookie("session")
    assert signed_in(client)  # this browser's remember cookie, under the new generation
    open_rows = db.session.scalar(db.select(db.func.count(SignedInSession.id)).where(
        SignedInSession.user_id == person.id, SignedInSession.ended_at.is_(None)))
    assert open_rows == 1


def test_a_sign_in_lasts_thirty_days_whatever_cookie_the_browser_keeps(app, client, auth, person):
    """Remember-me lasts 30 days on the server too: a remember cookie kept (or copied) past that loads nobody."""
    auth.login(person, remember=True)
    copy = copy_cookies(app, client, names=("remember_token",))
    row = db.session.scalar(db.select(SignedInSession).where(SignedInSession.user_id == person.id))
    row.created_at = utcnow() - app.config["REMEMBER_COOKIE_DURATION"] + timedelta(hours=1)
    db.session.commit()
    assert signed_in(copy_cookies(app, copy, names=("remember_token",)))
    row.created_at = utcnow() - app.config["REMEMBER_COOKIE_DURATION"] - timedelta(minutes=1)
    db.session.commit()
    assert not signed_in(copy_cookies(app, copy, names=("remember_token",)))
    assert not signed_in(client)


def test_signing_in_again_after_signing_out_works(client, auth, person):
    auth.login(person)
    auth.logout()
    assert auth.login(person).status_code == 302 and signed_in(client)


def test_the_account_page_offers_sign_out_everywhere(client, auth, person):
    auth.login(person)
    page = client.get("/account").get_data(as_text=True)
    assert 'action="/account/sign-out-everywhere"' in page and "Sign out everywhere" in page


def test_sign_out_everywhere_ends_every_device_this_one_included_and_is_audited(app, client, auth, person):
    phone = app.test_client()
    type(auth)(phone).login(person, remember=True)
    auth.login(person)
    response = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302
    assert not signed_in(client) and not signed_in(phone)
    phone.delete_cookie("session")
    assert not signed_in(phone)  # nor by its remember cookie
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.signed_out_everywhere"))
    assert db.session.scalar(db.select(db.func.count(SignedInSession.id)).where(
        SignedInSession.user_id == person.id, SignedInSession.ended_at.is_(None))) == 0


def test_sign_out_everywhere_needs_sign_in_and_a_csrf_token(client, auth, person):
    assert client.post("/account/sign-out-everywhere").status_code in (302, 400)
    auth.login(person)
    assert client.post("/account/sign-out-everywhere").status_code == 400
    assert signed_in(client)


def test_nobody_signs_out_another_person():
    me, other = gen_user(), gen_user()
    with pytest.raises(services.NotAllowed):
        services.sign_out_everywhere(me, other)


def test_locking_an_account_ends_its_sessions_for_good(app, client, auth, person):
    phone = app.test_client()
    type(auth)(phone).login(person, remember=True)
    auth.login(person, remember=True)
    user = reload(person)
    user.is_active_account = False
    db.session.commit()
    assert not signed_in(client)
    user = reload(person)
    user.is_active_account = True
    db.session.commit()
    assert not signed_in(client)
    client.delete_cookie("session")
    assert not signed_in(client)
    assert not signed_in(phone)
    phone.delete_cookie("session")
    assert not signed_in(phone)


def test_ended_sessions_are_forgotten_after_the_sign_in_retention_and_open_ones_stay():
    user = gen_user()
    now = utcnow()
    old, recent, still_open = (services.open_session(user, now=now - timedelta(days=days)) for days in (200, 200, 300))
    services.sign_out(user, old, now=now - timedelta(days=100))
    services.sign_out(user, recent, now=now - timedelta(days=10))
    assert services.forget_ended_sessions(now - timedelta(days=90)) == 1
    left = set(db.session.scalars(db.select(SignedInSession.key_digest).where(SignedInSession.user_id == user.id)))
    assert left == {session_key_digest(recent), session_key_digest(still_open)}


def test_a_reset_by_link_or_code_ends_every_session():
    user = gen_user()
    before = user.get_id()
    services._set_password(user, "a whole new password", services.utcnow())
    assert user.get_id() != before


def test_the_session_id_names_the_person_the_generation_and_the_session_key():
    user = gen_user()
    key = services.open_session(user)
    assert User.parse_session_id(user.get_id()) == (user.id, 0, key)
    services.end_sessions(user)
    assert User.parse_session_id(user.get_id()) == (user.id, 1, key)
    assert User.parse_session_id("17:2") == (17, 2, "")  # no key, as cookies from before carried
    assert User.parse_session_id("17") == (17, 0, "")
    assert User.parse_session_id("x:y") is None


def test_the_user_loader_refuses_an_earlier_generation_and_an_ended_key_in_one_statement(app):
    user = gen_user()
    key = services.open_session(user)
    ended = services.open_session(user)
    services.end_sessions(user, keep=key)
    db.session.commit()
    user_id = user.id
    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)
    with app.test_request_context("/"):
        db.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert app.login_manager._user_callback(f"{user_id}:0:{key}") is None
            assert app.login_manager._user_callback(f"{user_id}:1") is None
            assert app.login_manager._user_callback(f"{user_id}:1:{ended}") is None
            assert app.login_manager._user_callback(f"{user_id}:1:{key}").id == user_id
        finally:
            db.event.remove(db.engine, "before_cursor_execute", count)
        assert app.login_manager._user_callback("not-an-id") is None
    assert len(statements) == 4


# --- A wrong current password counts toward the lock-out ---------------------------------------------

def test_a_wrong_current_password_is_counted_and_audited():
    user = gen_user()
    with pytest.raises(DomainError):
        services.change_password(user, user, current_password="guess", new_password=NEW_PASSWORD, ip="192.0.2.4")
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id)).where(LoginAttempt.account == user.email)) == 1
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "account.login_failed"))
    assert entry.details["reason"] == "current_password"


def test_ten_wrong_current_passwords_lock_sign_in_and_the_change(client, auth, person):
    auth.login(person)
    for _ in range(10):
        response = post_form(client, "/account/password",
                             {"current_password": "guess", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "try again in about" in response.get_data(as_text=True)
    response = post_form(client, "/account/password",
                         {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "try again in about" in response.get_data(as_text=True)
    assert services.check_password(reload(person), DEFAULT_PASSWORD)
    with pytest.raises(services.LockedOut):
        services.check_lockout(person.email, "192.0.2.99")


def test_a_right_current_password_clears_the_failures(client, auth, person):
    auth.login(person)
    post_form(client, "/account/password", {"current_password": "guess", "password": NEW_PASSWORD,
                                            "confirm": NEW_PASSWORD})
    post_form(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
                                            "confirm": NEW_PASSWORD})
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id))) == 0


# --- Behind a proxy ---------------------------------------------------------------------------------

def test_forwarded_requests_without_proxy_hops_are_warned_about_once(app, client, caplog, monkeypatch):
    monkeypatch.setattr(views, "_proxy_warning", [])
    with caplog.at_level(logging.WARNING):
        client.get("/login")
        assert "PROXY_HOPS" not in caplog.text
        for _ in range(3):
            client.get("/login", headers={"X-Forwarded-For": "198.51.100.7"})
    assert caplog.text.count("PROXY_HOPS is 0") == 1


def test_no_warning_when_proxy_hops_is_set(app, client, caplog, monkeypatch):
    monkeypatch.setattr(views, "_proxy_warning", [])
    monkeypatch.setitem(app.config, "PROXY_HOPS", 1)
    with caplog.at_level(logging.WARNING):
        client.get("/login", headers={"X-Forwarded-For": "198.51.100.7"})
    assert "PROXY_HOPS" not in caplog.text


# --- Guesses sent at once ---------------------------------------------------------------------------

def _guess_at_once(app, login, guesses, ip_of):
    """`guesses` sign-ins with a wrong password, each in a thread and transaction of its own, released
    together; returns how many were checked against the password (the audited failures: the try that trips
    the lock is checked, and refused with the lock's message)."""
    barrier = threading.Barrier(guesses)
    outcomes, errors = [], []

    def guess(n):
        with app.app_context():
            try:
                barrier.wait()
                services.authenticate(login, "wrong guess", ip_of(n))
            except services.LockedOut:
                db.session.commit()
                outcomes.append("locked")
            except DomainError:
                db.session.commit()
                outcomes.append("checked")
            except Exception as error:  # noqa: BLE001  (reported below)
                errors.append(error)
            finally:
                db.session.remove()
    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(outcomes) == guesses
    return failures_audited()


def failures_audited():
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count(AuditEntry.id)).where(AuditEntry.action == "account.login_failed"))


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time; the race is PostgreSQL's")


def test_guesses_at_one_account_sent_at_once_do_not_overshoot_the_limit(app, person, postgresql):
    checked = _guess_at_once(app, person.email, 20, lambda n: f"198.51.100.{n}")
    assert checked == app.config["LOGIN_FAILURE_LIMIT"]
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id))) == app.config["LOGIN_FAILURE_LIMIT"]


def test_guesses_from_one_address_sent_at_once_do_not_overshoot_its_limit(app, postgresql, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_FAILURE_LIMIT", 8)
    for n in range(16):
        gen_user(email=f"n{n}@example.org")
    db.session.commit()
    counter = iter(range(16))
    lock = threading.Lock()

    def next_login():
        with lock:
            return f"n{next(counter)}@example.org"
    # One address, a different account each time.
    barrier_logins = [next_login() for _ in range(16)]
    barrier = threading.Barrier(16)
    outcomes = []

    def guess(n):
        with app.app_context():
            try:
                barrier.wait()
                services.authenticate(barrier_logins[n], "wrong guess", "203.0.113.77")
            except services.LockedOut:
                outcomes.append("locked")
            except DomainError:
                outcomes.append("checked")
            finally:
                db.session.commit()
                db.session.remove()
    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 16
    assert failures_audited() == 8
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id))) == 8
