"""The meeting pages (portal/committees/views.py): schedule, agenda picker (htmx and without JS), attendance
and quorum, minutes (draft, publish, correction), decisions — each refusal a message or 403/404, never a 500.

These live in tests/meetings/ (not tests/committees/) because they use the votes world, whose `world` fixture
clashes with tests/committees/conftest.py."""
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from portal.clock import utcnow
from portal.committees.models import AgendaItem, Attendance, Decision, Meeting, MinutesVersion
from portal.extensions import db
from tests.committees.meetings_helpers import gen_held_meeting, gen_meeting
from tests.issues import gen_issue
from tests.proposals import gen_in_deliberation
from tests.residents import post


def _url(meeting, tail=""):
    return f"/o/{meeting.organization_id}/meetings/{meeting.id}{tail}"


def _local(dt):
    return dt.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def test_the_organization_page_lists_meetings_and_the_schedule_link_for_members_only(client, auth, world):
    public = gen_meeting(world, title="Public meeting on the lift")
    private = gen_meeting(world, title="Closed budget meeting", is_public=False)
    db.session.commit()
    html = client.get(f"/o/{world.hoa_x.id}").get_data(as_text=True)
    assert public.title in html and private.title not in html
    assert "Schedule a meeting" not in html and "13900000050" not in html
    assert "Open actions" in html
    auth.login(world.hoa_member)
    html = client.get(f"/o/{world.hoa_x.id}").get_data(as_text=True)
    assert private.title in html and "Schedule a meeting" in html


def test_a_chair_schedules_a_meeting_in_the_community_zone(client, auth, world):
    auth.login(world.hoa_chair)
    assert client.get(f"/o/{world.hoa_x.id}/meetings/new").status_code == 200
    starts = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    response = post(client, f"/o/{world.hoa_x.id}/meetings/new",
                    {"title": "业委会例会", "starts_at": _local(starts), "place": "社区活动室", "is_public": "y",
                     "agenda": "电梯维修\n物业费"})
    assert response.status_code == 302
    meeting = db.session.scalar(db.select(Meeting).where(Meeting.title == "业委会例会"))
    assert response.headers["Location"].endswith(_url(meeting))
    assert meeting.starts_at == starts.replace(tzinfo=UTC) and meeting.is_public
    assert [i.title for i in meeting.agenda] == ["电梯维修", "物业费"]
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert "电梯维修" in html and f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print" in html


def test_scheduling_in_the_past_keeps_the_typing_and_writes_nothing(client, auth, world):
    auth.login(world.hoa_chair)
    past = utcnow() - timedelta(days=1)
    response = post(client, f"/o/{world.hoa_x.id}/meetings/new",
                    {"title": "Too late", "starts_at": _local(past), "place": "Room"})
    assert response.status_code == 200
    assert 'value="Too late"' in response.get_data(as_text=True)
    assert 'class="error' in response.get_data(as_text=True)
    response = post(client, f"/o/{world.hoa_x.id}/meetings/new",
                    {"title": "No time", "starts_at": "tomorrow-ish", "place": "Room"})
    assert response.status_code == 200 and "2026-12-01 19:30" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Meeting)) == 0


def test_outsiders_cannot_schedule_or_run_a_meeting(client, auth, world):
    meeting = gen_meeting(world)
    db.session.commit()
    auth.login(world.neighbour)
    assert client.get(f"/o/{world.hoa_x.id}/meetings/new").status_code == 403
    assert post(client, f"/o/{world.hoa_x.id}/meetings/new", {"title": "x"}).status_code == 403
    assert post(client, _url(meeting, "/attendance"), {f"status-{world.hoa_chair.id}": "present"}).status_code == 403
    assert post(client, _url(meeting, "/agenda"), {"title": "Mine"}).status_code == 403
    assert client.get(_url(meeting, "/agenda/search?q=lift")).status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(Attendance)) == 0


def test_a_members_only_meeting_is_hidden_and_bad_ids_are_404(client, auth, world):
    private = gen_meeting(world, is_public=False)
    db.session.commit()
    assert client.get(_url(private)).status_code == 302  # sign in first
    auth.login(world.neighbour)
    assert client.get(_url(private)).status_code in (403, 404)
    assert client.get(f"/o/{world.rc_x.id}/meetings/{private.id}").status_code == 404
    assert client.get(f"/o/{world.hoa_x.id}/meetings/99999999999").status_code == 404
    assert client.get(f"/o/{world.hoa_x.id}/meetings/{private.id + 100}").status_code == 404


def test_the_agenda_picker_finds_proposals_and_issues_with_and_without_htmx(client, auth, world):
    proposal = gen_in_deliberation(world)
    issue = gen_issue(world, title="Lift stuck on floor 3")
    meeting = gen_meeting(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    partial = client.get(_url(meeting, "/agenda/search?q=lift"), headers={"HX-Request": "true"})
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html
    assert proposal.title in html and issue.title in html
    page = client.get(_url(meeting, "?q=lift")).get_data(as_text=True)  # the no-JS search reloads the page
    assert "<html" in page and issue.title in page and 'name="subject_id"' in page
    response = post(client, _url(meeting, "/agenda"), {"kind": "issue", "subject_id": str(issue.id),
                                                       "title": issue.title})
    assert response.status_code == 302
    item = db.session.scalar(db.select(AgendaItem).where(AgendaItem.meeting_id == meeting.id,
                                                         AgendaItem.issue_id == issue.id))
    assert item is not None
    assert post(client, _url(meeting, "/agenda"), {"kind": "issue", "subject_id": "987654"}).status_code == 404
    item_id = item.id
    assert post(client, _url(meeting, f"/agenda/{item_id}/remove")).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(db.select(AgendaItem).where(AgendaItem.id == item_id)) is None


def test_an_agenda_item_from_another_community_is_refused_with_a_message(client, auth, world):
    other = gen_issue(world, reporter=world.resident_y, community=world.y, title="Nanhu gate broken")
    meeting = gen_meeting(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    response = post(client, _url(meeting, "/agenda"), {"kind": "issue", "subject_id": str(other.id)})
    assert response.status_code == 200 and 'class="error' in response.get_data(as_text=True)
    assert not db.session.scalars(db.select(AgendaItem).where(AgendaItem.issue_id == other.id)).all()


def test_attendance_shows_the_quorum_and_refuses_non_members(client, auth, world):
    meeting = gen_meeting(world, now=utcnow() - timedelta(days=2), when=utcnow() - timedelta(hours=2))
    db.session.commit()
    auth.login(world.hoa_chair)
    response = post(client, _url(meeting, "/attendance"),
                    {f"status-{world.hoa_chair.id}": "present", f"status-{world.hoa_member.id}": "present",
                     f"status-{world.hoa_member2.id}": "excused"})
    assert response.status_code == 302
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert "Quorum met" in html and "2 of 3 members present" in html
    response = post(client, _url(meeting, "/attendance"), {f"status-{world.neighbour.id}": "present"})
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert 'class="error' in response.get_data(as_text=True)
    assert db.session.scalar(db.select(Attendance).where(Attendance.user_id == world.neighbour.id)) is None


def test_minutes_are_drafted_published_and_corrected_as_a_new_visible_version(client, auth, world):
    meeting = gen_held_meeting(world, agenda=[("电梯维修", None, None)])
    db.session.commit()
    item = meeting.agenda[0]
    auth.login(world.hoa_chair)
    assert post(client, _url(meeting, "/minutes"), {f"minutes-{item.id}": "**同意**维修电梯",
                                                    "minutes-general": "会议按时召开"}).status_code == 302
    assert "Approve and publish" in client.get(_url(meeting)).get_data(as_text=True)
    auth.logout()
    assert "会议按时召开" not in client.get(_url(meeting)).get_data(as_text=True)  # a draft is not public
    auth.login(world.hoa_member)
    assert post(client, _url(meeting, "/minutes/publish")).status_code == 302
    # A correction needs a note; without one nothing is written and the typing is kept.
    response = post(client, _url(meeting, "/minutes"), {f"minutes-{item.id}": "同意维修电梯（预算18万元）"})
    assert response.status_code == 200 and "预算18万元" in response.get_data(as_text=True)
    assert post(client, _url(meeting, "/minutes"), {f"minutes-{item.id}": "同意维修电梯（预算18万元）",
                                                    "correction_note": "补充预算"}).status_code == 302
    assert post(client, _url(meeting, "/minutes/publish")).status_code == 302
    auth.logout()
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert "<strong>同意</strong>维修电梯" in html and "预算18万元" in html and "补充预算" in html
    assert "Version 1" in html and "Version 2" in html
    versions = db.session.scalars(db.select(MinutesVersion).where(MinutesVersion.meeting_id == meeting.id)).all()
    assert sorted(v.status for v in versions) == ["published", "published"]


def test_a_stranger_cannot_publish_minutes(client, auth, world):
    meeting = gen_held_meeting(world)
    db.session.commit()
    auth.login(world.neighbour)
    assert post(client, _url(meeting, "/minutes"), {"minutes-general": "x"}).status_code == 403
    assert post(client, _url(meeting, "/minutes/publish")).status_code == 403


def test_a_decision_to_open_a_ballot_hands_over_to_the_votes_area(client, auth, world):
    proposal = gen_in_deliberation(world)
    meeting = gen_held_meeting(world, agenda=[(proposal.title, proposal, None)])
    db.session.commit()
    item = meeting.agenda[0]
    auth.login(world.hoa_chair)
    response = post(client, _url(meeting, "/decisions"), {"text": "同意提交业主表决", "follow_up": "open_ballot",
                                                          "agenda_item": str(item.id)})
    decision = db.session.scalar(db.select(Decision).where(Decision.meeting_id == meeting.id))
    assert decision is not None and decision.follow_up == "open_ballot"
    location = response.headers["Location"]
    assert f"/proposals/{proposal.id}/ballots/new" in location and f"decision={decision.id}" in location
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert f'id="decision-{decision.id}"' in html and "同意提交业主表决" in html


def test_a_decision_with_an_empty_text_or_a_foreign_item_is_refused(client, auth, world):
    meeting = gen_held_meeting(world)
    other = gen_held_meeting(world, agenda=[("Other item", None, None)])
    db.session.commit()
    auth.login(world.hoa_chair)
    response = post(client, _url(meeting, "/decisions"), {"text": "  ", "follow_up": "none"})
    assert response.status_code == 200 and 'class="error' in response.get_data(as_text=True)
    response = post(client, _url(meeting, "/decisions"), {"text": "x", "follow_up": "none",
                                                          "agenda_item": str(other.agenda[0].id)})
    assert response.status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(Decision)) == 0


def test_a_cancelled_meeting_says_why(client, auth, world):
    meeting = gen_meeting(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    assert post(client, _url(meeting, "/cancel"), {"reason": "主任出差"}).status_code == 302
    html = client.get(_url(meeting)).get_data(as_text=True)
    assert "Cancelled" in html and "主任出差" in html
