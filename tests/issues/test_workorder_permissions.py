"""Every work order rule (issue #20) for every role (tests/issues/test_permissions.py's ROLES), in each state
it applies to and the states it does not."""
from datetime import timedelta

from portal.auth import permissions as can
from portal.issues import services
from tests.issues import T0, gen_issue
from tests.issues.test_permissions import ROLES, allowed

H = timedelta(hours=1)
RECEIVER = {"property_x", "admin"}  # the receiving organization (the lift goes to x's property company), admins
OFFICE = {"official_a", "admin"}


def hotline(world):
    return services.report_from_hotline(world.x, category=world.categories["lift"], title="电梯停运",
                                        description="", reporter_name="王先生", reporter_phone="13512345678",
                                        now=T0)


def test_signing_for_and_sending_back(world):
    issue = hotline(world)
    assert allowed(world, can.can_sign_for_issue, issue) == RECEIVER
    assert allowed(world, can.can_send_back_issue, issue) == RECEIVER
    assert allowed(world, can.can_route_sent_back_issue, issue) == set()
    assert allowed(world, can.can_sign_for_issue, gen_issue(world, now=T0)) == set()  # not a work order
    services.send_back(world.property_x, issue, "not_our_area", "不归我们", now=T0 + H)
    assert allowed(world, can.can_sign_for_issue, issue) == set()
    assert allowed(world, can.can_route_sent_back_issue, issue) == OFFICE
    services.reroute(world.official_a, issue, world.dept_a, now=T0 + 2 * H)
    assert allowed(world, can.can_sign_for_issue, issue) == {"department_a", "admin"}
    assert allowed(world, can.can_route_sent_back_issue, issue) == set()


def test_extensions(world):
    issue = hotline(world)
    assert allowed(world, can.can_request_extension, issue) == set()  # not signed yet
    services.sign_for(world.property_x, issue, now=T0 + H)
    assert allowed(world, can.can_request_extension, issue) == RECEIVER
    assert allowed(world, can.can_decide_extension, issue) == OFFICE


def test_return_visits_and_the_callers_number(world):
    issue = hotline(world)
    assert allowed(world, can.can_see_caller_phone, issue) == {"property_x"}
    services.sign_for(world.property_x, issue, now=T0 + H)
    assert allowed(world, can.can_return_visit, issue) == set()  # not resolved
    services.resolve_issue(world.property_x, issue, "修好了", caller_contacted=False, now=T0 + 2 * H)
    assert allowed(world, can.can_return_visit, issue) == OFFICE
    assert allowed(world, can.can_rate_issue, issue) == set()  # nobody rates a hotline issue on the page


def test_appeals(world):
    issue = hotline(world)
    services.sign_for(world.property_x, issue, now=T0 + H)
    services.resolve_issue(world.property_x, issue, "修好了", caller_contacted=False, now=T0 + 2 * H)
    assert allowed(world, can.can_appeal_rating, issue) == set()  # no rating yet
    issue.reopen_count = 1
    services.record_return_visit(world.official_a, issue, contacted=True, solved=False, satisfaction="dissatisfied",
                                 now=T0 + 3 * H)
    assert allowed(world, can.can_appeal_rating, issue) == RECEIVER
    assert allowed(world, can.can_decide_appeal, issue) == OFFICE
    assert set(ROLES) >= RECEIVER | OFFICE
