"""The `world` fixture for the actions tests (see tests/actions/__init__.py for what it holds)."""
from datetime import timedelta

import pytest

from tests.conftest import reused_world
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes.conftest import build_votes_world
from tests.votes.conftest import world as votes_world  # noqa: F401


def build_actions_world():
    """The votes world and what tests/actions/__init__.py lists (committed)."""
    from portal.clock import utcnow
    from portal.committees.models import Decision, Meeting
    from portal.extensions import db
    from portal.issues import services as issues
    from tests.issues import gen_issue
    from tests.proposals import gen_proposal
    w = build_votes_world()
    now = utcnow()

    # A passed proposal whose notice ended (the ballot and notice areas have their own tests: set directly).
    w.passed = gen_proposal(w, title="3号楼加装电梯")
    w.passed.status, w.passed.outcome = "implementing", "passed"

    w.resolved = gen_issue(w, title="电梯钢丝绳磨损")
    issues.accept_issue(w.property_x, w.resolved, now=now - timedelta(hours=2))
    issues.resolve_issue(w.property_x, w.resolved, "临时处理，需要更换钢丝绳", now=now - timedelta(hours=1))

    w.meeting = Meeting(organization=w.rc_x, community_id=w.x.id, title="居委会月度例会",
                        starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=2, hours=-2),
                        status="held", created_by_id=w.chair_x.id)
    db.session.add(w.meeting)
    db.session.flush()
    w.decision = Decision(meeting=w.meeting, text="修复3号楼单元门禁", follow_up="create_action",
                          created_by_id=w.chair_x.id)
    db.session.add(w.decision)
    db.session.commit()  # committed, so requests made by the test client see it
    return w


@pytest.fixture
def world(app):
    return reused_world(build_actions_world)
