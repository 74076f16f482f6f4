"""Reading ballots: one ballot of a community, the ballots of a proposal and of a community, a person's
votes in a ballot and the ballots that need their vote."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from portal.auth import permissions
from portal.committees.models import Organization
from portal.errors import NotAllowed
from portal.extensions import columns_of, db, loaded, width
from portal.places.models import Community
from portal.proposals.models import Proposal
from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotOption, BallotProxy, BallotVote, BallotVoter
from portal.votes.services._common import _now

if TYPE_CHECKING:
    from datetime import datetime

    from flask_login import AnonymousUserMixin

    from portal.auth.models import User


@cache
def _ballot_in_statement():
    # The community is the caller's, already in the session; the options come in the same statement.
    return (select(Ballot).where(Ballot.community_id == bindparam("community_id"), Ballot.id == bindparam("ballot_id"))
            .options(joinedload(Ballot.proposal), joinedload(Ballot.organization), joinedload(Ballot.options)))


@cache
def _ballot_at_statement():
    # The community found by its address in the same statement (a page's first read), with the ballot's
    # proposal, organization and options: plain columns, made into objects by _ballot_from.
    ballot, community, proposal = Ballot.__table__, Community.__table__, Proposal.__table__
    organization, option = Organization.__table__, BallotOption.__table__
    return (select(*columns_of(Ballot), *columns_of(Community), *columns_of(Proposal), *columns_of(Organization),
                   *columns_of(BallotOption))
            .select_from(ballot)
            .join(community, community.c.id == ballot.c.community_id)
            .join(proposal, proposal.c.id == ballot.c.proposal_id)  # both required
            .join(organization, organization.c.id == ballot.c.organization_id)
            .outerjoin(option, option.c.ballot_id == ballot.c.id)
            .where(community.c.slug == bindparam("slug"), ballot.c.id == bindparam("ballot_id"))
            .order_by(option.c.position))


def _ballot_from(rows) -> Ballot | None:
    """The ballot of _ballot_at_statement's rows (one per option), with its community, proposal,
    organization and options loaded."""
    if not rows:
        return None
    row = rows[0]
    at = width(Ballot)
    community = loaded(Community, row[at:at + width(Community)])
    at += width(Community)
    proposal = loaded(Proposal, row[at:at + width(Proposal)])
    at += width(Proposal)
    organization = loaded(Organization, row[at:at + width(Organization)])
    at += width(Organization)
    options = [option for option in (loaded(BallotOption, each[at:]) for each in rows) if option is not None]
    return loaded(Ballot, row[:width(Ballot)], community=community, proposal=proposal, organization=organization,
                  options=options)


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
    return _ballot_from(db.session.execute(_ballot_at_statement(), {"slug": slug, "ballot_id": int(ballot_id)}).all())


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
    rows = [_vote_block_row(row) for row in
            db.session.execute(_vote_block_statement(), {"ballot_id": ballot.id, "user_id": user.id})]
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
    # uq_ballot_proxy_live) joined to each. Plain columns, made into objects by _vote_block_row.
    ballot_id, user_id = bindparam("ballot_id"), bindparam("user_id")
    voter, vote, entry = BallotVoter.__table__, BallotVote.__table__, BallotLogEntry.__table__
    caster, proxy = BallotCaster.__table__, BallotProxy.__table__
    live = proxy.alias("live")
    casts = select(caster.c.voter_id).where(caster.c.ballot_id == ballot_id, caster.c.user_id == user_id)
    holds = select(proxy.c.voter_id).where(proxy.c.ballot_id == ballot_id, proxy.c.proxy_user_id == user_id,
                                           proxy.c.revoked_at.is_(None))
    is_own = exists().where(caster.c.voter_id == voter.c.id, caster.c.user_id == user_id)
    return (select(*columns_of(BallotVoter), *columns_of(BallotVote), entry.c.receipt,
                   *(live.c[column.key] for column in columns_of(BallotProxy)), is_own)
            .select_from(voter)
            .outerjoin(vote, and_(vote.c.ballot_id == voter.c.ballot_id, vote.c.voter_id == voter.c.id))
            .outerjoin(entry, entry.c.id == vote.c.entry_id)
            .outerjoin(live, and_(live.c.voter_id == voter.c.id, live.c.ballot_id == voter.c.ballot_id,
                                  live.c.revoked_at.is_(None)))
            .where(voter.c.ballot_id == ballot_id, voter.c.id.in_(union_all(casts, holds)))
            .order_by(voter.c.id))


def _vote_block_row(row):
    """(voter, live vote or None, its receipt, the voter's live authorization or None, whether the voter is
    the person's own) from a row of _vote_block_statement."""
    votes = width(BallotVoter)
    receipt = votes + width(BallotVote)
    return (loaded(BallotVoter, row[:votes]), loaded(BallotVote, row[votes:receipt]), row[receipt],
            loaded(BallotProxy, row[receipt + 1:-1]), row[-1])


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
