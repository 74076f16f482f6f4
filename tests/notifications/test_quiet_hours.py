"""Quiet hours: no e-mail from 22:00 to 07:00 in the recipient's zone, except emergencies and their own account."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import services
from portal.notifications.models import Notification
from portal.notifications.sender import drain, quiet_until
from tests.factories import gen_community, gen_residency, gen_user
from tests.notifications.test_mail import mail_server  # noqa: F401  (fixture)

services.register_event("test_quiet_issue", _l("Issue %(title)s was routed to you."), group="handling")
services.register_event("test_quiet_account", _l("Your password was changed."), group="account")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args, zone=SHANGHAI):
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def resident(zone="Asia/Shanghai", **extra):
    person = gen_user(**extra)
    gen_residency(person, gen_community(time_zone=zone))
    return person


def test_mail_written_at_night_is_held_until_seven_and_then_sent(mail_server):
    zhao = resident(email="zhao@example.org")
    services.notify([zhao], "test_quiet_issue", title="Noise")
    db.session.commit()
    night = drain(local(2026, 12, 1, 23, 15))
    assert (night.sent, night.held) == (0, 1)
    row = db.session.scalar(db.select(Notification))
    assert (row.email_status, row.next_attempt_at, row.email_attempts) == ("pending", local(2026, 12, 2, 7, 0), 0)
    assert drain(local(2026, 12, 2, 6, 59)).sent == 0
    assert mail_server.messages == []
    assert drain(local(2026, 12, 2, 7, 0)).sent == 1
    assert [m["To"] for m in mail_server.messages] == ["zhao@example.org"]


def test_urgent_mail_and_account_mail_pass_through_quiet_hours(mail_server):
    zhao = resident(email="zhao2@example.org")
    services.notify([zhao], "test_quiet_issue", title="Burst water main", urgent=True)
    services.notify([zhao], "test_quiet_account")
    services.notify([zhao], "test_quiet_issue", title="Dripping tap")
    db.session.commit()
    result = drain(local(2026, 12, 2, 3, 0))
    assert (result.sent, result.held) == (2, 1)
    subjects = sorted(m["Subject"] for m in mail_server.messages)
    assert subjects == ["Yishi: Issue Burst water main was routed to you.", "Yishi: Your password was changed."]


def test_quiet_hours_follow_the_recipients_own_community_zone(mail_server):
    new_york = ZoneInfo("America/New_York")
    ann = resident("America/New_York", email="ann@example.org")
    wang = resident(email="wang@example.org")
    services.notify([ann, wang], "test_quiet_issue", title="Lift")
    db.session.commit()
    at = local(2026, 12, 1, 12, 0, zone=new_york)  # noon in New York, 01:00 in Shanghai
    result = drain(at)
    assert (result.sent, result.held) == (1, 1)
    assert [m["To"] for m in mail_server.messages] == ["ann@example.org"]
    held = db.session.scalar(db.select(Notification).where(Notification.recipient_id == wang.id))
    assert held.next_attempt_at == local(2026, 12, 2, 7, 0)


def test_people_without_a_community_use_the_portals_default_zone(app, mail_server):
    official = gen_user(email="official@example.org")
    services.notify([official], "test_quiet_issue", title="Overdue")
    db.session.commit()
    assert app.config["DEFAULT_TIME_ZONE"] == "Asia/Shanghai"
    assert drain(local(2026, 12, 1, 22, 0)).held == 1
    assert drain(local(2026, 12, 1, 21, 59)).sent == 0  # held rows are not due before 07:00
    assert drain(local(2026, 12, 2, 7, 0)).sent == 1


def test_quiet_hours_bounds_and_switching_them_off(app):
    assert quiet_until(local(2026, 12, 1, 21, 59), "Asia/Shanghai") is None
    assert quiet_until(local(2026, 12, 1, 22, 0), "Asia/Shanghai") == local(2026, 12, 2, 7, 0)
    assert quiet_until(local(2026, 12, 2, 6, 59), "Asia/Shanghai") == local(2026, 12, 2, 7, 0)
    assert quiet_until(local(2026, 12, 2, 7, 0), "Asia/Shanghai") is None
    app.config["NOTIFICATION_QUIET_START"] = app.config["NOTIFICATION_QUIET_END"] = 0
    try:
        assert quiet_until(local(2026, 12, 2, 3, 0), "Asia/Shanghai") is None
    finally:
        app.config["NOTIFICATION_QUIET_START"], app.config["NOTIFICATION_QUIET_END"] = 22, 7
