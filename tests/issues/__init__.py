"""Shared for the issues tests.

`world` (fixture in conftest.py) is tests.residents.build_world() plus:
  w.categories   {code: IssueCategory} — the default categories of community x
  w.pc_x         x's property company (handling org of most default categories; w.property_x is its staff)
  w.dept_a       the department of sub-district A (w.department_a is its staff)
  w.reporter     a verified resident of x living in w.hx (building w.bx)
  w.neighbour    another verified resident of x (w.hx2)
  w.resident_y   a verified resident of y (w.hy)
`gen_issue(world, **kw)` reports an issue through services.report_issue (reporter w.reporter, community x,
category "lift" unless given) and flushes it (commit yourself before requests)."""
from datetime import UTC, datetime

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # a fixed "now" (09:00 in Beijing) for time-driven tests


def gen_issue(world, *, reporter=None, community=None, category="lift", title="Lift stuck on floor 3", **kw):
    """Report an issue as `reporter` (default world.reporter) in `community` (default world.x). `category`
    is an IssueCategory or a default code of that community; other keywords go to report_issue."""
    from portal.issues import services
    community = community or world.x
    if isinstance(category, str):
        category = next(c for c in services.ensure_default_categories(community) if c.code == category)
    return services.report_issue(reporter or world.reporter, community, category=category, title=title, **kw)
