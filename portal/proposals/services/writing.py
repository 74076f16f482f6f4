"""Proposals (议题): drafting and publishing, supports, the consultation and its comments, withdrawal,
archiving, escalation from an issue, and the lists.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, adds a timeline entry
(ProposalEvent) where it is a step of the proposal, writes an audit entry and notifies the people
concerned. Callers commit; a DomainError leaves nothing written. `now=None` means utcnow(); tests pass
explicit times.

Acting for a resident follows the issues area: the acting member is the first argument and the resident
`on_behalf_of`; the resident becomes the author and the member is kept as `created_by`. Later steps on
the member's own words (edit, publish, withdraw) name the resident in the audit log the same way.

Counters (support_count, comment_count, like_count) are changed by UPDATE … SET n = n + 1, so two
people acting at once both count; the unique constraints (one support, one like per person) are the
last line behind the checks, caught in a SAVEPOINT."""
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, joinedload, selectinload

from portal.audit.services import record
from portal.auth import permissions
from portal.auth.models import User
from portal.clock import utcnow
from portal.committees.models import COMMITTEE_KINDS, Organization
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import IssueEvent
# The keyset pager of the issues lists, shared rather than copied (see the closing note of issue #5).
from portal.issues.services import _page as keyset_page
from portal.issues.services import members_of
from portal.markup import render_markdown
from portal.outbox import notify, register_event
from portal.places.models import Building
from portal.proposals.models import (
    BODY_MAX,
    CATEGORIES,
    COMMENT_MAX,
    MAX_ATTACHMENTS,
    REASON_MAX,
    STANCES,
    STATES,
    SUMMARY_MAX,
    SUMMARY_TEXT_MAX,
    TITLE_MAX,
    WITHDRAW_REASONS,
    Comment,
    CommentLike,
    CommentRevision,
    Proposal,
    ProposalAttachment,
    ProposalEvent,
    ProposalSupport,
    ProposalTerm,
    ProposalVersion,
)

EDIT_SILENTLY_WITHIN = timedelta(minutes=10)
THRESHOLD_RANGE = (1, 10000)
DAYS_RANGE = (1, 365)
NOTICE_DAYS_RANGE = (1, 90)
COST_MAX = Decimal("9999999999.99")  # Numeric(12, 2)
OPEN_STATES = ("collecting", "deliberation", "voting")
COMMENT_SORTS = ("oldest", "newest", "liked")
COMMENTS_PER_PAGE = 50
REPLIES_SHOWN = 3  # under each thread of a page; "show N more replies" loads the rest
REPLIES_PER_PAGE = 100  # of a thread's replies, loaded by "show more"

# An issue's default category → the proposal category it most likely belongs to.
ISSUE_CATEGORY_MAP = {"lift": "lift", "parking": "parking", "greenery": "environment", "rubbish": "environment",
                      "security": "safety", "facilities": "facilities"}

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
}


def _proposal_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    slug, proposal_id = payload.get("slug"), payload.get("proposal_id") or notification.object_id
    if not slug or not proposal_id:
        return None
    anchor = f"#comment-{payload['comment_id']}" if payload.get("comment_id") else ""
    return url_for("proposals.detail", slug=slug, proposal_id=proposal_id) + anchor


# Who hears what (issue #9): the author and the supporters hear of every step their proposal takes, once
# each. Where another area already tells them of the same step (the ballot opening and its result reach
# the electorate, a public notice reaches the community), they are left out of the proposal's own notice.
register_event("proposals.threshold_reached",
               _l("“%(title)s” reached %(supports)d supports: its consultation is open."), _proposal_link)
register_event("proposals.archived",
               _l("“%(title)s” did not reach enough supports in time and was archived."), _proposal_link)
register_event("proposals.withdrawn", _l("“%(title)s” was withdrawn by its author."), _proposal_link)
register_event("proposals.deliberation", _l("“%(title)s” was moved to consultation: %(reason)s"),
               _proposal_link)
register_event("proposals.voting", _l("“%(title)s” goes to a vote."), _proposal_link)
register_event("proposals.passed", _l("The vote decided: “%(title)s” passed."), _proposal_link)
register_event("proposals.rejected", _l("The vote decided: “%(title)s” did not pass."), _proposal_link)
register_event("proposals.returned",
               _l("The vote did not decide “%(title)s”: it is back in consultation."), _proposal_link)
register_event("proposals.evaluated",
               _l("Everything agreed for “%(title)s” is done and rated: the proposal is evaluated."),
               _proposal_link)
register_event("proposals.reply", _l("%(name)s replied to your comment on “%(title)s”."), _proposal_link)


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return now or utcnow()


def _payload(proposal, **extra):
    # A hidden proposal is named by number: its words must not travel in notices to others.
    title = f"#{proposal.id}" if proposal.hidden_state else proposal.title
    payload = {"title": title, "slug": proposal.community.slug, "proposal_id": proposal.id}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def _others(people, actor):
    return [p for p in people if p is not None and p.id != getattr(actor, "id", None)]


def _behalf(actor, item):
    """The resident a member wrote this for (item.author), when the member is the one acting."""
    return item.author if actor is not None and actor.id != item.author_id else None


def _add_event(proposal, kind, actor=None, *, body=None, to_state=None, from_state=None, on_behalf_of=None,
               at=None, **details):
    event = ProposalEvent(proposal=proposal, kind=kind, actor_id=getattr(actor, "id", None),
                          on_behalf_of_id=getattr(on_behalf_of, "id", None), body=body, from_state=from_state,
                          to_state=to_state, at=at or utcnow(), details=details)
    db.session.add(event)
    return event


def _move(proposal, to_state, kind, actor=None, *, at, **kw):
    """Change the state and put the step on the timeline."""
    event = _add_event(proposal, kind, actor, from_state=proposal.status, to_state=to_state, at=at, **kw)
    proposal.status = to_state
    return event


def _text(value, field, *, maximum, required, empty_message=None):
    value = (value or "").strip()
    if required and not value:
        raise DomainError(empty_message or _l("This field is required."), field)
    if len(value) > maximum:
        raise DomainError(_l("At most %(max)d characters, please: this has %(length)d.", max=maximum,
                             length=len(value)), field)
    return value


def _whole_number(value, field, bounds, message):
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise DomainError(message, field) from None
    if not bounds[0] <= number <= bounds[1]:
        raise DomainError(message, field)
    return number


def _cost(value):
    if value in (None, ""):
        return None
    try:
        cost = Decimal(str(value).strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise DomainError(_l("Give the cost as a number of yuan."), "estimated_cost") from None
    if not cost.is_finite() or cost < 0 or cost > COST_MAX:
        raise DomainError(_l("Give the cost as a number of yuan, 0 or more."), "estimated_cost")
    return cost.quantize(Decimal("0.01"))


def _buildings(community, building_ids) -> list[Building]:
    try:
        ids = sorted({int(i) for i in building_ids or ()})
    except (TypeError, ValueError):
        raise DomainError(_l("Choose buildings of this community."), "buildings") from None
    if not ids:
        return []
    found = db.session.scalars(db.select(Building).where(Building.id.in_(ids), Building.community_id == community.id)
                               .order_by(Building.code)).all()
    if len(found) != len(ids):
        raise DomainError(_l("Choose buildings of this community."), "buildings")
    return found


def _check_text(community, *, title, summary, body, category, building_ids, estimated_cost) -> dict:
    """Every field of a proposal checked and cleaned, in the order of the form."""
    fields = {
        "title": _text(title, "title", maximum=TITLE_MAX, required=True,
                       empty_message=_l("Give the proposal a short title.")),
        "summary": _text(summary, "summary", maximum=SUMMARY_MAX, required=True,
                         empty_message=_l("Say in a few sentences what you propose.")),
        "body": _text(body, "body", maximum=BODY_MAX, required=False),
    }
    if category not in CATEGORIES:
        raise DomainError(_l("Choose a category."), "category")
    fields["category"] = category
    fields["buildings"] = _buildings(community, building_ids)
    fields["estimated_cost"] = _cost(estimated_cost)
    return fields


def _apply_text(proposal, fields):
    proposal.title = fields["title"]
    proposal.summary = fields["summary"]
    proposal.body = fields["body"]
    proposal.body_html = render_markdown(fields["body"])
    proposal.category = fields["category"]
    proposal.buildings = fields["buildings"]
    proposal.whole_community = not fields["buildings"]
    proposal.estimated_cost = fields["estimated_cost"]


def _prepare_attachments(files, already=0):
    """Every file checked by its content (portal.proposals.attachments) before anything is written."""
    files = list(files or ())
    if already + len(files) > MAX_ATTACHMENTS:
        raise DomainError(_l("At most %(max)d attachments, please.", max=MAX_ATTACHMENTS), "attachments")
    if not files:
        return []
    from portal.proposals import attachments
    prepared = []
    for filename, data in files:
        try:
            prepared.append(attachments.prepare(data, filename))
        except DomainError as error:
            error.field = error.field or "attachments"
            raise
    return prepared


def _save_attachments(prepared, proposal, uploaded_by):
    if not prepared:
        return []
    from portal.proposals import attachments
    db.session.flush()
    return [attachments.save(p, proposal=proposal, uploaded_by=uploaded_by) for p in prepared]


def _index_terms(proposal):
    """The search index: the words and character pairs of the title and the summary."""
    db.session.flush()
    db.session.execute(db.delete(ProposalTerm).where(ProposalTerm.proposal_id == proposal.id))
    found = similar.terms(proposal.title) | similar.terms(proposal.summary)
    rows = [{"proposal_id": proposal.id, "community_id": proposal.community_id, "term": term}
            for term in sorted(found)]
    if rows:
        db.session.execute(db.insert(ProposalTerm), rows)


def _write_version(proposal, editor, note, now):
    db.session.add(ProposalVersion(
        proposal_id=proposal.id, version=proposal.version, title=proposal.title, summary=proposal.summary,
        body=proposal.body, category=proposal.category, estimated_cost=proposal.estimated_cost,
        building_ids=[b.id for b in proposal.buildings], note=note or None,
        edited_by_id=getattr(editor, "id", None), edited_at=now))


def committee_of(community) -> list[User]:
    """Current members of the community's committees (one query for the ids, one for the people)."""
    org_ids = db.session.scalars(db.select(Organization.id).where(
        Organization.community_id == community.id, Organization.kind.in_(COMMITTEE_KINDS))).all()
    return members_of(org_ids)


def followers_of(proposal) -> list[User]:
    """The people told of the proposal's steps: its author and its supporters."""
    return [proposal.author] + supporters_of(proposal)


def tell_followers(proposal, event, *, actor=None, skip_ids=(), **extra) -> None:
    """Notify the author and supporters of a step, except the person who took it and `skip_ids` (people
    another area's notice of the same step already reaches)."""
    skip = set(skip_ids) | {getattr(actor, "id", None)}
    notify([p for p in followers_of(proposal) if p is not None and p.id not in skip], event, proposal,
           **_payload(proposal, **extra))


def supporters_of(proposal) -> list[User]:
    return db.session.scalars(db.select(User).join(ProposalSupport, ProposalSupport.user_id == User.id)
                              .where(ProposalSupport.proposal_id == proposal.id).order_by(ProposalSupport.id)).all()


# --- settings --------------------------------------------------------------------------------------------

def settings_for(community) -> tuple[int, int]:
    """The community's support threshold N and window D (days)."""
    return community.proposal_support_threshold, community.proposal_support_days


def update_settings(actor, community, *, threshold, days, notice_days=None):
    """Change N and D for proposals published from now on; published ones keep what they were given. The
    notice period (days) applies to notices started from now on (None leaves it as it is)."""
    if not permissions.can_manage_proposal_settings(actor, community):
        raise NotAllowed(_l("Only the community's committee can change these settings."))
    threshold = _whole_number(threshold, "threshold", THRESHOLD_RANGE,
                              _l("The threshold is a whole number from 1 to 10,000."))
    days = _whole_number(days, "days", DAYS_RANGE, _l("The window is a whole number of days from 1 to 365."))
    previous_notice_days = community.notice_days
    if notice_days is not None:
        notice_days = _whole_number(notice_days, "notice_days", NOTICE_DAYS_RANGE,
                                    _l("The notice period is a whole number of days from 1 to 90."))
        community.notice_days = notice_days
    before = settings_for(community)
    community.proposal_support_threshold = threshold
    community.proposal_support_days = days
    db.session.flush()
    record(actor, "proposal_settings.updated", community, threshold=threshold, days=days,
           previous_threshold=before[0], previous_days=before[1], notice_days=community.notice_days,
           previous_notice_days=previous_notice_days)
    return community


# --- writing a proposal ----------------------------------------------------------------------------------

def create_proposal(author, community, *, title, summary, body, category, building_ids=(), estimated_cost=None,
                    attachments=(), publish=False, on_behalf_of=None, source_issue=None, now=None) -> Proposal:
    """A draft (or, with publish=True, a proposal collecting supports at once). `attachments` are
    (filename, bytes) pairs. A committee member at the counter passes the resident as `on_behalf_of`:
    the resident is the author, the member `created_by`."""
    now = _now(now)
    person = on_behalf_of or author
    if on_behalf_of is not None and not permissions.can_act_for(author, on_behalf_of):
        raise NotAllowed(_l("You may not act for this person."))
    if not permissions.can_create_proposal(person, community):
        raise NotAllowed(_l("Only verified residents and the committee of this community can make proposals "
                            "here."))
    if source_issue is not None and source_issue.community_id != community.id:
        raise DomainError(_l("The issue belongs to another community."), "source_issue")
    fields = _check_text(community, title=title, summary=summary, body=body, category=category,
                         building_ids=building_ids, estimated_cost=estimated_cost)
    prepared = _prepare_attachments(attachments)

    proposal = Proposal(community=community, author=person, created_by=author if on_behalf_of else None,
                        source_issue=source_issue, status="draft", version=1, created_at=now, updated_at=now)
    _apply_text(proposal, fields)
    db.session.add(proposal)
    _add_event(proposal, "escalated" if source_issue else "created", author, on_behalf_of=on_behalf_of, at=now,
               **({"issue_id": source_issue.id} if source_issue else {}))
    db.session.flush()
    _save_attachments(prepared, proposal, author)
    _index_terms(proposal)
    record(author, "proposal.created", proposal, on_behalf_of=on_behalf_of, subject_user=on_behalf_of,
           community_id=community.id, category=proposal.category, attachments=len(prepared),
           source_issue_id=getattr(source_issue, "id", None))
    if publish:
        publish_proposal(author, proposal, now=now)
    return proposal


def publish_proposal(actor, proposal, *, now=None) -> Proposal:
    """Draft → collecting: the community's threshold and window are frozen on the proposal, and the text
    as published becomes version 1."""
    now = _now(now)
    if not permissions.can_publish_proposal(actor, proposal):
        raise NotAllowed(_l("Only the author can publish a draft."))
    threshold, days = settings_for(proposal.community)
    proposal.support_threshold = threshold
    proposal.support_deadline = now + timedelta(days=days)
    proposal.published_at = now
    proposal.updated_at = now
    proposal.version = 1
    _move(proposal, "collecting", "published", actor, on_behalf_of=_behalf(actor, proposal), at=now,
          threshold=threshold, days=days)
    db.session.flush()
    _write_version(proposal, actor, None, now)
    record(actor, "proposal.published", proposal, on_behalf_of=_behalf(actor, proposal), threshold=threshold,
           days=days)
    return proposal


publish = publish_proposal  # the contract's name; the longer one reads better next to other areas' verbs


def update_proposal(editor, proposal, *, title, summary, body, category, building_ids, estimated_cost,
                    add_attachments=(), remove_attachment_ids=(), note="", now=None) -> Proposal:
    """The author's edit. A draft changes in place; a published proposal gets a new version (the text
    after the edit, with the editor's note) and a timeline entry. Sending the same text changes nothing."""
    now = _now(now)
    if not permissions.can_edit_proposal(editor, proposal):
        raise NotAllowed(_l("Only the author can edit this proposal, and only until its consultation "
                            "closes."))
    fields = _check_text(proposal.community, title=title, summary=summary, body=body, category=category,
                         building_ids=building_ids, estimated_cost=estimated_cost)
    note = _text(note, "note", maximum=REASON_MAX, required=False)
    removing = _attachments_to_remove(proposal, remove_attachment_ids)
    prepared = _prepare_attachments(add_attachments, len(proposal.attachments) - len(removing))

    text_changed = _differs(proposal, fields)
    if text_changed:
        _apply_text(proposal, fields)
        proposal.updated_at = now
        _index_terms(proposal)
    behalf = _behalf(editor, proposal)
    if proposal.is_public and text_changed:
        proposal.version += 1
        _add_event(proposal, "edited", editor, body=note or None, on_behalf_of=behalf, at=now,
                   version=proposal.version)
        db.session.flush()
        _write_version(proposal, editor, note, now)
    saved = _save_attachments(prepared, proposal, editor)
    if proposal.is_public and (saved or removing):
        _add_event(proposal, "attachments", editor, on_behalf_of=behalf, at=now,
                   added=[a.filename for a in saved], removed=[a.filename for a in removing])
    _remove_attachments(removing)
    if text_changed or saved or removing:
        db.session.flush()
        record(editor, "proposal.edited", proposal, on_behalf_of=behalf, version=proposal.version,
               text_changed=text_changed, attachments_added=len(saved), attachments_removed=len(removing))
    return proposal


def _differs(proposal, fields) -> bool:
    return (proposal.title, proposal.summary, proposal.body, proposal.category,
            [b.id for b in proposal.buildings], proposal.estimated_cost) != \
        (fields["title"], fields["summary"], fields["body"], fields["category"],
         [b.id for b in fields["buildings"]], fields["estimated_cost"])


def _attachments_to_remove(proposal, attachment_ids) -> list[ProposalAttachment]:
    try:
        wanted = {int(i) for i in attachment_ids or ()}
    except (TypeError, ValueError):
        raise DomainError(_l("Choose attachments of this proposal."), "attachments") from None
    found = [a for a in proposal.attachments if a.id in wanted]
    if len(found) != len(wanted):
        raise DomainError(_l("Choose attachments of this proposal."), "attachments")
    return found


def _remove_attachments(removing):
    if not removing:
        return
    from portal.proposals import attachments
    for attachment in removing:
        db.session.delete(attachment)
        attachments.delete_files(attachment)


def withdraw(actor, proposal, reason, note="", *, now=None) -> Proposal:
    """The author takes the proposal back, saying why; its supporters are told."""
    now = _now(now)
    if not permissions.can_withdraw_proposal(actor, proposal):
        raise NotAllowed(_l("Only the author can withdraw a proposal, and only before it goes to a vote."))
    if reason not in WITHDRAW_REASONS:
        raise DomainError(_l("Say why you withdraw it."), "reason")
    note = _text(note, "note", maximum=REASON_MAX, required=reason == "other",
                 empty_message=_l("Say in a few words why you withdraw it."))
    proposal.withdrawn_reason = reason
    proposal.withdrawn_note = note or None
    proposal.ended_at = now
    behalf = _behalf(actor, proposal)
    _move(proposal, "withdrawn", "withdrawn", actor, body=note or None, on_behalf_of=behalf, at=now, reason=reason)
    db.session.flush()
    record(actor, "proposal.withdrawn", proposal, on_behalf_of=behalf, reason=reason)
    tell_followers(proposal, "proposals.withdrawn", actor=actor)
    return proposal


# --- supports --------------------------------------------------------------------------------------------

def has_supported(user, proposal) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(db.select(ProposalSupport.id).where(
        ProposalSupport.proposal_id == proposal.id, ProposalSupport.user_id == user.id)) is not None


def supported_ids(user, proposal_ids) -> set[int]:
    """Which of these proposals the person supports (one query, for lists)."""
    proposal_ids = list(proposal_ids)
    if not getattr(user, "is_authenticated", False) or not proposal_ids:
        return set()
    return set(db.session.scalars(db.select(ProposalSupport.proposal_id).where(
        ProposalSupport.user_id == user.id, ProposalSupport.proposal_id.in_(proposal_ids))))


def _check_window(proposal, now):
    if proposal.support_deadline is not None and proposal.support_deadline <= now:
        raise DomainError(_l("The time to collect supports for this proposal has ended."), "support")


def support(user, proposal, *, now=None) -> bool:
    """One support. False, changing nothing, when the person already supports it (a double click
    included). The support that reaches the threshold opens the consultation and tells the committee."""
    now = _now(now)
    if not permissions.can_support_proposal(user, proposal):
        raise NotAllowed(_l("Only verified residents of this community can support a proposal that is "
                            "collecting supports, and not their own."))
    _check_window(proposal, now)
    if has_supported(user, proposal):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(ProposalSupport(proposal_id=proposal.id, user_id=user.id, created_at=now))
    except IntegrityError:
        return False
    _add_to_count(proposal, Proposal.support_count, 1)
    record(user, "proposal.supported", proposal)
    if proposal.support_count >= proposal.support_threshold:
        _reach_threshold(proposal, now)
    return True


def withdraw_support(user, proposal, *, now=None) -> bool:
    """Take a support back while supports are collected. False when there was none."""
    now = _now(now)
    if not getattr(user, "is_authenticated", False) or proposal.status != "collecting":
        raise NotAllowed(_l("Supports can only be taken back while they are being collected."))
    _check_window(proposal, now)
    removed = db.session.execute(db.delete(ProposalSupport).where(
        ProposalSupport.proposal_id == proposal.id, ProposalSupport.user_id == user.id)).rowcount
    if not removed:
        return False
    _add_to_count(proposal, Proposal.support_count, -1)
    record(user, "proposal.support_withdrawn", proposal)
    return True


def _add_to_count(obj, column, step):
    model = type(obj)
    db.session.execute(db.update(model).where(model.id == obj.id).values({column.key: column + step}))
    db.session.refresh(obj, [column.key])


def _reach_threshold(proposal, now):
    _open_consultation(proposal, "threshold", None, now, supports=proposal.support_count)
    db.session.flush()
    record(None, "proposal.threshold_reached", proposal, supports=proposal.support_count)
    notify(committee_of(proposal.community) + followers_of(proposal), "proposals.threshold_reached", proposal,
           **_payload(proposal, supports=proposal.support_count))


def _open_consultation(proposal, kind, actor, now, *, body=None, **details):
    proposal.deliberation_at = now
    _move(proposal, "deliberation", kind, actor, body=body, at=now, **details)


# --- the committee's steps -------------------------------------------------------------------------------

def move_to_deliberation(actor, proposal, reason, *, now=None) -> Proposal:
    """A committee member opens the consultation before the threshold is reached, saying why."""
    now = _now(now)
    if not permissions.can_move_to_deliberation(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can move a proposal that is collecting supports "
                            "to consultation."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why the consultation opens now."))
    _open_consultation(proposal, "moved", actor, now, body=reason, supports=proposal.support_count)
    db.session.flush()
    record(actor, "proposal.moved_to_deliberation", proposal, reason=reason)
    tell_followers(proposal, "proposals.deliberation", actor=actor, reason=reason)
    return proposal


def close_deliberation(actor, proposal, reason="", *, now=None) -> Proposal:
    """Comments become read-only. The proposal stays "in consultation" until the votes area takes it on."""
    now = _now(now)
    if not permissions.can_close_deliberation(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can close an open consultation."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=False)
    proposal.comments_closed_at = now
    _add_event(proposal, "closed", actor, body=reason or None, at=now)
    db.session.flush()
    record(actor, "proposal.deliberation_closed", proposal, reason=reason)
    return proposal


# --- time ------------------------------------------------------------------------------------------------

def apply_due(proposal, now=None) -> bool:
    """A proposal still collecting when its window has ended is archived (pages call this when they load
    one; run-due does it for all). True when something changed."""
    now = _now(now)
    if proposal.status != "collecting" or proposal.support_deadline is None or proposal.support_deadline > now:
        return False
    proposal.ended_at = proposal.support_deadline
    _move(proposal, "archived", "archived", None, at=proposal.support_deadline, supports=proposal.support_count)
    db.session.flush()
    record(None, "proposal.archived", proposal, supports=proposal.support_count)
    tell_followers(proposal, "proposals.archived")
    return True


@due_step("archive_unsupported_proposals")
def archive_expired(now: datetime) -> int:
    proposals = db.session.scalars(db.select(Proposal).where(
        Proposal.status == "collecting", Proposal.support_deadline <= now)
        .options(joinedload(Proposal.community), joinedload(Proposal.author)).order_by(Proposal.id)).all()
    return sum(apply_due(p, now) for p in proposals)


# --- the ballot's steps (portal.votes.services calls these inside its own change) -------------------------

def enter_voting(proposal, actor, *, now, ballot_id) -> None:
    """Consultation → voting: a ballot was announced or opened on the proposal."""
    if proposal.status != "deliberation":
        raise DomainError(_l("Only a proposal in consultation can go to a vote."), "proposal")
    _move(proposal, "voting", "ballot", actor, at=now, ballot_id=ballot_id)


def record_decision(proposal, outcome, *, now, ballot_id) -> None:
    """Voting → decided, passed or rejected by the ballot."""
    proposal.outcome = outcome
    _move(proposal, "decided", "decided", None, at=now, outcome=outcome, ballot_id=ballot_id)


def return_to_deliberation(proposal, reason, *, now, ballot_id, **details) -> None:
    """Voting → consultation again (no quorum, or a tie): the consultation reopens for comments."""
    proposal.comments_closed_at = None
    _move(proposal, "deliberation", "returned", None, body=reason, at=now, ballot_id=ballot_id, **details)


# --- the public notice's steps (portal.notices.services calls these inside its own change) --------------

def enter_notice(proposal, *, now, notice_id) -> None:
    """Decided → notice: the decision's public notice started."""
    _move(proposal, "notice", "notice", None, at=now, notice_id=notice_id)


def end_notice(proposal, *, now, notice_id) -> None:
    """Notice → implementing (passed) or archived (rejected): the period ended, every objection answered."""
    if proposal.outcome == "passed":
        _move(proposal, "implementing", "implementing", None, at=now, notice_id=notice_id)
    else:
        proposal.ended_at = now
        _move(proposal, "archived", "archived_after_notice", None, at=now, notice_id=notice_id)


# --- the agreed actions' step (portal.actions.services calls this inside its own change) ---------------

def mark_evaluated(proposal, now) -> None:
    """Implementing → evaluated: every action carrying it out is done and its 14 days of rating are over."""
    if proposal.status != "implementing":
        return
    _move(proposal, "evaluated", "evaluated", None, at=now)
    tell_followers(proposal, "proposals.evaluated")


# --- comments --------------------------------------------------------------------------------------------

def comment_in(proposal, comment_id) -> Comment | None:
    """One comment of this proposal (its author loaded), or None."""
    try:
        comment_id = int(comment_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(db.select(Comment).where(Comment.proposal_id == proposal.id, Comment.id == comment_id)
                             .options(joinedload(Comment.author)))


def _check_comment(stance, body):
    if stance not in STANCES:
        raise DomainError(_l("Say whether you are for, against or neutral."), "stance")
    return _text(body, "body", maximum=COMMENT_MAX, required=True, empty_message=_l("Write your comment."))


def _thread_of(proposal, parent):
    """The top-level comment a reply belongs to: replies are one level deep."""
    if parent is None:
        return None
    if parent.proposal_id != proposal.id:
        raise DomainError(_l("Reply to a comment of this proposal."), "parent_id")
    top = parent.parent if parent.parent_id is not None else parent
    if top.locked_at is not None:
        raise DomainError(_l("This thread is locked: no more replies."), "body")
    return top


def add_comment(author, proposal, *, stance, body, parent=None, on_behalf_of=None, now=None) -> Comment:
    """A comment with a stance, or a reply to a top-level comment (a reply to a reply joins its thread);
    the author of the comment replied to is told."""
    now = _now(now)
    person = on_behalf_of or author
    if on_behalf_of is not None and not permissions.can_act_for(author, on_behalf_of):
        raise NotAllowed(_l("You may not act for this person."))
    if not permissions.can_comment(person, proposal):
        raise NotAllowed(_l("Comments are open to verified residents and the committee while the "
                            "consultation is open."))
    body = _check_comment(stance, body)
    parent = _thread_of(proposal, parent)
    comment = Comment(proposal_id=proposal.id, parent=parent, author=person,
                      created_by_id=author.id if on_behalf_of else None, stance=stance, body=body, created_at=now)
    db.session.add(comment)
    db.session.flush()
    _add_to_count(proposal, Proposal.comment_count, 1)
    record(author, "proposal.commented", comment, on_behalf_of=on_behalf_of, proposal_id=proposal.id,
           stance=stance, parent_id=getattr(parent, "id", None))
    if parent is not None and parent.author_id != person.id and parent.deleted_at is None:
        # About the reply itself, so the link leads to it while it is there (deleted or hidden: "gone").
        notify([parent.author], "proposals.reply", comment,
               **_payload(proposal, name=person.display_name, comment_id=comment.id))
    return comment


def edit_comment(author, comment, *, stance, body, now=None) -> Comment:
    """Within 10 minutes of writing, an edit is silent; later (still while the consultation is open) the
    comment shows "edited" and what it said is kept as a revision for moderators."""
    now = _now(now)
    if not permissions.can_edit_comment(author, comment):
        raise NotAllowed(_l("You can edit your own comments while the consultation is open."))
    body = _check_comment(stance, body)
    if (stance, body) == (comment.stance, comment.body):
        return comment
    silent = now - comment.created_at <= EDIT_SILENTLY_WITHIN
    if not silent:
        db.session.add(CommentRevision(comment_id=comment.id, stance=comment.stance, body=comment.body,
                                       written_at=comment.edited_at or comment.created_at, replaced_at=now))
        comment.edited_at = now
    comment.stance = stance
    comment.body = body
    db.session.flush()
    record(author, "proposal.comment_edited", comment, on_behalf_of=_behalf(author, comment), silent=silent)
    return comment


def delete_comment(actor, comment, *, now=None) -> Comment:
    """The author's words go (earlier revisions too); a placeholder keeps the replies in their place."""
    now = _now(now)
    if not permissions.can_delete_comment(actor, comment):
        raise NotAllowed(_l("You can delete only your own comments."))
    counted = comment.hidden_state is None
    comment.body = ""
    comment.deleted_at = now
    db.session.execute(db.delete(CommentRevision).where(CommentRevision.comment_id == comment.id))
    if counted:
        _add_to_count(comment.proposal, Proposal.comment_count, -1)
    db.session.flush()
    record(actor, "proposal.comment_deleted", comment, on_behalf_of=_behalf(actor, comment),
           proposal_id=comment.proposal_id)
    return comment


def comment_revisions(comment) -> list[CommentRevision]:
    """What a comment said before each visible edit, oldest first (for moderators)."""
    return db.session.scalars(db.select(CommentRevision).where(CommentRevision.comment_id == comment.id)
                              .order_by(CommentRevision.id)).all()


def like_comment(user, comment) -> bool:
    """False, changing nothing, when the person already likes it."""
    if not permissions.can_like_comment(user, comment):
        raise NotAllowed(_l("Verified residents can like other people's comments."))
    if comment.id in liked_ids(user, [comment.id]):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(CommentLike(comment_id=comment.id, user_id=user.id, created_at=utcnow()))
    except IntegrityError:
        return False
    _add_to_count(comment, Comment.like_count, 1)
    return True


def unlike_comment(user, comment) -> bool:
    if not getattr(user, "is_authenticated", False):
        raise NotAllowed(_l("Verified residents can like other people's comments."))
    removed = db.session.execute(db.delete(CommentLike).where(
        CommentLike.comment_id == comment.id, CommentLike.user_id == user.id)).rowcount
    if removed:
        _add_to_count(comment, Comment.like_count, -1)
    return bool(removed)


def liked_ids(user, comment_ids) -> set[int]:
    """Which of these comments the person likes (one query, for a page of comments)."""
    comment_ids = list(comment_ids)
    if not getattr(user, "is_authenticated", False) or not comment_ids:
        return set()
    return set(db.session.scalars(db.select(CommentLike.comment_id).where(
        CommentLike.user_id == user.id, CommentLike.comment_id.in_(comment_ids))))


# --- the consultation summary ----------------------------------------------------------------------------

def write_summary(actor, proposal, *, arguments_for, arguments_against, now=None) -> Proposal:
    """The main arguments for and against, pinned on top of the consultation; written again replaces it."""
    now = _now(now)
    if not permissions.can_write_summary(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can write the consultation summary."))
    arguments_for = _text(arguments_for, "arguments_for", maximum=SUMMARY_TEXT_MAX, required=False)
    arguments_against = _text(arguments_against, "arguments_against", maximum=SUMMARY_TEXT_MAX, required=False)
    if not arguments_for and not arguments_against:
        raise DomainError(_l("Write the main arguments for, against, or both."), "arguments_for")
    proposal.summary_for = arguments_for or None
    proposal.summary_against = arguments_against or None
    proposal.summary_by_id = actor.id
    proposal.summary_at = now
    _add_event(proposal, "summary", actor, at=now)
    db.session.flush()
    record(actor, "proposal.summary_written", proposal)
    return proposal


# --- from a neighbourhood issue --------------------------------------------------------------------------

def escalate_issue(actor, issue, *, now=None) -> Proposal:
    """An issue that needs a community decision becomes a draft proposal by the committee member, linked to
    the issue; the issue's timeline says so."""
    now = _now(now)
    if not permissions.can_escalate_issue(actor, issue):
        raise NotAllowed(_l("Only the community's committee can turn an issue into a proposal."))
    existing = db.session.scalar(db.select(Proposal).where(
        Proposal.source_issue_id == issue.id, Proposal.status != "withdrawn").order_by(Proposal.id).limit(1))
    if existing is not None:
        raise DomainError(_l("This issue is already proposal “%(title)s” (no. %(id)d).", title=existing.title,
                             id=existing.id), "issue")
    proposal = create_proposal(
        actor, issue.community, title=issue.title[:TITLE_MAX], summary=_issue_summary(issue),
        body=_issue_body(issue), category=ISSUE_CATEGORY_MAP.get(issue.category.code, "other"),
        building_ids=[issue.building_id] if issue.building_id else [], source_issue=issue, now=now)
    db.session.add(IssueEvent(issue=issue, kind="escalated", actor_id=actor.id,
                              organization_id=issue.handling_org_id, is_public=True, at=now,
                              details={"proposal_id": proposal.id}))
    db.session.flush()
    record(actor, "issue.escalated", issue, proposal_id=proposal.id)
    return proposal


def _issue_summary(issue) -> str:
    text = " ".join((issue.description or issue.title).split())
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"


def _issue_body(issue) -> str:
    from portal.web import absolute_url
    link = absolute_url("issues.detail", slug=issue.community.slug, issue_id=issue.id)
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in (issue.description or "").splitlines())
    intro = str(_l("From neighbourhood issue [no. %(id)d: %(title)s](%(link)s):", id=issue.id,
                   title=issue.title.replace("[", "(").replace("]", ")"), link=link))
    return f"{intro}\n\n{quoted}".strip()[:BODY_MAX]


# --- reading ---------------------------------------------------------------------------------------------

def _list_options():
    return (joinedload(Proposal.author), joinedload(Proposal.community), selectinload(Proposal.buildings))


def _row_options():
    # A list row shows the title, state, category and counts: the texts stay in the database, and the author
    # and buildings are not loaded (anything else a caller reads still loads on access).
    return (joinedload(Proposal.community), defer(Proposal.body), defer(Proposal.body_html), defer(Proposal.summary),
            defer(Proposal.summary_for), defer(Proposal.summary_against), defer(Proposal.withdrawn_note),
            defer(Proposal.hidden_reason))


def proposal_in(community, proposal_id) -> Proposal | None:
    """One proposal of a community, with what its page shows loaded up front."""
    try:
        proposal_id = int(proposal_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(db.select(Proposal).where(Proposal.community_id == community.id,
                                                       Proposal.id == proposal_id)
                             .options(*_list_options(), joinedload(Proposal.created_by),
                                      joinedload(Proposal.summary_by), joinedload(Proposal.source_issue),
                                      selectinload(Proposal.attachments)))


def _matching_terms(community, q):
    """Proposals whose title and summary hold every term of the query (None: no usable term)."""
    query_terms = sorted(similar.terms(q))
    if not query_terms:
        return None
    return (db.select(ProposalTerm.proposal_id)
            .where(ProposalTerm.community_id == community.id, ProposalTerm.term.in_(query_terms))
            .group_by(ProposalTerm.proposal_id).having(func.count() == len(query_terms)))


def community_proposals(community, viewer, *, status=None, category=None, q=None, supported_by=None,
                        needs_support_of=None, written_by=None, after=None, limit=20, now=None):
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


def my_drafts(user, community) -> list[Proposal]:
    """The person's drafts in this community (written by them or for them), latest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    return db.session.scalars(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status == "draft",
        or_(Proposal.author_id == user.id, Proposal.created_by_id == user.id))
        .options(*_row_options()).order_by(Proposal.updated_at.desc(), Proposal.id.desc())).all()


def new_proposals_feed(community, limit=30) -> list[Proposal]:
    """Published, visible proposals, newest first (the Atom feed)."""
    return db.session.scalars(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status != "draft", Proposal.hidden_state.is_(None))
        .options(joinedload(Proposal.author), joinedload(Proposal.community))
        .order_by(Proposal.published_at.desc(), Proposal.id.desc()).limit(max(1, min(int(limit), 100)))).all()


def stance_tally(proposal) -> dict[str, int]:
    """Visible, undeleted comments (replies too) by stance, in one query."""
    return stance_tallies([proposal.id])[proposal.id]


def stance_tallies(proposal_ids) -> dict[int, dict[str, int]]:
    """stance_tally of each listed proposal, in one query for a whole list page."""
    tallies = {i: dict.fromkeys(STANCES, 0) for i in proposal_ids}
    if tallies:
        for proposal_id, stance, count in db.session.execute(
                db.select(Comment.proposal_id, Comment.stance, func.count())
                .where(Comment.proposal_id.in_(list(tallies)), Comment.deleted_at.is_(None),
                       Comment.hidden_state.is_(None))
                .group_by(Comment.proposal_id, Comment.stance)):
            tallies[proposal_id][stance] = count
    return tallies


class Thread(NamedTuple):
    """A top-level comment, its first replies (oldest first) and how many more replies it has."""
    top: Comment
    replies: list
    more_replies: int


def comment_page(proposal, viewer, *, sort="oldest", page=1, per_page=COMMENTS_PER_PAGE,
                 replies_shown=REPLIES_SHOWN):
    """A page of top-level comments, each with its first `replies_shown` replies: (threads, pager), threads
    being a list of Thread. Three queries whatever the number of comments: the count, the page, the first
    replies of its threads with each thread's number of replies; authors come with them. Deleted and hidden
    comments stay in place (the page shows a placeholder). `viewer` is for the page's own checks; everyone
    reads the same comments."""
    orders = {"oldest": (Comment.id.asc(),), "newest": (Comment.id.desc(),),
              "liked": (Comment.like_count.desc(), Comment.id.desc())}
    if sort not in orders:
        raise DomainError(_l("Unknown order."), "sort")
    top = db.select(Comment).where(Comment.proposal_id == proposal.id, Comment.parent_id.is_(None)) \
        .options(joinedload(Comment.author)).order_by(*orders[sort])
    pager = db.paginate(top, page=page, per_page=max(1, min(int(per_page), 200)), error_out=False)
    ids = [c.id for c in pager.items]
    replies = {i: [] for i in ids}
    totals = dict.fromkeys(ids, 0)
    if ids:
        ranked = db.select(
            Comment.id,
            func.row_number().over(partition_by=Comment.parent_id, order_by=Comment.id).label("rank"),
            func.count(Comment.id).over(partition_by=Comment.parent_id).label("total"),
        ).where(Comment.proposal_id == proposal.id, Comment.parent_id.in_(ids)).subquery()
        for reply, total in db.session.execute(
                db.select(Comment, ranked.c.total).join(ranked, ranked.c.id == Comment.id)
                .where(ranked.c.rank <= max(1, int(replies_shown)))
                .options(joinedload(Comment.author)).order_by(Comment.id)):
            replies[reply.parent_id].append(reply)
            totals[reply.parent_id] = int(total)
    return [Thread(c, replies[c.id], totals[c.id] - len(replies[c.id])) for c in pager.items], pager


def thread_replies(proposal, top, viewer, *, after=0, limit=REPLIES_PER_PAGE):
    """Replies to the top-level comment `top` after the reply `after` (by id, oldest first), at most `limit`:
    (replies, how many more follow them). Two queries whatever the thread's length."""
    after = max(0, min(int(after or 0), 2**31 - 1))
    limit = max(1, min(int(limit), 500))
    where = (Comment.proposal_id == proposal.id, Comment.parent_id == top.id, Comment.id > after)
    replies = db.session.scalars(db.select(Comment).where(*where).options(joinedload(Comment.author))
                                 .order_by(Comment.id).limit(limit)).all()
    later = db.session.scalar(db.select(func.count(Comment.id)).where(*where[:2], Comment.id > replies[-1].id)) \
        if len(replies) == limit else 0
    return replies, later


def timeline(proposal, viewer) -> list[ProposalEvent]:
    """The proposal's steps, oldest first, with who took them (everyone sees the same timeline)."""
    return db.session.scalars(db.select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
                              .options(joinedload(ProposalEvent.actor), joinedload(ProposalEvent.on_behalf_of))
                              .order_by(ProposalEvent.at, ProposalEvent.id)).all()


def event_label(event) -> str:
    return str(EVENT_LABELS.get(event.kind, event.kind))


def step_dates(proposal) -> dict[str, datetime]:
    """When the proposal first reached each state (for the step bar); "draft" is when it was written."""
    dates = {"draft": proposal.created_at}
    for to_state, at in db.session.execute(
            db.select(ProposalEvent.to_state, ProposalEvent.at).where(
                ProposalEvent.proposal_id == proposal.id, ProposalEvent.to_state.is_not(None))
            .order_by(ProposalEvent.at, ProposalEvent.id)):
        dates.setdefault(to_state, at)
    return dates


def versions(proposal) -> list[ProposalVersion]:
    """Every published version, newest first, with who made it."""
    return db.session.scalars(db.select(ProposalVersion).where(ProposalVersion.proposal_id == proposal.id)
                              .options(joinedload(ProposalVersion.edited_by))
                              .order_by(ProposalVersion.version.desc())).all()
