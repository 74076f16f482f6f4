"""The proposal's steps after collecting: the committee's (moving to consultation with a reason,
closing it), time's (archiving unsupported proposals at the end of their window; a run-due step is
registered here), and the steps the votes, notices and actions areas take inside their own changes
(voting, the decision, back to consultation, the notice period, evaluated)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.proposals.models import REASON_MAX, Proposal
from portal.proposals.services._common import (
    _add_event,
    _move,
    _now,
    _open_consultation,
    _text,
    tell_followers,
)

if TYPE_CHECKING:
    from portal.auth.models import User

# --- the committee's steps -------------------------------------------------------------------------------

def move_to_deliberation(actor: User, proposal: Proposal, reason: str, *, now: datetime | None = None) -> Proposal:
    """A committee member opens the consultation before the threshold is reached, saying why."""
    now = _now(now)
    if not permissions.can_move_to_deliberation(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can move a proposal that is collecting supports "
                            "to consultation."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why the consultation opens now."))
    _open_consultation(proposal, "moved", actor, now, body=reason, supports=proposal.support_count)
    db.session.flush()
    record(actor, "proposal.moved_to_deliberation", proposal, reason=reason)
    tell_followers(proposal, "proposals.deliberation", actor=actor, reason=reason)
    return proposal


def close_deliberation(actor: User, proposal: Proposal, reason: str = "", *, now: datetime | None = None) -> Proposal:
    """Comments become read-only. The proposal stays "in consultation" until the votes area takes it on."""
    now = _now(now)
    if not permissions.can_close_deliberation(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can close an open consultation."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=False)
    proposal.comments_closed_at = now
    _add_event(proposal, "closed", actor, body=reason or None, at=now)
    db.session.flush()
    record(actor, "proposal.deliberation_closed", proposal, reason=reason)
    return proposal


# --- time ------------------------------------------------------------------------------------------------

def apply_due(proposal: Proposal, now: datetime | None = None) -> bool:
    """A proposal still collecting when its window has ended is archived (pages call this when they load
    one; run-due does it for all). True when something changed."""
    now = _now(now)
    if proposal.status != "collecting" or proposal.support_deadline is None or proposal.support_deadline > now:
        return False
    proposal.ended_at = proposal.support_deadline
    _move(proposal, "archived", "archived", None, at=proposal.support_deadline, supports=proposal.support_count)
    db.session.flush()
    record(None, "proposal.archived", proposal, supports=proposal.support_count)
    tell_followers(proposal, "proposals.archived")
    return True


@due_step("archive_unsupported_proposals")
def archive_expired(now: datetime) -> int:
    proposals = db.session.scalars(db.select(Proposal).where(
        Proposal.status == "collecting", Proposal.support_deadline <= now)
        .options(joinedload(Proposal.community), joinedload(Proposal.author)).order_by(Proposal.id)).all()
    return sum(apply_due(p, now) for p in proposals)


# --- the ballot's steps (portal.votes.services calls these inside its own change) -------------------------

def enter_voting(proposal: Proposal, actor: User, *, now: datetime, ballot_id: int) -> None:
    """Consultation → voting: a ballot was announced or opened on the proposal."""
    if proposal.status != "deliberation":
        raise DomainError(_l("Only a proposal in consultation can go to a vote."), "proposal")
    _move(proposal, "voting", "ballot", actor, at=now, ballot_id=ballot_id)


def record_decision(proposal: Proposal, outcome: str, *, now: datetime, ballot_id: int) -> None:
    """Voting → decided, passed or rejected by the ballot."""
    proposal.outcome = outcome
    _move(proposal, "decided", "decided", None, at=now, outcome=outcome, ballot_id=ballot_id)


def return_to_deliberation(proposal: Proposal, reason: str, *, now: datetime, ballot_id: int, **details) -> None:
    """Voting → consultation again (no quorum, or a tie): the consultation reopens for comments."""
    proposal.comments_closed_at = None
    _move(proposal, "deliberation", "returned", None, body=reason, at=now, ballot_id=ballot_id, **details)


# --- the public notice's steps (portal.notices.services calls these inside its own change) --------------

def enter_notice(proposal: Proposal, *, now: datetime, notice_id: int) -> None:
    """Decided → notice: the decision's public notice started."""
    _move(proposal, "notice", "notice", None, at=now, notice_id=notice_id)


def end_notice(proposal: Proposal, *, now: datetime, notice_id: int) -> None:
    """Notice → implementing (passed) or archived (rejected): the period ended, every objection answered."""
    if proposal.outcome == "passed":
        _move(proposal, "implementing", "implementing", None, at=now, notice_id=notice_id)
    else:
        proposal.ended_at = now
        _move(proposal, "archived", "archived_after_notice", None, at=now, notice_id=notice_id)


# --- a budget round's steps (portal.funds.rounds calls these inside its own change) --------------------

def enter_budget_round(proposal: Proposal, actor: User, *, now: datetime, round_id: int) -> None:
    """Draft → consultation at once, as a project of a budget round: the round's review and its vote take
    the place of supports (no support window, so nothing archives it)."""
    proposal.kind = "project"
    proposal.published_at = proposal.updated_at = now
    _open_consultation(proposal, "budget_project", actor, now, round_id=round_id)


def record_budget_result(proposal: Proposal, outcome: str, *, now: datetime, round_id: int, **details) -> None:
    """Consultation → decided: the round's result funds the project (passed) or not (rejected)."""
    proposal.outcome = outcome
    proposal.comments_closed_at = proposal.comments_closed_at or now
    _move(proposal, "decided", "budget_decided", None, at=now, outcome=outcome, round_id=round_id, **details)


def end_budget_project(proposal: Proposal, actor: User | None, *, now: datetime, round_id: int,
                       body: str | None = None, **details) -> None:
    """Consultation → archived: the review rejected the project or merged it into another."""
    proposal.ended_at = now
    proposal.comments_closed_at = proposal.comments_closed_at or now
    _move(proposal, "archived", "budget_ended", actor, body=body, at=now, round_id=round_id, **details)


# --- the agreed actions' step (portal.actions.services calls this inside its own change) ---------------

def mark_evaluated(proposal: Proposal, now: datetime) -> None:
    """Implementing → evaluated: every action carrying it out is done and its 14 days of rating are over."""
    if proposal.status != "implementing":
        return
    _move(proposal, "evaluated", "evaluated", None, at=now)
    tell_followers(proposal, "proposals.evaluated")
