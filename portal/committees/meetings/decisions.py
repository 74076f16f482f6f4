"""Decisions of a meeting with their intended follow-up (for example a ballot on a proposal, or a
referral that tells the sub-district office), and the link between a decision and the ballot it opened."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions, roles
from portal.committees.meetings._common import (
    _now,
    _others,
    _payload,
    _require_manage,
    _require_started,
    _text,
)
from portal.committees.models import FOLLOW_UPS, Decision, Organization, OrgMembership
from portal.errors import DomainError
from portal.extensions import db
from portal.outbox import notify

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User
    from portal.committees.models import AgendaItem, Meeting
    from portal.places.models import Community
    from portal.proposals.models import Proposal
    from portal.votes.models import Ballot

DECISION_MAX = 5000


# --- decisions -------------------------------------------------------------------------------------------

def record_decision(actor: User, meeting: Meeting, *, text: str, follow_up: str, agenda_item: AgendaItem | None = None,
                    now: datetime | None = None) -> Decision:
    """What the meeting decided and its intended follow-up: "open_ballot" (a proposal in consultation on the
    agenda item; the ballot is linked when opened from the decision), "create_action" (an agreed action
    made from the decision links back to it), "refer_subdistrict" (the sub-district office is told), or "none"."""
    now = _now(now)
    _require_manage(actor, meeting)
    _require_started(meeting, now)
    text = _text(text, "text", maximum=DECISION_MAX, required=True, empty_message=_l("Write the decision."))
    if follow_up not in FOLLOW_UPS:
        raise DomainError(_l("Choose the follow-up."), "follow_up")
    if agenda_item is not None and agenda_item.meeting_id != meeting.id:
        raise DomainError(_l("Choose an item of this meeting's agenda."), "agenda_item")
    if follow_up == "open_ballot" and (agenda_item is None or agenda_item.proposal is None
                                       or agenda_item.proposal.status != "deliberation"):
        raise DomainError(_l("A ballot is opened on an agenda item's proposal that is in consultation."),
                          "agenda_item")
    decision = Decision(meeting_id=meeting.id, agenda_item=agenda_item, text=text, follow_up=follow_up,
                        created_by_id=actor.id, created_at=now)
    db.session.add(decision)
    db.session.flush()
    if follow_up == "refer_subdistrict":
        decision.referred_at = now
        notify(_others(subdistrict_office_members(meeting.community), actor), "meetings.referred", meeting,
               **_payload(meeting, decision_id=decision.id, text=text[:200]))
    record(actor, "meeting.decision", meeting, decision_id=decision.id, follow_up=follow_up,
           agenda_item_id=getattr(agenda_item, "id", None))
    return decision


def subdistrict_office_members(community: Community) -> list:
    """Current members of the sub-district office of the community's sub-district."""
    rows = db.session.scalars(
        select(OrgMembership).join(Organization).options(joinedload(OrgMembership.user))
        .where(Organization.kind == "subdistrict_office", Organization.sub_district_id == community.sub_district_id,
               roles.current_clause(OrgMembership, roles.today()))).unique().all()
    return [m.user for m in rows]


def decisions_of(meeting: Meeting) -> list[Decision]:
    return db.session.scalars(select(Decision).where(Decision.meeting_id == meeting.id)
                              .options(joinedload(Decision.agenda_item), joinedload(Decision.ballot))
                              .order_by(Decision.id)).all()


def decision_for_ballot(actor: User, decision_id: int | str | None, proposal: Proposal) -> Decision | None:
    """The decision a ballot is being opened from (votes.new?decision=<id>), when the actor manages its
    meeting and it is an open_ballot decision on this proposal still without a ballot; else None."""
    try:
        decision = db.session.get(Decision, int(decision_id))
    except (TypeError, ValueError):
        return None
    if decision is None or decision.follow_up != "open_ballot" or decision.ballot_id is not None:
        return None
    if decision.agenda_item is None or decision.agenda_item.proposal_id != proposal.id:
        return None
    if not permissions.can_manage_meeting(actor, decision.meeting):
        return None
    return decision


def link_ballot(decision: Decision, ballot: Ballot) -> Decision:
    """The ballot opened from an "open a ballot" decision (on the agenda item's proposal)."""
    if decision.follow_up != "open_ballot" or decision.agenda_item is None or \
            decision.agenda_item.proposal_id != ballot.proposal_id:
        raise DomainError(_l("This ballot is not on the decision's proposal."), "decision")
    if decision.ballot_id is not None and decision.ballot_id != ballot.id:
        raise DomainError(_l("This decision already has its ballot."), "decision")
    decision.ballot_id = ballot.id
    db.session.flush()
    record(None, "meeting.decision_ballot", decision.meeting, decision_id=decision.id, ballot_id=ballot.id)
    return decision
