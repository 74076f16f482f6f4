"""Scheduling a meeting: its time, place or link and agenda (items pointing at proposals and issues of
the organization's community), adding and removing agenda items, the candidates for the agenda, and
cancelling with a reason; members hear of each."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from portal.audit.services import record
from portal.auth import permissions, roles
from portal.committees.meetings._common import (
    REASON_MAX,
    _member_users,
    _moment,
    _now,
    _others,
    _payload,
    _require_manage,
    _require_scheduled,
    _text,
)
from portal.committees.models import AgendaItem, Decision, Meeting, MinutesItem
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import notify

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.committees.models import Organization
    from portal.issues.models import Issue
    from portal.proposals.models import Proposal

TITLE_MAX = 200
PLACE_MAX = 200
URL_MAX = 500
AGENDA_MAX = 30
SCHEDULING_GRACE = timedelta(minutes=1)  # "now" typed into a form is a moment in the past when it arrives


def _url(value):
    value = _text(value, "online_url", maximum=URL_MAX, required=False)
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise DomainError(_l("Give a web address starting with http:// or https://."), "online_url")
    return value


def _subject(community, proposal, issue):
    """Check that an agenda item's proposal or issue belongs to the community (None when not given)."""
    if proposal is not None and issue is not None:
        raise DomainError(_l("An agenda item points at one proposal or one issue, not both."), "agenda")
    if proposal is not None:
        if proposal.community_id != community.id or proposal.status == "draft":
            raise DomainError(_l("Choose a proposal of this community."), "agenda")
    if issue is not None and issue.community_id != community.id:
        raise DomainError(_l("Choose an issue of this community."), "agenda")


def _agenda_title(title, proposal, issue):
    title = (title or "").strip()
    if not title and (proposal is not None or issue is not None):
        title = (proposal or issue).title[:TITLE_MAX]
    return _text(title, "agenda", maximum=TITLE_MAX, required=True,
                 empty_message=_l("Give each agenda item a title."))


# --- scheduling ------------------------------------------------------------------------------------------

def schedule_meeting(actor: User, organization: Organization, *, title: str, starts_at: datetime,
                     ends_at: datetime | None = None, place: str = "", online_url: str = "", is_public: bool = True,
                     agenda: Iterable[tuple[str, Proposal | None, Issue | None]] = (),
                     now: datetime | None = None) -> Meeting:
    """A meeting of a committee or the property company, with its agenda: (title, proposal or None, issue
    or None) each. Current members are told."""
    now = _now(now)
    if not permissions.can_schedule_meeting(actor, organization):
        raise NotAllowed(_l("Only members of this committee or company can schedule its meetings."))
    title = _text(title, "title", maximum=TITLE_MAX, required=True,
                  empty_message=_l("Give the meeting a title."))
    starts_at = _moment(starts_at, "starts_at")
    if starts_at < now - SCHEDULING_GRACE:
        raise DomainError(_l("A meeting cannot be scheduled in the past."), "starts_at")
    if ends_at is not None:
        ends_at = _moment(ends_at, "ends_at")
        if ends_at <= starts_at:
            raise DomainError(_l("The meeting must end after it starts."), "ends_at")
    place = _text(place, "place", maximum=PLACE_MAX, required=False)
    online_url = _url(online_url)
    if not place and not online_url:
        raise DomainError(_l("Give a place or an online link."), "place")
    community = organization.community
    items = []
    for entry in agenda or ():
        item_title, proposal, issue = (tuple(entry) + (None, None))[:3]
        _subject(community, proposal, issue)
        items.append((_agenda_title(item_title, proposal, issue), proposal, issue))
    if len(items) > AGENDA_MAX:
        raise DomainError(_l("At most %(max)d agenda items.", max=AGENDA_MAX), "agenda")

    meeting = Meeting(organization=organization, community=community, title=title, starts_at=starts_at,
                      ends_at=ends_at, place=place or None, online_url=online_url or None,
                      is_public=bool(is_public), status="scheduled", created_by_id=actor.id, created_at=now)
    for position, (item_title, proposal, issue) in enumerate(items, start=1):
        meeting.agenda.append(AgendaItem(position=position, title=item_title, proposal=proposal, issue=issue))
    db.session.add(meeting)
    db.session.flush()
    record(actor, "meeting.scheduled", meeting, organization_id=organization.id, starts_at=starts_at.isoformat(),
           is_public=meeting.is_public, agenda=len(items))
    notify(_others(_member_users(organization, roles.today()), actor), "meetings.scheduled", meeting,
           **_payload(meeting))
    return meeting


def add_agenda_item(actor: User, meeting: Meeting, *, title: str = "", proposal: Proposal | None = None,
                    issue: Issue | None = None) -> AgendaItem:
    _require_manage(actor, meeting)
    _require_scheduled(meeting)
    _subject(meeting.community, proposal, issue)
    if proposal is None and issue is None and not (title or "").strip():
        raise DomainError(_l("Give each agenda item a title."), "title")
    title = _agenda_title(title, proposal, issue)
    if len(meeting.agenda) >= AGENDA_MAX:
        raise DomainError(_l("At most %(max)d agenda items.", max=AGENDA_MAX), "agenda")
    if any((proposal is not None and i.proposal_id == proposal.id) or (issue is not None and i.issue_id == issue.id)
           for i in meeting.agenda):
        raise DomainError(_l("This is on the agenda already."), "agenda")
    position = max((i.position for i in meeting.agenda), default=0) + 1
    item = AgendaItem(meeting=meeting, position=position, title=title, proposal=proposal, issue=issue)
    db.session.add(item)
    db.session.flush()
    record(actor, "meeting.agenda_added", meeting, agenda_item_id=item.id,
           proposal_id=getattr(proposal, "id", None), issue_id=getattr(issue, "id", None))
    return item


def remove_agenda_item(actor: User, meeting: Meeting, item: AgendaItem | None) -> None:
    _require_manage(actor, meeting)
    _require_scheduled(meeting)
    if item is None or item.meeting_id != meeting.id:
        raise DomainError(_l("This item is not on this meeting's agenda."), "agenda")
    used = db.session.scalar(select(func.count()).select_from(MinutesItem).where(
        MinutesItem.agenda_item_id == item.id)) or db.session.scalar(select(func.count()).select_from(Decision).where(
            Decision.agenda_item_id == item.id))
    if used:
        raise DomainError(_l("Minutes or decisions refer to this item: it stays on the agenda."), "agenda")
    record(actor, "meeting.agenda_removed", meeting, agenda_item_id=item.id, title=item.title)
    meeting.agenda.remove(item)
    db.session.delete(item)
    db.session.flush()


def agenda_candidates(meeting: Meeting, q: str, limit: int = 10) -> list[tuple[str, object]]:
    """Proposals (past draft, not hidden) and open issues of the meeting's community whose titles hold
    every word of `q`, not on the agenda yet: [("proposal", p) | ("issue", i)], newest first."""
    from portal.issues import similar
    from portal.issues.models import OPEN_STATES as ISSUE_OPEN_STATES
    from portal.issues.models import Issue, IssueTerm
    from portal.proposals.models import Proposal, ProposalTerm
    query_terms = sorted(similar.terms(q))
    if not query_terms:
        return []
    limit = max(1, min(int(limit), 50))
    community_id = meeting.community_id
    taken_p = {i.proposal_id for i in meeting.agenda if i.proposal_id}
    taken_i = {i.issue_id for i in meeting.agenda if i.issue_id}
    proposal_ids = (select(ProposalTerm.proposal_id)
                    .where(ProposalTerm.community_id == community_id, ProposalTerm.term.in_(query_terms))
                    .group_by(ProposalTerm.proposal_id).having(func.count() == len(query_terms)))
    proposals = db.session.scalars(
        select(Proposal).where(Proposal.id.in_(proposal_ids), Proposal.community_id == community_id,
                               Proposal.status != "draft",
                               or_(Proposal.hidden_state.is_(None), Proposal.hidden_state != "hidden"),
                               Proposal.id.not_in(taken_p or {0}))
        .order_by(Proposal.id.desc()).limit(limit)).all()
    issue_ids = (select(IssueTerm.issue_id)
                 .where(IssueTerm.community_id == community_id, IssueTerm.term.in_(query_terms))
                 .group_by(IssueTerm.issue_id).having(func.count() == len(query_terms)))
    issues = db.session.scalars(
        select(Issue).where(Issue.id.in_(issue_ids), Issue.community_id == community_id,
                            Issue.status.in_(ISSUE_OPEN_STATES), Issue.id.not_in(taken_i or {0}))
        .order_by(Issue.id.desc()).limit(limit)).all()
    found = [("proposal", p) for p in proposals] + [("issue", i) for i in issues]
    return found[:limit]


def cancel_meeting(actor: User, meeting: Meeting, reason: str, *, now: datetime | None = None) -> Meeting:
    now = _now(now)
    _require_manage(actor, meeting)
    _require_scheduled(meeting)
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why the meeting is cancelled."))
    meeting.status = "cancelled"
    meeting.cancelled_reason = reason
    db.session.flush()
    record(actor, "meeting.cancelled", meeting, reason=reason)
    notify(_others(_member_users(meeting.organization, roles.today()), actor), "meetings.cancelled", meeting,
           **_payload(meeting, reason=reason))
    return meeting
