"""Residents' rating of a done action within the rating window, its summary, and evaluating the
proposal when the rating window ends (the run-due step is registered here)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.actions.models import Action, ActionRating
from portal.actions.services._common import RATING_WINDOW, SATISFACTION, _now, _require
from portal.audit.services import record
from portal.auth import permissions
from portal.due import due_step
from portal.errors import DomainError
from portal.extensions import db

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User

# --- rating and evaluation -------------------------------------------------------------------------------

def rate(user: User, action: Action, satisfaction: str, *, now: datetime | None = None) -> ActionRating:
    """One rating each, changeable while the window is open (a second rating replaces the first)."""
    now = _now(now)
    apply_due(action, now)
    if action.status != "done":
        raise DomainError(_l("An action can be rated once it is done."), "satisfaction")
    if action.evaluated_at is not None or now >= action.done_at + RATING_WINDOW:
        raise DomainError(_l("The rating period of this action has ended."), "satisfaction")
    _require(permissions.can_rate_action(user, action, now),
             _l("Only verified residents of this community can rate its actions."))
    if satisfaction not in SATISFACTION:
        raise DomainError(_l("Choose how satisfied you are."), "satisfaction")
    rating = db.session.scalar(db.select(ActionRating).where(ActionRating.action_id == action.id,
                                                             ActionRating.user_id == user.id))
    if rating is None:
        try:
            with db.session.begin_nested():
                rating = ActionRating(action_id=action.id, user_id=user.id, satisfaction=satisfaction,
                                      created_at=now, updated_at=now)
                db.session.add(rating)
        except IntegrityError:  # the same person's other tab won the race: change that one
            rating = db.session.scalar(db.select(ActionRating).where(ActionRating.action_id == action.id,
                                                                     ActionRating.user_id == user.id))
    if rating.satisfaction != satisfaction or rating.created_at != now:
        rating.satisfaction, rating.updated_at = satisfaction, now
    db.session.flush()
    record(user, "action.rated", action, satisfaction=satisfaction)
    return rating


def my_rating(user: User | AnonymousUserMixin | None, action: Action) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(db.select(ActionRating.satisfaction).where(
        ActionRating.action_id == action.id, ActionRating.user_id == user.id))


def rating_summary(action: Action) -> dict:
    """{"satisfied": n, "basically_satisfied": n, "dissatisfied": n, "total": n} in one query."""
    rows = db.session.execute(db.select(ActionRating.satisfaction, func.count(ActionRating.id)).where(
        ActionRating.action_id == action.id).group_by(ActionRating.satisfaction)).all()
    summary = dict.fromkeys(SATISFACTION, 0)
    summary.update({s: int(n) for s, n in rows})
    summary["total"] = sum(summary[s] for s in SATISFACTION)
    return summary


def apply_due(action: Action, now: datetime | None = None) -> bool:
    """After done_at + 14 days the rating window closes (evaluated_at); when every action of its source
    proposal is evaluated, the proposal becomes evaluated. Pages call this lazily; run-due for all."""
    now = _now(now)
    if action.status != "done" or action.evaluated_at is not None or action.done_at + RATING_WINDOW > now:
        return False
    action.evaluated_at = action.done_at + RATING_WINDOW
    db.session.flush()
    record(None, "action.evaluated", action)
    proposal = action.proposal
    if proposal is not None and proposal.status == "implementing":
        left = db.session.scalar(db.select(func.count(Action.id)).where(
            Action.proposal_id == proposal.id, Action.evaluated_at.is_(None)))
        if not left:
            from portal.proposals.services import mark_evaluated
            mark_evaluated(proposal, now)
    return True


@due_step("evaluate_actions")
def evaluate_due(now: datetime) -> int:
    actions = db.session.scalars(db.select(Action).where(
        Action.status == "done", Action.evaluated_at.is_(None), Action.done_at <= now - RATING_WINDOW)
        .options(joinedload(Action.proposal)).order_by(Action.id)).all()
    return sum(apply_due(a, now) for a in actions)
