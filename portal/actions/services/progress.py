"""Progress of an action: updates with evidence, the percentage by hand or rolled up from sub-actions,
starting, blocking (with a reason and an unblock-by date) and unblocking, completing, and overdue (past
due and not done)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from portal.actions.models import Action, ActionEvidence, ActionUpdate
from portal.actions.services._common import (
    REASON_MAX,
    TEXT_MAX,
    UNBLOCK_BY_MAX,
    _add_update,
    _members,
    _now,
    _others,
    _payload,
    _require,
    _text,
    local_date,
)
from portal.actions.services.evidence import _prepare_files, _save_files
from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError
from portal.extensions import db
from portal.outbox import notify

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User

# --- progress --------------------------------------------------------------------------------------------

def progress_of(action: Action) -> int:
    """The children's average (rounded half up) unless set by hand or there are no children; one query."""
    if action.progress_set_by_hand:
        return action.progress
    total, count = db.session.execute(db.select(func.coalesce(func.sum(Action.progress), 0), func.count(Action.id))
                                      .where(Action.parent_id == action.id)).one()
    if not count:
        return action.progress
    return (2 * int(total) + int(count)) // (2 * int(count))


def _roll_up(action, actor=None, now=None):
    """Keep a parent's stored progress equal to its children's average (unless set by hand), and its status
    following them: a planned action whose step has started or is done is in progress (the "started" step on
    its timeline names who started the step). A blocked or done action keeps its status; completing the
    action itself still takes its own note and evidence, once every step is done."""
    db.session.flush()
    while action is not None:
        if not action.progress_set_by_hand and action.status != "done":
            action.progress = progress_of(action)
        if action.status == "planned" and _a_step_started(action):
            _start(action, actor, _now(now))
        db.session.flush()
        action = action.parent


def _a_step_started(action) -> bool:
    return db.session.scalar(db.select(Action.id).where(
        Action.parent_id == action.id,
        db.or_(Action.status.in_(("in_progress", "done")), Action.started_at.is_not(None))).limit(1)) is not None


def _start(action, actor, now):
    if action.status == "planned":
        action.status = "in_progress"
        action.started_at = action.started_at or now
        _add_update(action, "started", actor, at=now)


def _check_percent(percent):
    if percent in (None, ""):
        return None
    try:
        value = int(percent)
    except (TypeError, ValueError):
        raise DomainError(_l("Give the progress as a whole number from 0 to 100."), "percent") from None
    if not 0 <= value <= 100:
        raise DomainError(_l("Give the progress as a whole number from 0 to 100."), "percent")
    return value


def post_progress(actor: User, action: Action, *, body: str, percent: int | str | None = None,
                  photos: Iterable[bytes | tuple[str, bytes]] = (), documents: Iterable[bytes | tuple[str, bytes]] = (),
                  now: datetime | None = None) -> ActionUpdate:
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status not in ("planned", "in_progress"):
        raise DomainError(_l("Progress can only be reported on a planned or running action."), "status")
    body = _text(body, "body", maximum=TEXT_MAX, required=True, empty_message=_l("Say what was done."))
    percent = _check_percent(percent)
    prepared = _prepare_files(photos, documents)
    _start(action, actor, now)
    update = _add_update(action, "progress", actor, body=body, percent=percent, at=now)
    if percent is not None:
        action.progress = percent
        if action.children:
            action.progress_set_by_hand = True
    db.session.flush()
    _save_files(prepared, action, update, actor)
    _roll_up(action.parent, actor, now)
    record(actor, "action.progress", action, percent=percent, files=len(prepared))
    return update


def set_progress_by_hand(actor: User, action: Action, percent: int | str | None, *,
                         now: datetime | None = None) -> Action:
    """A percentage set by hand overrides the children's average; None returns to the average."""
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status == "done":
        raise DomainError(_l("This action is already done."), "status")
    percent = _check_percent(percent)
    if percent is None:
        action.progress_set_by_hand = False
        action.progress = progress_of(action)
    else:
        action.progress_set_by_hand, action.progress = True, percent
    _add_update(action, "progress", actor, percent=action.progress, at=now, by_hand=percent is not None)
    _roll_up(action.parent, actor, now)
    record(actor, "action.progress_by_hand", action, percent=percent)
    return action


def block(actor: User, action: Action, reason: str, unblock_by: str, *, now: datetime | None = None) -> Action:
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status not in ("planned", "in_progress"):
        raise DomainError(_l("Only a planned or running action can be blocked."), "status")
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why the action is blocked."))
    unblock_by = _text(unblock_by, "unblock_by", maximum=UNBLOCK_BY_MAX, required=True,
                       empty_message=_l("Say who must unblock it."))
    action.status, action.blocked_reason, action.unblock_by = "blocked", reason, unblock_by
    _add_update(action, "blocked", actor, body=reason, at=now, unblock_by=unblock_by)
    db.session.flush()
    record(actor, "action.blocked", action)
    recipients = _members([action.responsible_org_id]) + ([action.created_by] if action.created_by else [])
    notify(_others(recipients, actor), "actions.blocked", action, **_payload(action, reason=reason[:200]))
    return action


def unblock(actor: User, action: Action, note: str = "", *, now: datetime | None = None) -> Action:
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status != "blocked":
        raise DomainError(_l("This action is not blocked."), "status")
    note = _text(note, "note", maximum=REASON_MAX, required=False)
    action.status = "in_progress" if action.started_at else "planned"
    action.blocked_reason = action.unblock_by = None
    _add_update(action, "unblocked", actor, body=note, at=now)
    if action.status == "planned" and _a_step_started(action):  # a step went on while it was blocked
        _start(action, actor, now)
    db.session.flush()
    record(actor, "action.unblocked", action)
    return action


def complete(actor: User, action: Action, *, note: str, photos: Iterable[bytes | tuple[str, bytes]] = (),
             documents: Iterable[bytes | tuple[str, bytes]] = (), now: datetime | None = None) -> Action:
    """Done: a completion note and at least one photo or document (new, or already on the action)."""
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status == "blocked":
        raise DomainError(_l("Unblock the action before completing it."), "status")
    if action.status == "done":
        raise DomainError(_l("This action is already done."), "status")
    note = _text(note, "note", maximum=TEXT_MAX, required=True, empty_message=_l("Say what was done."))
    prepared = _prepare_files(photos, documents)
    existing = db.session.scalar(db.select(func.count(ActionEvidence.id)).where(
        ActionEvidence.action_id == action.id))
    if not prepared and not existing:
        raise DomainError(_l("Add at least one photo or document as evidence."), "photos")
    open_steps = db.session.scalar(db.select(func.count(Action.id)).where(
        Action.parent_id == action.id, Action.status != "done"))
    if open_steps:
        raise DomainError(_l("Finish its steps first (%(n)d not done).", n=open_steps), "status")
    _start(action, actor, now)
    action.status, action.done_at, action.completion_note, action.progress = "done", now, note, 100
    update = _add_update(action, "done", actor, body=note, percent=100, at=now)
    db.session.flush()
    _save_files(prepared, action, update, actor)
    _roll_up(action.parent, actor, now)
    record(actor, "action.done", action, files=len(prepared))
    recipients = _members([action.responsible_org_id]) + ([action.created_by] if action.created_by else [])
    notify(_others(recipients, actor), "actions.done", action, **_payload(action))
    return action


def is_overdue(action: Action, today: date) -> bool:
    """Past its due date in the community's zone and not done (`today` is the community-local date)."""
    return action.status != "done" and action.due_date < today


def overdue_now(action: Action, now: datetime | None = None) -> bool:
    return is_overdue(action, local_date(action.community, _now(now)))
