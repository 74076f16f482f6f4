"""500 casts at once over real, separate PostgreSQL connections (one thread, app context and session per
cast): voters who vote once, voters who double-submit the same choice, voters who send two different
choices at the same moment, and voters who change their vote while others are voting. Afterwards: no
cast lost, none counted twice, one live vote per voter (the latest), a log that verifies, and a recount
from the log equal to the database's tally and to the running totals. SQLite serializes writers and is skipped."""
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select

from portal.auth.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.places.models import Residency
from portal.votes import services
from portal.votes.models import Ballot, BallotLogEntry, BallotVote, BallotVoter
from tests.votes import RESIDENTS_PERSONS, gen_ballot, option

VOTERS = 300
WORKERS = 15  # the pool's 5 connections plus its overflow of 10


@pytest.fixture
def postgres_only(app):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("concurrent casts need PostgreSQL (TEST_DATABASE_URL)")


def many_residents(world, n):
    """n verified adult residents of x, written in bulk (no password hashing: they never sign in)."""
    now = utcnow()
    db.session.execute(insert(User), [{"display_name": f"居民 {k:03d}", "phone": f"155{k:08d}",
                                       "password_hash": "not-a-password", "consented_at": now}
                                      for k in range(n)])
    ids = db.session.scalars(select(User.id).where(User.phone.like("155%")).order_by(User.phone)).all()
    db.session.execute(insert(Residency), [{"user_id": i, "community_id": world.x.id, "status": "verified",
                                            "is_adult": True, "claimed_at": now} for i in ids])
    return ids


def test_500_concurrent_casts_lose_nothing_and_count_nothing_twice(world, app, postgres_only):
    people = many_residents(world, VOTERS)
    ballot = gen_ballot(world, "residents")
    yes, no, abstain = (option(ballot, code).id for code in ("yes", "no", "abstain"))
    ballot_id = ballot.id
    assert services.participation(ballot) == (0, VOTERS + RESIDENTS_PERSONS)
    db.session.commit()

    rng = random.Random(6)
    once, double, split = people[:200], people[200:250], people[250:300]
    rounds = [[(p, rng.choice((yes, no, abstain)))] for p in once]
    rounds += [[(p, yes), (p, yes)] for p in double]          # the same choice sent twice at once
    rounds += [[(p, yes), (p, no)] for p in split]            # two different choices at the same moment
    rng.shuffle(rounds)
    casts = [c for pair in rounds for c in pair]
    changers = once[:100]                                     # change their mind while others vote
    for k, person in enumerate(changers):
        casts.insert(150 + 3 * k, (person, no))
    assert len(casts) == 500

    def cast(user_id, option_id):
        with app.app_context():
            try:
                entry = services.cast(db.session.get(User, user_id), db.session.get(Ballot, ballot_id), option_id)
                seq = entry.seq
                db.session.commit()
                return user_id, option_id, seq, None
            except Exception as error:  # noqa: BLE001 — every failure is reported by the assertion below
                db.session.rollback()
                return user_id, option_id, None, repr(error)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda c: cast(*c), casts))

    errors = [r for r in results if r[3] is not None]
    assert errors == []
    db.session.expire_all()
    ballot = db.session.get(Ballot, ballot_id)
    # No cast lost: every successful cast is one entry, numbered 1..500 without gaps or repeats.
    seqs = sorted(r[2] for r in results)
    assert seqs == list(range(1, 501))
    assert ballot.log_length == 500
    assert db.session.scalar(select(func.count()).select_from(BallotLogEntry)
                             .where(BallotLogEntry.ballot_id == ballot_id)) == 500
    # None counted twice: one live vote per voter who cast, and it is their latest cast.
    live = dict(db.session.execute(select(BallotVoter.user_id, BallotVote.option_id)
                                   .join(BallotVoter, BallotVoter.id == BallotVote.voter_id)
                                   .where(BallotVote.ballot_id == ballot_id)).all())
    assert len(live) == VOTERS
    latest = {}
    for user_id, option_id, _seq, _ in sorted(results, key=lambda r: r[2]):
        latest[user_id] = option_id
    assert live == latest
    assert all(live[p] == yes for p in double)
    # The log verifies and its recount equals the database's tally.
    report = services.verify(ballot)
    assert report.ok, report.message
    assert report.recount == services.tally(ballot)
    # The running totals kept by 500 casts under the lock equal the full count.
    assert services.running_figures(ballot) == services.tally(ballot)
    assert services.participation(ballot) == (VOTERS, VOTERS + RESIDENTS_PERSONS)
