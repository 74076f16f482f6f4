"""Reading ballots: one ballot of a community, the ballots of a proposal and of a community, a person's
votes in a ballot and the ballots that need their vote."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, select, union_all
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload

from portal.auth import permissions
from portal.errors import NotAllowed
from portal.extensions import db
from portal.places.models import Community
from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotProxy, BallotVote, BallotVoter
from portal.votes.services._common import _now

if TYPE_CHECKING:
    from datetime import datetime

    from flask_login import AnonymousUserMixin

    from portal.auth.models import User
    from portal.proposals.models import Proposal


@cache
def _ballot_in_statement():
    # The community is the caller's, already in the session; the options come in the same statement.
    return (select(Ballot).where(Ballot.community_id == bindparam("community_id"), Ballot.id == bindparam("ballot_id"))
            .options(joinedload(Ballot.proposal), joinedload(Ballot.organization), joinedload(Ballot.options)))


@cache
def _ballot_at_statement():
    # The community found by its address in the same statement (a page's first read).
    return (select(Ballot).join(Community, Community.id == Ballot.community_id)
            .where(Community.slug == bindparam("slug"), Ballot.id == bindparam("ballot_id"))
            .options(contains_eager(Ballot.community), joinedload(Ballot.proposal), joinedload(Ballot.organization),
                     joinedload(Ballot.options)))


# --- reading ---------------------------------------------------------------------------------------------

def ballot_in(community: Community, ballot_id: int) -> Ballot | None:
    """One ballot of a community, with its proposal, opener and options."""
    try:
        ballot_id = int(ballot_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(_ballot_in_statement(), {"community_id": community.id, "ballot_id": ballot_id}) \
        .unique().scalar_one_or_none()


def ballot_at(slug: str, ballot_id: int) -> Ballot | None:
    """ballot_in for the community of an address, read in the same statement (None: no such community, or
    no such ballot in it)."""
    return db.session.execute(_ballot_at_statement(), {"slug": slug, "ballot_id": int(ballot_id)}) \
        .unique().scalar_one_or_none()


def ballots_for_proposal(proposal: Proposal) -> list[Ballot]:
    """Every ballot on a proposal, newest first."""
    return db.session.scalars(select(Ballot).where(Ballot.proposal_id == proposal.id)
                              .options(selectinload(Ballot.options), joinedload(Ballot.organization))
                              .order_by(Ballot.id.desc())).all()


def community_ballots(community: Community, viewer: User | AnonymousUserMixin, *, limit: int = 50) -> list[Ballot]:
    """The community's ballots: open first (closing soonest first), then announced, then closed (latest
    first)."""
    if not permissions.can_view_community(viewer, community):
        raise NotAllowed(_l("This community's pages are for its members."))
    order = db.case({"open": 0, "scheduled": 1}, value=Ballot.status, else_=2)
    return db.session.scalars(select(Ballot).where(Ballot.community_id == community.id)
                              .options(joinedload(Ballot.proposal), selectinload(Ballot.options))
                              .order_by(order, db.case((Ballot.status != "closed", Ballot.closes_at)),
                                        Ballot.closed_at.desc(), Ballot.id.desc())
                              .limit(max(1, min(int(limit), 200)))).all()


def my_votes(user: User, ballot: Ballot) -> list[tuple[BallotVoter, BallotVote | None]]:
    """The votes this account may cast, each with its live vote (None when not cast yet): "you voted X at
    14:02". For a co-owned unit the live vote may be the other co-owner's. The own part of vote_block."""
    block = vote_block(user, ballot)
    return [(voter, vote) for voter, vote in block.mine if voter.id not in block.held]


class VoteBlock(NamedTuple):
    """What the ballot page's vote block shows one person, read together (vote_block)."""
    mine: list  # (voter, live vote or None): the person's own votes, then those they hold as a proxy
    held: dict  # voter id -> the live authorization this person holds for it (owners' ballots)
    receipts: dict  # log entry id -> receipt, for each live vote in `mine`
    granted: dict  # voter id -> the live authorization of one of the person's own votes (open owners' ballots)


def vote_block(user: User, ballot: Ballot) -> VoteBlock:
    """The votes this account may cast (as electorate.voters_for), followed by the owners' votes it holds as
    a proxy (书面委托, as proxies.held_by), each with its live vote and that vote's receipt, and the live
    authorizations of its own votes: one statement, whose rows are read in one snapshot."""
    if not getattr(user, "is_authenticated", False):
        return VoteBlock([], {}, {}, {})
    rows = db.session.execute(_vote_block_statement(), {"ballot_id": ballot.id, "user_id": user.id}).all()
    owners = ballot.method == "owners"
    own = [(voter, vote) for voter, vote, _receipt, _proxy, is_own in rows if is_own]
    held_rows = [(voter, vote, proxy) for voter, vote, _receipt, proxy, _own in rows
                 if owners and proxy is not None and proxy.proxy_user_id == user.id]
    held = {voter.id: proxy for voter, _vote, proxy in held_rows}
    receipts = {vote.entry_id: receipt for _voter, vote, receipt, _proxy, _own in rows if vote is not None}
    granted = {voter.id: proxy for voter, _vote, _receipt, proxy, is_own in rows
               if owners and ballot.status == "open" and is_own and proxy is not None and voter.id not in held}
    return VoteBlock(own + [(voter, vote) for voter, vote, _proxy in held_rows], held, receipts, granted)


@cache
def _vote_block_statement():
    # Driven by the two small sets of voter ids (the person's casters, the authorizations they hold), each
    # through its index; the live vote, its log entry and the voter's live authorization (at most one:
    # uq_ballot_proxy_live) joined to each.
    ballot_id, user_id = bindparam("ballot_id"), bindparam("user_id")
    live = aliased(BallotProxy)
    casts = select(BallotCaster.voter_id).where(BallotCaster.ballot_id == ballot_id, BallotCaster.user_id == user_id)
    holds = select(BallotProxy.voter_id).where(BallotProxy.ballot_id == ballot_id, BallotProxy.proxy_user_id == user_id,
                                               BallotProxy.revoked_at.is_(None))
    is_own = exists().where(BallotCaster.voter_id == BallotVoter.id, BallotCaster.user_id == user_id)
    return (select(BallotVoter, BallotVote, BallotLogEntry.receipt, live, is_own)
            .outerjoin(BallotVote, and_(BallotVote.ballot_id == BallotVoter.ballot_id,
                                        BallotVote.voter_id == BallotVoter.id))
            .outerjoin(BallotLogEntry, BallotLogEntry.id == BallotVote.entry_id)
            .outerjoin(live, and_(live.voter_id == BallotVoter.id, live.ballot_id == BallotVoter.ballot_id,
                                  live.revoked_at.is_(None)))
            .where(BallotVoter.ballot_id == ballot_id, BallotVoter.id.in_(union_all(casts, holds)))
            .order_by(BallotVoter.id))


def needs_my_vote(user: User, limit: int = 10, *, now: datetime | None = None) -> list[Ballot]:
    """Open ballots where this account can still cast a vote nobody has cast, closing soonest first (one
    query; each open ballot is probed through the (ballot, user) index of its casters)."""
    if not getattr(user, "is_authenticated", False):
        return []
    now = _now(now)
    waiting = exists(select(BallotCaster.id).outerjoin(BallotVote, and_(
        BallotVote.ballot_id == BallotCaster.ballot_id, BallotVote.voter_id == BallotCaster.voter_id))
        .where(BallotCaster.ballot_id == Ballot.id, BallotCaster.user_id == user.id, BallotVote.id.is_(None)))
    return db.session.scalars(select(Ballot).where(Ballot.status == "open", Ballot.closes_at > now, waiting)
                              .options(joinedload(Ballot.community), joinedload(Ballot.proposal))
                              .order_by(Ballot.closes_at, Ballot.id).limit(max(1, min(int(limit), 100)))).all()
