"""Time on ballots (opening when announced, closing at the close time; the run-due step is registered
here), extending once with a reason, closing early, deciding the result and telling the proposal, and
the committee's recorded outcome."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from portal import events
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places.models import AREA_SOURCES, Building, Household, Ownership
from portal.proposals import services as proposals
from portal.votes import counting
from portal.votes.models import Ballot, BallotVoter
from portal.votes.scope import units_clause
from portal.votes.services._common import (
    REASON_MAX,
    STATEMENT_MAX,
    _caster_ids,
    _local,
    _lock,
    _moment,
    _notify_all,
    _now,
    _payload,
    _require,
    _still_open,
    _tell_proposal_followers,
    _text,
)
from portal.votes.services.opening import _open
from portal.votes.services.results import tally
from portal.votes.totals import running_figures

if TYPE_CHECKING:
    from portal.auth.models import User

# --- time ------------------------------------------------------------------------------------------------

def apply_due(ballot: Ballot, now: datetime | None = None) -> bool:
    """Open a scheduled ballot whose time has come, close an open one whose time has passed (pages call
    this whenever they load a ballot; run-due does it for all). True when something changed."""
    now = _now(now)
    due = (ballot.status == "scheduled" and ballot.opens_at <= now) or \
        (ballot.status == "open" and ballot.closes_at <= now)
    if not due:
        return False
    _lock(ballot)  # another request may be doing the same: the one that waited sees it done
    changed = False
    if ballot.status == "scheduled" and ballot.opens_at <= now:
        _open(ballot, now)
        changed = True
    if ballot.status == "open" and ballot.closes_at <= now:
        _close(ballot, ballot.closes_at, notify_at=now)
        changed = True
    return changed


@due_step("ballots")
def apply_due_ballots(now: datetime) -> int:
    ballots = db.session.scalars(select(Ballot).where(
        ((Ballot.status == "scheduled") & (Ballot.opens_at <= now))
        | ((Ballot.status == "open") & (Ballot.closes_at <= now)))
        .options(joinedload(Ballot.community), joinedload(Ballot.proposal)).order_by(Ballot.id)).all()
    return sum(apply_due(b, now) for b in ballots)


# --- extending, closing, the outcome ---------------------------------------------------------------------

def extend(actor: User, ballot: Ballot, new_closes_at: datetime, reason: str, *, now: datetime | None = None) -> Ballot:
    """Once, before the close time, with a reason, when participation is short of what the result needs
    (the quorum; for owners two thirds of area and headcount): voting closes later."""
    now = _now(now)
    apply_due(ballot, now)
    if ballot.extended_at is not None and roles.is_member_of(actor, ballot.organization):
        raise DomainError(_l("This ballot was already extended once."), "closes_at")
    _require(permissions.can_extend_ballot, actor, ballot,
             _l("Only the committee that opened the ballot can extend it."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why voting is extended."))
    new_closes_at = _moment(new_closes_at, "closes_at")
    if new_closes_at <= ballot.closes_at:
        raise DomainError(_l("The new close time must be later than the current one."), "closes_at")
    _lock(ballot)
    _still_open(ballot, now)
    _, details = counting.decide(ballot, running_figures(ballot))
    if details["quorum_met"]:
        raise DomainError(_l("Participation already meets the quorum: the ballot cannot be extended."), "reason")
    ballot.original_closes_at = ballot.closes_at
    ballot.closes_at = new_closes_at
    ballot.extended_at = now
    ballot.extend_reason = reason
    db.session.flush()
    record(actor, "ballot.extended", ballot, reason=reason, original_closes_at=ballot.original_closes_at.isoformat(),
           closes_at=new_closes_at.isoformat())
    return ballot


def close(actor: User, ballot: Ballot, reason: str, *, now: datetime | None = None) -> Ballot:
    """Early, by a member of the committee that opened it, with a reason."""
    now = _now(now)
    apply_due(ballot, now)
    _require(permissions.can_close_ballot, actor, ballot,
             _l("Only the committee that opened the ballot can close it early."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why voting closes early."))
    _close(ballot, now, actor=actor, reason=reason)
    return ballot


def area_sources_of(ballot: Ballot) -> dict[str, int]:
    """How many units of the frozen electorate take their area from the property register, a survey or the
    contract (SPC interpretation art. 8), counted once at close: the units held on the freeze day by the
    frozen owners and the frozen co-owned units, within the ballot's scope. One query."""
    on = _local(ballot, ballot.opens_at).date()
    owner_ids = select(BallotVoter.owner_id).where(BallotVoter.ballot_id == ballot.id,
                                                   BallotVoter.owner_id.is_not(None))
    unit_ids = select(BallotVoter.household_id).where(BallotVoter.ballot_id == ballot.id,
                                                      BallotVoter.household_id.is_not(None))
    rows = db.session.execute(
        select(Household.area_source, func.count(func.distinct(Household.id)))
        .join(Ownership, Ownership.household_id == Household.id).join(Building, Building.id == Household.building_id)
        .where(units_clause(ballot), Ownership.held_on(on),
               or_(Ownership.owner_id.in_(owner_ids), Household.id.in_(unit_ids)))
        .group_by(Household.area_source)).all()
    found = {source: int(n) for source, n in rows}
    return {source: found[source] for source in AREA_SOURCES if source in found}


def _close(ballot, now, *, actor=None, reason=None, notify_at=None) -> None:
    """Count (SQL aggregates), decide, store the result with its figures, move the proposal on."""
    _lock(ballot)
    if ballot.status != "open":
        return
    figures = tally(ballot)
    result, details = counting.decide(ballot, figures)
    if ballot.method == "owners":
        details = {**details, "area_sources": area_sources_of(ballot)}
    ballot.result = result
    ballot.figures = {**figures.as_json(), "details": details}
    ballot.status = "closed"
    ballot.closed_at = now
    ballot.closed_by_id = getattr(actor, "id", None)
    ballot.close_reason = reason
    proposal = ballot.proposal
    if proposal.status == "voting":
        if result in ("passed", "failed"):
            outcome = "passed" if result == "passed" else "rejected"
            proposals.record_decision(proposal, outcome, now=now, ballot_id=ballot.id)
            _tell_proposal_followers(ballot, f"proposals.{outcome}")
            events.ballot_decided.send(ballot, proposal=proposal, now=now)  # its public notice starts at once
        else:
            proposals.return_to_deliberation(proposal, None, now=now, ballot_id=ballot.id, result=result)
            _tell_proposal_followers(ballot, "proposals.returned")
    db.session.flush()
    record(actor, "ballot.closed", ballot, result=result, early=actor is not None, reason=reason,
           voted=figures.voted_count, electorate=figures.electorate_count)
    _notify_all(_caster_ids(ballot), "votes.closed", ballot, _payload(ballot, result=result), notify_at or now)


def record_outcome(actor: User, ballot: Ballot, statement: str, *, now: datetime | None = None) -> Ballot:
    """After close, the opening committee states what follows from the result (written again, replaced)."""
    now = _now(now)
    apply_due(ballot, now)
    if not permissions.can_record_outcome(actor, ballot):
        raise NotAllowed(_l("Only the committee that opened the ballot records its outcome, after it closed."))
    statement = _text(statement, "statement", maximum=STATEMENT_MAX, required=True,
                      empty_message=_l("Write the outcome statement."))
    ballot.outcome_statement = statement
    ballot.outcome_by_id = actor.id
    ballot.outcome_at = now
    db.session.flush()
    record(actor, "ballot.outcome_recorded", ballot)
    return ballot
