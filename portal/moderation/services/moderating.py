"""Moderators' actions: hiding with a reason, restoring, locking and unlocking a discussion; each
resolves the open flags and tells the author."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.errors import DomainError
from portal.moderation.services._common import (
    NOTE_MAX,
    REASON_MAX,
    _now,
    _parent_title,
    _proposal_event,
    _require_moderator,
    _resolve_flags,
    _set_hidden,
    _tell_author,
)
from portal.moderation.services.flagging import open_flag_count
from portal.moderation.services.items import ITEMS, kind_of

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User

# --- moderators' actions -----------------------------------------------------------------------------------

def restore(moderator: User, item_type: str, found: object, *, note: str = "", now: datetime | None = None) -> object:
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


def hide(moderator: User, item_type: str, found: object, reason: str, *, now: datetime | None = None) -> object:
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


def lock(moderator: User, item_type: str, found: object, *, now: datetime | None = None) -> object:
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


def unlock(moderator: User, item_type: str, found: object, *, now: datetime | None = None) -> object:
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
