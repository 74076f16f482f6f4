"""Moderation: residents flag what they find abusive, three flags from different people hide it pending
review, and the community's committee restores it, hides it with a reason shown in its place, or locks a
discussion. Members never moderate their own words, every action is audited, and the author is told why.

The four kinds of item share one registry (ITEMS) so the queue, the views and the templates treat them
alike: the model, where the item belongs, who wrote it, a short excerpt for the queue, and its public link."""
from dataclasses import dataclass
from datetime import datetime
from math import ceil
from typing import Callable

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions, roles
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.moderation.models import FLAG_REASON_LABELS, FLAG_REASONS, HIDE_AFTER_FLAGS, Flag
from portal.outbox import notify, register_event
from portal.places.models import Community

NOTE_MAX = 500
REASON_MAX = 500
EXCERPT_MAX = 200


# --- the registry of flaggable items -----------------------------------------------------------------------

def _url(endpoint, anchor="", **values):
    return url_for(endpoint, **values) + anchor


def _excerpt(text) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_MAX else text[:EXCERPT_MAX - 1] + "…"


def _proposal_models():
    # Imported when first needed: the proposals package imports its views, which may import this module.
    from portal.proposals.models import Comment, Proposal
    return Proposal, Comment


def _issue_models():
    from portal.issues.models import Issue, IssueEvent
    return Issue, IssueEvent


@dataclass(frozen=True)
class ItemKind:
    model_of: Callable  # () -> the model class (imported late, see _proposal_models)
    label: object  # lazy translatable name of the kind, "a comment"
    community_id: Callable  # item -> community id, without loading anything
    community: Callable  # item -> Community
    author_id: Callable  # item -> the user whose words these are (told about moderation)
    writer_ids: Callable  # item -> ids who may not flag or moderate it: the author, a member who wrote it for them
    excerpt: Callable
    link: Callable  # item -> the public page (with its anchor), or None
    link_payload: Callable  # item -> what a notification needs to build the link later
    load_options: Callable  # () -> eager loads for the queue (link and community without more queries)
    lockable: bool = False

    @property
    def model(self):
        return self.model_of()


ITEMS: dict[str, ItemKind] = {
    "proposal": ItemKind(
        model_of=lambda: _proposal_models()[0], label=_l("Proposal"),
        community_id=lambda p: p.community_id,
        community=lambda p: p.community,
        author_id=lambda p: p.author_id,
        writer_ids=lambda p: {p.author_id, p.created_by_id} - {None},
        excerpt=lambda p: _excerpt(p.title),
        link=lambda p: _url("proposals.detail", slug=p.community.slug, proposal_id=p.id),
        link_payload=lambda p: {"slug": p.community.slug, "proposal_id": p.id},
        load_options=lambda: (joinedload(_proposal_models()[0].community),),
        lockable=True),
    "comment": ItemKind(
        model_of=lambda: _proposal_models()[1], label=_l("Comment"),
        community_id=lambda c: c.proposal.community_id,
        community=lambda c: c.proposal.community,
        author_id=lambda c: c.author_id,
        writer_ids=lambda c: {c.author_id, c.created_by_id} - {None},
        excerpt=lambda c: _excerpt(c.body),
        link=lambda c: _url("proposals.detail", f"#comment-{c.id}", slug=c.proposal.community.slug,
                            proposal_id=c.proposal_id),
        link_payload=lambda c: {"slug": c.proposal.community.slug, "proposal_id": c.proposal_id,
                                "comment_id": c.id},
        load_options=lambda: (joinedload(_proposal_models()[1].proposal).joinedload(_proposal_models()[0].community),),
        lockable=True),
    "issue": ItemKind(
        model_of=lambda: _issue_models()[0], label=_l("Issue"),
        community_id=lambda i: i.community_id,
        community=lambda i: i.community,
        author_id=lambda i: i.reporter_id,
        writer_ids=lambda i: {i.reporter_id} - {None},
        excerpt=lambda i: _excerpt(i.title),
        link=lambda i: _url("issues.detail", slug=i.community.slug, issue_id=i.id),
        link_payload=lambda i: {"slug": i.community.slug, "issue_id": i.id},
        load_options=lambda: (joinedload(_issue_models()[0].community),)),
    "issue_update": ItemKind(
        model_of=lambda: _issue_models()[1], label=_l("Issue update"),
        community_id=lambda e: e.issue.community_id,
        community=lambda e: e.issue.community,
        author_id=lambda e: e.actor_id,
        writer_ids=lambda e: {e.actor_id} - {None},
        excerpt=lambda e: _excerpt(e.body),
        link=lambda e: _url("issues.detail", f"#update-{e.id}", slug=e.issue.community.slug, issue_id=e.issue_id),
        link_payload=lambda e: {"slug": e.issue.community.slug, "issue_id": e.issue_id, "event_id": e.id},
        load_options=lambda: (joinedload(_issue_models()[1].issue).joinedload(_issue_models()[0].community),)),
}

ITEM_LABELS = {name: kind.label for name, kind in ITEMS.items()}


def kind_of(item_type) -> ItemKind:
    kind = ITEMS.get(item_type)
    if kind is None:
        raise DomainError(_l("This kind of content cannot be moderated."))
    return kind


def item(item_type, item_id):
    """The item of that kind and number, or None (unknown kind, no such row, an internal issue note)."""
    kind = ITEMS.get(item_type)
    if kind is None:
        return None
    found = db.session.get(kind.model, item_id)
    if found is None or (item_type == "issue_update" and not found.is_public):
        return None
    return found


def link_for(item_type, found):
    return ITEMS[item_type].link(found)


def can_view_item(user, item_type, found) -> bool:
    """Whether the person may see the page the item is on (a flag or an action needs that first)."""
    if item_type == "proposal":
        return permissions.can_view_proposal(user, found)
    if item_type == "comment":
        return permissions.can_view_proposal(user, found.proposal)
    if item_type == "issue":
        return permissions.can_view_issue(user, found)
    return found.is_public and permissions.can_view_issue(user, found.issue)


def is_lockable(item_type, found) -> bool:
    kind = ITEMS.get(item_type)
    if kind is None or not kind.lockable:
        return False
    return item_type == "proposal" or found.parent_id is None


# --- notifications -----------------------------------------------------------------------------------------

def _item_link(notification):
    payload = notification.payload or {}
    slug = payload.get("slug")
    if not slug:
        return None
    if payload.get("proposal_id"):
        anchor = f"#comment-{payload['comment_id']}" if payload.get("comment_id") else ""
        return _url("proposals.detail", anchor, slug=slug, proposal_id=payload["proposal_id"])
    if payload.get("issue_id"):
        anchor = f"#update-{payload['event_id']}" if payload.get("event_id") else ""
        return _url("issues.detail", anchor, slug=slug, issue_id=payload["issue_id"])
    return None


def _queue_link(notification):
    return _url("moderation.index")


# The messages never quote the item: its words may be what was hidden.
register_event("moderation.pending",
               _l("Something you wrote is hidden until moderators review it: several people reported it."),
               _item_link)
def _hidden_message(payload):
    """"Moderators hid <which item>": named by its kind and number, and for a comment or an update by the
    title of the proposal or issue it was on, never by its own words (they may be what was hidden)."""
    values = {"reason": payload.get("reason") or "", "proposal": payload.get("proposal_id"),
              "issue": payload.get("issue_id"), "title": payload.get("on_title") or ""}
    if payload.get("comment_id") and values["title"]:
        text = _l("Moderators hid your comment on proposal no. %(proposal)s “%(title)s”. Their reason: %(reason)s",
                  **values)
    elif payload.get("comment_id"):
        text = _l("Moderators hid your comment on proposal no. %(proposal)s. Their reason: %(reason)s", **values)
    elif payload.get("event_id") and values["title"]:
        text = _l("Moderators hid your update on issue no. %(issue)s “%(title)s”. Their reason: %(reason)s",
                  **values)
    elif payload.get("event_id"):
        text = _l("Moderators hid your update on issue no. %(issue)s. Their reason: %(reason)s", **values)
    elif payload.get("proposal_id"):
        text = _l("Moderators hid your proposal no. %(proposal)s. Their reason: %(reason)s", **values)
    elif payload.get("issue_id"):
        text = _l("Moderators hid your issue no. %(issue)s. Their reason: %(reason)s", **values)
    else:
        text = _l("Moderators hid something you wrote. Their reason: %(reason)s", **values)
    return str(text)


register_event("moderation.hidden", _hidden_message, _item_link)
register_event("moderation.restored", _l("Moderators reviewed something you wrote: it is shown again."), _item_link)
register_event("moderation.locked",
               _l("Moderators locked a discussion you started: no more comments can be added."), _item_link)
register_event("moderation.unlocked", _l("Moderators reopened a discussion you started."), _item_link)
register_event("moderation.reported", _l("A report is waiting for review in %(community)s."), _queue_link)
register_event("moderation.flags_waiting",
               _l("Reports are waiting for review in %(community)s: something was hidden after several reports."),
               _queue_link)


def moderators_of(community) -> list:
    """Current members of the community's committee organizations (one query)."""
    from portal.auth.models import User
    from portal.committees.models import COMMITTEE_KINDS, Organization, OrgMembership
    return db.session.scalars(
        db.select(User).join(OrgMembership, OrgMembership.user_id == User.id)
        .join(Organization, Organization.id == OrgMembership.organization_id)
        .where(Organization.community_id == community.id, Organization.kind.in_(COMMITTEE_KINDS),
               roles.current_clause(OrgMembership), User.is_active_account.is_(True))
        .distinct().order_by(User.id)).all()


def _author(kind, found):
    from portal.auth.models import User
    author_id = kind.author_id(found)
    return db.session.get(User, author_id) if author_id else None


def _parent_title(item_type, found) -> dict:
    """The title of the proposal a comment is on, or of the issue an update is on, while that one is shown:
    it names what was hidden without quoting it."""
    parent = found.proposal if item_type == "comment" else found.issue if item_type == "issue_update" else None
    if parent is None or parent.hidden_state is not None:
        return {}
    return {"on_title": parent.title}


def _tell_author(kind, found, event, **payload):
    author = _author(kind, found)
    if author is not None:
        notify([author], event, found, **kind.link_payload(found), **payload)


# --- rules -------------------------------------------------------------------------------------------------

def _now(now):
    return now or utcnow()


def _require_moderator(moderator, kind, found):
    if not permissions.can_moderate(moderator, kind.community(found)):
        raise NotAllowed(_l("Only the community's committee members moderate its pages."))
    if getattr(moderator, "id", None) in kind.writer_ids(found):
        raise NotAllowed(_l("You cannot moderate your own words: another moderator must decide."))


def _open_flags(item_type, found):
    return (Flag.item_type == item_type) & (Flag.item_id == found.id) & Flag.resolved_at.is_(None)


def _resolve_flags(moderator, item_type, found, resolution, now) -> int:
    flags = db.session.scalars(db.select(Flag).where(_open_flags(item_type, found))).all()
    for row in flags:
        row.resolved_at, row.resolved_by_id, row.resolution = now, moderator.id, resolution
    db.session.flush()
    return len(flags)


def _adjust_comment_count(item_type, found, was_visible: bool, now_visible: bool) -> None:
    """Proposal.comment_count counts visible, undeleted comments: hiding takes one off, restoring puts it back."""
    if item_type != "comment" or found.deleted_at is not None or was_visible == now_visible:
        return
    step = 1 if now_visible else -1
    Proposal, _ = _proposal_models()
    db.session.execute(db.update(Proposal).where(Proposal.id == found.proposal_id)
                       .values(comment_count=Proposal.comment_count + step))
    db.session.expire(found.proposal, ["comment_count"])


def _set_hidden(item_type, found, state, reason=None):
    was_visible = found.hidden_state is None
    found.hidden_state = state
    found.hidden_reason = reason
    _adjust_comment_count(item_type, found, was_visible, state is None)
    if was_visible != (state is None):
        _quote_in_notifications(item_type, found, hidden=state is not None)


def _quote_in_notifications(item_type, found, *, hidden: bool):
    """Notices already sent quote the item's words (a proposal's or issue's title, an update's text). While
    it is hidden they name it by its number instead, for everyone but its author; restoring puts the words
    back. Comments are never quoted in notices."""
    from portal.outbox import Notification
    if item_type == "comment":
        return
    object_type, object_id = ("issue", found.issue_id) if item_type == "issue_update" else \
        (type(found).__tablename__, found.id)
    about = (Notification.object_type == object_type) & (Notification.object_id == object_id)
    if item_type == "proposal":  # replies are notices about the reply, naming the proposal
        _, Comment = _proposal_models()
        about = about | ((Notification.object_type == Comment.__tablename__) & Notification.object_id.in_(
            db.select(Comment.id).where(Comment.proposal_id == found.id)))
    query = db.select(Notification).where(about)
    author_id = ITEMS[item_type].author_id(found)
    if author_id is not None:
        query = query.where(Notification.recipient_id != author_id)
    if item_type == "issue_update":
        query = query.where(Notification.event == "issue_update")
    quoted = (found.body or "")[:200] if item_type == "issue_update" else None
    for notice in db.session.scalars(query):
        payload = dict(notice.payload or {})
        if item_type == "issue_update":
            if hidden and payload.get("body") == quoted:
                payload.update(body="…", moderated_event=found.id)
            elif not hidden and payload.get("moderated_event") == found.id:
                payload.pop("moderated_event")
                payload["body"] = quoted
            else:
                continue
        elif hidden and "title" in payload and not payload.get("moderated"):
            payload.update(title=f"#{found.id}", moderated=True)
        elif not hidden and payload.pop("moderated", False):
            payload["title"] = found.title
        else:
            continue
        notice.payload = payload


def _proposal_event(item_type, found, kind, moderator, now, body=None):
    """Hiding, restoring and locking a proposal are steps on its public timeline."""
    if item_type != "proposal":
        return
    from portal.proposals.models import ProposalEvent
    db.session.add(ProposalEvent(proposal_id=found.id, kind=kind, actor_id=moderator.id, body=body, at=now))


# --- flags -------------------------------------------------------------------------------------------------

def has_flagged(user, item_type, found) -> bool:
    return db.session.scalar(db.select(Flag.id).where(
        Flag.item_type == item_type, Flag.item_id == found.id, Flag.user_id == user.id).limit(1)) is not None


def open_flag_count(item_type, found) -> int:
    return db.session.scalar(db.select(func.count(Flag.id)).where(_open_flags(item_type, found))) or 0


def flag(user, item_type, found, reason, note="", *, now=None) -> Flag:
    """Report an item. The third open flag from different people hides it until a moderator reviews it."""
    kind = kind_of(item_type)
    community = kind.community(found)
    if not permissions.can_flag(user, community) or not can_view_item(user, item_type, found):
        raise NotAllowed(_l("Only verified members of this community can report its content."))
    if user.id in kind.writer_ids(found):
        raise NotAllowed(_l("You cannot report your own words."))
    if item_type == "comment" and found.deleted_at is not None:
        raise DomainError(_l("This comment was deleted."))
    if item_type == "proposal" and found.status == "draft":
        raise DomainError(_l("Drafts are not public and cannot be reported."))
    if found.hidden_state == "hidden":
        raise DomainError(_l("Moderators have already hidden this."))
    if reason not in FLAG_REASONS:
        raise DomainError(_l("Choose why you are reporting this."), "reason")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_l("Keep the note under %(max)d characters; it has %(length)d.",
                             max=NOTE_MAX, length=len(note)), "note")
    already = _l("You have already flagged this.")
    if has_flagged(user, item_type, found):
        raise DomainError(already)
    now = _now(now)
    row = Flag(community_id=kind.community_id(found), item_type=item_type, item_id=found.id, user_id=user.id,
               reason=reason, note=note or None, created_at=now)
    try:
        with db.session.begin_nested():  # two quick clicks: the unique constraint is the last line
            db.session.add(row)
    except IntegrityError:
        raise DomainError(already) from None
    record(user, "moderation.flag", found, item_type=item_type, reason=reason)
    open_flags = open_flag_count(item_type, found)
    if open_flags == 1:  # the item enters the queue: its moderators hear of it once
        notify([m for m in moderators_of(community) if m.id not in kind.writer_ids(found)],
               "moderation.reported", found, community=community.name)
    if found.hidden_state is None and open_flags >= HIDE_AFTER_FLAGS:
        _set_hidden(item_type, found, "pending")
        record(None, "moderation.auto_hide", found, item_type=item_type, flags=HIDE_AFTER_FLAGS)
        _tell_author(kind, found, "moderation.pending")
        notify([m for m in moderators_of(community) if m.id not in kind.writer_ids(found)],
               "moderation.flags_waiting", found, community=community.name)
    return row


# --- moderators' actions -----------------------------------------------------------------------------------

def restore(moderator, item_type, found, *, note="", now=None):
    """Show the item again and close its reports (also "keep it" for a visible item that was reported)."""
    kind = kind_of(item_type)
    _require_moderator(moderator, kind, found)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_l("Keep the note under %(max)d characters; it has %(length)d.",
                             max=NOTE_MAX, length=len(note)), "note")
    was_hidden = found.hidden_state is not None
    if not was_hidden and open_flag_count(item_type, found) == 0:
        raise DomainError(_l("This is shown and nobody has reported it: there is nothing to restore."))
    now = _now(now)
    resolved = _resolve_flags(moderator, item_type, found, "restored", now)
    _set_hidden(item_type, found, None)
    record(moderator, "moderation.restore", found, item_type=item_type, flags=resolved, note=note,
           was=("hidden" if was_hidden else "shown"))
    if was_hidden:
        _proposal_event(item_type, found, "restored", moderator, now)
        _tell_author(kind, found, "moderation.restored")
    return found


def hide(moderator, item_type, found, reason, *, now=None):
    """Hide the item; the reason is shown in place of its text, and its author is told."""
    kind = kind_of(item_type)
    _require_moderator(moderator, kind, found)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_l("Say why it is hidden: the reason is shown in place of the text."), "reason")
    if len(reason) > REASON_MAX:
        raise DomainError(_l("Keep the reason under %(max)d characters; it has %(length)d.",
                             max=REASON_MAX, length=len(reason)), "reason")
    now = _now(now)
    resolved = _resolve_flags(moderator, item_type, found, "hidden", now)
    _set_hidden(item_type, found, "hidden", reason)
    record(moderator, "moderation.hide", found, item_type=item_type, reason=reason, flags=resolved)
    _proposal_event(item_type, found, "hidden", moderator, now, body=reason)
    _tell_author(kind, found, "moderation.hidden", reason=reason, **_parent_title(item_type, found))
    return found


def _require_lockable(item_type, found):
    if not ITEMS[item_type].lockable:
        raise DomainError(_l("Only proposal discussions and comment threads can be locked."))
    if item_type == "comment" and found.parent_id is not None:
        raise DomainError(_l("Only a whole thread can be locked: lock its first comment."))


def lock(moderator, item_type, found, *, now=None):
    """Stop the discussion: a proposal's whole consultation, or one comment thread."""
    kind = kind_of(item_type)
    _require_moderator(moderator, kind, found)
    _require_lockable(item_type, found)
    if found.locked_at is not None:
        raise DomainError(_l("This is already locked."))
    now = _now(now)
    found.locked_at = now
    record(moderator, "moderation.lock", found, item_type=item_type)
    _proposal_event(item_type, found, "locked", moderator, now)
    _tell_author(kind, found, "moderation.locked")
    return found


def unlock(moderator, item_type, found, *, now=None):
    kind = kind_of(item_type)
    _require_moderator(moderator, kind, found)
    _require_lockable(item_type, found)
    if found.locked_at is None:
        raise DomainError(_l("This is not locked."))
    found.locked_at = None
    record(moderator, "moderation.unlock", found, item_type=item_type)
    _proposal_event(item_type, found, "unlocked", moderator, _now(now))
    _tell_author(kind, found, "moderation.unlocked")
    return found


# --- who sees what -----------------------------------------------------------------------------------------

def moderated_community_ids(user):
    """The communities whose queue the person reads; None means every community (administrators)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_admin:
        return None
    return roles.committee_community_ids(user)


def is_hidden_for(viewer, item_type, found) -> bool:
    """Whether the viewer sees the placeholder instead of the text: everyone but the author, the
    community's moderators and (for issues and their updates) the issue's handlers."""
    if found is None or found.hidden_state is None:
        return False
    if not getattr(viewer, "is_authenticated", False):
        return True
    kind = ITEMS[item_type]
    if viewer.id in kind.writer_ids(found):
        return False
    if permissions.can_moderate(viewer, kind.community(found)):
        return False
    if item_type == "issue":
        return not permissions.can_handle_issue(viewer, found)
    if item_type == "issue_update":
        return not permissions.can_handle_issue(viewer, found.issue)
    return True


# --- the queue ---------------------------------------------------------------------------------------------

@dataclass
class QueueRow:
    item_type: str
    item: object
    community: Community
    flag_count: int
    latest_at: datetime
    reasons: list  # [(label, count)], most frequent first
    notes: list  # [(created_at, note)] newest first; who wrote them stays with the audit log
    excerpt: str
    own: bool  # the moderator wrote it: another must decide

    @property
    def kind_label(self):
        return ITEMS[self.item_type].label

    @property
    def link(self):
        return ITEMS[self.item_type].link(self.item)


@dataclass
class QueuePage:
    """The shape of a Flask-SQLAlchemy pagination, for templates' pager macro."""
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self):
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages

    @property
    def prev_num(self):
        return self.page - 1

    @property
    def next_num(self):
        return self.page + 1


def _open_in(community_ids):
    clause = Flag.resolved_at.is_(None)
    if community_ids is not None:
        clause = clause & Flag.community_id.in_(community_ids)
    return clause


def queue_count(user) -> int:
    """Items waiting for the person's review (the nav badge): 0 without a query for non-moderators."""
    if not permissions.can_view_moderation_queue(user):
        return 0
    community_ids = moderated_community_ids(user)
    if community_ids is not None and not community_ids:
        return 0
    waiting = db.select(Flag.item_type, Flag.item_id).where(_open_in(community_ids)) \
        .group_by(Flag.item_type, Flag.item_id).subquery()
    return db.session.scalar(db.select(func.count()).select_from(waiting)) or 0


def queue(moderator, *, page=1, per_page=20) -> QueuePage:
    """Reported items in the communities the person moderates, the most recently reported first, each with
    its number of reports and their reasons. A fixed number of queries whatever the number of items."""
    if not permissions.can_view_moderation_queue(moderator):
        raise NotAllowed(_l("The moderation queue is for committee members."))
    page = max(1, int(page or 1))
    community_ids = moderated_community_ids(moderator)
    if community_ids is not None and not community_ids:
        return QueuePage([], page, per_page, 0)
    where = _open_in(community_ids)
    total = db.session.scalar(db.select(func.count()).select_from(
        db.select(Flag.item_type, Flag.item_id).where(where).group_by(Flag.item_type, Flag.item_id).subquery())) or 0
    latest = func.max(Flag.created_at).label("latest_at")
    max_id = func.max(Flag.id)
    grouped = db.session.execute(
        db.select(Flag.item_type, Flag.item_id, func.count(Flag.id), latest).where(where)
        .group_by(Flag.item_type, Flag.item_id).order_by(latest.desc(), max_id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    if not grouped:
        return QueuePage([], page, per_page, total)
    keys = [(t, i) for t, i, _, _ in grouped]
    # Every open flag of the page's items in one query (reasons and notes).
    flags = db.session.execute(
        db.select(Flag.item_type, Flag.item_id, Flag.reason, Flag.note, Flag.created_at)
        .where(where, db.tuple_(Flag.item_type, Flag.item_id).in_(keys))
        .order_by(Flag.created_at.desc(), Flag.id.desc())).all()
    # One query per kind of item present (at most four), with what the links need.
    loaded = {}
    for item_type in {t for t, _ in keys}:
        kind = ITEMS[item_type]
        ids = [i for t, i in keys if t == item_type]
        for found in db.session.scalars(db.select(kind.model).where(kind.model.id.in_(ids))
                                        .options(*kind.load_options())).unique():
            loaded[(item_type, found.id)] = found
    reason_counts, notes = {}, {}
    for t, i, reason, note, created_at in flags:
        counts = reason_counts.setdefault((t, i), {})
        counts[reason] = counts.get(reason, 0) + 1
        if note:
            notes.setdefault((t, i), []).append((created_at, note))
    rows = []
    for item_type, item_id, count, latest_at in grouped:
        found = loaded.get((item_type, item_id))
        if found is None:
            continue
        kind = ITEMS[item_type]
        counts = reason_counts.get((item_type, item_id), {})
        rows.append(QueueRow(
            item_type=item_type, item=found, community=kind.community(found), flag_count=count,
            latest_at=latest_at,
            reasons=[(FLAG_REASON_LABELS[r], n) for r, n in sorted(counts.items(), key=lambda rn: (-rn[1], rn[0]))],
            notes=notes.get((item_type, item_id), []), excerpt=kind.excerpt(found),
            own=moderator.id in kind.writer_ids(found)))
    return QueuePage(rows, page, per_page, total)


# --- the hidden list ---------------------------------------------------------------------------------------

HIDING_ACTIONS = ("moderation.hide", "moderation.auto_hide")


@dataclass
class HiddenRow:
    item_type: str
    item: object
    community: Community
    excerpt: str
    hidden_at: datetime | None  # when the audit log says it was hidden (None: hidden without an entry, demo data)
    hidden_by: object | None  # the moderator; None when three reports hid it, or nothing was recorded
    by_reports: bool  # hidden by HIDE_AFTER_FLAGS reports, pending review
    own: bool  # the moderator wrote it: another must decide

    @property
    def kind_label(self):
        return ITEMS[self.item_type].label

    @property
    def link(self):
        return ITEMS[self.item_type].link(self.item)


def _hidden_keys(community_ids):
    """(item_type, item_id, table) of every hidden item in these communities (None: all), one UNION ALL."""
    Proposal, Comment = _proposal_models()
    Issue, IssueEvent = _issue_models()

    def part(item_type, model, community_column, *joins):
        query = db.select(db.literal(item_type).label("item_type"), model.id.label("item_id"),
                          db.literal(model.__tablename__).label("table_name"))
        for target, on in joins:
            query = query.join(target, on)
        query = query.where(model.hidden_state.is_not(None))
        if item_type == "issue_update":
            query = query.where(IssueEvent.is_public.is_(True))
        if community_ids is not None:
            query = query.where(community_column.in_(community_ids))
        return query

    return db.union_all(
        part("proposal", Proposal, Proposal.community_id),
        part("comment", Comment, Proposal.community_id, (Proposal, Proposal.id == Comment.proposal_id)),
        part("issue", Issue, Issue.community_id),
        part("issue_update", IssueEvent, Issue.community_id, (Issue, Issue.id == IssueEvent.issue_id)),
    ).subquery()


def hidden_items(moderator, *, page=1, per_page=20) -> QueuePage:
    """Hidden items (by a moderator, or pending review after three reports) in the communities the person
    moderates, the most recently hidden first, each with who hid it, why and when (the latest hiding entry
    of the audit log). Hidden items leave the queue once decided; this is where they are found again and
    restored. A fixed number of queries whatever the number of items."""
    from portal.audit.models import AuditEntry
    if not permissions.can_view_moderation_queue(moderator):
        raise NotAllowed(_l("The moderation queue is for committee members."))
    page = max(1, int(page or 1))
    community_ids = moderated_community_ids(moderator)
    if community_ids is not None and not community_ids:
        return QueuePage([], page, per_page, 0)
    keys = _hidden_keys(community_ids)
    total = db.session.scalar(db.select(func.count()).select_from(keys)) or 0
    latest = (db.select(AuditEntry.object_type, AuditEntry.object_id, func.max(AuditEntry.id).label("entry_id"))
              .where(AuditEntry.action.in_(HIDING_ACTIONS)).group_by(AuditEntry.object_type, AuditEntry.object_id)
              .subquery())
    entry_order = func.coalesce(latest.c.entry_id, 0)
    grouped = db.session.execute(
        db.select(keys.c.item_type, keys.c.item_id, latest.c.entry_id)
        .outerjoin(latest, (latest.c.object_type == keys.c.table_name) & (latest.c.object_id == keys.c.item_id))
        .order_by(entry_order.desc(), keys.c.item_id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    if not grouped:
        return QueuePage([], page, per_page, total)
    entry_ids = [e for _, _, e in grouped if e is not None]
    entries = {e.id: e for e in db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.id.in_(entry_ids)).options(joinedload(AuditEntry.actor)))} \
        if entry_ids else {}
    loaded = {}
    for item_type in {t for t, _, _ in grouped}:
        kind = ITEMS[item_type]
        ids = [i for t, i, _ in grouped if t == item_type]
        for found in db.session.scalars(db.select(kind.model).where(kind.model.id.in_(ids))
                                        .options(*kind.load_options())).unique():
            loaded[(item_type, found.id)] = found
    rows = []
    for item_type, item_id, entry_id in grouped:
        found = loaded.get((item_type, item_id))
        if found is None:
            continue
        kind = ITEMS[item_type]
        entry = entries.get(entry_id)
        by_reports = found.hidden_state == "pending" or (entry is not None and entry.action == "moderation.auto_hide")
        rows.append(HiddenRow(
            item_type=item_type, item=found, community=kind.community(found), excerpt=kind.excerpt(found),
            hidden_at=entry.created_at if entry is not None else None,
            hidden_by=None if by_reports or entry is None else entry.actor, by_reports=by_reports,
            own=moderator.id in kind.writer_ids(found)))
    return QueuePage(rows, page, per_page, total)
