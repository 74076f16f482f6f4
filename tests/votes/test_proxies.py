"""Proxies (书面委托) of owners' ballots (issue #19): the committee records an owner's written authorization
for one ballot; the proxy's vote counts once, a chained proxy is refused, the cap holds, a revoked proxy
cannot vote, and the owner's own vote overrides the proxy's."""
from datetime import date

import pytest

from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.votes import services
from portal.votes.models import BallotLogEntry, BallotProxy, BallotVote, BallotVoter
from tests.records import audit, notices
from tests.votes import gen_ballot, option, vote

SIGNED = date(2026, 1, 5)


def voter_of(world, ballot, user):
    [(voter, _vote)] = services.my_votes(user, ballot)
    return voter


def unlinked_voter(world, ballot):
    return db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                           BallotVoter.owner_id == world.unlinked_owner.id))


def authorize(world, ballot, owner, proxy_user=None, **kw):
    voter = owner if isinstance(owner, BallotVoter) else voter_of(world, ballot, owner)
    kw.setdefault("signed_on", SIGNED)
    return services.record_proxy(world.hoa_chair, ballot, voter, proxy_user=proxy_user, **kw)


def live(ballot, voter):
    return db.session.scalar(db.select(BallotVote).where(BallotVote.ballot_id == ballot.id,
                                                         BallotVote.voter_id == voter.id))


def test_a_proxys_vote_counts_once_and_is_marked_as_by_proxy(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, world.neighbour)
    voter = proxy.voter
    assert services.held_by(ballot, world.neighbour) == [(voter, proxy)]
    assert permissions.can_vote(world.neighbour, ballot)
    vote(world.neighbour, ballot, "yes", voter=voter)
    vote(world.neighbour, ballot, "no", voter=voter.id)  # the proxy may change it, as the owner could
    figures = services.tally(ballot)
    assert figures.voted_count == 1 and figures.by_option == {option(ballot, "no").id: (1, 10000)}
    assert live(ballot, voter).proxy_id == proxy.id
    assert [e.proxy_id for e in db.session.scalars(db.select(BallotLogEntry).order_by(BallotLogEntry.seq))] \
        == [proxy.id, proxy.id]
    assert services.running_figures(ballot) == figures
    assert services.verify(ballot).ok
    assert audit("ballot.proxy_recorded")[0].details["proxy"] == world.neighbour.display_name
    assert notices(world.neighbour, "votes.proxy_recorded")


def test_the_proxy_marker_is_in_the_hash_chain(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, world.neighbour)
    vote(world.neighbour, ballot, "yes", voter=proxy.voter)
    entry = db.session.scalar(db.select(BallotLogEntry).where(BallotLogEntry.ballot_id == ballot.id))
    entry.proxy_id = None  # someone rubs out "by proxy"
    db.session.flush()
    assert not services.verify(ballot).ok


def test_a_proxy_cannot_pass_the_authorization_on(world):
    ballot = gen_ballot(world, "owners")
    holder = world.owners_more[0]
    authorize(world, ballot, world.owner_a, holder)
    # The holder's own vote cannot go to a proxy while they hold someone else's.
    with pytest.raises(DomainError) as refused:
        authorize(world, ballot, holder, world.neighbour)
    assert refused.value.field == "voter_id" and "never passed on" in str(refused.value.message)
    # And the owner whose vote is given cannot hold anyone else's.
    with pytest.raises(DomainError) as refused:
        authorize(world, ballot, world.owners_more[1], world.owner_a)
    assert refused.value.field == "proxy_login" and "never passed on" in str(refused.value.message)
    assert db.session.scalar(db.select(db.func.count(BallotProxy.id))) == 1


def test_nobody_is_their_own_proxy_and_one_live_authorization_per_vote(world):
    ballot = gen_ballot(world, "owners")
    with pytest.raises(DomainError):
        authorize(world, ballot, world.co_owner_1, world.co_owner_2)  # the co-owner casts that vote already
    authorize(world, ballot, world.owner_a, world.neighbour)
    with pytest.raises(DomainError) as refused:
        authorize(world, ballot, world.owner_a, world.reporter)
    assert "revoke it first" in str(refused.value.message)


def test_the_cap_holds(world, app, monkeypatch):
    ballot = gen_ballot(world, "owners")
    owners = [world.owner_a, world.buyer, *world.owners_more[:2]]
    proxies = [authorize(world, ballot, owner, world.neighbour) for owner in owners[:3]]
    with pytest.raises(DomainError) as refused:
        authorize(world, ballot, owners[3], world.neighbour)
    assert refused.value.field == "proxy_login" and "3" in str(refused.value.message)
    services.revoke_proxy(world.owner_a, proxies[0])
    authorize(world, ballot, owners[3], world.neighbour)  # a revoked one no longer counts
    monkeypatch.setitem(app.config, "PROXY_CAP", 1)  # a local rule of one owner per proxy
    with pytest.raises(DomainError):
        authorize(world, ballot, world.owners_more[2], world.neighbour)
    authorize(world, ballot, world.owners_more[2], proxy_name="吴大姐")  # a person named on paper
    with pytest.raises(DomainError) as refused:
        authorize(world, ballot, world.owners_more[3], proxy_name=" 吴大姐 ")
    assert refused.value.field == "proxy_name"


def test_a_revoked_proxy_cannot_vote(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, world.neighbour)
    services.revoke_proxy(world.owner_a, proxy)
    assert proxy.revoked_at is not None and audit("ballot.proxy_revoked")
    assert not permissions.can_vote(world.neighbour, ballot)
    with pytest.raises(NotAllowed):
        vote(world.neighbour, ballot, "yes", voter=proxy.voter)
    with pytest.raises(DomainError) as refused:
        services.enter_paper(world.hoa_member, ballot, proxy.voter, option(ballot, "yes").id, by_proxy=True)
    assert refused.value.field == "by_proxy"
    assert ballot.log_length == 0


def test_the_authorization_cannot_be_revoked_once_the_proxy_has_voted(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, world.neighbour)
    vote(world.neighbour, ballot, "yes", voter=proxy.voter)
    with pytest.raises(DomainError) as refused:
        services.revoke_proxy(world.hoa_member, proxy)
    assert "already voted" in str(refused.value.message)


def test_the_owners_own_vote_overrides_the_proxys(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, world.neighbour)
    vote(world.neighbour, ballot, "yes", voter=proxy.voter)
    vote(world.owner_a, ballot, "no")  # after the proxy voted: the owner's own vote counts
    assert live(ballot, proxy.voter).proxy_id is None
    with pytest.raises(DomainError) as refused:
        vote(world.neighbour, ballot, "yes", voter=proxy.voter)
    assert "voted themselves" in str(refused.value.message)
    assert services.tally(ballot).by_option == {option(ballot, "no").id: (1, 10000)}
    assert services.verify(ballot).ok


def test_an_owner_who_voted_has_nothing_to_authorize(world):
    ballot = gen_ballot(world, "owners")
    vote(world.owner_a, ballot, "yes")
    with pytest.raises(DomainError) as refused:
        authorize(world, ballot, world.owner_a, world.neighbour)
    assert "already voted" in str(refused.value.message)


def test_the_committee_enters_a_paper_ballot_by_a_proxy_named_on_paper(world):
    ballot = gen_ballot(world, "owners")
    voter = unlinked_voter(world, ballot)
    proxy = authorize(world, ballot, voter, proxy_name="吴秀英之子 吴磊")
    entry = services.enter_paper(world.hoa_member, ballot, voter, option(ballot, "yes").id, by_proxy=True)
    assert entry.is_paper and entry.proxy_id == proxy.id
    assert audit("ballot.paper_entered")[-1].details == {"voter_id": voter.id, "proxy": "吴秀英之子 吴磊"}
    with pytest.raises(DomainError):  # one ballot by proxy
        services.enter_paper(world.hoa_member, ballot, voter, option(ballot, "no").id, by_proxy=True)
    # The owner's own signed paper ballot replaces the proxy's.
    services.enter_paper(world.hoa_chair, ballot, voter, option(ballot, "no").id)
    assert live(ballot, voter).proxy_id is None
    assert services.tally(ballot).by_option == {option(ballot, "no").id: (1, 9525)}
    with pytest.raises(DomainError):
        services.enter_paper(world.hoa_member, ballot, voter, option(ballot, "yes").id)  # a second own one
    assert services.verify(ballot).ok


def test_the_owner_may_vote_online_over_a_paper_ballot_entered_by_proxy(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, proxy_name="王建国之女")
    services.enter_paper(world.hoa_member, ballot, proxy.voter, option(ballot, "yes").id, by_proxy=True)
    vote(world.owner_a, ballot, "abstain")
    assert live(ballot, proxy.voter).proxy_id is None and not live(ballot, proxy.voter).is_paper


def test_the_log_and_the_result_show_votes_cast_by_proxy(world):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owner_a, world.neighbour)
    vote(world.neighbour, ballot, "yes", voter=proxy.voter)
    vote(world.buyer, ballot, "yes")
    services.close(world.hoa_chair, ballot, "测试")
    rows = services.log_entries(world.hoa_chair, ballot).rows
    assert [r.by_proxy for r in rows] == [True, False]


@pytest.mark.parametrize("who, allowed", [("hoa_chair", True), ("hoa_member", True), ("chair_x", False),
                                          ("owner_a", False), ("neighbour", False), ("admin", False),
                                          ("member_y", False)])
def test_only_the_opening_committee_records_a_proxy(world, who, allowed):
    ballot = gen_ballot(world, "owners")
    voter = voter_of(world, ballot, world.buyer)
    assert permissions.can_record_proxy(getattr(world, who), ballot) is allowed
    if allowed:
        assert services.record_proxy(getattr(world, who), ballot, voter, proxy_user=world.reporter,
                                     signed_on=SIGNED).voter_id == voter.id
    else:
        with pytest.raises(NotAllowed):
            services.record_proxy(getattr(world, who), ballot, voter, proxy_user=world.reporter, signed_on=SIGNED)


@pytest.mark.parametrize("who, allowed", [("buyer", True), ("hoa_member", True), ("reporter", False),
                                          ("owner_a", False), ("chair_x", False), ("admin", False)])
def test_the_owner_or_the_committee_revokes(world, who, allowed):
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.buyer, world.reporter)
    assert permissions.can_revoke_proxy(getattr(world, who), proxy) is allowed
    if allowed:
        services.revoke_proxy(getattr(world, who), proxy)
    else:
        with pytest.raises(NotAllowed):
            services.revoke_proxy(getattr(world, who), proxy)


def test_proxies_are_for_open_owners_ballots_only(world):
    residents = gen_ballot(world, "residents")
    assert not permissions.can_record_proxy(world.chair_x, residents)
    scheduled = gen_ballot(world, "owners", open=False)
    assert not permissions.can_record_proxy(world.hoa_chair, scheduled)


def test_the_authorization_needs_a_name_and_a_date_not_in_the_future(world):
    ballot = gen_ballot(world, "owners")
    voter = voter_of(world, ballot, world.owner_a)
    with pytest.raises(DomainError) as refused:
        services.record_proxy(world.hoa_chair, ballot, voter, proxy_name="  ", signed_on=SIGNED)
    assert refused.value.field == "proxy_name"
    with pytest.raises(DomainError) as refused:
        services.record_proxy(world.hoa_chair, ballot, voter, proxy_name="张三", signed_on=None)
    assert refused.value.field == "signed_on"
    with pytest.raises(DomainError) as refused:
        services.record_proxy(world.hoa_chair, ballot, voter, proxy_name="张三", signed_on=date(2999, 1, 1))
    assert refused.value.field == "signed_on"
