"""What every part of the proposals rules shares: the notification events a proposal sends, the timeline
entry and the state move, acting for a resident, the text check (also used by the votes and notices
areas), who follows a proposal and who sits on the committee, counters changed in the database, and
opening the consultation (by the threshold or by the committee)."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.auth.models import User
from portal.clock import utcnow
from portal.committees.models import COMMITTEE_KINDS, Organization
from portal.errors import DomainError
from portal.extensions import db
from portal.issues.services import members_of
from portal.outbox import notify, register_event
from portal.proposals.models import ProposalEvent, ProposalSupport

if TYPE_CHECKING:
    from collections.abc import Iterable

    from portal.places.models import Community
    from portal.proposals.models import Proposal

EDIT_SILENTLY_WITHIN = timedelta(minutes=10)
OPEN_STATES = ("collecting", "deliberation", "voting")


def _proposal_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    slug, proposal_id = payload.get("slug"), payload.get("proposal_id") or notification.object_id
    if not slug or not proposal_id:
        return None
    anchor = f"#comment-{payload['comment_id']}" if payload.get("comment_id") else ""
    return url_for("proposals.detail", slug=slug, proposal_id=proposal_id) + anchor


# Who hears what (issue #9): the author and the supporters hear of every step their proposal takes, once
# each. Where another area already tells them of the same step (the ballot opening and its result reach
# the electorate, a public notice reaches the community), they are left out of the proposal's own notice.
register_event("proposals.threshold_reached",
               _l("“%(title)s” reached %(supports)d supports: its consultation is open."), _proposal_link)
register_event("proposals.archived",
               _l("“%(title)s” did not reach enough supports in time and was archived."), _proposal_link)
register_event("proposals.withdrawn", _l("“%(title)s” was withdrawn by its author."), _proposal_link)
register_event("proposals.deliberation", _l("“%(title)s” was moved to consultation: %(reason)s"),
               _proposal_link)
register_event("proposals.voting", _l("“%(title)s” goes to a vote."), _proposal_link)
register_event("proposals.passed", _l("The vote decided: “%(title)s” passed."), _proposal_link)
register_event("proposals.rejected", _l("The vote decided: “%(title)s” did not pass."), _proposal_link)
register_event("proposals.returned",
               _l("The vote did not decide “%(title)s”: it is back in consultation."), _proposal_link)
register_event("proposals.evaluated",
               _l("Everything agreed for “%(title)s” is done and rated: the proposal is evaluated."),
               _proposal_link)
register_event("proposals.reply", _l("%(name)s replied to your comment on “%(title)s”."), _proposal_link)


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return now or utcnow()


def _payload(proposal, **extra):
    # A hidden proposal is named by number: its words must not travel in notices to others.
    title = f"#{proposal.id}" if proposal.hidden_state else proposal.title
    payload = {"title": title, "slug": proposal.community.slug, "proposal_id": proposal.id}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def _others(people, actor):
    return [p for p in people if p is not None and p.id != getattr(actor, "id", None)]


def _behalf(actor, item):
    """The resident a member wrote this for (item.author), when the member is the one acting."""
    return item.author if actor is not None and actor.id != item.author_id else None


def _add_event(proposal, kind, actor=None, *, body=None, to_state=None, from_state=None, on_behalf_of=None,
               at=None, **details):
    event = ProposalEvent(proposal=proposal, kind=kind, actor_id=getattr(actor, "id", None),
                          on_behalf_of_id=getattr(on_behalf_of, "id", None), body=body, from_state=from_state,
                          to_state=to_state, at=at or utcnow(), details=details)
    db.session.add(event)
    return event


def _move(proposal, to_state, kind, actor=None, *, at, **kw):
    """Change the state and put the step on the timeline."""
    event = _add_event(proposal, kind, actor, from_state=proposal.status, to_state=to_state, at=at, **kw)
    proposal.status = to_state
    return event


def _text(value, field, *, maximum, required, empty_message=None):
    value = (value or "").strip()
    if required and not value:
        raise DomainError(empty_message or _l("This field is required."), field)
    if len(value) > maximum:
        raise DomainError(_l("At most %(max)d characters, please: this has %(length)d.", max=maximum,
                             length=len(value)), field)
    return value


def committee_of(community: Community) -> list[User]:
    """Current members of the community's committees (one query for the ids, one for the people)."""
    org_ids = db.session.scalars(db.select(Organization.id).where(
        Organization.community_id == community.id, Organization.kind.in_(COMMITTEE_KINDS))).all()
    return members_of(org_ids)


def followers_of(proposal: Proposal) -> list[User]:
    """The people told of the proposal's steps: its author and its supporters."""
    return [proposal.author] + supporters_of(proposal)


def tell_followers(proposal: Proposal, event: str, *, actor: User | None = None, skip_ids: Iterable[int] = (),
                   **extra) -> None:
    """Notify the author and supporters of a step, except the person who took it and `skip_ids` (people
    another area's notice of the same step already reaches)."""
    skip = set(skip_ids) | {getattr(actor, "id", None)}
    notify([p for p in followers_of(proposal) if p is not None and p.id not in skip], event, proposal,
           **_payload(proposal, **extra))


def supporters_of(proposal: Proposal) -> list[User]:
    return db.session.scalars(db.select(User).join(ProposalSupport, ProposalSupport.user_id == User.id)
                              .where(ProposalSupport.proposal_id == proposal.id).order_by(ProposalSupport.id)).all()


def _add_to_count(obj, column, step):
    model = type(obj)
    db.session.execute(db.update(model).where(model.id == obj.id).values({column.key: column + step}))
    db.session.refresh(obj, [column.key])


def _open_consultation(proposal, kind, actor, now, *, body=None, **details):
    proposal.deliberation_at = now
    _move(proposal, "deliberation", kind, actor, body=body, at=now, **details)
