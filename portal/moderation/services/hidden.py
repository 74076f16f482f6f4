"""The hidden list: what moderators hid (or flags hid automatically) in their communities, with who
hid it and why, a page at a time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from portal.auth import permissions
from portal.errors import NotAllowed
from portal.extensions import db
from portal.moderation.services.items import ITEMS, ItemRow, _issue_models, _proposal_models, moderated_community_ids
from portal.moderation.services.queue import QueuePage
from portal.places.models import Community

if TYPE_CHECKING:
    from portal.auth.models import User

# --- the hidden list ---------------------------------------------------------------------------------------

HIDING_ACTIONS = ("moderation.hide", "moderation.auto_hide")


@dataclass
class HiddenRow(ItemRow):
    item_type: str
    item: object
    community: Community
    excerpt: str
    hidden_at: datetime | None  # when the audit log says it was hidden (None: hidden without an entry, demo data)
    hidden_by: object | None  # the moderator; None when three reports hid it, or nothing was recorded
    by_reports: bool  # hidden by HIDE_AFTER_FLAGS reports, pending review
    own: bool  # the moderator wrote it: another must decide


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


def hidden_items(moderator: User, *, page: int = 1, per_page: int = 20) -> QueuePage:
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
