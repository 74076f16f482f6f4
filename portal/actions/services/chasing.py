"""Chasing (督办): an official chases an overdue action or issue with a note and a new due date; the
responsible organization hears of it."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.actions.models import Chase
from portal.actions.services._common import (
    REASON_MAX,
    _add_update,
    _members,
    _now,
    _others,
    _payload,
    _require,
    _text,
)
from portal.actions.services.progress import overdue_now
from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError
from portal.extensions import db
from portal.outbox import notify

if TYPE_CHECKING:
    from portal.actions.models import Action
    from portal.auth.models import User
    from portal.issues.models import Issue

# --- chasing (督办) --------------------------------------------------------------------------------------

def _issue_overdue(issue, now) -> bool:
    return issue.is_open and issue.resolve_by < now


def chase(official: User, item_type: str, item: Issue | Action, *, note: str, new_due: datetime | date,
          now: datetime | None = None) -> Chase:
    """A formal chase of an overdue issue or action by an official of its sub-district: a Chase row, a step
    on the item's timeline, and a notice to the responsible organization's members. `new_due` (a UTC
    datetime, or a community-local date meaning the end of that day) is the date asked for; the item's own
    deadline is not moved, so it stays overdue in the figures until done."""
    now = _now(now)
    if item_type not in ("issue", "action") or item is None:
        raise DomainError(_l("Only an issue or an action can be chased."), "item")
    _require(permissions.can_chase(official, item),
             _l("Only officials of this sub-district can chase its issues and actions."))
    if item_type == "action":
        overdue = overdue_now(item, now)
        org_id = item.responsible_org_id
    else:
        overdue = _issue_overdue(item, now)
        org_id = item.handover_org_id or item.handling_org_id
    if not overdue:
        raise DomainError(_l("Only an overdue item can be chased."), "item")
    if org_id is None:
        raise DomainError(_l("Nobody is responsible for this issue yet: assign it first."), "item")
    note = _text(note, "note", maximum=REASON_MAX, required=True, empty_message=_l("Say what you ask for."))
    zone = ZoneInfo(item.community.time_zone)
    if isinstance(new_due, date) and not isinstance(new_due, datetime):
        new_due = datetime.combine(new_due, datetime.max.time().replace(microsecond=0), zone)
    if not isinstance(new_due, datetime) or new_due.tzinfo is None:
        raise DomainError(_l("Give the new date."), "new_due")
    if new_due <= now:
        raise DomainError(_l("The new date must be in the future."), "new_due")
    row = Chase(item_type=item_type, item_id=item.id, community_id=item.community_id, organization_id=org_id,
                official_id=official.id, note=note, new_due=new_due, created_at=now)
    db.session.add(row)
    when = new_due.astimezone(zone).date().isoformat()
    if item_type == "action":
        _add_update(item, "chase", official, body=note, at=now, new_due=when)
        payload = _payload(item, note=note[:200], new_due=when)
    else:
        from portal.issues.services import _add_event
        from portal.issues.services import _payload as issue_payload
        _add_event(item, "chased", official, body=note, at=now, new_due=when)
        from portal.issues.services import _urgent
        payload = issue_payload(item, note=note[:200], new_due=when, **_urgent(item))
    db.session.flush()
    record(official, "chase.created", item, organization=org_id, new_due=when)
    notify(_others(_members([org_id]), official), "actions.chased", item, **payload)
    return row


def chases_of(item_type: str, item_id: int) -> list[Chase]:
    return db.session.scalars(db.select(Chase).where(Chase.item_type == item_type, Chase.item_id == item_id)
                              .options(joinedload(Chase.official), joinedload(Chase.organization))
                              .order_by(Chase.id)).all()
