"""Flagging: one flag per person per item, with a reason and a note, never on one's own words; the
third open flag from different people hides the item pending review, and the moderators hear of it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.moderation.models import FLAG_REASONS, HIDE_AFTER_FLAGS, Flag
from portal.moderation.services._common import (
    NOTE_MAX,
    _now,
    _open_flags,
    _set_hidden,
    _tell_author,
    moderators_of,
)
from portal.moderation.services.items import can_view_item, kind_of
from portal.outbox import notify

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User

# --- flags -------------------------------------------------------------------------------------------------

def has_flagged(user: User, item_type: str, found: object) -> bool:
    return db.session.scalar(db.select(Flag.id).where(
        Flag.item_type == item_type, Flag.item_id == found.id, Flag.user_id == user.id).limit(1)) is not None


def open_flag_count(item_type: str, found: object) -> int:
    return db.session.scalar(db.select(func.count(Flag.id)).where(_open_flags(item_type, found))) or 0


def flag(user: User, item_type: str, found: object, reason: str, note: str = "", *,
         now: datetime | None = None) -> Flag:
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
