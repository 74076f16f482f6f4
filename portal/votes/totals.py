"""Running totals of a ballot: what a full count would say, kept up to date as votes are cast.

The ballot row carries the frozen electorate (set when voting opens) and the voters with a live vote, by
headcount and area; each option carries its live votes, by headcount and area. Areas are integer hundredths
of m², headcounts integers: nothing is ever rounded. `count_cast` moves them for one cast, under the ballot's
row lock that every cast already holds (services._lock), in the same transaction as the log entry and the
live vote, so a page can read the figures of an open ballot in one small query whatever the electorate's
size (`running_figures`). `services.tally` stays the full recount (at close); `log.verify` checks that the
running totals equal the recount from the log; `rebuild_running_totals` recomputes them from the live votes
(the migration's backfill, bulk loaders).

Who sees them is not decided here: pages get numbers through services.visible_tally (None while results are
hidden) and services.participation (how many voted, never by option)."""
from functools import cache

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm.util import identity_key

from portal.extensions import db
from portal.votes.counting import Figures
from portal.votes.models import Ballot, BallotOption, BallotVote, BallotVoter


def count_cast(ballot, voter, option, previous_option_id) -> None:
    """Move the totals for one cast of `voter` for `option`; `previous_option_id` is the option of the
    voter's live vote it replaces (None for a first cast). The ballot is locked and fresh (services._lock),
    so its own counters are plain increments, flushed with the log head; the options' are one UPDATE."""
    if previous_option_id is None:
        ballot.voted_count = ballot.voted_count + voter.headcount
        ballot.voted_area_cm = ballot.voted_area_cm + voter.area_cm
    if previous_option_id == option.id:
        return
    count, area = int(voter.headcount), int(voter.area_cm)
    ids = [option.id] if previous_option_id is None else [option.id, previous_option_id]
    gains = BallotOption.id == option.id
    db.session.execute(
        update(BallotOption).where(BallotOption.ballot_id == ballot.id, BallotOption.id.in_(ids))
        .values(live_count=BallotOption.live_count + case((gains, count), else_=-count),
                live_area_cm=BallotOption.live_area_cm + case((gains, area), else_=-area))
        .execution_options(synchronize_session=False))
    # The options may have been loaded before the lock: what this session holds of their totals is stale now.
    for option_id in ids:
        _expire(BallotOption, option_id, ["live_count", "live_area_cm"])


def running_figures(ballot) -> Figures:
    """The ballot's figures from its running totals, in one query (one consistent snapshot of the ballot's
    counters and its options'); equal to services.tally(ballot) at every moment."""
    rows = db.session.execute(_running_statement(), {"ballot_id": ballot.id}).all()
    if not rows:
        return Figures(0, 0, 0, 0, {})
    first = rows[0]
    return Figures(electorate_count=int(first[0]), electorate_area=int(first[1]), voted_count=int(first[2]),
                   voted_area=int(first[3]),
                   by_option={int(r[4]): (int(r[5]), int(r[6])) for r in rows if r[5] or r[6]})


@cache
def _running_statement():
    # Built once, as the page asks it on every view (building a SELECT costs more Python than running it).
    return (select(Ballot.electorate_count, Ballot.electorate_area_cm, Ballot.voted_count, Ballot.voted_area_cm,
                   BallotOption.id, BallotOption.live_count, BallotOption.live_area_cm)
            .join(BallotOption, BallotOption.ballot_id == Ballot.id).where(Ballot.id == bindparam("ballot_id")))


def set_electorate(ballot) -> int:
    """The frozen electorate's totals onto the ballot (when voting opens, after the freeze); the count."""
    count, area = db.session.execute(
        select(func.coalesce(func.sum(BallotVoter.headcount), 0), func.coalesce(func.sum(BallotVoter.area_cm), 0))
        .where(BallotVoter.ballot_id == ballot.id)).one()
    ballot.electorate_count, ballot.electorate_area_cm = int(count), int(area)
    return ballot.electorate_count


def rebuild_running_totals(ballot=None, *, bind=None) -> None:
    """Recompute the running totals of one ballot (or of every ballot) from its frozen electorate and its
    live votes, by SQL on the server. `bind` is a connection to run on (the migration's); default the
    session. For rows written around the services (a backfill, a bench's bulk load); casts keep them."""
    bind = bind if bind is not None else db.session
    ballot_table, option_table = Ballot.__table__, BallotOption.__table__
    voter, vote = BallotVoter.__table__, BallotVote.__table__

    def of_electorate(column):
        return (select(func.coalesce(func.sum(column), 0)).where(voter.c.ballot_id == ballot_table.c.id)
                .scalar_subquery())

    def of_votes(column, where):
        return (select(func.coalesce(func.sum(column), 0)).select_from(vote.join(voter, voter.c.id == vote.c.voter_id))
                .where(where).scalar_subquery())

    on_ballot = vote.c.ballot_id == ballot_table.c.id
    on_option = vote.c.option_id == option_table.c.id
    ballots = update(ballot_table).values(
        electorate_count=of_electorate(voter.c.headcount), electorate_area_cm=of_electorate(voter.c.area_cm),
        voted_count=of_votes(voter.c.headcount, on_ballot), voted_area_cm=of_votes(voter.c.area_cm, on_ballot))
    options = update(option_table).values(live_count=of_votes(voter.c.headcount, on_option),
                                          live_area_cm=of_votes(voter.c.area_cm, on_option))
    if ballot is not None:
        ballot_id = getattr(ballot, "id", ballot)
        ballots = ballots.where(ballot_table.c.id == ballot_id)
        options = options.where(option_table.c.ballot_id == ballot_id)
    bind.execute(ballots)
    bind.execute(options)
    if ballot is not None and bind is db.session:
        ballot_id = getattr(ballot, "id", ballot)
        _expire(Ballot, ballot_id, ["electorate_count", "electorate_area_cm", "voted_count", "voted_area_cm"])
        for option_id in db.session.scalars(select(BallotOption.id).where(BallotOption.ballot_id == ballot_id)):
            _expire(BallotOption, option_id, ["live_count", "live_area_cm"])


def _expire(model, row_id, attributes) -> None:
    """Forget what the session holds of these attributes of one row, if it holds the row at all (no query)."""
    loaded = db.session.identity_map.get(identity_key(model, row_id))
    if loaded is not None:
        db.session.expire(loaded, attributes)
