"""Supports: one per person per proposal, only while it collects them; the counter moves in the
database, and reaching the threshold opens the consultation."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import notify
from portal.proposals.models import Proposal, ProposalSupport
from portal.proposals.services._common import (
    _add_to_count,
    _now,
    _open_consultation,
    _payload,
    committee_of,
    followers_of,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.places.models import Community

# --- supports --------------------------------------------------------------------------------------------

def has_supported(user: User, proposal: Proposal) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(db.select(ProposalSupport.id).where(
        ProposalSupport.proposal_id == proposal.id, ProposalSupport.user_id == user.id)) is not None


def supported_in(user: User, community: Community) -> frozenset[int]:
    """The proposals of the community the person supports (one query)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(db.session.scalars(db.select(ProposalSupport.proposal_id).join(Proposal).where(
        ProposalSupport.user_id == user.id, Proposal.community_id == community.id)))


def supported_ids(user: User, proposal_ids: Iterable[int]) -> set[int]:
    """Which of these proposals the person supports (one query, for lists)."""
    proposal_ids = list(proposal_ids)
    if not getattr(user, "is_authenticated", False) or not proposal_ids:
        return set()
    return set(db.session.scalars(db.select(ProposalSupport.proposal_id).where(
        ProposalSupport.user_id == user.id, ProposalSupport.proposal_id.in_(proposal_ids))))


def _check_window(proposal, now):
    if proposal.support_deadline is not None and proposal.support_deadline <= now:
        raise DomainError(_l("The time to collect supports for this proposal has ended."), "support")


def support(user: User, proposal: Proposal, *, now: datetime | None = None) -> bool:
    """One support. False, changing nothing, when the person already supports it (a double click
    included). The support that reaches the threshold opens the consultation and tells the committee."""
    now = _now(now)
    if not permissions.can_support_proposal(user, proposal):
        raise NotAllowed(_l("Only verified residents of this community can support a proposal that is "
                            "collecting supports, and not their own."))
    _check_window(proposal, now)
    if has_supported(user, proposal):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(ProposalSupport(proposal_id=proposal.id, user_id=user.id, created_at=now))
    except IntegrityError:
        return False
    _add_to_count(proposal, Proposal.support_count, 1)
    record(user, "proposal.supported", proposal)
    if proposal.support_count >= proposal.support_threshold:
        _reach_threshold(proposal, now)
    return True


def withdraw_support(user: User, proposal: Proposal, *, now: datetime | None = None) -> bool:
    """Take a support back while supports are collected. False when there was none."""
    now = _now(now)
    if not getattr(user, "is_authenticated", False) or proposal.status != "collecting":
        raise NotAllowed(_l("Supports can only be taken back while they are being collected."))
    _check_window(proposal, now)
    removed = db.session.execute(db.delete(ProposalSupport).where(
        ProposalSupport.proposal_id == proposal.id, ProposalSupport.user_id == user.id)).rowcount
    if not removed:
        return False
    _add_to_count(proposal, Proposal.support_count, -1)
    record(user, "proposal.support_withdrawn", proposal)
    return True


def _reach_threshold(proposal, now):
    _open_consultation(proposal, "threshold", None, now, supports=proposal.support_count)
    db.session.flush()
    record(None, "proposal.threshold_reached", proposal, supports=proposal.support_count)
    notify(committee_of(proposal.community) + followers_of(proposal), "proposals.threshold_reached", proposal,
           **_payload(proposal, supports=proposal.support_count))
