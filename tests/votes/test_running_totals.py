"""The running totals kept on a ballot equal a full recount, whatever happens: random sequences of first
casts, changes of mind (to another option and to the same one), paper entries by the committee and the
refusals in between (online after paper, paper after online, a second paper ballot), over ballots of every
method at once —
committee (secret), residents by person (yes/no, results hidden), residents by household (named choices),
owners (area-weighted). Checked after every step against services.tally (the GROUP BY over the live votes)
and at the end against the recount from the log (services.verify). Also: rebuilding them from the live
votes, and verification naming totals that were changed by hand."""
import random
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from portal.auth.models import User
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.votes import services
from portal.votes.counting import Figures
from portal.votes.models import Ballot, BallotCaster, BallotOption, BallotVoter
from tests.queries import count_statements
from tests.votes import OWNERS_AREA_CM, OWNERS_HEADCOUNT, RESIDENT_HOUSEHOLDS, RESIDENTS_PERSONS, gen_ballot

STEPS = 400


def ballots_of_every_method(world):
    """Four open ballots, each with its voters, the accounts that may cast each vote and the committee
    member who enters paper ballots."""
    specs = [
        ("committee", {"secret": True}, world.chair_x),
        ("residents", {"results_hidden": True}, world.chair_x),
        ("residents", {"resident_unit": "household", "options": ["东侧停车", "西侧停车", "不改动"]},
         world.chair_x),
        ("owners", {}, world.hoa_chair),
    ]
    ballots = []
    for method, kw, member in specs:
        ballot = gen_ballot(world, method, **kw)
        casters = {}
        for voter_id, user_id in db.session.execute(select(BallotCaster.voter_id, BallotCaster.user_id)
                                                    .where(BallotCaster.ballot_id == ballot.id)
                                                    .order_by(BallotCaster.id)):
            casters.setdefault(voter_id, []).append(db.session.get(User, user_id))
        voters = list(db.session.scalars(select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
                                         .order_by(BallotVoter.id)))
        ballots.append(SimpleNamespace(ballot=ballot, voters=voters, casters=casters, member=member))
    db.session.commit()
    return ballots


def random_step(rng, b):
    """One cast online by one of the voter's accounts, or on paper by the committee; refusals allowed. Runs in
    a savepoint so a refusal leaves nothing behind, as a request's rollback would."""
    voter = rng.choice(b.voters)
    option = rng.choice(b.ballot.options)
    online = bool(b.casters.get(voter.id)) and rng.random() < 0.8
    savepoint = db.session.begin_nested()
    try:
        if online:
            services.cast(rng.choice(b.casters[voter.id]), b.ballot, option.id, voter=voter)
        else:
            services.enter_paper(b.member, b.ballot, voter, option.id)
    except (DomainError, NotAllowed):
        savepoint.rollback()
        return "refused"
    savepoint.commit()
    return "online" if online else "paper"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_running_totals_equal_a_recount_after_random_casts_changes_and_paper_entries(world, seed):
    rng = random.Random(seed)
    ballots = ballots_of_every_method(world)
    electorates = [b.ballot.electorate_count for b in ballots]
    assert electorates[2:] == [RESIDENT_HOUSEHOLDS, OWNERS_HEADCOUNT]
    assert ballots[3].ballot.electorate_area_cm == OWNERS_AREA_CM
    assert all(services.running_figures(b.ballot) == services.tally(b.ballot) for b in ballots)
    seen = {"online": 0, "paper": 0, "refused": 0}
    for step in range(STEPS):
        b = rng.choice(ballots)
        seen[random_step(rng, b)] += 1
        assert services.running_figures(b.ballot) == services.tally(b.ballot), (seed, step, b.ballot.method)
        assert services.participation(b.ballot) == (b.ballot.voted_count, b.ballot.electorate_count)
        if step % 50 == 49:
            db.session.commit()
    # Every kind of step happened, and the log's recount agrees too. A voter has at most one paper ballot (a
    # second one is refused, issue #16), so paper entries are as few as the voters without an online vote.
    assert seen["online"] > 20 and seen["refused"] > 20 and seen["paper"] > 0, seen
    db.session.commit()
    db.session.expire_all()
    for b in ballots:
        ballot = db.session.get(Ballot, b.ballot.id)
        figures = services.running_figures(ballot)
        assert figures == services.tally(ballot)
        assert figures.voted_count > 0 and ballot.log_length > figures.voted_count  # changes of mind happened
        assert services.participation(ballot) == (figures.voted_count, figures.electorate_count)
        report = services.verify(ballot)
        assert report.ok, report.message
        assert report.recount == figures
    assert ballots[0].ballot.electorate_count >= 2 and ballots[1].ballot.electorate_count == RESIDENTS_PERSONS


def test_a_change_to_the_same_option_moves_nothing_and_a_change_moves_the_weights(world):
    ballot = gen_ballot(world, "owners")
    yes, no = (next(o for o in ballot.options if o.code == code) for code in ("yes", "no"))
    services.cast(world.buyer, ballot, yes.id)  # three units: 300.50 m², one by headcount
    services.cast(world.buyer, ballot, yes.id)
    assert services.running_figures(ballot) == Figures(OWNERS_HEADCOUNT, OWNERS_AREA_CM, 1, 30050,
                                                       {yes.id: (1, 30050)})
    services.cast(world.buyer, ballot, no.id)
    services.cast(world.owner_a, ballot, no.id)  # 100.00 m²
    assert services.running_figures(ballot) == Figures(OWNERS_HEADCOUNT, OWNERS_AREA_CM, 2, 40050,
                                                       {no.id: (2, 40050)})
    assert (yes.live_count, yes.live_area_cm, no.live_count, no.live_area_cm) == (0, 0, 2, 40050)
    assert services.running_figures(ballot) == services.tally(ballot)


def test_rebuilding_the_running_totals_gives_them_back_from_the_live_votes(world):
    ballot = gen_ballot(world, "owners")
    for user, code in ((world.buyer, "yes"), (world.owner_a, "no"), (world.developer_rep, "abstain"),
                       (world.owner_a, "yes")):
        services.cast(user, ballot, next(o.id for o in ballot.options if o.code == code))
    expected = services.tally(ballot)
    db.session.execute(update(Ballot).where(Ballot.id == ballot.id).values(
        electorate_count=0, electorate_area_cm=0, voted_count=0, voted_area_cm=0))
    db.session.execute(update(BallotOption).where(BallotOption.ballot_id == ballot.id).values(
        live_count=0, live_area_cm=0))
    assert services.running_figures(ballot) != expected
    services.rebuild_running_totals(ballot)
    assert services.running_figures(ballot) == expected
    assert (ballot.voted_count, ballot.electorate_area_cm) == (expected.voted_count, OWNERS_AREA_CM)
    # Every ballot at once (what the migration's backfill runs).
    db.session.execute(update(Ballot).values(voted_count=0))
    services.rebuild_running_totals()
    db.session.expire_all()
    assert services.running_figures(ballot) == expected


def test_verification_finds_running_totals_that_differ_from_the_log(world):
    ballot = gen_ballot(world, "owners")
    yes = next(o for o in ballot.options if o.code == "yes")
    services.cast(world.buyer, ballot, yes.id)
    db.session.commit()
    assert services.verify(ballot).ok
    db.session.execute(update(BallotOption).where(BallotOption.id == yes.id).values(live_area_cm=30051))
    db.session.expire_all()
    report = services.verify(ballot)
    assert not report.ok and "running totals" in report.message


def test_reading_the_running_totals_is_one_statement_and_participation_none(world):
    ballot = gen_ballot(world, "owners")
    services.cast(world.buyer, ballot, ballot.options[0].id)
    db.session.commit()
    ballot = db.session.get(Ballot, ballot.id)
    assert count_statements(lambda: services.running_figures(ballot)) == 1
    assert count_statements(lambda: services.participation(ballot)) == 0
