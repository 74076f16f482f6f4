"""E-mails as they arrive at a real local SMTP server (aiosmtpd): headers, language, text and HTML, links.

The `mail_server` fixture here is shared by the other e-mail tests: a handler that records what it accepts and
can refuse recipients (4xx/5xx) or go down after N messages, as a real server would."""
import email
import email.policy
import re
import threading
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import mail, preferences, services
from portal.notifications.models import Notification
from portal.notifications.sender import drain, send_pending
from portal.web import absolute_url
from tests.conftest import free_port
from tests.factories import gen_user

services.register_event("test_mail_event", _l("Your reset link: %(url)s"), group="account")
services.register_event("test_in_app_only", _l("Only in the app"), group="proposals")
services.register_event("test_issue_update", _l("Your issue %(title)s was updated."), group="my_issues")

# 10:00 in Shanghai (the default zone): outside quiet hours, before nothing in particular.
DAYTIME = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


# --- a real SMTP server the tests can steer -------------------------------------------------------------

class Handler:
    def __init__(self):
        self.messages = []
        self.refuse = {}           # address -> reply to its RCPT, e.g. "550 5.1.1 No such user"
        self.accept_limit = None   # after this many accepted messages the server goes down
        self.on_limit = None
        self.down = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.down:
            return "421 4.3.2 Service shutting down"
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.down:
            return "421 4.3.2 Service shutting down"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        if self.accept_limit is not None and len(self.messages) >= self.accept_limit:
            self.down = True
            threading.Thread(target=self.on_limit).start()
        return "250 OK"


class MailServer:
    def __init__(self):
        self.handler = Handler()
        self.port = free_port()
        self.controller = None
        self.stopped = threading.Event()

    @property
    def messages(self):
        return self.handler.messages

    def start(self):
        self.handler.down = False
        self.stopped.clear()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        self.stopped.set()

    def go_down_after(self, n):
        self.handler.accept_limit = n
        self.handler.on_limit = self.stop


@pytest.fixture
def mail_server(app):
    server = MailServer()
    server.start()
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    yield server
    app.config.update(saved)
    server.stop()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def unsubscribe_link(message) -> str:
    return re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1)


# --- the tests ------------------------------------------------------------------------------------------

def test_email_has_text_and_html_absolute_links_and_one_click_unsubscribe_headers(mail_server):
    li = gen_user(email="li@example.org", display_name="Li Lei", locale="en")
    [row] = services.notify([li], "test_issue_update", title="Broken lift")
    db.session.commit()
    assert drain(DAYTIME).sent == 1
    [message] = mail_server.messages
    assert message["To"] == "li@example.org"
    assert message["Subject"] == "Yishi: Your issue Broken lift was updated."
    assert message["Content-Language"] == "en"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = unsubscribe_link(message)
    assert link.startswith("https://yishi.test/notifications/unsubscribe/")
    text, html = text_of(message), html_of(message)
    object_link = mail.object_url(row)
    assert object_link.startswith("https://yishi.test/notifications")
    for body in (text, html):
        assert "Hello Li Lei," in body
        assert "Your issue Broken lift was updated." in body
        assert object_link in body
        assert link in body
        assert absolute_url("notifications.preferences") in body
    assert html.lstrip().startswith("<!doctype html>")
    row = db.session.get(Notification, row.id)
    assert (row.email_status, row.email_attempts) == ("sent", 1)
    assert row.emailed_at == DAYTIME


def test_each_email_is_in_its_recipients_language(mail_server):
    wang = gen_user(email="wang@example.org", display_name="王芳", locale="zh")
    smith = gen_user(email="smith@example.org", display_name="Ann Smith", locale="en")
    services.notify([wang, smith], "test_issue_update", title="电梯")
    db.session.commit()
    drain(DAYTIME)
    by_address = {m["To"]: m for m in mail_server.messages}
    chinese, english = by_address["wang@example.org"], by_address["smith@example.org"]
    assert chinese["Subject"].startswith("议事")
    assert chinese["Content-Language"] == "zh-CN"
    assert "王芳，您好：" in text_of(chinese) and "王芳，您好：" in html_of(chinese)
    assert 'lang="zh-CN"' in html_of(chinese)
    assert english["Subject"].startswith("Yishi:")
    assert "Hello Ann Smith," in text_of(english)


def test_reset_link_goes_out_at_once_with_its_own_url_and_no_unsubscribe(mail_server):
    wang = gen_user(email="wang@example.org", display_name="王芳", locale="zh")
    services.notify([wang], "test_mail_event", url="https://yishi.test/reset/abc")
    services.notify([wang], "test_in_app_only")
    db.session.commit()
    assert send_pending(recipient_id=wang.id) == 1
    assert send_pending(recipient_id=wang.id) == 0
    [message] = mail_server.messages
    assert "https://yishi.test/reset/abc" in text_of(message)
    assert "List-Unsubscribe" not in message
    assert db.session.scalar(db.select(Notification.emailed_at).where(
        Notification.event == "test_mail_event")) is not None
    # The proposals row waits for the daily digest (its group's default), it is not e-mailed at once.
    assert db.session.scalar(db.select(Notification.email_status).where(
        Notification.event == "test_in_app_only")) == "digest"


def test_phone_only_accounts_get_nothing_by_email(mail_server):
    li = gen_user(phone="13900001111", email=None)
    services.notify([li], "test_mail_event", url="https://yishi.test/x")
    services.notify([li], "test_issue_update", title="x")
    db.session.commit()
    result = drain(DAYTIME)
    assert (result.sent, result.skipped) == (0, 2)
    assert mail_server.messages == []
    assert set(db.session.scalars(db.select(Notification.email_status))) == {"skipped"}


def test_unreachable_server_leaves_rows_for_a_later_run(app):
    wang = gen_user(email="wang2@example.org")
    services.notify([wang], "test_mail_event", url="https://yishi.test/y")
    db.session.commit()
    saved = app.config["MAIL_PORT"], app.config["MAIL_SERVER"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    try:
        assert send_pending() == 0
    finally:
        app.config["MAIL_PORT"], app.config["MAIL_SERVER"] = saved
    row = db.session.scalar(db.select(Notification))
    assert (row.email_status, row.emailed_at, row.email_attempts) == ("pending", None, 1)
    assert "cannot reach" in row.last_error


def test_unsubscribe_link_names_the_group_of_the_event(app):
    li = gen_user(email="li3@example.org")
    [row] = services.notify([li], "test_issue_update", title="x")
    db.session.flush()
    message = mail.compose(row)
    token = unsubscribe_link_token(message.headers["List-Unsubscribe"])
    assert preferences.read_unsubscribe_token(token) == (li.id, "my_issues")


def unsubscribe_link_token(header: str) -> str:
    return header.strip("<>").rsplit("/", 1)[1]
