"""The registry of the four kinds of flaggable item (ITEMS): how each kind is loaded, linked, excerpted
and labelled, whether it can be locked, and who may see an item
(moderators see the communities they moderate)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.auth import permissions, roles
from portal.errors import DomainError
from portal.extensions import db

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User

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


class ItemRow:
    """What a listed item (a queue row, a hidden row) says of itself from its `item_type` and `item`."""

    item_type: str
    item: object

    @property
    def kind_label(self):
        return ITEMS[self.item_type].label

    @property
    def link(self):
        return ITEMS[self.item_type].link(self.item)

ITEM_LABELS = {name: kind.label for name, kind in ITEMS.items()}


def kind_of(item_type: str) -> ItemKind:
    kind = ITEMS.get(item_type)
    if kind is None:
        raise DomainError(_l("This kind of content cannot be moderated."))
    return kind


def item(item_type: str, item_id: int) -> object | None:
    """The item of that kind and number, or None (unknown kind, no such row, an internal issue note)."""
    kind = ITEMS.get(item_type)
    if kind is None:
        return None
    found = db.session.get(kind.model, item_id)
    if found is None or (item_type == "issue_update" and not found.is_public):
        return None
    return found


def link_for(item_type: str, found: object) -> str | None:
    return ITEMS[item_type].link(found)


def can_view_item(user: User, item_type: str, found: object) -> bool:
    """Whether the person may see the page the item is on (a flag or an action needs that first)."""
    if item_type == "proposal":
        return permissions.can_view_proposal(user, found)
    if item_type == "comment":
        return permissions.can_view_proposal(user, found.proposal)
    if item_type == "issue":
        return permissions.can_view_issue(user, found)
    return found.is_public and permissions.can_view_issue(user, found.issue)


def is_lockable(item_type: str, found: object) -> bool:
    kind = ITEMS.get(item_type)
    if kind is None or not kind.lockable:
        return False
    return item_type == "proposal" or found.parent_id is None


# --- who sees what -----------------------------------------------------------------------------------------

def moderated_community_ids(user: User) -> set[int] | None:
    """The communities whose queue the person reads; None means every community (administrators)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_admin:
        return None
    return roles.committee_community_ids(user)


def is_hidden_for(viewer: User | AnonymousUserMixin, item_type: str, found: object) -> bool:
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
