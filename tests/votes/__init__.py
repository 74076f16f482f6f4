"""Shared for the votes tests.

`world` (fixture in conftest.py) is the proposals world (tests/proposals/__init__.py: residents of x in
building 3 — w.reporter in w.hx, w.neighbour in w.hx2, twelve w.supporters, w.pending; x's residents'
committee w.rc_x with w.chair_x and w.member_x; w.member_y of y's committee; property, official, admin)
plus:

  w.hoa_x          x's homeowners' committee: w.hoa_chair (chair), w.hoa_member, w.hoa_member2
  w.child          a verified resident of w.hx who is not an adult (never in a residents' electorate)
  w.hx3            a second unit the neighbour also lives in (verified): the neighbour still counts once
  w.b5             building 5 of x, whose units are in the register of owners:
  w.owner_a        a person owning 5-1-0101 (100.00 m²), linked to an account
  w.buyer          one buyer of three units 5-1-0102, 5-1-0201, 5-1-0202 (90.00 + 90.00 + 120.50 m²):
                   counts once by headcount, 300.50 m² by area
  w.co_owner_1/2   the two co-owners (both with accounts) of 5-1-0301 (110.00 m²): one vote, either casts
  w.developer_rep  the account designated to cast the developer's vote; w.developer (Owner) holds the
                   four undelivered units 5-2-0101…0104 (80.00 m² each): counts once, 320.00 m² by area
  w.unlinked       w.unlinked_owner (Owner, no account) holds 5-1-0302 (95.25 m²): in the electorate, can
                   only vote on paper
  w.owners_more    four more owners with accounts, each holding one unit 5-3-0101…0104 (100.00 m² each);
                   5-3-0104 was bought in 2023 from w.seller (an account whose ownership ended: not an owner)
  w.reporter       also owns w.hx (88.50 m²): a resident who is an owner
  w.empty_unit     5-4-0101: no current owner, not in the owners' electorate
  Every unit of x with no owner (5-4-0101, the residents' units of building 3 but w.hx) is recorded as
  excluded since 2000 (exclude_unowned), so owners' ballots may open; tests of the owner roll undo it.

The owners' electorate of x therefore has OWNERS_HEADCOUNT = 10 voting owners and OWNERS_AREA_CM =
141425 (hundredths of m²). Voting owners with accounts (OWNER_ROLES) can cast online.

Residents' electorate of x: RESIDENTS_PERSONS = 14 verified adults (reporter, neighbour, 12 supporters);
by household RESIDENT_HOUSEHOLDS = 15 (hx, hx2, hx3 and the supporters' twelve units).

Helpers (each goes through portal.votes.services; flushes, commits nothing):
  gen_ballot(world, method="committee", *, proposal=None, opener=None, open=True, now=None, **kw) -> Ballot
      a ballot on a fresh proposal in deliberation (or `proposal`), opened by the right committee:
        committee  by w.chair_x for w.rc_x (organization=w.rc_x unless given)
        residents  by w.chair_x; resident_unit "person", quorum 50 %, threshold "simple" unless given
        owners     by w.hoa_chair; matter 5 and a notice unless given
      Times: `now` defaults to the real clock (pages apply due steps with the real clock). committee and
      residents ballots open at `now` and close 7 days later. An owners' ballot is announced 16 days before
      `now`, opens an hour before `now` and closes 7 days after it, and is opened (apply_due at `now`) —
      unless open=False: then it is announced at `now` and opens 15 days and an hour later. Other keywords
      go to services.open_ballot (question, options, opens_at, closes_at, secret, results_hidden, …).
  option(ballot, code_or_label) -> BallotOption
  vote(user, ballot, code_or_label, **kw) -> BallotLogEntry   services.cast with the option found by code/label
"""
from datetime import timedelta
from decimal import Decimal

OWNERS_HEADCOUNT = 10
OWNERS_AREA_CM = 141425
RESIDENTS_PERSONS = 14
RESIDENT_HOUSEHOLDS = 15

DEFAULT_QUESTION = {
    "committee": "是否同意将3号楼加装电梯方案提交业主表决？",
    "residents": "是否同意3号楼加装电梯？",
    "owners": "是否同意使用专项维修资金更换5号楼屋面防水层？",
}
DEFAULT_NOTICE = ("根据《民法典》第二百七十八条，现就使用专项维修资金更换5号楼屋面防水层事项征求全体业主意见。"
                  "预算约18.6万元，表决期间可在线投票或向业委会提交纸质表决票。")


EXCLUDED_IN_TESTS = "不在业主名册（测试）"


def exclude_unowned(community, by, *, on=None, since=None):
    """Record every unresolved unit of `community` without an owner on `on` (default today) as excluded since
    `since` (default 2000-01-01), directly (no audit): the test worlds' residents' units have no owners."""
    from datetime import date

    from portal.extensions import db
    from portal.votes.models import UnownedUnit
    from portal.votes.services import unowned
    taken = set(db.session.scalars(db.select(UnownedUnit.household_id)))
    for unit in unowned.unresolved_units(community, on or date.today()):
        if unit.household_id not in taken:
            db.session.add(UnownedUnit(community_id=community.id, household_id=unit.household_id,
                                       resolution="excluded", reason=EXCLUDED_IN_TESTS,
                                       since=since or date(2000, 1, 1), recorded_by_id=by.id))
    db.session.flush()


def gen_ballot(world, method="committee", *, proposal=None, opener=None, open=True, now=None,
               exclude_unowned_units=True, **kw):
    """A ballot through services.open_ballot (see the module docstring)."""
    from portal.clock import utcnow
    from portal.votes import services
    from tests.proposals import gen_in_deliberation
    now = now or utcnow()
    kw.setdefault("question", DEFAULT_QUESTION[method])
    if method == "owners":
        announced = now - timedelta(days=16) if open else now
        kw.setdefault("opens_at", now - timedelta(hours=1) if open else now + timedelta(days=15, hours=1))
        kw.setdefault("closes_at", kw["opens_at"] + timedelta(days=7, hours=1))
        kw.setdefault("matter", 5)
        kw.setdefault("notice", DEFAULT_NOTICE)
        opener = opener or world.hoa_chair
    else:
        announced = now
        kw.setdefault("opens_at", now)
        kw.setdefault("closes_at", now + timedelta(days=7))
        opener = opener or world.chair_x
        if method == "committee":
            kw.setdefault("organization", world.rc_x)
        else:
            kw.setdefault("resident_unit", "person")
            kw.setdefault("quorum_percent", Decimal("50"))
            if not kw.get("options"):
                kw.setdefault("threshold", "simple")
    if proposal is None:
        proposal = gen_in_deliberation(world, now=announced)
    if method == "owners" and exclude_unowned_units:
        exclude_unowned(proposal.community, opener, on=kw["opens_at"].date())
    ballot = services.open_ballot(opener, proposal, method=method, now=announced, **kw)
    if method == "owners" and open:
        services.apply_due(ballot, now=now)
    return ballot


def option(ballot, code_or_label):
    return next(o for o in ballot.options if code_or_label in (o.code, o.label))


def vote(user, ballot, code_or_label, **kw):
    from portal.votes import services
    return services.cast(user, ballot, option(ballot, code_or_label).id, **kw)
