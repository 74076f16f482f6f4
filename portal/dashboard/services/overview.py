"""The figures beyond issues — overdue actions by organization, proposals by state, ballot
participation, chases by organization — and the summary the dashboard page shows."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from portal.actions.models import Action, ActionSummons, Chase
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.dashboard.services.hotspots import _by_category, hotspots
from portal.dashboard.services.medians import medians
from portal.dashboard.services.rates import (
    ZERO,
    Rate,
    open_and_overdue_by_community,
    removed_by_appeal_count,
    report_in_on_time,
    three_rates,
    work_orders_on_time,
)
from portal.dashboard.services.scope import Filters, _count_if, _Scope, _utc_start
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueSummons
from portal.proposals.models import STATE_LABELS as PROPOSAL_STATE_LABELS
from portal.proposals.models import STATES as PROPOSAL_STATES
from portal.proposals.models import Proposal
from portal.votes.models import Ballot, BallotVote, BallotVoter

# --- actions, proposals, ballots, chases ------------------------------------------------------------------

def overdue_actions_by_org(filters: Filters, *, now: datetime | None = None) -> list[dict]:
    """Snapshot now: per responsible organization with any not-done action in scope, ordered by name:
    {"org_id", "name", "open", "overdue"} where open = status != done and overdue = open and due_date
    before today in the action's community zone (derived as in actions.is_overdue). Org filter applies.
    One statement (+1 for the communities)."""
    now = now or utcnow()
    scope = _Scope(filters, need_months=False)
    if not scope.ids:
        return []
    late = or_(*[and_(Action.community_id.in_(ids), Action.due_date < scope.today(z, now))
                 for z, ids in scope.zones.items()])
    conds = [Action.community_id.in_(scope.ids), Action.status != "done"]
    if filters.org_id is not None:
        conds.append(Action.responsible_org_id == filters.org_id)
    stmt = (select(Action.responsible_org_id, Organization.name, func.count(), _count_if(late))
            .join(Organization, Organization.id == Action.responsible_org_id)
            .where(*conds).group_by(Action.responsible_org_id, Organization.name))
    rows = [{"org_id": o, "name": name, "open": n, "overdue": int(late_n)}
            for o, name, n, late_n in db.session.execute(stmt)]
    return sorted(rows, key=lambda r: (r["name"], r["org_id"]))


def proposals_by_state(filters: Filters) -> list[dict]:
    """Snapshot: [{"state", "label", "count"}] for every public proposal state (collecting … evaluated,
    withdrawn, archived), in lifecycle order, zeros included. Drafts are not counted. One statement
    (+1 for the communities)."""
    scope = _Scope(filters, need_months=False)
    found = {}
    if scope.ids:
        stmt = (select(Proposal.status, func.count()).where(Proposal.community_id.in_(scope.ids),
                                                            Proposal.status != "draft")
                .group_by(Proposal.status))
        found = dict(db.session.execute(stmt).all())
    return [{"state": s, "label": PROPOSAL_STATE_LABELS.get(s, s), "count": found.get(s, 0)}
            for s in PROPOSAL_STATES if s != "draft"]


def _opened_in_period(scope: _Scope):
    """SQL: the ballot's voting opened (its electorate frozen) in the scope's communities and months."""
    return and_(Ballot.frozen_at.is_not(None), scope.period(Ballot.frozen_at, Ballot.community_id, scope.months))


def ballot_participation(filters: Filters) -> dict:
    """Ballots of the communities in scope whose voting opened (electorate frozen) in the period:
    {"rows": [{"ballot_id", "proposal_id", "community_id", "community_name", "question", "method",
    "status", "opens_at", "rate": Rate(votes cast, electorate)}] newest first, "overall": Rate}.
    One statement (+1 for the communities)."""
    scope = _Scope(filters)
    voters = (select(BallotVoter.ballot_id, func.count().label("n")).group_by(BallotVoter.ballot_id)).subquery()
    votes = (select(BallotVote.ballot_id, func.count().label("n")).group_by(BallotVote.ballot_id)).subquery()
    stmt = (select(Ballot.id, Ballot.proposal_id, Ballot.community_id, Ballot.question, Ballot.method,
                   Ballot.status, Ballot.opens_at, func.coalesce(votes.c.n, 0), func.coalesce(voters.c.n, 0))
            .outerjoin(voters, voters.c.ballot_id == Ballot.id).outerjoin(votes, votes.c.ballot_id == Ballot.id)
            .where(_opened_in_period(scope))
            .order_by(Ballot.opens_at.desc(), Ballot.id.desc()))
    rows, overall = [], ZERO
    for bid, pid, cid, question, method, status, opens_at, cast, electorate in db.session.execute(stmt):
        rate = Rate(int(cast), int(electorate))
        overall = overall + rate
        rows.append({"ballot_id": bid, "proposal_id": pid, "community_id": cid, "community_name": scope.names[cid],
                     "question": question, "method": method, "status": status, "opens_at": opens_at,
                     "rate": rate})
    return {"rows": rows, "overall": overall}


def ballot_heads(filters: Filters) -> tuple:
    """((ballot id, log length), …) of the ballots `ballot_participation` lists: every cast that adds a vote
    lengthens its ballot's log, so the participation is the same while these are. One small statement (+1 for
    the communities)."""
    scope = _Scope(filters)
    return tuple(db.session.execute(
        select(Ballot.id, Ballot.log_length)
        .where(_opened_in_period(scope))
        .order_by(Ballot.id)).tuples())


def chases_by_org(filters: Filters) -> list[dict]:
    """Chases sent in the period (local month of created_at), per chased organization, ordered by total
    desc then name: {"org_id", "name", "issues", "actions", "total"}. Org filter applies. One statement
    (+1 for the communities)."""
    scope = _Scope(filters)
    conds = [scope.period(Chase.created_at, Chase.community_id, scope.months)]
    if filters.org_id is not None:
        conds.append(Chase.organization_id == filters.org_id)
    stmt = (select(Chase.organization_id, Organization.name, _count_if(Chase.item_type == "issue"),
                   _count_if(Chase.item_type == "action"))
            .join(Organization, Organization.id == Chase.organization_id)
            .where(*conds).group_by(Chase.organization_id, Organization.name))
    rows = [{"org_id": o, "name": name, "issues": int(i), "actions": int(a), "total": int(i) + int(a)}
            for o, name, i, a in db.session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r["total"], r["name"], r["org_id"]))


def summary(filters: Filters, *, now: datetime | None = None) -> dict:
    """Everything the dashboard page shows, in a fixed number of statements (12, +1 for the communities
    when not given): {"rates", "removed_by_appeal" (ratings upheld appeals took out of the resolution and
    satisfaction rates), "work_orders" (hotline work orders resolved on time, extended), "report_in"
    (whistle-blowing: summoned organizations that reported in on time, of those due), "open_overdue",
    "overdue_actions", "median_first_response", "median_resolution",
    "proposals", "ballots", "hotspots" (for month_to), "chases", "by_category", "trend"}."""
    now = now or utcnow()
    if filters.communities is None:
        scope = _Scope(filters)
        filters = Filters(**{**filters.__dict__, "communities": scope.communities})
    rates = three_rates(filters, now=now)
    times = medians(filters)
    return {
        "rates": rates,
        "removed_by_appeal": removed_by_appeal_count(filters),
        "work_orders": work_orders_on_time(filters),
        "report_in": report_in_on_time(filters, now=now),
        "trend": rates["month"],
        "by_category": _by_category(rates),
        "open_overdue": open_and_overdue_by_community(filters, now=now),
        "overdue_actions": overdue_actions_by_org(filters, now=now),
        "median_first_response": times["first_response"],
        "median_resolution": times["resolution"],
        "proposals": proposals_by_state(filters),
        "ballots": ballot_participation(filters),
        "hotspots": hotspots(filters, filters.month_to),
        "chases": chases_by_org(filters),
    }


def figures_change_at(filters: Filters, now: datetime) -> datetime:
    """The first moment after `now` at which `summary(filters)` gives other figures with nothing written: an
    issue without a response passing its respond-by (the response rate's denominator, overdue issues), an
    open issue passing its resolve-by (overdue issues), a summons passing its report-by unreported (report-ins
    due), a new day in a community's zone (overdue actions). One statement (+1 for the communities)."""
    scope = _Scope(filters, need_months=False)
    ends = [_utc_start(scope.today(zone, now) + timedelta(days=1), zone) for zone in scope.zones]
    if not scope.ids:
        return min(ends, default=now + timedelta(days=1))
    in_scope = Issue.community_id.in_(scope.ids)
    coming = [
        select(func.min(Issue.respond_by)).where(in_scope, Issue.first_response_at.is_(None),
                                                 Issue.respond_by >= now),
        select(func.min(Issue.resolve_by)).where(in_scope, Issue.status.in_(OPEN_STATES), Issue.resolve_by >= now),
        select(func.min(IssueSummons.report_by)).join(Issue, Issue.id == IssueSummons.issue_id)
        .where(in_scope, IssueSummons.reported_at.is_(None), IssueSummons.report_by >= now),
        select(func.min(ActionSummons.report_by)).join(Action, Action.id == ActionSummons.action_id)
        .where(Action.community_id.in_(scope.ids), ActionSummons.reported_at.is_(None),
               ActionSummons.report_by >= now),
    ]
    found = db.session.execute(select(*[q.scalar_subquery() for q in coming])).one()
    return min([*ends, *[at for at in found if at is not None]])
