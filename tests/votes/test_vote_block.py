"""The ballot page's vote block is read in one statement (services.vote_block): for every person, in owners',
residents' and committee ballots, open and closed, with proxies live, used and revoked, it is what the
separate reads say (electorate.voters_for, proxies.held_by, each voter's live vote, its receipt, the live
authorizations of the person's own votes)."""
from flask_login import AnonymousUserMixin

from portal.extensions import db
from portal.votes import electorate, services
from portal.votes.models import BallotLogEntry, BallotProxy, BallotVote
from tests.queries import recorded_statements
from tests.votes import gen_ballot, vote
from tests.votes.test_proxies import authorize


def reference(user, ballot):
    """The vote block as the page read it before, one question at a time."""
    held = services.held_by(ballot, user)
    voters = electorate.voters_for(ballot, user) + [voter for voter, _proxy in held]
    votes = {v.voter_id: v for v in db.session.scalars(db.select(BallotVote).where(
        BallotVote.ballot_id == ballot.id, BallotVote.voter_id.in_([v.id for v in voters] or [0])))}
    mine = [(voter, votes.get(voter.id)) for voter in voters]
    entry_ids = [vote.entry_id for _voter, vote in mine if vote is not None]
    receipts = dict(db.session.execute(db.select(BallotLogEntry.id, BallotLogEntry.receipt)
                                       .where(BallotLogEntry.id.in_(entry_ids or [0]))).all())
    held_ids = {voter.id for voter, _proxy in held}
    own = [voter.id for voter, _vote in mine if voter.id not in held_ids]
    granted = {}
    if ballot.method == "owners" and ballot.status == "open" and own:
        granted = {p.voter_id: p for p in db.session.scalars(db.select(BallotProxy).where(
            BallotProxy.ballot_id == ballot.id, BallotProxy.voter_id.in_(own), BallotProxy.revoked_at.is_(None)))}
    return services.VoteBlock(mine, {voter.id: proxy for voter, proxy in held}, receipts, granted)


def plain(block):
    return ([(voter.id, vote.id if vote else None) for voter, vote in block.mine],
            {k: p.id for k, p in block.held.items()}, block.receipts, {k: p.id for k, p in block.granted.items()})


def everyone(world):
    return [world.owner_a, world.neighbour, world.buyer, *world.owners_more, world.co_owner_1, world.co_owner_2,
            world.reporter, world.developer_rep, world.seller, world.chair_x, world.member_x, world.hoa_chair,
            world.supporters[0], world.official_a, world.property_x, world.admin, AnonymousUserMixin()]


def check_everyone(world, ballot):
    seen = 0
    for user in everyone(world):
        block = services.vote_block(user, ballot)
        assert plain(block) == plain(reference(user, ballot)), getattr(user, "display_name", "visitor")
        seen += len(block.mine)
    return seen


def test_an_owners_ballot_with_proxies_live_used_and_revoked(world):
    ballot = gen_ballot(world, "owners")
    used = authorize(world, ballot, world.owner_a, world.neighbour)
    vote(world.neighbour, ballot, "yes", voter=used.voter)  # cast by the proxy: a receipt on the holder's row
    revoked = authorize(world, ballot, world.buyer, world.owners_more[0])
    services.revoke_proxy(world.buyer, revoked)
    waiting = authorize(world, ballot, world.owners_more[1], world.owners_more[2])  # granted, not used
    authorize(world, ballot, world.owners_more[3], proxy_name="吴大姐")  # a person named on paper
    vote(world.co_owner_1, ballot, "no")  # the other co-owner sees it as the unit's live vote
    vote(world.reporter, ballot, "yes")
    vote(world.reporter, ballot, "no")  # changed: the live vote's receipt is the latest
    db.session.flush()
    assert check_everyone(world, ballot) >= 10

    block = services.vote_block(world.neighbour, ballot)
    assert [voter.id for voter, _vote in block.mine] == [used.voter_id] and block.held[used.voter_id] == used
    assert list(block.receipts.values()) == [db.session.get(BallotLogEntry, block.mine[0][1].entry_id).receipt]
    assert services.vote_block(world.owners_more[1], ballot).granted == {waiting.voter_id: waiting}
    assert services.vote_block(world.owners_more[2], ballot).held == {waiting.voter_id: waiting}
    assert services.vote_block(world.owners_more[0], ballot).held == {}  # the revoked one is gone

    services.close(world.hoa_chair, ballot, "closed early for the test")
    db.session.flush()
    check_everyone(world, ballot)
    assert services.vote_block(world.owners_more[1], ballot).granted == {}  # closed: nothing to revoke


def test_residents_and_committee_ballots(world):
    households = gen_ballot(world, "residents", resident_unit="household")
    vote(world.neighbour, households, "yes", voter=services.my_votes(world.neighbour, households)[0][0].id)
    committee = gen_ballot(world, "committee")
    vote(world.member_x, committee, "no")
    db.session.flush()
    check_everyone(world, households)
    check_everyone(world, committee)
    assert len(services.vote_block(world.neighbour, households).mine) == 2  # hx2 and hx3


def test_the_ballot_page_reads_the_vote_block_in_one_statement(world, client, auth):
    ballot = gen_ballot(world, "owners")
    used = authorize(world, ballot, world.owner_a, world.neighbour)
    vote(world.neighbour, ballot, "yes", voter=used.voter)
    db.session.commit()
    receipt = db.session.scalar(db.select(BallotLogEntry.receipt).where(BallotLogEntry.ballot_id == ballot.id))
    auth.login(world.neighbour)
    path = f"/c/{world.x.slug}/ballots/{ballot.id}"
    client.get(path)
    with recorded_statements() as statements:
        page = client.get(path).get_data(as_text=True)
    reads = [s for s in statements if "ballot_voter" in s or "ballot_proxy" in s or "ballot_log_entry" in s]
    assert len(reads) == 1 and "FROM community" not in " ".join(statements).replace("FROM community JOIN", "")
    assert used.voter.label in page and receipt in page
    # The community is read with the ballot: an address under another community's name is not there.
    assert client.get(f"/c/{world.y.slug}/ballots/{ballot.id}").status_code == 404
