"""Every issue rule for every role: the resident next door, the reporter, a resident of another community,
property staff of x, committee members of x and y, officials of sub-districts A and B, a department of A,
an admin and someone not signed in."""
import pytest
from flask_login import AnonymousUserMixin

from portal.auth import permissions as can
from portal.issues import services
from tests.issues import gen_issue

ROLES = {
    "neighbour": "resident of x",
    "reporter": "the reporter",
    "resident_y": "resident of y",
    "property_x": "property staff of x",
    "member_x": "committee member of x",
    "member_y": "committee member of y",
    "official_a": "official of A",
    "official_b": "official of B",
    "department_a": "department of A",
    "admin": "admin",
    "anonymous": "not signed in",
}


def person(world, role):
    return AnonymousUserMixin() if role == "anonymous" else getattr(world, role)


def allowed(world, rule, obj):
    return {role for role in ROLES if rule(person(world, role), obj)}


HANDLERS = {"property_x", "official_a", "admin"}


def test_who_reports(world):
    assert allowed(world, can.can_report_issue, world.x) == {"neighbour", "reporter"}
    assert allowed(world, can.can_report_issue, world.y) == {"resident_y"}
    assert allowed(world, can.can_report_issue, world.z) == set()


def test_everyone_views_the_issues_of_a_public_community(world):
    issue = gen_issue(world)
    assert allowed(world, can.can_view_issue, issue) == set(ROLES)
    assert allowed(world, can.can_see_issue_photos, issue) == set(ROLES)


def test_a_members_only_community_shows_its_issues_to_members_and_handlers(world):
    world.x.members_only = True
    issue = gen_issue(world)
    assert allowed(world, can.can_view_issue, issue) == {"neighbour", "reporter", "property_x", "member_x",
                                                         "official_a", "admin"}
    noise = gen_issue(world, category="noise", title="夜间施工噪音")
    assert "department_a" in allowed(world, can.can_view_issue, noise)


def test_who_handles(world):
    issue = gen_issue(world)
    assert allowed(world, can.can_handle_issue, issue) == HANDLERS
    noise = gen_issue(world, category="noise", title="夜间施工噪音")
    assert allowed(world, can.can_handle_issue, noise) == {"department_a", "official_a", "admin"}
    neighbours = gen_issue(world, category="neighbours", title="邻里纠纷")
    assert allowed(world, can.can_handle_issue, neighbours) == {"member_x", "official_a", "admin"}


def test_the_receiving_organization_handles_and_accepts_a_handover(world):
    issue = gen_issue(world)
    assert allowed(world, can.can_accept_handover, issue) == set()
    services.hand_over(world.property_x, issue, world.dept_a, "市政问题")
    assert allowed(world, can.can_handle_issue, issue) == HANDLERS | {"department_a"}
    assert allowed(world, can.can_accept_handover, issue) == {"department_a", "admin"}


def test_who_rates(world):
    issue = gen_issue(world)
    assert allowed(world, can.can_rate_issue, issue) == set()
    services.accept_issue(world.property_x, issue)
    services.resolve_issue(world.property_x, issue, "修好了")
    assert allowed(world, can.can_rate_issue, issue) == {"reporter"}
    services.rate_issue(world.reporter, issue, resolved=True, satisfaction="satisfied")
    assert allowed(world, can.can_rate_issue, issue) == set()


def test_who_sees_the_reporter(world):
    issue = gen_issue(world, show_name=True)
    assert allowed(world, can.can_see_reporter, issue) == HANDLERS | {"reporter"}


def test_photos_of_a_rejected_issue_are_hidden_from_the_public(world):
    issue = gen_issue(world)
    services.reject_issue(world.property_x, issue, "重复")
    assert allowed(world, can.can_see_issue_photos, issue) == HANDLERS | {"reporter"}
    assert allowed(world, can.can_view_issue, issue) == set(ROLES)


def test_only_admins_manage_categories(world):
    assert allowed(world, can.can_manage_issue_categories, world.x) == {"admin"}


def test_who_supports(world):
    issue = gen_issue(world)
    assert allowed(world, can.can_support_issue, issue) == {"neighbour"}
    services.reject_issue(world.property_x, issue, "no")
    assert allowed(world, can.can_support_issue, issue) == set()


@pytest.mark.parametrize("rule", [can.can_view_issue, can.can_handle_issue, can.can_rate_issue,
                                  can.can_see_reporter, can.can_see_issue_photos, can.can_support_issue,
                                  can.can_accept_handover])
def test_no_issue_no_permission(world, rule):
    assert not rule(world.admin, None)


def test_a_deactivated_handler_handles_nothing(world):
    issue = gen_issue(world)
    world.property_x.is_active_account = False
    assert not can.can_handle_issue(world.property_x, issue)


def test_who_may_turn_an_issue_into_a_proposal(world):
    issue = gen_issue(world)
    assert allowed(world, can.can_escalate_issue, issue) == {"member_x"}
