"""Reading actions: one action of a community, its timeline, the community's tracker and its figures,
and the actions that came from a proposal, meeting, issue or hotspot."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func
from sqlalchemy.orm import joinedload, load_only, selectinload

from portal.actions.models import Action, ActionUpdate
from portal.actions.services._common import _now, local_date
from portal.actions.services.rating import apply_due
from portal.committees.models import Organization
from portal.extensions import db

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User
    from portal.places.models import Community

# --- reads -----------------------------------------------------------------------------------------------

def action_in(community: Community, action_id: int) -> Action | None:
    """One action of this community (its due steps applied; the page commits), or None."""
    try:
        action_id = int(action_id)
    except (TypeError, ValueError):
        return None
    action = db.session.scalar(db.select(Action).where(Action.id == action_id, Action.community_id == community.id)
                               .options(joinedload(Action.responsible_org), joinedload(Action.owner),
                                        selectinload(Action.children), selectinload(Action.evidence)))
    if action is not None:
        apply_due(action)
    return action


def timeline(action: Action) -> list[ActionUpdate]:
    return db.session.scalars(db.select(ActionUpdate).where(ActionUpdate.action_id == action.id)
                              .options(joinedload(ActionUpdate.author), selectinload(ActionUpdate.evidence))
                              .order_by(ActionUpdate.at, ActionUpdate.id)).all()


TRACKER_PAGE = 25


def _tracker_query(community):
    """The tracker's actions: the top-level actions of the community (steps show on their action's page)."""
    return db.select(Action).where(Action.community_id == community.id, Action.parent_id.is_(None))


def community_actions(community: Community, viewer: User | AnonymousUserMixin | None = None, status: str | None = None,
                      overdue: bool = False, *, after: str | None = None, limit: int = TRACKER_PAGE,
                      now: datetime | None = None) -> tuple[list[Action], str | None]:
    """A page of the public tracker, newest first, and the cursor of the next page (None on the last): one
    bounded query (keyset on created_at, id) loading only what a row shows, whatever the number of actions.
    `overdue` keeps those past due (community-local date) and not done. A stale or edited cursor raises
    DomainError."""
    from portal.issues.services import _page as keyset_page
    query = _tracker_query(community)
    if status:
        query = query.where(Action.status == status)
    if overdue:
        query = query.where(Action.status != "done", Action.due_date < local_date(community, _now(now)))
    query = query.options(
        load_only(Action.id, Action.community_id, Action.parent_id, Action.title, Action.status, Action.progress,
                  Action.due_date, Action.created_at, Action.responsible_org_id, Action.volunteer_count),
        joinedload(Action.responsible_org).load_only(Organization.id, Organization.name))
    return keyset_page(query, [Action.created_at, Action.id], [datetime, int], descending=True, after=after,
                       limit=limit, key=lambda a: [a.created_at, a.id])


@dataclass(frozen=True)
class TrackerFigures:
    """The tracker's overall figures (top-level actions, as the tracker lists them)."""
    total: int
    done: int
    in_progress: int
    planned: int
    blocked: int
    overdue: int
    volunteers: int = 0  # current volunteer sign-ups on these actions (their stored counts)

    @property
    def share_done(self) -> int | None:
        """Whole percent of the actions that are done, rounded down (so 100 only when all are); None for none."""
        return self.done * 100 // self.total if self.total else None


def tracker_figures(community: Community, *, now: datetime | None = None) -> TrackerFigures:
    """Counts by status and overdue (past due in the community-local date, not done), in ONE statement."""
    today = local_date(community, _now(now))

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
    row = db.session.execute(db.select(
        func.count(Action.id), counted(Action.status == "done"), counted(Action.status == "in_progress"),
        counted(Action.status == "planned"), counted(Action.status == "blocked"),
        counted(and_(Action.status != "done", Action.due_date < today)),
        func.coalesce(func.sum(Action.volunteer_count), 0))
        .where(Action.community_id == community.id, Action.parent_id.is_(None))).one()
    return TrackerFigures(*(int(n) for n in row))


def actions_for_source(kind: str, obj: object) -> list[Action]:
    """The actions that include this proposal, decision or issue ("included in …")."""
    column = {"proposal": Action.proposal_id, "decision": Action.decision_id, "issue": Action.issue_id}.get(kind)
    if column is None or obj is None:
        return []
    return db.session.scalars(db.select(Action).where(column == obj.id, Action.parent_id.is_(None))
                              .order_by(Action.id)).all()
