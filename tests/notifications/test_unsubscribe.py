"""The unsubscribe link of every e-mail: GET asks, POST (the button or RFC 8058 one-click) turns the group off;
no sign-in, the signed token is the proof; a forged or expired link gets a clear 400 page."""
import time

from flask_babel import lazy_gettext as _l
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.extensions import db
from portal.notifications import preferences, services
from portal.notifications.models import Notification
from portal.notifications.sender import drain
from tests.factories import gen_user
from tests.notifications.test_mail import DAYTIME, mail_server, text_of, unsubscribe_link  # noqa: F401

services.register_event("test_unsub_vote", _l("Ballot %(title)s is open."), group="votes")
services.register_event("test_unsub_account", _l("Your residence was verified."), group="account")


def path_of(url: str) -> str:
    assert url.startswith("https://yishi.test/")
    return url[len("https://yishi.test"):]


def test_unsubscribe_link_works_end_to_end_and_no_more_mail_comes_for_that_group(mail_server, client, app):
    li = gen_user(email="li@example.org", locale="en")
    services.notify([li], "test_unsub_vote", title="Lift")
    db.session.commit()
    drain(DAYTIME)
    [message] = mail_server.messages
    link = unsubscribe_link(message)
    assert link in text_of(message)

    page = client.get(path_of(link))  # a mail scanner following the link changes nothing
    assert page.status_code == 200
    assert "Stop e-mails for: Ballots?" in page.get_data(as_text=True)
    assert preferences.mode_for(li, "votes") == "now"

    done = client.post(path_of(link))  # no sign-in, no CSRF token: the signed link is the proof
    assert done.status_code == 200
    assert "You will no longer get e-mails for: Ballots." in done.get_data(as_text=True)
    assert preferences.mode_for(li, "votes") == "off"

    services.notify([li], "test_unsub_vote", title="Parking")
    db.session.commit()
    result = drain(DAYTIME)
    assert (result.sent, result.skipped) == (0, 1)
    assert len(mail_server.messages) == 1
    assert client.post(path_of(link)).status_code == 200  # twice is harmless


def test_mail_clients_one_click_post_turns_the_group_off(mail_server, client):
    li = gen_user(email="oneclick@example.org")
    services.notify([li], "test_unsub_vote", title="Lift")
    db.session.commit()
    drain(DAYTIME)
    link = unsubscribe_link(mail_server.messages[0])
    response = client.post(path_of(link), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert preferences.mode_for(li, "votes") == "off"


def test_the_digest_link_turns_off_every_group_that_came_in_digests(client):
    li = gen_user(email="digest@example.org")
    preferences.set_modes(li, li, {"votes": "digest"})
    db.session.commit()
    token = preferences.unsubscribe_token(li.id, preferences.DIGEST)
    assert "Stop e-mails for: the daily digest?" in client.get(f"/notifications/unsubscribe/{token}").get_data(
        as_text=True)
    client.post(f"/notifications/unsubscribe/{token}")
    modes = preferences.modes_of([li.id])[li.id]
    assert modes["votes"] == modes["proposals"] == modes["meetings"] == modes["notices"] == "off"
    assert modes["my_issues"] == modes["handling"] == "now"


def test_account_mail_cannot_be_unsubscribed_and_the_page_says_why(client):
    li = gen_user(email="account@example.org")
    db.session.commit()
    token = preferences.unsubscribe_token(li.id, "account")
    for response in (client.get(f"/notifications/unsubscribe/{token}"),
                     client.post(f"/notifications/unsubscribe/{token}")):
        assert response.status_code == 200
        assert "cannot be turned off" in response.get_data(as_text=True)
    assert preferences.modes_of([li.id])[li.id]["account"] == "now"


def test_a_forged_or_damaged_link_gets_a_clear_400_page_and_changes_nothing(client):
    li = gen_user(email="forged@example.org")
    db.session.commit()
    good = preferences.unsubscribe_token(li.id, "votes")
    forged = URLSafeTimedSerializer("not the portal's key", salt=preferences.UNSUBSCRIBE_SALT).dumps(
        {"u": li.id, "g": "votes"})
    for token in (forged, good[:-3], "nonsense", good.replace(".", "", 1)):
        for method in (client.get, client.post):
            response = method(f"/notifications/unsubscribe/{token}")
            assert response.status_code == 400
            assert "This unsubscribe link is not valid." in response.get_data(as_text=True)
    assert preferences.mode_for(li, "votes") == "now"


def test_a_link_for_an_unknown_group_or_person_is_refused(app, client):
    li = gen_user(email="unknown@example.org")
    db.session.commit()
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=preferences.UNSUBSCRIBE_SALT)
    for payload in ({"u": li.id, "g": "everything"}, {"u": li.id + 1000, "g": "votes"}, ["x"], {"u": "1"}):
        response = client.post(f"/notifications/unsubscribe/{signer.dumps(payload)}")
        assert response.status_code == 400


def test_an_expired_link_says_so(app, client):
    li = gen_user(email="old@example.org")
    db.session.commit()

    class SignedSixtyOneDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 61 * 24 * 3600

    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=preferences.UNSUBSCRIBE_SALT,
                                   signer=SignedSixtyOneDaysAgo).dumps({"u": li.id, "g": "votes"})
    response = client.post(f"/notifications/unsubscribe/{token}")
    assert response.status_code == 400
    assert "This unsubscribe link has expired." in response.get_data(as_text=True)
    assert preferences.mode_for(li, "votes") == "now"
    assert db.session.scalar(db.select(db.func.count(Notification.id))) == 0
