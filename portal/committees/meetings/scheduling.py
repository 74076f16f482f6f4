"""Meetings of committees and the property company: scheduling with an agenda (items pointing at proposals
and issues of the organization's community), cancelling, attendance and quorum, versioned minutes (drafted,
approved and published by a member; a published version never changes — a correction is a new version),
decisions with their follow-up, and the reads the pages and the calendar need.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, writes an audit entry and
notifies the people concerned. Callers commit; a DomainError leaves nothing written. `now=None` means
utcnow(); tests pass explicit times."""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, inspect, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.audit.services import record
from portal.auth import permissions, roles
from portal.clock import in_zone, utcnow
from portal.committees.models import (
    ATTENDANCE,
    FOLLOW_UPS,
    AgendaItem,
    Attendance,
    Decision,
    Meeting,
    MinutesItem,
    MinutesVersion,
    Organization,
    OrgMembership,
)
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.markup import render_markdown
from portal.outbox import notify, register_event

TITLE_MAX = 200
PLACE_MAX = 200
URL_MAX = 500
REASON_MAX = 1000
MINUTES_MAX = 20000
DECISION_MAX = 5000
AGENDA_MAX = 30
SCHEDULING_GRACE = timedelta(minutes=1)  # "now" typed into a form is a moment in the past when it arrives
EARLY_RECORDING = timedelta(hours=1)  # attendance, minutes and decisions: from an hour before the start

FOLLOW_UP_LABELS = {
    "none": _l("No follow-up"),
    "open_ballot": _l("Open a ballot"),
    "create_action": _l("Create an agreed action"),
    "refer_subdistrict": _l("Refer to the sub-district"),
}
ATTENDANCE_LABELS = {"present": _l("Present"), "absent": _l("Absent"), "excused": _l("Excused")}


def _meeting_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    org_id, meeting_id = payload.get("org_id"), payload.get("meeting_id") or notification.object_id
    if not org_id or not meeting_id:
        return None
    anchor = f"#decision-{payload['decision_id']}" if payload.get("decision_id") else ""
    return url_for("committees.meeting", org_id=org_id, meeting_id=meeting_id) + anchor


register_event("meetings.scheduled", _l("%(org)s meets on %(when)s: “%(title)s”."), _meeting_link)
register_event("meetings.cancelled", _l("The meeting “%(title)s” of %(org)s on %(when)s is cancelled: %(reason)s"),
               _meeting_link)
register_event("meetings.minutes_published", _l("The minutes of “%(title)s” (%(org)s) are published."),
               _meeting_link)
register_event("meetings.referred", _l("%(org)s refers a decision to the sub-district: %(text)s"), _meeting_link)


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return (now or utcnow()).astimezone(timezone.utc)


def _text(value, field, *, maximum, required, empty_message=None):
    value = (value or "").strip()
    if required and not value:
        raise DomainError(empty_message or _l("This field is required."), field)
    if len(value) > maximum:
        raise DomainError(_l("At most %(max)d characters, please: this has %(length)d.", max=maximum,
                             length=len(value)), field)
    return value


def _moment(value, field):
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DomainError(_l("Give a date and time."), field)
    return value.astimezone(timezone.utc)


def _url(value):
    value = _text(value, "online_url", maximum=URL_MAX, required=False)
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise DomainError(_l("Give a web address starting with http:// or https://."), "online_url")
    return value


def meeting_day(meeting) -> date:
    """The meeting's date in its community's time zone: membership is counted on this day."""
    return in_zone(meeting.starts_at, meeting.community.time_zone).date()


def _when_text(meeting) -> str:
    return in_zone(meeting.starts_at, meeting.community.time_zone).strftime("%Y-%m-%d %H:%M")


def _payload(meeting, **extra):
    payload = {"title": meeting.title, "org": meeting.organization.name, "org_id": meeting.organization_id,
               "meeting_id": meeting.id, "when": _when_text(meeting)}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def members_on(organization, on: date) -> list:
    """The people who were members of the organization on that day."""
    return db.session.scalars(
        select(OrgMembership).options(joinedload(OrgMembership.user))
        .where(OrgMembership.organization_id == organization.id, roles.current_clause(OrgMembership, on))
        .order_by(OrgMembership.start_date, OrgMembership.id)).all()


def _member_users(organization, on: date):
    seen, people = set(), []
    for m in members_on(organization, on):
        if m.user_id not in seen:
            seen.add(m.user_id)
            people.append(m.user)
    return people


def _others(people, actor):
    return [p for p in people if p is not None and p.id != getattr(actor, "id", None)]


def _require_manage(actor, meeting):
    if not permissions.can_manage_meeting(actor, meeting):
        raise NotAllowed(_l("Only members of %(org)s can do this.", org=meeting.organization.name))


def _require_scheduled(meeting):
    if meeting.status == "cancelled":
        raise DomainError(_l("This meeting was cancelled."), "meeting")
    if meeting.status != "scheduled":
        raise DomainError(_l("This meeting has been held: its agenda no longer changes."), "meeting")


def _require_started(meeting, now):
    if meeting.status == "cancelled":
        raise DomainError(_l("This meeting was cancelled."), "meeting")
    if now < meeting.starts_at - EARLY_RECORDING:
        raise DomainError(_l("This meeting has not started yet."), "meeting")


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

def schedule_meeting(actor, organization, *, title, starts_at, ends_at=None, place="", online_url="",
                     is_public=True, agenda=(), now=None) -> Meeting:
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


def add_agenda_item(actor, meeting, *, title="", proposal=None, issue=None) -> AgendaItem:
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


def remove_agenda_item(actor, meeting, item) -> None:
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


def agenda_candidates(meeting, q, limit=10) -> list[tuple[str, object]]:
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


def cancel_meeting(actor, meeting, reason, *, now=None) -> Meeting:
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


# --- attendance ------------------------------------------------------------------------------------------

def record_attendance(actor, meeting, statuses, *, now=None) -> list[Attendance]:
    """Present / absent / excused for members of the organization on the meeting's date (given as
    {user_id: status}); records already there are updated. The meeting is then held."""
    now = _now(now)
    _require_manage(actor, meeting)
    _require_started(meeting, now)
    members = {u.id: u for u in _member_users(meeting.organization, meeting_day(meeting))}
    cleaned = {}
    for user_id, status in dict(statuses or {}).items():
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            raise DomainError(_l("Record attendance for members of %(org)s only.",
                                 org=meeting.organization.name), "attendance") from None
        if user_id not in members:
            raise DomainError(_l("Record attendance for members of %(org)s only.",
                                 org=meeting.organization.name), "attendance")
        if status not in ATTENDANCE:
            raise DomainError(_l("Choose present, absent or excused."), "attendance")
        cleaned[user_id] = status
    if not cleaned:
        raise DomainError(_l("Record the attendance of at least one member."), "attendance")
    existing = {a.user_id: a for a in db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id))}
    rows = []
    for user_id, status in cleaned.items():
        row = existing.get(user_id)
        if row is None:
            row = Attendance(meeting_id=meeting.id, user_id=user_id, status=status, recorded_by_id=actor.id,
                             recorded_at=now)
            db.session.add(row)
        elif row.status != status:
            row.status, row.recorded_by_id, row.recorded_at = status, actor.id, now
        rows.append(row)
    meeting.status = "held"
    db.session.flush()
    record(actor, "meeting.attendance", meeting, statuses={str(k): v for k, v in cleaned.items()})
    return rows


def attendance_of(meeting) -> dict[int, str]:
    return {a.user_id: a.status for a in db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id))}


def quorum(meeting) -> tuple[int, int, bool]:
    """(present, members, met): members on the meeting's date, those of them recorded present, and whether
    more than half were (2·present > members; exactly half is not a quorum)."""
    member_ids = {u.id for u in _member_users(meeting.organization, meeting_day(meeting))}
    present = sum(1 for user_id, status in attendance_of(meeting).items()
                  if status == "present" and user_id in member_ids)
    return present, len(member_ids), 2 * present > len(member_ids)


# --- minutes ---------------------------------------------------------------------------------------------

def minutes_versions(meeting) -> list[MinutesVersion]:
    return db.session.scalars(select(MinutesVersion).where(MinutesVersion.meeting_id == meeting.id)
                              .options(selectinload(MinutesVersion.items).joinedload(MinutesItem.agenda_item))
                              .order_by(MinutesVersion.version)).all()


def published_minutes(meeting) -> list[MinutesVersion]:
    return [v for v in minutes_versions(meeting) if v.status == "published"]


def draft_minutes(meeting) -> MinutesVersion | None:
    versions = minutes_versions(meeting)
    return versions[-1] if versions and versions[-1].status == "draft" else None


def save_minutes(actor, meeting, items, correction_note="", *, version=None, now=None) -> MinutesVersion:
    """Write the minutes: {agenda_item_id or None (general remarks): Markdown}. Edits the current draft, or
    starts a new version — a correction, with `correction_note` required, when a version is published.
    `version` (the version number the editor was opened on, optional) refuses a stale form whose version
    has been published meanwhile."""
    now = _now(now)
    _require_manage(actor, meeting)
    _require_started(meeting, now)
    versions = minutes_versions(meeting)
    latest = versions[-1] if versions else None
    if version is not None:
        target = next((v for v in versions if str(v.version) == str(version)), None)
        if target is not None and target.status == "published":
            raise DomainError(_l("Published minutes cannot be changed: write a correction instead."), "minutes")
    agenda_ids = {i.id: i for i in meeting.agenda}
    bodies = {}
    for key, body in dict(items or {}).items():
        if key in (None, "", "general"):
            key = None
        else:
            try:
                key = int(key)
            except (TypeError, ValueError):
                raise DomainError(_l("Write minutes for this meeting's agenda items."), "minutes") from None
            if key not in agenda_ids:
                raise DomainError(_l("Write minutes for this meeting's agenda items."), "minutes")
        body = _text(body, "minutes", maximum=MINUTES_MAX, required=False)
        if body:
            bodies[key] = body
    if not bodies:
        raise DomainError(_l("Write the minutes of at least one item."), "minutes")
    has_published = any(v.status == "published" for v in versions)
    note = _text(correction_note, "correction_note", maximum=REASON_MAX, required=has_published,
                 empty_message=_l("Say what this version corrects."))

    if latest is not None and latest.status == "draft":
        minutes = latest
        for old in list(minutes.items):
            minutes.items.remove(old)
            db.session.delete(old)
        db.session.flush()
        action = "minutes.edited"
    else:
        minutes = MinutesVersion(meeting_id=meeting.id, version=(latest.version + 1) if latest else 1,
                                 status="draft", created_by_id=actor.id, created_at=now)
        db.session.add(minutes)
        action = "minutes.drafted"
    minutes.correction_note = note or None
    order = sorted(bodies, key=lambda k: -1 if k is None else agenda_ids[k].position)
    for position, key in enumerate(order):
        minutes.items.append(MinutesItem(agenda_item_id=key, position=position, body=bodies[key],
                                         body_html=render_markdown(bodies[key])))
    db.session.flush()
    record(actor, action, meeting, minutes_id=minutes.id, version=minutes.version)
    return minutes


def publish_minutes(actor, meeting, *, now=None) -> MinutesVersion:
    """A member approves the draft and publishes it: immutable from then on."""
    now = _now(now)
    _require_manage(actor, meeting)
    draft = draft_minutes(meeting)
    if draft is None:
        raise DomainError(_l("There is no draft of the minutes to publish."), "minutes")
    draft.status = "published"
    draft.published_by_id = actor.id
    draft.published_at = now
    db.session.flush()
    record(actor, "minutes.published", meeting, minutes_id=draft.id, version=draft.version)
    notify(_others(_member_users(meeting.organization, roles.today()), actor), "meetings.minutes_published",
           meeting, **_payload(meeting, version=draft.version))
    return draft


@event.listens_for(Session, "before_flush")
def _published_minutes_never_change(session, flush_context, instances):
    """The database side of "published minutes are immutable": no flush changes or deletes a version
    that was published before it, or any of its items."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, MinutesVersion):
            history = inspect(obj).attrs.status.history
            before = (history.deleted or history.unchanged or [None])[0]
            if before == "published" and (obj in session.deleted or session.is_modified(obj)):
                raise DomainError(_l("Published minutes cannot be changed: write a correction instead."),
                                  "minutes")
        elif isinstance(obj, MinutesItem) and session.is_modified(obj) or (
                isinstance(obj, MinutesItem) and obj in session.deleted):
            minutes = obj.minutes
            if minutes is not None:
                history = inspect(minutes).attrs.status.history
                before = (history.deleted or history.unchanged or [None])[0]
                if before == "published":
                    raise DomainError(_l("Published minutes cannot be changed: write a correction instead."),
                                      "minutes")
    for obj in session.new:
        if isinstance(obj, MinutesItem) and obj.minutes is not None and obj.minutes.id is not None:
            history = inspect(obj.minutes).attrs.status.history
            before = (history.deleted or history.unchanged or [None])[0]
            if before == "published":
                raise DomainError(_l("Published minutes cannot be changed: write a correction instead."),
                                  "minutes")


# --- decisions -------------------------------------------------------------------------------------------

def record_decision(actor, meeting, *, text, follow_up, agenda_item=None, now=None) -> Decision:
    """What the meeting decided and its intended follow-up: "open_ballot" (a proposal in consultation on the
    agenda item; the ballot is linked when opened from the decision), "create_action" (an agreed action
    made from the decision links back to it), "refer_subdistrict" (the sub-district office is told), or "none"."""
    now = _now(now)
    _require_manage(actor, meeting)
    _require_started(meeting, now)
    text = _text(text, "text", maximum=DECISION_MAX, required=True, empty_message=_l("Write the decision."))
    if follow_up not in FOLLOW_UPS:
        raise DomainError(_l("Choose the follow-up."), "follow_up")
    if agenda_item is not None and agenda_item.meeting_id != meeting.id:
        raise DomainError(_l("Choose an item of this meeting's agenda."), "agenda_item")
    if follow_up == "open_ballot" and (agenda_item is None or agenda_item.proposal is None
                                       or agenda_item.proposal.status != "deliberation"):
        raise DomainError(_l("A ballot is opened on an agenda item's proposal that is in consultation."),
                          "agenda_item")
    decision = Decision(meeting_id=meeting.id, agenda_item=agenda_item, text=text, follow_up=follow_up,
                        created_by_id=actor.id, created_at=now)
    db.session.add(decision)
    db.session.flush()
    if follow_up == "refer_subdistrict":
        decision.referred_at = now
        notify(_others(subdistrict_office_members(meeting.community), actor), "meetings.referred", meeting,
               **_payload(meeting, decision_id=decision.id, text=text[:200]))
    record(actor, "meeting.decision", meeting, decision_id=decision.id, follow_up=follow_up,
           agenda_item_id=getattr(agenda_item, "id", None))
    return decision


def subdistrict_office_members(community) -> list:
    """Current members of the sub-district office of the community's sub-district."""
    rows = db.session.scalars(
        select(OrgMembership).join(Organization).options(joinedload(OrgMembership.user))
        .where(Organization.kind == "subdistrict_office", Organization.sub_district_id == community.sub_district_id,
               roles.current_clause(OrgMembership, roles.today()))).unique().all()
    return [m.user for m in rows]


def decisions_of(meeting) -> list[Decision]:
    return db.session.scalars(select(Decision).where(Decision.meeting_id == meeting.id)
                              .options(joinedload(Decision.agenda_item), joinedload(Decision.ballot))
                              .order_by(Decision.id)).all()


def decision_for_ballot(actor, decision_id, proposal) -> Decision | None:
    """The decision a ballot is being opened from (votes.new?decision=<id>), when the actor manages its
    meeting and it is an open_ballot decision on this proposal still without a ballot; else None."""
    try:
        decision = db.session.get(Decision, int(decision_id))
    except (TypeError, ValueError):
        return None
    if decision is None or decision.follow_up != "open_ballot" or decision.ballot_id is not None:
        return None
    if decision.agenda_item is None or decision.agenda_item.proposal_id != proposal.id:
        return None
    if not permissions.can_manage_meeting(actor, decision.meeting):
        return None
    return decision


def link_ballot(decision, ballot) -> Decision:
    """The ballot opened from an "open a ballot" decision (on the agenda item's proposal)."""
    if decision.follow_up != "open_ballot" or decision.agenda_item is None or \
            decision.agenda_item.proposal_id != ballot.proposal_id:
        raise DomainError(_l("This ballot is not on the decision's proposal."), "decision")
    if decision.ballot_id is not None and decision.ballot_id != ballot.id:
        raise DomainError(_l("This decision already has its ballot."), "decision")
    decision.ballot_id = ballot.id
    db.session.flush()
    record(None, "meeting.decision_ballot", decision.meeting, decision_id=decision.id, ballot_id=ballot.id)
    return decision


# --- reading ---------------------------------------------------------------------------------------------

def _meeting_options():
    return (joinedload(Meeting.organization), joinedload(Meeting.community),
            selectinload(Meeting.agenda).joinedload(AgendaItem.proposal),
            selectinload(Meeting.agenda).joinedload(AgendaItem.issue))


def meeting_in(organization, meeting_id) -> Meeting | None:
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


def organization_meetings(organization, viewer, *, limit=100) -> list[Meeting]:
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


def community_meetings(community, viewer, *, after=None, limit=100) -> list[Meeting]:
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


def upcoming_events(community, viewer, start, end) -> list[CalendarEvent]:
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
