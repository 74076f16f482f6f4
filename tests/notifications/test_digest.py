"""Daily digests: once a day at 07:00 in the person's zone, everything of their digest groups since the last one."""
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import mail, preferences, services
from portal.notifications.models import MailboxState, Notification
from portal.notifications.sender import drain
from tests.factories import gen_community, gen_residency, gen_user
from tests.notifications.test_mail import html_of, mail_server, text_of  # noqa: F401  (fixture)

services.register_event("test_digest_proposal", _l("Proposal %(title)s moved on."), group="proposals")
services.register_event("test_digest_meeting", _l("Meeting %(title)s is scheduled."), group="meetings")
services.register_event("test_digest_notice", _l("Notice %(title)s starts."), group="notices")
services.register_event("test_digest_issue", _l("Issue %(title)s was accepted."), group="my_issues")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args, zone=SHANGHAI):
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def written(person, event, at, **payload):
    [row] = services.notify([person], event, **payload)
    row.created_at = at
    return row


def resident(zone="Asia/Shanghai", **extra):
    person = gen_user(**extra)
    gen_residency(person, gen_community(time_zone=zone))
    return person


def test_a_day_of_mixed_events_makes_one_digest_grouped_by_group(mail_server):
    wang = resident(email="wang@example.org", display_name="Wang Fang")
    preferences.set_modes(wang, wang, {"notices": "off"})
    phone_only = resident(phone="13900002222", email=None)
    written(wang, "test_digest_proposal", local(2026, 12, 1, 9, 0), title="Lift")
    written(wang, "test_digest_proposal", local(2026, 12, 1, 15, 0), title="Parking")
    written(wang, "test_digest_meeting", local(2026, 12, 1, 16, 0), title="December")
    written(wang, "test_digest_notice", local(2026, 12, 1, 17, 0), title="Fees")     # off: not e-mailed
    written(wang, "test_digest_issue", local(2026, 12, 1, 18, 0), title="Leak")      # at once
    written(phone_only, "test_digest_proposal", local(2026, 12, 1, 9, 0), title="Lift")  # in-app only
    db.session.commit()

    during_the_day = drain(local(2026, 12, 1, 18, 30))
    assert (during_the_day.sent, during_the_day.to_digest, during_the_day.skipped) == (1, 3, 2)
    assert [m["Subject"] for m in mail_server.messages] == ["Yishi: Issue Leak was accepted."]
    assert drain(local(2026, 12, 2, 6, 59)).digests == 0

    assert drain(local(2026, 12, 2, 7, 0)).digests == 1
    digest = mail_server.messages[-1]
    assert digest["To"] == "wang@example.org"
    assert digest["Subject"] == "Yishi: your daily digest, 3 updates"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = text_of(digest)
    assert text.index("== Proposals and discussions ==") < text.index("Proposal Lift moved on.") \
        < text.index("Proposal Parking moved on.") < text.index("== Committee meetings ==") \
        < text.index("Meeting December is scheduled.")
    assert "Notice Fees" not in text and "Issue Leak" not in text
    assert re.search(r"\b1 Dec (2026 )?09:00\b", text)  # the portal's one date format, in the zone
    html = html_of(digest)
    rows = db.session.scalars(db.select(Notification).where(Notification.recipient_id == wang.id,
                                                            Notification.event != "test_digest_issue")).all()
    for row in rows:
        if row.event != "test_digest_notice":
            assert mail.object_url(row) in text and mail.object_url(row) in html
            assert row.email_status == "sent" and row.emailed_at == local(2026, 12, 2, 7, 0)
    assert "<h2" in html and "Proposal Parking moved on." in html
    state = db.session.get(MailboxState, wang.id)
    assert state.last_digest_on.isoformat() == "2026-12-02"


def test_only_one_digest_a_day_and_the_next_lists_only_what_came_since(mail_server):
    li = resident(email="li@example.org")
    written(li, "test_digest_proposal", local(2026, 12, 1, 20, 0), title="One")
    db.session.commit()
    drain(local(2026, 12, 1, 20, 1))
    assert drain(local(2026, 12, 2, 7, 5)).digests == 1
    written(li, "test_digest_proposal", local(2026, 12, 2, 8, 0), title="Two")
    db.session.commit()
    # The same day, again and again: nothing new goes out, "Two" waits for tomorrow.
    assert drain(local(2026, 12, 2, 7, 30)).digests == 0
    assert drain(local(2026, 12, 2, 12, 0)).digests == 0
    assert drain(local(2026, 12, 2, 21, 0)).digests == 0
    assert len(mail_server.messages) == 1
    assert drain(local(2026, 12, 3, 7, 0)).digests == 1
    second = text_of(mail_server.messages[-1])
    assert "Proposal Two moved on." in second and "Proposal One" not in second
    assert re.search(r"since your last digest \(2 Dec (2026 )?07:05\)", second)


def test_the_digest_goes_at_seven_in_the_persons_own_time_zone(mail_server):
    london = ZoneInfo("Europe/London")
    ann = resident("Europe/London", email="ann@example.org")
    written(ann, "test_digest_meeting", local(2026, 12, 1, 12, 0, zone=london), title="AGM")
    db.session.commit()
    drain(local(2026, 12, 1, 12, 1, zone=london))
    assert drain(local(2026, 12, 2, 7, 0)).digests == 0          # 07:00 in Shanghai is 23:00 in London
    assert drain(local(2026, 12, 2, 6, 59, zone=london)).digests == 0
    assert drain(local(2026, 12, 2, 7, 0, zone=london)).digests == 1


def test_a_group_turned_off_before_the_digest_leaves_it_out(mail_server):
    li = resident(email="off@example.org")
    written(li, "test_digest_proposal", local(2026, 12, 1, 10, 0), title="Kept")
    written(li, "test_digest_meeting", local(2026, 12, 1, 10, 0), title="Dropped")
    db.session.commit()
    drain(local(2026, 12, 1, 10, 1))
    preferences.set_modes(li, li, {"meetings": "off"})
    db.session.commit()
    result = drain(local(2026, 12, 2, 7, 0))
    assert (result.digests, result.skipped) == (1, 1)
    text = text_of(mail_server.messages[-1])
    assert "Kept" in text and "Dropped" not in text


def test_a_digest_the_server_cannot_take_is_retried_later_the_same_morning(mail_server):
    li = resident(email="retry@example.org")
    written(li, "test_digest_proposal", local(2026, 12, 1, 10, 0), title="Late")
    db.session.commit()
    drain(local(2026, 12, 1, 10, 1))
    mail_server.handler.refuse["retry@example.org"] = "452 4.2.2 Mailbox full"
    assert drain(local(2026, 12, 2, 7, 0)).retrying == 1
    del mail_server.handler.refuse["retry@example.org"]
    assert drain(local(2026, 12, 2, 7, 0, 30)).digests == 0
    assert drain(local(2026, 12, 2, 7, 1)).digests == 1
    assert db.session.get(MailboxState, li.id).last_digest_at == local(2026, 12, 2, 7, 1)


def test_digest_hour_is_a_setting(app, mail_server):
    li = resident(email="hour@example.org")
    written(li, "test_digest_proposal", local(2026, 12, 1, 10, 0), title="Nine")
    db.session.commit()
    app.config["NOTIFICATION_DIGEST_HOUR"] = 9
    try:
        drain(local(2026, 12, 1, 10, 1))
        assert drain(local(2026, 12, 2, 8, 0)).digests == 0
        assert drain(local(2026, 12, 2, 9, 0)).digests == 1
    finally:
        app.config["NOTIFICATION_DIGEST_HOUR"] = 7


def test_a_row_that_missed_todays_digest_waits_quietly_for_tomorrows(mail_server):
    from portal.notifications.sender import next_due_at
    li = resident(email="late@example.org")
    written(li, "test_digest_proposal", local(2026, 12, 1, 10, 0), title="First")
    db.session.commit()
    drain(local(2026, 12, 1, 10, 1))
    assert drain(local(2026, 12, 2, 7, 0)).digests == 1
    # Written just before 07:00, but the sender first sees it after today's digest went.
    row = written(li, "test_digest_proposal", local(2026, 12, 2, 6, 59), title="Late")
    db.session.commit()
    assert drain(local(2026, 12, 2, 7, 1)).digests == 0
    row = db.session.get(Notification, row.id)
    assert (row.email_status, row.next_attempt_at) == ("digest", local(2026, 12, 3, 7, 0))
    assert next_due_at() == local(2026, 12, 3, 7, 0)  # nothing for a worker to wake up for before then
    assert drain(local(2026, 12, 3, 7, 0)).digests == 1
    assert "Proposal Late moved on." in text_of(mail_server.messages[-1])
