"""The demo's budget ballots (portal/funds/ballot_demo.py): cast through the service in a round that is
voting, within the round's rule, one changed; counts equal to the recount, a log that verifies, and a second
run that leaves the round alone."""
from sqlalchemy import func, select

from portal.extensions import db
from portal.funds import budget_ballot as voting
from portal.funds.ballot_demo import seed_budget_ballots
from portal.funds.rounds_models import BudgetBallot
from tests.factories import gen_household, gen_residency, gen_user
from tests.funds.test_budget_ballot import D, make_round


def _residents(w, n):
    for k in range(n):
        gen_residency(gen_user(display_name=f"居民 {k}"), household=gen_household(w.building_x))


def test_the_demo_casts_real_ballots_in_the_round_that_is_voting_only(world):
    w = world
    voting_round, _projects = make_round(w)
    approval, _projects = make_round(w, kind="approval", max_approvals=2)
    later, _projects = make_round(w, voting_from=3 * D, voting_until=10 * D)
    _residents(w, 7)
    db.session.commit()
    lines = seed_budget_ballots()
    db.session.commit()
    assert len(lines) == 2 and "8 budget ballots cast, one changed (9 log entries" in lines[0]
    for round_ in (voting_round, approval):
        assert db.session.scalar(select(func.count()).select_from(BudgetBallot)
                                 .where(BudgetBallot.round_id == round_.id)) == 8
        assert voting.stored_counts(round_) == voting.recount(round_)
        assert voting.verify_round_log(round_).ok
    assert later.log_length == 0
    assert seed_budget_ballots() == []
