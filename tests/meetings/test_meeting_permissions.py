"""The meetings and notices permission rules, role by role, and the services refusing whoever they refuse."""
from datetime import timedelta

import pytest

from portal.auth import permissions
from portal.clock import utcnow
from portal.committees import meetings
from portal.errors import NotAllowed
from portal.extensions import db
from tests.committees.meetings_helpers import gen_held_meeting, gen_meeting
from tests.factories import gen_membership, gen_user

ROLES = ("hoa_chair", "hoa_member", "chair_x", "member_x", "member_y", "property_x", "official_a", "admin",
         "reporter", "stranger")
MEMBERS_OF_HOA = {"hoa_chair", "hoa_member"}


@pytest.mark.parametrize("role", ROLES)
def test_who_schedules_and_manages_hoa_meetings(world, role):
    person = getattr(world, role)
    meeting = gen_meeting(world)
    expected = role in MEMBERS_OF_HOA
    assert permissions.can_schedule_meeting(person, world.hoa_x) is expected
    assert permissions.can_manage_meeting(person, meeting) is expected
    if not expected:
        with pytest.raises(NotAllowed):
            meetings.schedule_meeting(person, world.hoa_x, title="x", starts_at=utcnow() + timedelta(days=1),
                                      place="room")
        for step in (lambda: meetings.add_agenda_item(person, meeting, title="x"),
                     lambda: meetings.cancel_meeting(person, meeting, "x"),
                     lambda: meetings.save_minutes(person, meeting, {None: "x"}),
                     lambda: meetings.publish_minutes(person, meeting),
                     lambda: meetings.record_decision(person, meeting, text="x", follow_up="none")):
            with pytest.raises(NotAllowed):
                step()
        assert meeting.status == "scheduled"


def test_property_company_members_schedule_its_meetings(world):
    assert permissions.can_schedule_meeting(world.property_x, world.pc_x)
    assert not permissions.can_schedule_meeting(world.hoa_chair, world.pc_x)


def test_nobody_schedules_for_a_sub_district_organization(world):
    assert not permissions.can_schedule_meeting(world.official_a, world.office_a)
    assert not permissions.can_schedule_meeting(None, world.hoa_x)


def test_a_former_member_manages_no_more(world):
    former = gen_user(display_name="前委员")
    now = utcnow()
    gen_membership(former, world.hoa_x, start=(now - timedelta(days=400)).date(), end=(now - timedelta(days=2)).date())
    meeting = gen_meeting(world)
    assert not permissions.can_manage_meeting(former, meeting)
    assert not permissions.can_schedule_meeting(former, world.hoa_x)


@pytest.mark.parametrize("role, public, private", [
    ("hoa_member", True, True), ("admin", True, True), ("chair_x", True, False), ("reporter", True, False),
    ("stranger", True, False), ("member_y", True, False), ("official_a", True, False),
])
def test_who_sees_meetings(world, role, public, private):
    open_meeting = gen_meeting(world)
    closed = gen_meeting(world, is_public=False)
    person = getattr(world, role)
    assert permissions.can_view_meeting(person, open_meeting) is public
    assert permissions.can_view_meeting(person, closed) is private
    assert permissions.can_view_meeting(None, open_meeting) and not permissions.can_view_meeting(None, closed)


def test_public_meeting_of_a_members_only_community(world):
    world.x.members_only = True
    meeting = gen_meeting(world)
    assert not permissions.can_view_meeting(None, meeting)
    assert not permissions.can_view_meeting(world.stranger, meeting)
    assert permissions.can_view_meeting(world.reporter, meeting)


def test_managing_is_checked_at_the_time_of_acting(world):
    meeting = gen_held_meeting(world)
    membership = next(m for m in world.hoa_x.memberships if m.user_id == world.hoa_member.id)
    membership.end_date = (utcnow() - timedelta(days=1)).date()
    db.session.flush()
    with pytest.raises(NotAllowed):
        meetings.record_attendance(world.hoa_member, meeting, {world.hoa_chair.id: "present"})


# --- notices ---

def _notice(world, *, starts=None, ends=None, organization=None, status="open"):
    from portal.notices.models import Notice
    from tests.votes import gen_ballot
    now = utcnow()
    ballot = gen_ballot(world)
    notice = Notice(proposal=ballot.proposal, community=world.x, ballot=ballot,
                    organization=organization or world.rc_x, outcome="passed", statement="通过",
                    how_to_object="在线提交", starts_at=starts or now - timedelta(days=1),
                    ends_at=ends or now + timedelta(days=6), status=status)
    db.session.add(notice)
    db.session.flush()
    return notice


@pytest.mark.parametrize("role, expected", [
    ("reporter", True), ("neighbour", True), ("resident_y", False), ("stranger", False), ("pending", False),
    ("hoa_chair", False), ("admin", False),
])
def test_who_objects_during_the_period(world, role, expected):
    notice = _notice(world)
    assert permissions.can_object(getattr(world, role), notice) is expected
    assert not permissions.can_object(None, notice)


def test_no_objection_outside_the_period(world):
    now = utcnow()
    ended = _notice(world, starts=now - timedelta(days=8), ends=now - timedelta(days=1))
    assert not permissions.can_object(world.reporter, ended)
    future = _notice(world, starts=now + timedelta(days=1), ends=now + timedelta(days=8))
    assert not permissions.can_object(world.reporter, future)


@pytest.mark.parametrize("role, expected", [
    ("chair_x", True), ("member_x", True), ("hoa_member", True), ("property_x", False), ("reporter", False),
    ("member_y", False), ("admin", False), ("stranger", False),
])
def test_who_answers_objections(world, role, expected):
    notice = _notice(world)
    assert permissions.can_answer_objection(getattr(world, role), notice) is expected


def test_property_company_answers_its_own_notice(world):
    notice = _notice(world, organization=world.pc_x)
    assert permissions.can_answer_objection(world.property_x, notice)
