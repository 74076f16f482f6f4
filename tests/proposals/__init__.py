"""Shared for the proposals tests.

`world` (fixture in conftest.py) is the issues world (tests/issues/__init__.py: tests.residents.build_world()
plus w.reporter, w.neighbour, w.resident_y, w.categories, w.pc_x, w.dept_a) plus:
  w.supporters   12 verified residents of x, each in their own unit of w.bx (for threshold tests)
  w.pending      a person whose residency in x is still pending (not verified)
and community x's support threshold set to 3 (window 30 days), so three supports open the consultation;
a test that needs another threshold sets `world.x.proposal_support_threshold` before publishing (the
threshold is frozen on the proposal when it is published). Committee members of x: w.chair_x, w.member_x.

Helpers (each goes through portal.proposals.services, flushes, and commits nothing — commit yourself
before making requests with the test client):
  gen_proposal(world, *, author=None, publish=True, **kw)
      a proposal of community x by w.reporter (unless `author`/`community` given), published unless
      publish=False. Keywords go to services.create_proposal (title, summary, body, category,
      building_ids, estimated_cost, attachments, on_behalf_of, source_issue, now, community).
  gen_supports(world, proposal, n, *, now=None) -> list of supporters
      the first `n` of w.supporters support it (a threshold reached moves it to deliberation).
  gen_in_deliberation(world, **kw)
      a published proposal moved to deliberation by reaching x's threshold (3 supporters).
  gen_comment(world, proposal, *, author=None, stance="for", body=..., parent=None, now=None)
      a comment by w.neighbour unless `author` is given.

Times: helpers default to the real clock (now=None) because the pages call apply_due with the real
clock, and a proposal published at a fixed past time would be archived on first view. Time-driven
tests pass explicit times (T0 below) to every call."""
from tests.issues import T0, gen_issue  # noqa: F401  (re-exported for the proposals tests)

THRESHOLD = 3
DEFAULT_TITLE = "3号楼加装电梯 Add a lift to building 3"
DEFAULT_SUMMARY = "三号楼六层没有电梯，老人上下楼困难，建议申请加装电梯。"
DEFAULT_BODY = "## 背景\n\n三号楼共六层，住着很多老人。\n\n## 建议\n\n- 申请政府补贴\n- 按楼层分摊费用"


def gen_proposal(world, *, author=None, publish=True, **kw):
    """A proposal created through services.create_proposal (see the module docstring)."""
    from portal.proposals import services
    kw.setdefault("title", DEFAULT_TITLE)
    kw.setdefault("summary", DEFAULT_SUMMARY)
    kw.setdefault("body", DEFAULT_BODY)
    kw.setdefault("category", "lift")
    community = kw.pop("community", None) or world.x
    return services.create_proposal(author or world.reporter, community, publish=publish, **kw)


def gen_supports(world, proposal, n, *, now=None):
    from portal.proposals import services
    people = world.supporters[:n]
    for person in people:
        services.support(person, proposal, now=now)
    return people


def gen_in_deliberation(world, **kw):
    """A published proposal that reached x's threshold (THRESHOLD supporters) and is in consultation."""
    proposal = gen_proposal(world, **kw)
    gen_supports(world, proposal, proposal.support_threshold, now=kw.get("now"))
    assert proposal.status == "deliberation"
    return proposal


def gen_comment(world, proposal, *, author=None, stance="for", body="支持加装电梯，老人太需要了。", parent=None,
                now=None):
    from portal.proposals import services
    return services.add_comment(author or world.neighbour, proposal, stance=stance, body=body, parent=parent,
                                now=now)
