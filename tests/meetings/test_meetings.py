"""The meetings services (portal.committees.meetings): scheduling, agenda, attendance and quorum, versioned
minutes, decisions and their follow-ups, and the reads for the pages and the calendar."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.clock import utcnow
from portal.committees import meetings
from portal.committees.models import AgendaItem, Meeting, MinutesVersion
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notifications.models import Notification
from tests.committees.meetings_helpers import gen_held_meeting, gen_meeting
from tests.factories import gen_membership, gen_user
from tests.issues import gen_issue
from tests.proposals import gen_in_deliberation, gen_proposal


def _events(user, event):
    return db.session.scalars(db.select(Notification).where(Notification.recipient_id == user.id,
                                                            Notification.event == event)).all()


# --- scheduling ------------------------------------------------------------------------------------------

def test_schedule_with_agenda_notifies_the_other_members(world):
    proposal = gen_in_deliberation(world)
    issue = gen_issue(world)
    meeting = gen_meeting(world, agenda=[("", proposal, None), ("物业费调整 Fees", None, None),
                                         ("", None, issue)], is_public=False, ends_at=utcnow() + timedelta(days=3))
    db.session.commit()
    assert meeting.status == "scheduled" and meeting.community_id == world.x.id and not meeting.is_public
    assert [(i.position, i.title) for i in meeting.agenda] == [
        (1, proposal.title), (2, "物业费调整 Fees"), (3, issue.title)]
    assert meeting.agenda[0].proposal_id == proposal.id and meeting.agenda[2].issue_id == issue.id
    assert _events(world.hoa_member, "meetings.scheduled") and _events(world.hoa_member2, "meetings.scheduled")
    assert not _events(world.hoa_chair, "meetings.scheduled")
    assert not _events(world.chair_x, "meetings.scheduled")


def test_online_meeting_of_the_property_company(world):
    meeting = gen_meeting(world, organization=world.pc_x, actor=world.property_x,
                          online_url="https://meeting.example.org/room/1")
    assert meeting.online_url == "https://meeting.example.org/room/1" and meeting.place is None


def test_meeting_in_the_past_is_refused(world):
    now = utcnow()
    with pytest.raises(DomainError) as caught:
        gen_meeting(world, now=now, when=now - timedelta(hours=1))
    assert caught.value.field == "starts_at"
    assert db.session.scalar(db.select(db.func.count(Meeting.id))) == 0


@pytest.mark.parametrize("kw, field", [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"place": "", "online_url": ""}, "place"),
    ({"online_url": "javascript:alert(1)"}, "online_url"),
    ({"online_url": "ftp://example.org/x"}, "online_url"),
    ({"online_url": "https://"}, "online_url"),
    ({"starts_at_naive": True}, "starts_at"),
    ({"ends_before": True}, "ends_at"),
])
def test_bad_scheduling_input_is_refused_with_nothing_written(world, kw, field):
    now = utcnow()
    when = now + timedelta(days=1)
    if kw.pop("starts_at_naive", False):
        when = when.replace(tzinfo=None)
    if kw.pop("ends_before", False):
        kw["ends_at"] = when - timedelta(minutes=5)
    with pytest.raises(DomainError) as caught:
        gen_meeting(world, now=now, when=when, **kw)
    assert caught.value.field == field
    assert db.session.scalar(db.select(db.func.count(Meeting.id))) == 0


def test_agenda_item_from_another_community_is_refused(world):
    other = gen_issue(world, reporter=world.resident_y, community=world.y, title="Leak in Nanhu")
    with pytest.raises(DomainError) as caught:
        gen_meeting(world, agenda=[("", None, other)])
    assert caught.value.field == "agenda"
    assert db.session.scalar(db.select(db.func.count(Meeting.id))) == 0
    meeting = gen_meeting(world)
    with pytest.raises(DomainError):
        meetings.add_agenda_item(world.hoa_chair, meeting, issue=other)
    foreign = gen_proposal(world, author=world.resident_y, community=world.y) \
        if _can_propose_in_y(world) else None
    if foreign is not None:
        with pytest.raises(DomainError):
            meetings.add_agenda_item(world.hoa_chair, meeting, proposal=foreign)
    assert meeting.agenda == []


def _can_propose_in_y(world):
    from portal.auth import permissions
    return permissions.can_create_proposal(world.resident_y, world.y)


def test_draft_proposal_is_not_an_agenda_item(world):
    draft = gen_proposal(world, publish=False)
    with pytest.raises(DomainError):
        gen_meeting(world, agenda=[("", draft, None)])


def test_add_and_remove_agenda_items(world):
    meeting = gen_meeting(world)
    proposal = gen_in_deliberation(world)
    first = meetings.add_agenda_item(world.hoa_member, meeting, proposal=proposal)
    second = meetings.add_agenda_item(world.hoa_member, meeting, title="其他事项 Other business")
    assert (first.position, second.position) == (1, 2) and first.title == proposal.title
    with pytest.raises(DomainError):
        meetings.add_agenda_item(world.hoa_member, meeting, proposal=proposal)  # twice
    with pytest.raises(DomainError):
        meetings.add_agenda_item(world.hoa_member, meeting, title="   ")
    meetings.remove_agenda_item(world.hoa_chair, meeting, first)
    assert [i.id for i in meeting.agenda] == [second.id]
    third = meetings.add_agenda_item(world.hoa_member, meeting, title="第三项")
    assert third.position == 3


def test_agenda_candidates_search_proposals_and_open_issues_of_the_community(world):
    proposal = gen_in_deliberation(world, title="5号楼电梯更换 Replace the lift")
    draft = gen_proposal(world, publish=False, title="电梯草稿 lift draft")
    issue = gen_issue(world, title="电梯坏了 lift broken")
    gen_issue(world, reporter=world.resident_y, community=world.y, title="电梯 lift in Nanhu")
    meeting = gen_meeting(world)
    found = meetings.agenda_candidates(meeting, "lift")
    assert ("proposal", proposal) in found and ("issue", issue) in found
    assert all(obj.community_id == world.x.id for _, obj in found)
    assert ("proposal", draft) not in found
    assert meetings.agenda_candidates(meeting, "电梯")
    assert meetings.agenda_candidates(meeting, "") == [] and meetings.agenda_candidates(meeting, "the") == []
    meetings.add_agenda_item(world.hoa_chair, meeting, proposal=proposal)
    assert ("proposal", proposal) not in meetings.agenda_candidates(meeting, "lift")


def test_cancel(world):
    meeting = gen_meeting(world)
    with pytest.raises(DomainError) as caught:
        meetings.cancel_meeting(world.hoa_chair, meeting, "  ")
    assert caught.value.field == "reason"
    meetings.cancel_meeting(world.hoa_member, meeting, "主任出差 The chair is away")
    assert meeting.status == "cancelled" and meeting.cancelled_reason == "主任出差 The chair is away"
    assert _events(world.hoa_chair, "meetings.cancelled")
    with pytest.raises(DomainError):
        meetings.cancel_meeting(world.hoa_member, meeting, "again")
    with pytest.raises(DomainError):
        meetings.add_agenda_item(world.hoa_member, meeting, title="late")
    with pytest.raises(DomainError):
        meetings.record_attendance(world.hoa_chair, meeting, {world.hoa_chair.id: "present"},
                                   now=meeting.starts_at + timedelta(minutes=5))


# --- attendance and quorum -------------------------------------------------------------------------------

def test_attendance_marks_the_meeting_held_and_shows_the_quorum(world):
    meeting = gen_held_meeting(world, present=[world.hoa_chair, world.hoa_member])
    assert meeting.status == "held"
    assert meetings.quorum(meeting) == (2, 3, True)
    meetings.record_attendance(world.hoa_member, meeting, {world.hoa_member.id: "excused"})
    assert meetings.attendance_of(meeting)[world.hoa_member.id] == "excused"
    assert meetings.quorum(meeting) == (1, 3, False)


def test_exactly_half_present_is_not_a_quorum(world):
    fourth = gen_user(display_name="业委会委员 钱七")
    gen_membership(fourth, world.hoa_x, title="member")
    meeting = gen_held_meeting(world, present=[world.hoa_chair, world.hoa_member])
    assert meetings.quorum(meeting) == (2, 4, False)
    meetings.record_attendance(world.hoa_chair, meeting, {fourth.id: "present"})
    assert meetings.quorum(meeting) == (3, 4, True)


def test_members_are_counted_on_the_meeting_date(world):
    now = utcnow()
    later = gen_user(display_name="后来的委员")
    gen_membership(later, world.hoa_x, start=(now + timedelta(days=30)).date())
    left = gen_user(display_name="已离任委员")
    gen_membership(left, world.hoa_x, start=(now - timedelta(days=400)).date(),
                   end=(now - timedelta(days=100)).date())
    meeting = gen_held_meeting(world)
    assert meetings.quorum(meeting) == (3, 3, True)
    with pytest.raises(DomainError) as caught:
        meetings.record_attendance(world.hoa_chair, meeting, {later.id: "present"})
    assert caught.value.field == "attendance"
    with pytest.raises(DomainError):
        meetings.record_attendance(world.hoa_chair, meeting, {left.id: "present"})


@pytest.mark.parametrize("statuses", [
    {"abc": "present"}, {0: "present"}, {"me": "late"}, {},
])
def test_bad_attendance_is_refused(world, statuses):
    meeting = gen_held_meeting(world)
    statuses = {world.hoa_chair.id if k == "me" else k: v for k, v in statuses.items()}
    before = meetings.attendance_of(meeting)
    with pytest.raises(DomainError):
        meetings.record_attendance(world.hoa_chair, meeting, statuses)
    assert meetings.attendance_of(meeting) == before


def test_attendance_of_a_non_member_is_refused(world):
    meeting = gen_held_meeting(world)
    with pytest.raises(DomainError):
        meetings.record_attendance(world.hoa_chair, meeting, {world.chair_x.id: "present"})


def test_non_member_recording_attendance_is_refused(world):
    meeting = gen_held_meeting(world)
    for outsider in (world.chair_x, world.reporter, world.admin, world.official_a, world.property_x):
        with pytest.raises(NotAllowed):
            meetings.record_attendance(outsider, meeting, {world.hoa_chair.id: "absent"})
    assert meetings.quorum(meeting) == (3, 3, True)


def test_attendance_before_the_meeting_is_refused(world):
    meeting = gen_meeting(world)
    with pytest.raises(DomainError):
        meetings.record_attendance(world.hoa_chair, meeting, {world.hoa_chair.id: "present"})
    assert meeting.status == "scheduled"


# --- minutes ---------------------------------------------------------------------------------------------

def _held_with_agenda(world):
    proposal = gen_in_deliberation(world)
    meeting = gen_held_meeting(world, agenda=[("", proposal, None), ("其他 Other", None, None)])
    return meeting


def test_minutes_are_drafted_edited_and_published_sanitized(world):
    meeting = _held_with_agenda(world)
    first, second = meeting.agenda
    draft = meetings.save_minutes(world.hoa_member, meeting, {
        first.id: "同意提交业主表决。<script>alert(1)</script>", None: "**出席** 3 人"})
    assert draft.version == 1 and draft.status == "draft"
    assert [i.agenda_item_id for i in draft.items] == [None, first.id]
    assert "<script>" not in draft.items[1].body_html and "<strong>" in draft.items[0].body_html
    again = meetings.save_minutes(world.hoa_member2, meeting, {first.id: "同意。", str(second.id): "无"})
    assert again.id == draft.id and [i.agenda_item_id for i in again.items] == [first.id, second.id]
    published = meetings.publish_minutes(world.hoa_chair, meeting)
    assert published.status == "published" and published.published_by_id == world.hoa_chair.id
    assert _events(world.hoa_member, "meetings.minutes_published")
    db.session.commit()
    assert [v.version for v in meetings.published_minutes(meeting)] == [1]


def test_published_minutes_are_immutable_and_corrections_are_new_versions(world):
    meeting = _held_with_agenda(world)
    first = meeting.agenda[0]
    meetings.save_minutes(world.hoa_member, meeting, {first.id: "同意提交业主表决。"})
    v1 = meetings.publish_minutes(world.hoa_chair, meeting)
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        meetings.save_minutes(world.hoa_member, meeting, {first.id: "改了"})
    assert caught.value.field == "correction_note"
    with pytest.raises(DomainError) as caught:
        meetings.save_minutes(world.hoa_member, meeting, {first.id: "改了"}, "更正", version=1)
    assert caught.value.field == "minutes"
    with pytest.raises(DomainError):
        meetings.publish_minutes(world.hoa_chair, meeting)  # nothing to publish

    # Not even a direct change to the rows gets through.
    v1.items[0].body = "tampered"
    with pytest.raises(DomainError):
        db.session.flush()
    db.session.rollback()
    v1 = db.session.get(MinutesVersion, v1.id)
    v1.status = "draft"
    with pytest.raises(DomainError):
        db.session.flush()
    db.session.rollback()

    meeting = db.session.get(Meeting, meeting.id)
    v2 = meetings.save_minutes(world.hoa_member, meeting, {meeting.agenda[0].id: "同意提交业主表决（8票）。"},
                               "更正票数 Corrects the count")
    assert v2.version == 2 and v2.correction_note == "更正票数 Corrects the count" and v2.status == "draft"
    meetings.publish_minutes(world.hoa_member2, meeting)
    db.session.commit()
    versions = meetings.minutes_versions(meeting)
    assert [(v.version, v.status) for v in versions] == [(1, "published"), (2, "published")]
    assert versions[0].items[0].body == "同意提交业主表决。"


@pytest.mark.parametrize("items", [{}, {None: "   "}, {999999: "x"}, {"abc": "x"}, {None: "x" * 20001}])
def test_bad_minutes_are_refused(world, items):
    meeting = _held_with_agenda(world)
    with pytest.raises(DomainError):
        meetings.save_minutes(world.hoa_member, meeting, items)
    assert meetings.minutes_versions(meeting) == []


def test_minutes_of_another_meetings_agenda_item_are_refused(world):
    meeting = _held_with_agenda(world)
    other = _held_with_agenda(world)
    with pytest.raises(DomainError):
        meetings.save_minutes(world.hoa_member, meeting, {other.agenda[0].id: "x"})


# --- decisions -------------------------------------------------------------------------------------------

def test_decisions_of_each_follow_up(world):
    office_member = world.official_a
    meeting = _held_with_agenda(world)
    item = meeting.agenda[0]
    ballot_decision = meetings.record_decision(world.hoa_chair, meeting, text="提交业主表决", follow_up="open_ballot",
                                               agenda_item=item)
    action = meetings.record_decision(world.hoa_chair, meeting, text="物业公司两周内维修", follow_up="create_action")
    referral = meetings.record_decision(world.hoa_member, meeting, text="请街道协调停车问题",
                                        follow_up="refer_subdistrict")
    plain = meetings.record_decision(world.hoa_member, meeting, text="下次会议10月举行", follow_up="none")
    assert referral.referred_at is not None and action.referred_at is None
    assert _events(office_member, "meetings.referred")
    assert not _events(world.official_b, "meetings.referred")
    assert [d.id for d in meetings.decisions_of(meeting)] == [ballot_decision.id, action.id, referral.id, plain.id]


def test_open_ballot_decision_needs_a_proposal_in_consultation(world):
    meeting = _held_with_agenda(world)
    with pytest.raises(DomainError):
        meetings.record_decision(world.hoa_chair, meeting, text="表决", follow_up="open_ballot")
    with pytest.raises(DomainError):
        meetings.record_decision(world.hoa_chair, meeting, text="表决", follow_up="open_ballot",
                                 agenda_item=meeting.agenda[1])
    other = _held_with_agenda(world)
    with pytest.raises(DomainError):
        meetings.record_decision(world.hoa_chair, meeting, text="x", follow_up="none", agenda_item=other.agenda[0])
    with pytest.raises(DomainError):
        meetings.record_decision(world.hoa_chair, meeting, text="x", follow_up="later")
    with pytest.raises(DomainError):
        meetings.record_decision(world.hoa_chair, meeting, text="  ", follow_up="none")


def test_ballot_opened_from_a_decision_is_linked(world):
    from tests.votes import gen_ballot
    meeting = _held_with_agenda(world)
    item = meeting.agenda[0]
    decision = meetings.record_decision(world.hoa_chair, meeting, text="提交表决", follow_up="open_ballot",
                                        agenda_item=item)
    assert meetings.decision_for_ballot(world.chair_x, decision.id, item.proposal) is None  # not a member
    assert meetings.decision_for_ballot(world.hoa_chair, decision.id, item.proposal) is decision
    assert meetings.decision_for_ballot(world.hoa_chair, "x", item.proposal) is None
    ballot = gen_ballot(world, proposal=item.proposal)
    meetings.link_ballot(decision, ballot)
    assert decision.ballot_id == ballot.id
    assert meetings.decision_for_ballot(world.hoa_chair, decision.id, item.proposal) is None  # linked already
    unrelated = gen_ballot(world)
    with pytest.raises(DomainError):
        meetings.link_ballot(decision, unrelated)


def test_decision_before_the_meeting_is_refused(world):
    meeting = gen_meeting(world)
    with pytest.raises(DomainError):
        meetings.record_decision(world.hoa_chair, meeting, text="x", follow_up="none")


# --- reading ---------------------------------------------------------------------------------------------

def test_reads_hide_non_public_meetings_from_outsiders(world):
    public = gen_meeting(world, title="公开会议")
    private = gen_meeting(world, title="内部会议", is_public=False)
    db.session.commit()
    assert meetings.meeting_in(world.hoa_x, public.id) is public
    assert meetings.meeting_in(world.rc_x, public.id) is None
    assert meetings.meeting_in(world.hoa_x, "nope") is None and meetings.meeting_in(world.hoa_x, 2 ** 40) is None
    assert [m.id for m in meetings.community_meetings(world.x, None)] == [public.id]
    assert {m.id for m in meetings.community_meetings(world.x, world.hoa_member)} == {public.id, private.id}
    assert {m.id for m in meetings.community_meetings(world.x, world.admin)} == {public.id, private.id}
    assert [m.id for m in meetings.organization_meetings(world.hoa_x, world.reporter)] == [public.id]
    assert meetings.community_meetings(world.y, world.hoa_member) == []
    assert meetings.community_meetings(world.x, None, after=utcnow() + timedelta(days=5)) == []


def test_upcoming_events_hold_meetings_and_ballot_times(world):
    from tests.votes import gen_ballot
    now = utcnow()
    meeting = gen_meeting(world)
    private = gen_meeting(world, is_public=False)
    cancelled = gen_meeting(world)
    meetings.cancel_meeting(world.hoa_chair, cancelled, "取消")
    ballot = gen_ballot(world, now=now)
    events = meetings.upcoming_events(world.x, None, now - timedelta(hours=1), now + timedelta(days=30))
    kinds = [(e.kind, e.obj.id) for e in events]
    assert ("meeting", meeting.id) in kinds and ("meeting", private.id) not in kinds
    assert ("meeting", cancelled.id) not in kinds
    assert ("ballot_opens", ballot.id) in kinds and ("ballot_closes", ballot.id) in kinds
    assert [e.at for e in events] == sorted(e.at for e in events)
    mine = meetings.upcoming_events(world.x, world.hoa_member, now - timedelta(hours=1), now + timedelta(days=30))
    assert ("meeting", private.id) in [(e.kind, e.obj.id) for e in mine]


def test_meeting_times_round_trip_in_utc(world):
    when = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)
    meeting = gen_meeting(world, when=when)
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Meeting, meeting.id)
    assert again.starts_at == when and again.starts_at.tzinfo is not None
    assert meetings.meeting_day(again).isoformat() == "2030-05-06"
    assert db.session.scalar(db.select(db.func.count(AgendaItem.id))) == 0


# --- the hook in votes.new: a ballot opened from a decision is linked to it ----------------------------

def test_ballot_opened_from_the_decision_page_is_linked(client, auth, world):
    from portal.committees.models import Decision
    from portal.votes.models import Ballot
    from tests.residents import post
    from tests.votes.test_views import local_input
    meeting = _held_with_agenda(world)
    item = meeting.agenda[0]
    decision = meetings.record_decision(world.hoa_chair, meeting, text="提交表决", follow_up="open_ballot",
                                        agenda_item=item)
    db.session.commit()
    auth.login(world.hoa_chair)
    base = f"/c/x/proposals/{item.proposal_id}/ballots/new"
    assert client.get(f"{base}?decision={decision.id}").status_code == 200
    assert client.get(f"{base}?decision={decision.id}&method=committee").status_code == 200
    now = utcnow()
    response = post(client, f"{base}?method=committee", {
        "method": "committee", "question": "提交业主表决？", "organization": str(world.hoa_x.id),
        "opens_at": local_input(now), "closes_at": local_input(now + timedelta(days=3))})
    assert response.status_code == 302
    ballot = db.session.scalar(db.select(Ballot))
    db.session.expire_all()
    assert db.session.get(Decision, decision.id).ballot_id == ballot.id


def test_a_forged_decision_id_links_nothing(client, auth, world):
    from portal.committees.models import Decision
    from tests.residents import post
    from tests.votes.test_views import local_input
    meeting = _held_with_agenda(world)
    item = meeting.agenda[0]
    decision = meetings.record_decision(world.hoa_chair, meeting, text="提交表决", follow_up="open_ballot",
                                        agenda_item=item)
    db.session.commit()
    auth.login(world.chair_x)  # a committee member of x, not of the homeowners' committee
    base = f"/c/x/proposals/{item.proposal_id}/ballots/new"
    for bad in (str(decision.id), "abc", "99999999999999"):
        assert client.get(f"{base}?decision={bad}&method=committee").status_code == 200
    now = utcnow()
    response = post(client, f"{base}?method=committee&decision={decision.id}", {
        "method": "committee", "question": "提交？", "organization": str(world.rc_x.id),
        "opens_at": local_input(now), "closes_at": local_input(now + timedelta(days=3))})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Decision, decision.id).ballot_id is None
