"""Volunteers of an action: signing up and withdrawing (once per person), and who may see their names."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from portal.actions.models import Action, ActionVolunteer
from portal.actions.services._common import _now, _require
from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError
from portal.extensions import db

if TYPE_CHECKING:
    from datetime import datetime

    from flask_login import AnonymousUserMixin

    from portal.auth.models import User

# --- volunteers ------------------------------------------------------------------------------------------

def _sign_up_of(user, action) -> ActionVolunteer | None:
    return db.session.scalar(db.select(ActionVolunteer).where(ActionVolunteer.action_id == action.id,
                                                              ActionVolunteer.user_id == user.id))


def _count_volunteers(action, step):
    # In SQL, so two people signing up at once both count; the attribute reloads on its next read.
    action.volunteer_count = Action.volunteer_count + step


def sign_up_volunteer(user: User, action: Action, *, show_name: bool = True,
                      now: datetime | None = None) -> ActionVolunteer:
    """A verified resident of the community offers to help, while the action is not done. Signing up again
    after withdrawing reopens the same row; signing up twice is refused."""
    now = _now(now)
    _require(permissions.can_volunteer(user, action),
             _l("Only verified residents of this community can volunteer, while the action is not done."))
    row = _sign_up_of(user, action)
    if row is not None and row.withdrawn_at is None:
        raise DomainError(_l("You have already signed up to help with this action."), "volunteer")
    if row is None:
        try:
            with db.session.begin_nested():
                row = ActionVolunteer(action_id=action.id, user_id=user.id, show_name=bool(show_name),
                                      signed_up_at=now)
                db.session.add(row)
        except IntegrityError:  # the same person's other tab signed up first
            raise DomainError(_l("You have already signed up to help with this action."), "volunteer") from None
    else:
        row.withdrawn_at, row.show_name, row.signed_up_at = None, bool(show_name), now
    _count_volunteers(action, 1)
    db.session.flush()
    record(user, "action.volunteered", action, show_name=bool(show_name))
    return row


def withdraw_volunteer(user: User, action: Action, *, now: datetime | None = None) -> ActionVolunteer:
    """The volunteer takes back their offer, while the action is not done."""
    now = _now(now)
    _require(permissions.can_withdraw_volunteer(user, action))
    row = _sign_up_of(user, action)
    if row is None or row.withdrawn_at is not None:
        raise DomainError(_l("You have not signed up to help with this action."), "volunteer")
    row.withdrawn_at = now
    _count_volunteers(action, -1)
    db.session.flush()
    record(user, "action.volunteer_withdrawn", action)
    return row


def is_volunteer(user: User | AnonymousUserMixin | None, action: Action) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(db.select(ActionVolunteer.id).where(
        ActionVolunteer.action_id == action.id, ActionVolunteer.user_id == user.id,
        ActionVolunteer.withdrawn_at.is_(None))) is not None


def named_volunteers(action: Action) -> list[str]:
    """The display names of the current volunteers who chose to be named, in sign-up order (one query); the
    others count in `action.volunteer_count` only."""
    from portal.auth.models import User
    return list(db.session.scalars(db.select(User.display_name).join(
        ActionVolunteer, ActionVolunteer.user_id == User.id).where(
        ActionVolunteer.action_id == action.id, ActionVolunteer.withdrawn_at.is_(None),
        ActionVolunteer.show_name.is_(True)).order_by(ActionVolunteer.signed_up_at, ActionVolunteer.id)))


def count_volunteers(action: Action) -> int:
    """The full count the stored volunteer_count must equal."""
    return db.session.scalar(db.select(func.count(ActionVolunteer.id)).where(
        ActionVolunteer.action_id == action.id, ActionVolunteer.withdrawn_at.is_(None)))
