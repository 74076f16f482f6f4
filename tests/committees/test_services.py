from datetime import date, timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.committees import services
from portal.committees.models import OrgMembership
from portal.errors import DomainError, NotAllowed
from portal.extensions import db

TODAY = date.today()


def test_a_chair_adds_a_member_of_their_own_organization(world):
    m = services.add_member(world.chair_x, world.rc_x, world.resident, "vice_chair", TODAY)
    assert m.is_current() and m.title == "vice_chair"
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "membership.added"))
    assert entry.actor_id == world.chair_x.id and entry.subject_user_id == world.resident.id


def test_a_plain_member_cannot_change_members(world):
    with pytest.raises(NotAllowed):
        services.add_member(world.member_x, world.rc_x, world.resident, "member", TODAY)
    membership = db.session.scalar(db.select(OrgMembership).where(OrgMembership.user_id == world.chair_x.id))
    with pytest.raises(NotAllowed):
        services.end_membership(world.member_x, membership, TODAY)
    assert membership.end_date is None


def test_a_chair_cannot_change_another_organization(world):
    with pytest.raises(NotAllowed):
        services.add_member(world.chair_x, world.rc_y, world.resident, "member", TODAY)


def test_an_admin_manages_any_membership(world):
    m = services.add_member(world.admin, world.rc_z, world.resident, "member", TODAY)
    services.end_membership(world.admin, m, TODAY)
    assert m.end_date == TODAY


def test_ending_a_membership_before_it_started_is_refused(world):
    m = services.add_member(world.chair_x, world.rc_x, world.resident, "member", TODAY)
    with pytest.raises(DomainError) as error:
        services.end_membership(world.chair_x, m, TODAY - timedelta(days=1))
    assert error.value.field == "end_date"
    assert "cannot end before it starts" in str(error.value.message)
    assert m.end_date is None


def test_ending_a_membership_sets_its_end_date_and_keeps_the_row(world):
    m = services.add_member(world.chair_x, world.rc_x, world.resident, "member", TODAY - timedelta(days=10))
    services.end_membership(world.chair_x, m, TODAY - timedelta(days=1))
    db.session.flush()
    assert db.session.get(OrgMembership, m.id).end_date == TODAY - timedelta(days=1)
    assert m in world.rc_x.past_memberships() and m not in world.rc_x.current_memberships()
    from portal.auth import roles
    assert not roles.is_committee_member(world.resident, world.x)


def test_a_person_is_not_added_twice(world):
    with pytest.raises(DomainError) as error:
        services.add_member(world.chair_x, world.rc_x, world.member_x, "member", TODAY)
    assert error.value.field == "login"


def test_adding_an_unknown_account_is_refused(world):
    with pytest.raises(DomainError) as error:
        services.add_member(world.chair_x, world.rc_x, None, "member", TODAY)
    assert error.value.field == "login"


def test_admins_create_organizations_in_the_right_kind_of_place(world):
    org = services.create_organization(world.admin, kind="homeowners_committee", name="X HOA", community=world.x)
    assert org.community_id == world.x.id and org.sub_district_id is None
    dept = services.create_organization(world.admin, kind="department", name="Housing", sub_district=world.sd_a)
    assert dept.sub_district_id == world.sd_a.id
    with pytest.raises(DomainError) as error:
        services.create_organization(world.admin, kind="department", name="Lost", community=world.x)
    assert error.value.field == "sub_district"
    with pytest.raises(DomainError) as error:
        services.create_organization(world.admin, kind="property_company", name="", community=world.x)
    assert error.value.field == "name"
    with pytest.raises(NotAllowed):
        services.create_organization(world.chair_x, kind="homeowners_committee", name="Mine", community=world.x)


def test_committee_members_of_a_community_are_its_current_committee_people(world):
    services.add_member(world.chair_x, world.rc_x, world.resident, "member", TODAY + timedelta(days=5))
    people = services.committee_members(world.x)
    assert set(people) == {world.chair_x, world.member_x}
