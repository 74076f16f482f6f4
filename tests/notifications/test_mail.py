"""The e-mail channel speaks real SMTP to a local aiosmtpd server."""
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import mail, services
from portal.notifications.models import Notification
from tests.conftest import free_port
from tests.factories import gen_user

services.register_event("test_mail_event", _l("Your reset link: %(url)s"), email=True)
services.register_event("test_in_app_only", _l("Only in the app"))


def test_email_events_go_out_once_in_the_recipients_language(smtp_inbox):
    wang = gen_user(email="wang@example.org", display_name="王芳", locale="zh")
    services.notify([wang], "test_mail_event", url="https://yishi.test/reset/abc")
    services.notify([wang], "test_in_app_only")
    db.session.commit()
    assert mail.send_pending() == 1
    assert mail.send_pending() == 0
    [message] = smtp_inbox.messages
    assert message["To"] == "wang@example.org"
    text = message.get_payload()[0].get_payload(decode=True).decode()
    assert "https://yishi.test/reset/abc" in text
    assert "王芳" in text
    assert db.session.scalar(db.select(Notification.emailed_at).where(
        Notification.event == "test_mail_event")) is not None


def test_phone_only_accounts_get_no_email(smtp_inbox):
    li = gen_user(phone="13900001111", email=None)
    services.notify([li], "test_mail_event", url="https://yishi.test/x")
    db.session.commit()
    assert mail.send_pending() == 0
    assert smtp_inbox.messages == []


def test_unreachable_server_leaves_rows_for_the_next_run(app):
    wang = gen_user(email="wang2@example.org")
    services.notify([wang], "test_mail_event", url="https://yishi.test/y")
    db.session.commit()
    saved = app.config["MAIL_PORT"], app.config["MAIL_SERVER"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    try:
        assert mail.send_pending() == 0
    finally:
        app.config["MAIL_PORT"], app.config["MAIL_SERVER"] = saved
    assert db.session.scalar(db.select(Notification.emailed_at)) is None
