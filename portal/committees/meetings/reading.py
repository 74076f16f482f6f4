"""Reading meetings: one meeting of a community, an organization's and a community's meetings (what the
viewer may see), and the upcoming events the calendar shows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.auth import permissions, roles
from portal.clock import utcnow
from portal.committees.models import AgendaItem, Meeting
from portal.extensions import db

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User
    from portal.committees.models import Organization
    from portal.places.models import Community

# --- reading ---------------------------------------------------------------------------------------------

def _meeting_options():
    return (joinedload(Meeting.organization), joinedload(Meeting.community),
            selectinload(Meeting.agenda).joinedload(AgendaItem.proposal),
            selectinload(Meeting.agenda).joinedload(AgendaItem.issue))


def meeting_in(organization: Organization, meeting_id: int) -> Meeting | None:
    try:
        meeting_id = int(meeting_id)
    except (TypeError, ValueError):
        return None
    if not 0 < meeting_id < 2 ** 31:
        return None
    return db.session.scalar(select(Meeting).where(Meeting.organization_id == organization.id,
                                                   Meeting.id == meeting_id).options(*_meeting_options()))


def _visible_clause(viewer):
    """Meetings the viewer may see: public ones, and non-public ones of the viewer's organizations (all
    for admins). The community's own visibility is checked by the caller."""
    if getattr(viewer, "is_authenticated", False) and viewer.is_admin:
        return None
    org_ids = [o.id for o in roles.organizations(viewer)] if getattr(viewer, "is_authenticated", False) else []
    return or_(Meeting.is_public.is_(True), Meeting.organization_id.in_(org_ids)) if org_ids \
        else Meeting.is_public.is_(True)


def organization_meetings(organization: Organization, viewer: User | AnonymousUserMixin, *,
                          limit: int = 100) -> list[Meeting]:
    """The organization's meetings the viewer may see: upcoming first (soonest first), then past (latest
    first)."""
    if organization.community is not None and not permissions.can_view_community(viewer, organization.community):
        return []
    query = select(Meeting).where(Meeting.organization_id == organization.id).options(*_meeting_options())
    clause = _visible_clause(viewer)
    if clause is not None:
        query = query.where(clause)
    meetings = db.session.scalars(query.order_by(Meeting.starts_at.desc()).limit(limit)).all()
    now = utcnow()
    upcoming = sorted((m for m in meetings if m.starts_at >= now), key=lambda m: m.starts_at)
    return upcoming + [m for m in meetings if m.starts_at < now]


def community_meetings(community: Community, viewer: User | AnonymousUserMixin, *, after: datetime | None = None,
                       limit: int = 100) -> list[Meeting]:
    """The community's meetings the viewer may see (public ones for outsiders), from `after` on, soonest
    first."""
    if not permissions.can_view_community(viewer, community):
        return []
    query = select(Meeting).where(Meeting.community_id == community.id).options(*_meeting_options())
    clause = _visible_clause(viewer)
    if clause is not None:
        query = query.where(clause)
    if after is not None:
        query = query.where(Meeting.starts_at >= after)
    return db.session.scalars(query.order_by(Meeting.starts_at, Meeting.id).limit(limit)).all()


@dataclass(frozen=True)
class CalendarEvent:
    kind: str  # "meeting", "ballot_opens", "ballot_closes"
    at: datetime
    title: str
    obj: object  # the Meeting or the Ballot
    ends_at: datetime | None = None
    is_public: bool = True


def upcoming_events(community: Community, viewer: User | AnonymousUserMixin, start: datetime,
                    end: datetime) -> list[CalendarEvent]:
    """Meetings (not cancelled) and ballot opening and closing times of the community between start and end
    (UTC), as the viewer may see them, in time order."""
    from portal.proposals.models import Proposal
    from portal.votes.models import Ballot
    if not permissions.can_view_community(viewer, community):
        return []
    query = select(Meeting).where(Meeting.community_id == community.id, Meeting.status != "cancelled",
                                  Meeting.starts_at >= start, Meeting.starts_at < end) \
        .options(joinedload(Meeting.organization))
    clause = _visible_clause(viewer)
    if clause is not None:
        query = query.where(clause)
    events = [CalendarEvent("meeting", m.starts_at, m.title, m, m.ends_at, bool(m.is_public))
              for m in db.session.scalars(query)]
    ballots = db.session.scalars(
        select(Ballot).join(Proposal, Ballot.proposal_id == Proposal.id)
        .where(Ballot.community_id == community.id,
               or_(Proposal.hidden_state.is_(None), Proposal.hidden_state != "hidden"),
               or_(Ballot.opens_at.between(start, end), Ballot.closes_at.between(start, end)))
        .options(joinedload(Ballot.proposal))).all()
    for ballot in ballots:
        if start <= ballot.opens_at < end:
            events.append(CalendarEvent("ballot_opens", ballot.opens_at, ballot.question, ballot))
        if start <= ballot.closes_at < end:
            events.append(CalendarEvent("ballot_closes", ballot.closes_at, ballot.question, ballot))
    return sorted(events, key=lambda e: (e.at, e.kind, e.obj.id))
