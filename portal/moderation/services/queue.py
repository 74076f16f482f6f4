"""The moderation queue: the items with open flags in the communities a moderator moderates, a page at
a time, and its count."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import ceil
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from portal.auth import permissions
from portal.errors import NotAllowed
from portal.extensions import db
from portal.moderation.models import FLAG_REASON_LABELS, Flag
from portal.moderation.services.items import ITEMS, ItemRow, moderated_community_ids
from portal.places.models import Community

if TYPE_CHECKING:
    from portal.auth.models import User

# --- the queue ---------------------------------------------------------------------------------------------

@dataclass
class QueueRow(ItemRow):
    item_type: str
    item: object
    community: Community
    flag_count: int
    latest_at: datetime
    reasons: list  # [(label, count)], most frequent first
    notes: list  # [(created_at, note)] newest first; who wrote them stays with the audit log
    excerpt: str
    own: bool  # the moderator wrote it: another must decide


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


def queue_count(user: User) -> int:
    """Items waiting for the person's review (the nav badge): 0 without a query for non-moderators."""
    if not permissions.can_view_moderation_queue(user):
        return 0
    community_ids = moderated_community_ids(user)
    if community_ids is not None and not community_ids:
        return 0
    waiting = db.select(Flag.item_type, Flag.item_id).where(_open_in(community_ids)) \
        .group_by(Flag.item_type, Flag.item_id).subquery()
    return db.session.scalar(db.select(func.count()).select_from(waiting)) or 0


def queue(moderator: User, *, page: int = 1, per_page: int = 20) -> QueuePage:
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
