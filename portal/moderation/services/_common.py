"""What every part of the moderation rules shares: the field limits, the notification events (what the
author, the moderators and the reporters hear, quoting nothing that was hidden), who moderates a
community, the moderator check, resolving open flags, hiding and showing an item with its counters,
and the step on a proposal's timeline."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.auth import permissions, roles
from portal.clock import utcnow
from portal.errors import NotAllowed
from portal.extensions import db
from portal.moderation.models import Flag
from portal.moderation.services.items import ITEMS, _proposal_models, _url
from portal.outbox import notify, register_event

if TYPE_CHECKING:
    from portal.places.models import Community

NOTE_MAX = 500
REASON_MAX = 500


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


def moderators_of(community: Community) -> list:
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
