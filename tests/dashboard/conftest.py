"""The `world` for the dashboard page tests: the issues world with a few issues of this month whose
responses and ratings give known rates, and `add_issues` to grow the data (for the query-count test)."""
from datetime import timedelta

import pytest

from tests.issues.conftest import world as issues_world  # noqa: F401


def add_issues(w, count, *, community=None, category="lift", responded=True, rated=True, late=False):
    """`count` issues submitted an hour ago: responded in time (or late / not at all), rated or not."""
    from portal.clock import utcnow
    from portal.extensions import db
    from tests.issues import gen_issue
    now = utcnow()
    made = []
    for i in range(count):
        reporter = w.resident_y if community is not None and community.id == w.y.id else None
        issue = gen_issue(w, reporter=reporter, community=community, category=category, title=f"Issue {i}",
                          building=w.bx if (community or w.x).id == w.x.id else None)
        issue.submitted_at = now - timedelta(hours=3)
        if late:
            issue.respond_by = now - timedelta(hours=2)
        if responded:
            issue.first_response_at = now - timedelta(hours=2, minutes=30)
        if rated:
            issue.rated_at = now - timedelta(minutes=30)
            issue.rating_resolved = True
            issue.rating_satisfaction = "satisfied"
        made.append(issue)
    db.session.commit()
    return made


@pytest.fixture
def world(issues_world):
    w = issues_world
    w.good = add_issues(w, 2)  # responded in time, resolved, satisfied
    w.late = add_issues(w, 1, responded=False, rated=False, late=True)  # respond-by passed, no response
    return w
