"""Every named rule against every role, on community X of sub-district A (see tests.residents.build_world).

One table per rule: a role missing from a row's "yes" set must be refused. Cross-community and
cross-sub-district cases live beside the areas that use them; this table proves deny-by-default."""
from types import SimpleNamespace

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import IntegrityError

from portal.auth import permissions as can
from portal.extensions import db
from tests.factories import gen_membership, gen_organization, gen_user
from tests.residents import build_world, gen_residency

# The community organizations of Beijing's framework in X (and Y's service station): Party committee
# (party_x), service station (station_x, station_y), social organization (social_x), volunteer team
# (volunteer_x).
ROLES = ("anonymous", "stranger", "resident", "member_x", "chair_x", "member_y", "property_x",
         "official_a", "official_b", "department_a", "admin",
         "party_x", "station_x", "station_y", "social_x", "volunteer_x")

# rule -> (what it is asked about, the roles allowed)
COMMUNITY_RULES = {
    "can_verify_residents": {"member_x", "chair_x", "station_x"},
    "can_register_on_behalf": {"member_x", "chair_x", "station_x"},
    "can_view_residents": {"member_x", "chair_x", "station_x", "official_a", "admin"},
    "can_edit_register": {"member_x", "chair_x", "admin"},
    "can_view_register": {"member_x", "chair_x", "admin"},
    "can_import_register": {"member_x", "chair_x", "admin"},
    "can_edit_estates": {"member_x", "chair_x", "admin"},
    "can_decide_owner_duplicates": {"member_x", "chair_x", "admin"},
    "can_edit_community": {"admin"},
    # X is made "members only" below: its people, the sub-district's officials and admins.
    "can_view_community": {"resident", "member_x", "chair_x", "property_x", "official_a", "admin",
                           "party_x", "station_x", "social_x", "volunteer_x"},
    # Only committees and admins moderate, propose as a committee member, or set proposal rules.
    "can_moderate": {"member_x", "chair_x", "admin"},
    "can_manage_proposal_settings": {"member_x", "chair_x", "admin"},
    "can_create_proposal": {"resident", "member_x", "chair_x"},
    "can_create_action": {"member_x", "chair_x", "official_a", "admin"},
}
GLOBAL_RULES = {
    "can_manage_places": {"admin"},
    "can_manage_organizations": {"admin"},
    "can_read_audit_log": {"admin"},
}
ABOUT_THE_RESIDENT = {
    "can_see_full_phone": {"resident", "member_x", "chair_x", "station_x", "admin"},
    "can_issue_reset_code": {"member_x", "chair_x", "admin"},
    "can_act_for": {"member_x", "chair_x", "station_x"},
}
SIGNED_IN = set(ROLES) - {"anonymous"}
# rule -> (the object of X it is asked about, the roles allowed)
ABOUT_AN_OBJECT = {
    "can_move_to_deliberation": ("collecting", {"member_x", "chair_x", "admin", "party_x"}),
    "can_close_deliberation": ("deliberating", {"member_x", "chair_x", "admin"}),
    "can_open_ballot": ("deliberating", {"member_x", "chair_x"}),
    "can_view_meeting": ("closed_meeting", {"member_x", "chair_x", "admin", "party_x"}),
    "can_manage_meeting": ("closed_meeting", {"member_x", "chair_x"}),
    "can_update_action": ("social_action", {"member_x", "chair_x", "admin", "social_x"}),
    "can_volunteer": ("social_action", {"resident"}),
    "can_withdraw_volunteer": ("social_action", SIGNED_IN),
}


@pytest.fixture
def world(app):
    w = build_world()
    w.x.members_only = True
    residency = gen_residency(w.resident, household=w.hx, status="verified")
    residency.act_for_consent_at = residency.claimed_at
    w.anonymous = AnonymousUserMixin()
    for role, kind, community in (("party_x", "party_committee", w.x), ("station_x", "service_station", w.x),
                                  ("station_y", "service_station", w.y),
                                  ("social_x", "social_organization", w.x), ("volunteer_x", "volunteer_team", w.x)):
        person = gen_user(display_name=role)
        org = gen_organization(kind, community=community, name=f"{kind} of {community.slug}")
        gen_membership(person, org, title="member")
        setattr(w, role, person)
        setattr(w, f"{role}_org", org)
    from portal.committees.models import Meeting
    w.collecting = SimpleNamespace(status="collecting", community=w.x, comments_closed_at=None)
    w.deliberating = SimpleNamespace(status="deliberation", community=w.x, comments_closed_at=None)
    w.closed_meeting = Meeting(organization=w.rc_x, community_id=w.x.id, title="closed", is_public=False,
                               starts_at=residency.claimed_at, created_by_id=w.chair_x.id)
    w.closed_meeting.community = w.x
    w.social_action = SimpleNamespace(status="planned", community=w.x, responsible_org=w.social_x_org)
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


@pytest.mark.parametrize("rule,role,expected", [(rule, role, role in allowed)
                                                for rule, (_, allowed) in ABOUT_AN_OBJECT.items() for role in ROLES])
def test_rules_about_objects_of_x(world, rule, role, expected):
    obj = getattr(world, ABOUT_AN_OBJECT[rule][0])
    assert getattr(can, rule)(getattr(world, role), obj) is expected


@pytest.mark.parametrize("kind", ["party_committee", "service_station", "social_organization", "volunteer_team"])
def test_new_kinds_are_community_organizations_the_database_accepts(world, kind):
    from portal.committees.models import COMMITTEE_KINDS, KIND_LABELS, Organization
    org = db.session.get(Organization, gen_organization(kind, community=world.y).id)
    assert org.community_id == world.y.id and kind not in COMMITTEE_KINDS and str(KIND_LABELS[kind])
    with pytest.raises(IntegrityError):  # the kind-place check: a community organization has no sub-district
        with db.session.begin_nested():
            db.session.add(Organization(kind=kind, name="wrong place", sub_district=world.sd_a))
            db.session.flush()


def test_a_volunteer_team_action_is_carried_out_by_its_members_and_done_actions_take_no_volunteers(world):
    team_action = SimpleNamespace(status="in_progress", community=world.x, responsible_org=world.volunteer_x_org)
    assert can.can_update_action(world.volunteer_x, team_action)
    assert not can.can_update_action(world.social_x, team_action)
    finished = SimpleNamespace(status="done", community=world.x, responsible_org=world.volunteer_x_org)
    assert not can.can_volunteer(world.resident, finished)
    assert not can.can_withdraw_volunteer(world.resident, finished)


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
