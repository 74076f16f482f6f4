"""Reading proposals: one proposal of a community, the community's list with its filters and search,
drafts, the feed of new proposals, the public timeline and what each entry says, the dates of each step
and the versions of the text."""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, or_
from sqlalchemy.orm import contains_eager, defer, joinedload, selectinload

from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import columns_of, db, loaded, width
from portal.issues import similar

# The keyset pager of the issues lists, shared rather than copied (see the closing note of issue #5).
from portal.issues.services import _page as keyset_page
from portal.places.models import Community
from portal.proposals.models import (
    CATEGORIES,
    STATES,
    Proposal,
    ProposalEvent,
    ProposalSupport,
    ProposalTerm,
    ProposalVersion,
)
from portal.proposals.services._common import OPEN_STATES, _now

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User

# What each timeline entry says, after the actor's name (or alone when no one acted: the threshold, expiry).
EVENT_LABELS = {
    "created": _l("wrote the draft"),
    "escalated": _l("turned a neighbourhood issue into this proposal"),
    "published": _l("published the proposal"),
    "edited": _l("edited the proposal"),
    "attachments": _l("changed the attachments"),
    "threshold": _l("reached the support threshold: the consultation is open"),
    "moved": _l("moved the proposal to consultation"),
    "closed": _l("closed the consultation"),
    "summary": _l("wrote the consultation summary"),
    "withdrawn": _l("withdrew the proposal"),
    "archived": _l("archived: not enough supports in time"),
    "hidden": _l("hid the proposal"),
    "restored": _l("restored the proposal"),
    "locked": _l("locked the discussion"),
    "unlocked": _l("unlocked the discussion"),
    "ballot": _l("opened a ballot: the proposal goes to a vote"),
    "decided": _l("the ballot decided the proposal"),
    "returned": _l("back to consultation: the ballot did not decide it"),
    "notice": _l("the public notice of the decision started"),
    "implementing": _l("the public notice ended: the proposal is being carried out"),
    "evaluated": _l("its actions are done and their rating period is over: evaluated"),
    "archived_after_notice": _l("the public notice ended: the rejected proposal is archived"),
    "budget_project": _l("proposed this project for a budget round"),
    "budget_decided": _l("the budget round's result decided the project"),
    "budget_ended": _l("the budget round's review ended the project"),
}


# --- reading ---------------------------------------------------------------------------------------------

def _list_options():
    return (joinedload(Proposal.author), joinedload(Proposal.community), selectinload(Proposal.buildings))


def _row_options():
    # A list row shows the title, state, category and counts: the texts stay in the database, and the author
    # and buildings are not loaded (anything else a caller reads still loads on access).
    return (joinedload(Proposal.community), defer(Proposal.body), defer(Proposal.body_html), defer(Proposal.summary),
            defer(Proposal.summary_for), defer(Proposal.summary_against), defer(Proposal.withdrawn_note),
            defer(Proposal.hidden_reason))


def proposal_in(community: Community, proposal_id: int, *, joined: bool = True,
                again: bool = False) -> Proposal | None:
    """One proposal of a community, with what its page shows loaded up front (`joined`; or the proposal's own
    row, the community being loaded already). `again`: loaded before without them."""
    try:
        proposal_id = int(proposal_id)
    except (TypeError, ValueError):
        return None
    query = _page_query(joined).where(Proposal.community_id == community.id, Proposal.id == proposal_id)
    if joined:
        query = query.options(joinedload(Proposal.community))
    if again:
        query = query.execution_options(populate_existing=True)
    return db.session.scalar(query)


def proposal_at(slug: str, proposal_id: int, *, joined: bool = True) -> Proposal | None:
    """proposal_in for the community of an address, found in the same statement (None: no such community, or
    no such proposal in it)."""
    params = {"slug": slug, "proposal_id": int(proposal_id)}
    if not joined:  # the proposal and its community alone: plain columns, made into objects here
        row = db.session.execute(_proposal_row_statement(), params).first()
        if row is None:
            return None
        community = loaded(Community, row[width(Proposal):])
        return loaded(Proposal, row[:width(Proposal)], community=community)
    return db.session.scalar(_proposal_at_statement(joined), params)


@cache
def _proposal_row_statement():
    proposal, community = Proposal.__table__, Community.__table__
    return (db.select(*columns_of(Proposal), *columns_of(Community)).select_from(proposal)
            .join(community, community.c.id == proposal.c.community_id)
            .where(community.c.slug == bindparam("slug"), proposal.c.id == bindparam("proposal_id")))


@cache
def _proposal_at_statement(joined):
    # Built once per process: every proposal page and every view acting on a proposal asks it.
    return (_page_query(joined).join(Community, Community.id == Proposal.community_id)
            .where(Community.slug == bindparam("slug"), Proposal.id == bindparam("proposal_id"))
            .options(contains_eager(Proposal.community)))


def _page_query(joined):
    query = db.select(Proposal)
    if joined:
        query = query.options(joinedload(Proposal.author), selectinload(Proposal.buildings),
                              joinedload(Proposal.created_by), joinedload(Proposal.summary_by),
                              joinedload(Proposal.source_issue), selectinload(Proposal.attachments))
    return query


def _matching_terms(community, q):
    """Proposals whose title and summary hold every term of the query (None: no usable term)."""
    query_terms = sorted(similar.terms(q))
    if not query_terms:
        return None
    return (db.select(ProposalTerm.proposal_id)
            .where(ProposalTerm.community_id == community.id, ProposalTerm.term.in_(query_terms))
            .group_by(ProposalTerm.proposal_id).having(func.count() == len(query_terms)))


def community_proposals(community: Community, viewer: User | AnonymousUserMixin, *, status: str | None = None,
                        category: str | None = None, q: str | None = None, supported_by: User | None = None,
                        needs_support_of: User | None = None, written_by: User | None = None, after: str | None = None,
                        limit: int = 20, now: datetime | None = None) -> tuple[list[Proposal], str | None]:
    """A page of the community's published proposals, newest first, and the cursor of the next page (None
    on the last). `status` is a state or "open"; `q` words or Chinese text (every term must match);
    `supported_by` / `needs_support_of` a person ("needs support" leaves out windows ended before `now`,
    which run-due has yet to archive); `written_by` a person: their own proposals, written by them or for
    them, drafts included, newest first by creation (a draft has no publication date). Hidden proposals stay
    in the list (the page shows a placeholder)."""
    if not permissions.can_view_community(viewer, community):
        raise NotAllowed(_l("This community's pages are for its members."))
    now = _now(now)
    if written_by is not None:
        if not getattr(written_by, "is_authenticated", False):
            return [], None
        query = db.select(Proposal).where(Proposal.community_id == community.id, or_(
            Proposal.author_id == written_by.id, Proposal.created_by_id == written_by.id))
    else:
        query = db.select(Proposal).where(Proposal.community_id == community.id, Proposal.status != "draft")
    query = query.options(*_row_options())
    if status == "open":
        query = query.where(Proposal.status.in_(OPEN_STATES))
    elif status:
        if status not in STATES or status == "draft":
            raise DomainError(_l("Unknown status."), "status")
        query = query.where(Proposal.status == status)
    if category:
        if category not in CATEGORIES:
            raise DomainError(_l("Unknown category."), "category")
        query = query.where(Proposal.category == category)
    if q and q.strip():
        matching = _matching_terms(community, q)
        if matching is None:
            return [], None
        query = query.where(Proposal.id.in_(matching))
    for person, wanted in ((supported_by, True), (needs_support_of, False)):
        if person is None:
            continue
        if not getattr(person, "is_authenticated", False):
            return [], None
        supported = db.select(ProposalSupport.proposal_id).where(ProposalSupport.user_id == person.id)
        if wanted:
            query = query.where(Proposal.id.in_(supported))
        else:
            query = query.where(Proposal.status == "collecting", Proposal.support_deadline > now,
                                Proposal.author_id != person.id, Proposal.id.not_in(supported))
    if written_by is not None:
        return keyset_page(query, [Proposal.created_at, Proposal.id], [datetime, int], descending=True,
                           after=after, limit=limit, key=lambda p: [p.created_at, p.id])
    return keyset_page(query, [Proposal.published_at, Proposal.id], [datetime, int], descending=True, after=after,
                       limit=limit, key=lambda p: [p.published_at, p.id])


def my_drafts(user: User, community: Community) -> list[Proposal]:
    """The person's drafts in this community (written by them or for them), latest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    return db.session.scalars(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status == "draft",
        or_(Proposal.author_id == user.id, Proposal.created_by_id == user.id))
        .options(*_row_options()).order_by(Proposal.updated_at.desc(), Proposal.id.desc())).all()


def new_proposals_feed(community: Community, limit: int = 30) -> list[Proposal]:
    """Published, visible proposals, newest first (the Atom feed)."""
    return db.session.scalars(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status != "draft", Proposal.hidden_state.is_(None))
        .options(joinedload(Proposal.author), joinedload(Proposal.community))
        .order_by(Proposal.published_at.desc(), Proposal.id.desc()).limit(max(1, min(int(limit), 100)))).all()


def timeline(proposal: Proposal, viewer: User | AnonymousUserMixin) -> list[ProposalEvent]:
    """The proposal's steps, oldest first, with who took them (everyone sees the same timeline)."""
    return db.session.scalars(db.select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
                              .options(joinedload(ProposalEvent.actor), joinedload(ProposalEvent.on_behalf_of))
                              .order_by(ProposalEvent.at, ProposalEvent.id)).all()


def event_label(event: ProposalEvent) -> str:
    return str(EVENT_LABELS.get(event.kind, event.kind))


def step_dates(proposal: Proposal) -> dict[str, datetime]:
    """When the proposal first reached each state (for the step bar); "draft" is when it was written."""
    dates = {"draft": proposal.created_at}
    for to_state, at in db.session.execute(
            db.select(ProposalEvent.to_state, ProposalEvent.at).where(
                ProposalEvent.proposal_id == proposal.id, ProposalEvent.to_state.is_not(None))
            .order_by(ProposalEvent.at, ProposalEvent.id)):
        dates.setdefault(to_state, at)
    return dates


def versions(proposal: Proposal) -> list[ProposalVersion]:
    """Every published version, newest first, with who made it."""
    return db.session.scalars(db.select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                              .options(joinedload(ProposalVersion.edited_by))
                              .order_by(ProposalVersion.version.desc())).all()
