"""The community calendar (portal/calendar.py): the page, and the .ics feed validated with `icalendar`."""
from datetime import UTC, timedelta

from icalendar import Calendar

from portal.clock import utcnow
from portal.extensions import db
from tests.committees.meetings_helpers import gen_meeting
from tests.meetings.conftest import issues_world, proposals_world, world  # noqa: F401  (the votes world)
from tests.votes import gen_ballot


def _events(response):
    calendar = Calendar.from_ical(response.data)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_the_page_lists_meetings_and_voting_times(client, world):
    meeting = gen_meeting(world, title="业委会例会 on the lift")
    ballot = gen_ballot(world)
    db.session.commit()
    response = client.get("/c/x/calendar")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert meeting.title in html and ballot.question in html
    assert "Voting closes" in html and "/c/x/calendar.ics" in html


def test_the_feed_parses_with_icalendar_and_holds_public_events_in_utc(client, world):
    starts = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    meeting = gen_meeting(world, when=starts, ends_at=starts + timedelta(hours=2), title="Lift meeting",
                          agenda=[("电梯维修", None, None)])
    private = gen_meeting(world, title="Closed budget meeting", is_public=False)
    ballot = gen_ballot(world)
    db.session.commit()
    response = client.get("/c/x/calendar.ics", headers={"Host": "evil.example"})
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    events = _events(response)
    event = events[f"meeting-{meeting.id}@yishi.test"]
    assert event.decoded("DTSTART") == starts.replace(tzinfo=UTC)
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == (starts + timedelta(hours=2)).replace(tzinfo=UTC)
    assert str(event["URL"]) == f"https://yishi.test/o/{world.hoa_x.id}/meetings/{meeting.id}"
    assert "Lift meeting" in str(event["SUMMARY"]) and "电梯维修" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == meeting.place
    assert f"ballot-closes-{ballot.id}@yishi.test" in events
    assert str(events[f"ballot-closes-{ballot.id}@yishi.test"]["URL"]) == \
        f"https://yishi.test/c/x/ballots/{ballot.id}"
    assert f"meeting-{private.id}@yishi.test" not in events
    assert "evil.example" not in response.get_data(as_text=True)


def test_the_uid_of_an_event_stays_the_same_when_its_time_changes(client, world):
    meeting = gen_meeting(world)
    db.session.commit()
    first = set(_events(client.get("/c/x/calendar.ics")))
    meeting.starts_at = meeting.starts_at + timedelta(hours=1)
    db.session.commit()
    second = _events(client.get("/c/x/calendar.ics"))
    assert first == set(second)
    assert second[f"meeting-{meeting.id}@yishi.test"].decoded("DTSTART") == meeting.starts_at.replace(microsecond=0)


def test_a_members_only_community_has_no_public_feed(client, auth, world):
    gen_meeting(world)
    world.x.members_only = True
    db.session.commit()
    assert client.get("/c/x/calendar.ics").status_code in (302, 401, 403)
    assert client.get("/c/x/calendar").status_code == 302
    assert client.get("/c/nowhere/calendar.ics").status_code == 404


# --- the events, kept under the community's version (calendar._events_html, portal.versions) -----------------

def test_the_events_are_read_once_per_version_and_follow_a_change(client, world):
    from tests.queries import recorded_statements
    meeting = gen_meeting(world, title="Lift meeting")
    db.session.commit()
    client.get("/c/x/calendar")
    with recorded_statements() as statements:
        html = client.get("/c/x/calendar").get_data(as_text=True)
    assert "Lift meeting" in html and not [s for s in statements if "FROM meeting" in s or "FROM ballot" in s]
    meeting.title = "Lift and stairs meeting"
    db.session.commit()
    assert "Lift and stairs meeting" in client.get("/c/x/calendar").get_data(as_text=True)
    ballot = gen_ballot(world)
    db.session.commit()
    assert ballot.question in client.get("/c/x/calendar").get_data(as_text=True)


def test_members_see_their_organizations_meetings_whoever_looked_first(client, auth, world):
    gen_meeting(world, title="Closed budget meeting", is_public=False)
    db.session.commit()
    assert "Closed budget meeting" not in client.get("/c/x/calendar").get_data(as_text=True)
    auth.login(world.hoa_chair)
    assert "Closed budget meeting" in client.get("/c/x/calendar").get_data(as_text=True)
    auth.logout()
    auth.login(world.stranger)
    assert "Closed budget meeting" not in client.get("/c/x/calendar").get_data(as_text=True)


def test_the_clock_moves_events_out_of_and_into_the_page(client, world, monkeypatch):
    """Nothing is written as time passes: the kept events end when one would leave or join the page."""
    import portal.calendar
    import portal.clock
    now = utcnow()
    gen_meeting(world, title="Soon", when=now + timedelta(hours=1), now=now)
    gen_meeting(world, title="Far ahead", when=now + timedelta(days=90, hours=2), now=now)
    db.session.commit()
    html = client.get("/c/x/calendar").get_data(as_text=True)
    assert "Soon" in html and "Far ahead" not in html

    def at(moment):
        for module in (portal.clock, portal.calendar):
            monkeypatch.setattr(module, "utcnow", lambda: moment)

    at(now + timedelta(hours=3))  # the far meeting is now within 90 days
    html = client.get("/c/x/calendar").get_data(as_text=True)
    assert "Soon" in html and "Far ahead" in html
    at(now + timedelta(hours=14))  # the soon one began more than 12 hours ago
    html = client.get("/c/x/calendar").get_data(as_text=True)
    assert "Soon" not in html and "Far ahead" in html
