"""Writing a proposal: the community's support threshold and window, drafting (text, buildings, cost,
attachments, search terms), publishing, editing (a new version unless within the silent-edit minutes),
withdrawing with a reason, and escalating a neighbourhood issue into a proposal."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import IssueEvent
from portal.markup import render_markdown
from portal.places.models import Building
from portal.proposals.models import (
    BODY_MAX,
    CATEGORIES,
    MAX_ATTACHMENTS,
    REASON_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    WITHDRAW_REASONS,
    Proposal,
    ProposalAttachment,
    ProposalTerm,
    ProposalVersion,
)
from portal.proposals.services._common import _add_event, _behalf, _move, _now, _text, tell_followers

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.issues.models import Issue
    from portal.places.models import Community

THRESHOLD_RANGE = (1, 10000)
DAYS_RANGE = (1, 365)
NOTICE_DAYS_RANGE = (1, 90)
COST_MAX = Decimal("9999999999.99")  # Numeric(12, 2)

# An issue's default category → the proposal category it most likely belongs to.
ISSUE_CATEGORY_MAP = {"lift": "lift", "parking": "parking", "greenery": "environment", "rubbish": "environment",
                      "security": "safety", "facilities": "facilities"}


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


# --- settings --------------------------------------------------------------------------------------------

def settings_for(community: Community) -> tuple[int, int]:
    """The community's support threshold N and window D (days)."""
    return community.proposal_support_threshold, community.proposal_support_days


def update_settings(actor: User, community: Community, *, threshold: int | str, days: int | str,
                    notice_days: int | str | None = None) -> Community:
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

def create_proposal(author: User, community: Community, *, title: str, summary: str, body: str, category: str,
                    building_ids: Iterable[int] = (), estimated_cost: str | Decimal | None = None,
                    attachments: Iterable[tuple[str, bytes]] = (), publish: bool = False,
                    on_behalf_of: User | None = None, source_issue: Issue | None = None,
                    now: datetime | None = None) -> Proposal:
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


def publish_proposal(actor: User, proposal: Proposal, *, now: datetime | None = None) -> Proposal:
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


def update_proposal(editor: User, proposal: Proposal, *, title: str, summary: str, body: str, category: str,
                    building_ids: Iterable[int], estimated_cost: str | Decimal,
                    add_attachments: Iterable[tuple[str, bytes]] = (), remove_attachment_ids: Iterable[int] = (),
                    note: str = "", now: datetime | None = None) -> Proposal:
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


def withdraw(actor: User, proposal: Proposal, reason: str, note: str = "", *, now: datetime | None = None) -> Proposal:
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


# --- from a neighbourhood issue --------------------------------------------------------------------------

def escalate_issue(actor: User, issue: Issue, *, now: datetime | None = None) -> Proposal:
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
