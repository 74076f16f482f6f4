"""Moments in notifications (issue #16): a payload keeps them as ISO 8601 UTC with the community's zone, and
the message writes them when it is read, in the reader's language and that zone, the portal's one way; a
payload stored earlier with the time already written out still reads as it was written."""
from datetime import UTC, date, datetime, time, timedelta

import pytest
from flask_babel import force_locale

from portal.clock import in_zone, utcnow
from portal.extensions import db
from portal.notifications.models import Notification
from portal.notifications.services import message_for
from portal.outbox import instant
from tests.issues.conftest import world as issues_world  # noqa: F401  (the world the proposals one extends)
from tests.proposals.conftest import world as proposals_world  # noqa: F401  (the world the votes one extends)
from tests.votes.conftest import world  # noqa: F401

ZONE = "Asia/Urumqi"  # UTC+6: not the portal's default zone, so the community's own zone shows


@pytest.fixture
def far_west(world):  # noqa: F811
    world.x.time_zone = ZONE
    db.session.flush()
    return world


def soon(days=2, hour=1, minute=30) -> datetime:
    return datetime.combine(date.today() + timedelta(days=days), time(hour, minute), tzinfo=UTC)


def zh(moment: datetime) -> str:
    local = in_zone(moment, ZONE)
    year = f"{local.year}年" if local.year != in_zone(utcnow(), ZONE).year else ""
    return f"{year}{local.month}月{local.day}日 {local:%H:%M}"


def en(moment: datetime) -> str:
    local = in_zone(moment, ZONE)
    year = f" {local.year}" if local.year != in_zone(utcnow(), ZONE).year else ""
    return f"{local.day} {local:%b}{year} {local:%H:%M}"


def only(event: str) -> Notification:
    return db.session.scalars(db.select(Notification).where(Notification.event == event)
                              .order_by(Notification.id)).first()


def read_in(language: str, notification: Notification) -> str:
    with force_locale(language):
        return message_for(notification)


def assert_instant(payload: dict, key: str, moment: datetime):
    assert payload[key] == instant(moment)
    assert datetime.fromisoformat(payload[key]).utcoffset() == timedelta(0)
    assert payload["zone"] == ZONE


def test_a_meeting_notice_made_in_english_reads_in_chinese_in_the_communitys_zone(far_west):
    from tests.committees.meetings_helpers import gen_meeting
    starts = soon()
    with force_locale("en"):
        gen_meeting(far_west, when=starts, title="Lift repair")
    db.session.commit()
    row = only("meetings.scheduled")
    assert_instant(row.payload, "when", starts)
    assert read_in("zh", row) == f"花家地小区业主委员会将于{zh(starts)}召开会议：“Lift repair”。"
    assert zh(starts) in read_in("zh", row) and "07:30" in read_in("zh", row)  # 01:30 UTC is 07:30 in Urumqi
    assert en(starts) in read_in("en", row)
    for text in (read_in("zh", row), read_in("en", row)):
        assert "CST" not in text and "+00:00" not in text and ":00:" not in text


def test_a_ballot_notice_writes_opening_and_closing_for_each_reader(far_west):
    from tests.votes import gen_ballot
    now = soon(days=0, hour=2, minute=0) - timedelta(days=1)
    gen_ballot(far_west, "residents", now=now)
    db.session.commit()
    row = only("votes.opened")
    closes = now + timedelta(days=7)
    assert_instant(row.payload, "closes", closes)
    assert zh(closes) in read_in("zh", row) and en(closes) in read_in("en", row)


def test_an_owners_ballot_announcement_writes_both_moments(far_west):
    from tests.votes import gen_ballot
    now = soon(days=0, hour=3, minute=0)
    ballot = gen_ballot(far_west, "owners", open=False, now=now)
    db.session.commit()
    row = only("votes.announced")
    assert_instant(row.payload, "opens", ballot.opens_at)
    assert_instant(row.payload, "closes", ballot.closes_at)
    text = read_in("zh", row)
    assert zh(ballot.opens_at) in text and zh(ballot.closes_at) in text


def test_a_public_notice_writes_its_end_for_each_reader(far_west):
    from tests.notices import decide
    decide(far_west)
    db.session.commit()
    row = only("notices.started")
    notice_ends = datetime.fromisoformat(row.payload["ends"])
    assert row.payload["zone"] == ZONE and notice_ends.utcoffset() == timedelta(0)
    assert zh(notice_ends) in read_in("zh", row) and en(notice_ends) in read_in("en", row)


def test_the_closing_reminder_keeps_the_moment_too(far_west):
    from portal.notifications.reminders import remind_ballots_closing
    from tests.votes import gen_ballot
    now = utcnow()
    ballot = gen_ballot(far_west, "residents", now=now - timedelta(days=6, hours=12))
    remind_ballots_closing(now)
    db.session.commit()
    row = only("votes.closing_soon")
    assert_instant(row.payload, "closes", ballot.closes_at)
    assert zh(ballot.closes_at) in read_in("zh", row)


@pytest.mark.parametrize("event, payload, shown", [
    ("votes.opened", {"title": "加装电梯", "closes": "2026-01-05 20:00", "slug": "x", "ballot_id": 1},
     "2026-01-05 20:00"),
    ("notices.started", {"title": "加装电梯", "ends": "2026-01-05 20:00", "slug": "x", "notice_id": 1},
     "2026-01-05 20:00"),
    ("meetings.scheduled", {"title": "例会", "org": "业委会", "when": "2026-01-05 20:00"}, "2026-01-05 20:00"),
])
def test_a_payload_stored_with_written_text_still_reads(world, event, payload, shown):  # noqa: F811
    row = Notification(recipient_id=world.reporter.id, event=event, payload=payload)
    db.session.add(row)
    db.session.commit()
    assert shown in read_in("zh", row) and shown in read_in("en", row)


def test_the_notification_centre_shows_the_moment_in_the_readers_language(far_west, client, auth):
    from tests.committees.meetings_helpers import gen_meeting
    starts = soon(days=3, hour=12, minute=5)
    with force_locale("en"):
        gen_meeting(far_west, when=starts, title="Lift repair")
    far_west.hoa_member.locale = "zh"
    db.session.commit()
    auth.login(far_west.hoa_member)
    page = client.get("/notifications/").get_data(as_text=True)
    assert zh(starts) in page and "18:05" in page


def test_an_actions_due_date_reads_in_each_readers_language(world):  # noqa: F811
    """Due dates are days: kept as ISO dates ("2027-03-09"), written "3月9日" / "9 Mar" for the reader; a payload
    of an unknown shape still reads as stored."""
    from portal.outbox import notify
    due = date(in_zone(utcnow(), "Asia/Shanghai").year, 3, 9)
    notify([world.chair_x], "actions.due_soon", None, title="修补屋顶", action_id=1, slug=world.x.slug,
           due=due.isoformat())
    db.session.flush()
    note = only("actions.due_soon")
    assert read_in("zh", note) == "“修补屋顶”的完成期限为3月9日。"
    assert read_in("en", note) == "“修补屋顶” is due on 9 Mar."
    note.payload = {**note.payload, "due": "next week"}
    assert read_in("en", note) == "“修补屋顶” is due on next week."
