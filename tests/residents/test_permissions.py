"""Every rule across communities and sub-districts."""
import pytest

from portal.auth import permissions as can
from portal.errors import NotAllowed
from portal.residents import services
from tests.residents import gen_residency


def test_a_committee_member_verifies_only_in_their_own_community(world):
    assert can.can_verify_residents(world.member_x, world.x)
    assert not can.can_verify_residents(world.member_x, world.y)
    assert not can.can_verify_residents(world.member_x, world.z)
    claim_y = services.claim_unit(world.resident, world.hy, community=world.y)
    with pytest.raises(NotAllowed):
        services.verify_claim(world.member_x, claim_y)
    with pytest.raises(NotAllowed):
        services.reject_claim(world.member_x, claim_y, "no")
    with pytest.raises(NotAllowed):
        services.end_residency(world.member_x, claim_y)
    with pytest.raises(NotAllowed):
        services.register_on_behalf(world.member_x, world.y, display_name="A", phone="13800000097",
                                    household=world.hy)
    assert claim_y.status == "pending"


def test_property_staff_cannot_verify_residents(world):
    claim = services.claim_unit(world.resident, world.hx, community=world.x)
    assert not can.can_verify_residents(world.property_x, world.x)
    with pytest.raises(NotAllowed):
        services.verify_claim(world.property_x, claim)


def test_officials_read_their_own_sub_district_and_no_other(world):
    assert can.can_view_residents(world.official_a, world.x)
    assert can.can_view_residents(world.official_a, world.y)
    assert not can.can_view_residents(world.official_a, world.z)
    assert can.can_view_residents(world.official_b, world.z)
    assert not can.can_view_residents(world.official_b, world.x)
    assert not can.can_verify_residents(world.official_a, world.x)


def test_departments_and_property_staff_do_not_read_residents(world):
    assert not can.can_view_residents(world.department_a, world.x)
    assert not can.can_view_residents(world.property_x, world.x)


def test_a_committee_member_of_x_cannot_see_full_phones_of_residents_of_y(world):
    gen_residency(world.resident, household=world.hy)
    assert not can.can_see_full_phone(world.member_x, world.resident)
    assert can.can_see_full_phone(world.member_y, world.resident)


def test_a_resident_sees_only_their_own_claims(world):
    mine = gen_residency(world.resident, household=world.hx, status="pending")
    theirs = gen_residency(world.stranger, household=world.hx2, status="pending")
    assert can.can_see_residency(world.resident, mine)
    assert not can.can_see_residency(world.resident, theirs)
    assert not can.can_view_residents(world.resident, world.x)
    assert not can.can_end_residency(world.resident, theirs)


def test_acting_for_needs_a_shared_community_and_consent(world):
    person, _r = services.register_on_behalf(world.member_x, world.x, display_name="Grandma",
                                             phone="13800000099", household=world.hx)
    assert can.can_act_for(world.member_x, person)
    assert not can.can_act_for(world.member_y, person)
    assert not can.can_act_for(world.property_x, person)
    assert not can.can_act_for(world.official_a, person)
    assert not can.can_act_for(world.member_x, world.member_x)


def test_chairs_manage_their_own_organization_only(world):
    assert can.can_manage_members(world.chair_x, world.rc_x)
    assert not can.can_manage_members(world.chair_x, world.rc_y)
    assert not can.can_manage_members(world.member_x, world.rc_x)
    assert can.can_manage_members(world.admin, world.rc_y)
    assert can.can_manage_organizations(world.admin)
    assert not can.can_manage_organizations(world.chair_x)
