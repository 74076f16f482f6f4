"""Reading ballots: one ballot of a community, the ballots of a proposal and of a community, a person's
votes in a ballot and the ballots that need their vote."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import joinedload, selectinload

from portal.auth import permissions
from portal.errors import NotAllowed
from portal.extensions import db
from portal.votes import electorate
from portal.votes.models import Ballot, BallotCaster, BallotVote, BallotVoter
from portal.votes.services import proxies
from portal.votes.services._common import _now

if TYPE_CHECKING:
    from datetime import datetime

    from flask_login import AnonymousUserMixin

    from portal.auth.models import User
    from portal.places.models import Community
    from portal.proposals.models import Proposal


@cache
def _ballot_in_statement():
    # The community is the caller's, already in the session; the options come in the same statement.
    return (select(Ballot).where(Ballot.community_id == bindparam("community_id"), Ballot.id == bindparam("ballot_id"))
            .options(joinedload(Ballot.proposal), joinedload(Ballot.organization), joinedload(Ballot.options)))


@cache
def _votes_of_statement():
    return select(BallotVote).where(BallotVote.ballot_id == bindparam("ballot_id"),
                                    BallotVote.voter_id.in_(bindparam("voter_ids", expanding=True)))


# --- reading ---------------------------------------------------------------------------------------------

def ballot_in(community: Community, ballot_id: int) -> Ballot | None:
    """One ballot of a community, with its proposal, opener and options."""
    try:
        ballot_id = int(ballot_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(_ballot_in_statement(), {"community_id": community.id, "ballot_id": ballot_id}) \
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
    14:02". For a co-owned unit the live vote may be the other co-owner's."""
    return _with_votes(ballot, electorate.voters_for(ballot, user))


def my_votes_and_proxies(user: User, ballot: Ballot) -> tuple[list[tuple[BallotVoter, BallotVote | None]], dict]:
    """my_votes, followed by the owners' votes this account holds as a proxy (书面委托), and those
    authorizations by voter id (the ballot page's vote block)."""
    held = proxies.held_by(ballot, user)
    voters = electorate.voters_for(ballot, user) + [voter for voter, _proxy in held]
    return _with_votes(ballot, voters), {voter.id: proxy for voter, proxy in held}


def _with_votes(ballot, voters):
    if not voters:
        return []
    votes = {v.voter_id: v for v in db.session.scalars(
        _votes_of_statement(), {"ballot_id": ballot.id, "voter_ids": [v.id for v in voters]})}
    return [(voter, votes.get(voter.id)) for voter in voters]


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
