"""Every named rule against every role, on community X of sub-district A (see tests.residents.build_world).

One table per rule: a role missing from a row's "yes" set must be refused. Cross-community and
cross-sub-district cases live beside the areas that use them; this table proves deny-by-default."""
import pytest
from flask_login import AnonymousUserMixin

from portal.auth import permissions as can
from portal.extensions import db
from tests.residents import build_world, gen_residency

ROLES = ("anonymous", "stranger", "resident", "member_x", "chair_x", "member_y", "property_x",
         "official_a", "official_b", "department_a", "admin")

# rule -> (what it is asked about, the roles allowed)
COMMUNITY_RULES = {
    "can_verify_residents": {"member_x", "chair_x"},
    "can_register_on_behalf": {"member_x", "chair_x"},
    "can_view_residents": {"member_x", "chair_x", "official_a", "admin"},
    "can_edit_register": {"member_x", "chair_x", "admin"},
    "can_view_register": {"member_x", "chair_x", "admin"},
    "can_import_register": {"member_x", "chair_x", "admin"},
    "can_edit_community": {"admin"},
    # X is made "members only" below: its people, the sub-district's officials and admins.
    "can_view_community": {"resident", "member_x", "chair_x", "property_x", "official_a", "admin"},
}
GLOBAL_RULES = {
    "can_manage_places": {"admin"},
    "can_manage_organizations": {"admin"},
    "can_read_audit_log": {"admin"},
}
ABOUT_THE_RESIDENT = {
    "can_see_full_phone": {"resident", "member_x", "chair_x", "admin"},
    "can_issue_reset_code": {"member_x", "chair_x", "admin"},
    "can_act_for": {"member_x", "chair_x"},
}


@pytest.fixture
def world(app):
    w = build_world()
    w.x.members_only = True
    residency = gen_residency(w.resident, household=w.hx, status="verified")
    residency.act_for_consent_at = residency.claimed_at
    w.anonymous = AnonymousUserMixin()
    db.session.commit()
    return w


def _cases(rules):
    return [(rule, role, role in allowed) for rule, allowed in rules.items() for role in ROLES]


@pytest.mark.parametrize("rule,role,expected", _cases(COMMUNITY_RULES))
def test_community_rules(world, rule, role, expected):
    assert getattr(can, rule)(getattr(world, role), world.x) is expected


@pytest.mark.parametrize("rule,role,expected", _cases(GLOBAL_RULES))
def test_portal_wide_rules(world, rule, role, expected):
    assert getattr(can, rule)(getattr(world, role)) is expected


@pytest.mark.parametrize("rule,role,expected", _cases(ABOUT_THE_RESIDENT))
def test_rules_about_a_resident_of_x(world, rule, role, expected):
    assert getattr(can, rule)(getattr(world, role), world.resident) is expected


@pytest.mark.parametrize("role,expected", [(r, r in {"chair_x", "admin"}) for r in ROLES])
def test_only_chairs_and_admins_manage_members(world, role, expected):
    assert can.can_manage_members(getattr(world, role), world.rc_x) is expected


def test_a_committee_member_cannot_issue_a_reset_code_for_an_administrator(world):
    gen_residency(world.admin, household=world.hx2, status="verified")
    db.session.commit()
    assert not can.can_issue_reset_code(world.member_x, world.admin)


def test_nobody_issues_a_reset_code_for_themself_or_acts_for_themself(world):
    assert not can.can_issue_reset_code(world.admin, world.admin)
    assert not can.can_act_for(world.member_x, world.member_x)


def test_a_deactivated_account_has_no_rights(world):
    world.admin.is_active_account = False
    assert not can.can_manage_places(world.admin)
    assert not can.can_view_residents(world.admin, world.x)
