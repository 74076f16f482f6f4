"""Shared for the notices tests: proposals decided through real ballots (tests/votes world and helpers).

  decide(world, outcome="passed", *, now=None) -> Ballot
      a committee ballot of w.rc_x on a fresh proposal in consultation; both members vote yes (passed) or no
      (rejected); the chair closes it early at `now`: the proposal is decided and its notice starts.
"""
from datetime import timedelta


def decide(world, outcome="passed", *, now=None):
    from portal.clock import utcnow
    from portal.votes import services
    from tests.votes import gen_ballot, vote
    now = now or utcnow()
    ballot = gen_ballot(world, "committee", now=now - timedelta(minutes=5))
    choice = "yes" if outcome == "passed" else "no"
    for member in (world.chair_x, world.member_x):
        vote(member, ballot, choice, now=now - timedelta(minutes=4))
    services.close(world.chair_x, ballot, "所有委员均已投票", now=now)
    return ballot
