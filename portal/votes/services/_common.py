"""What every part of the ballot rules shares: the field limits and option labels, the notification
events a ballot sends and who they reach, times in the community's zone, the row lock every cast and
the close take, and the checks that a ballot is still open and that the actor may act on it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, literal, select

from portal import events
from portal.auth import roles
from portal.clock import in_zone, utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import EVENTS, Notification, register_event
from portal.places.models import Building, Household, Owner, Ownership
from portal.proposals import services as proposals
from portal.votes.models import Ballot, BallotCaster
from portal.votes.scope import units_clause

if TYPE_CHECKING:
    from portal.votes.models import BallotOption

QUESTION_MAX = 300
NOTICE_MAX = 10000
REASON_MAX = 1000
STATEMENT_MAX = 10000
OPTION_LABEL_MAX = 200
CHOICES_RANGE = (2, 10)
OPENING_GRACE = timedelta(minutes=1)  # "now" typed into a form is a moment in the past when it arrives
LOG_PAGE_SIZE = 100
RECEIPT_MAX = 64

YES_NO_LABELS = {"yes": _l("Yes"), "no": _l("No"), "abstain": _l("Abstain")}
# What the option row stores for yes / no / abstain; pages show YES_NO_LABELS by code, in the reader's language.
STORED_LABELS = {"yes": "Yes", "no": "No", "abstain": "Abstain"}


def option_label(option: BallotOption) -> str:
    """An option as a reader sees it: yes / no / abstain in their language, a named choice as written."""
    code = getattr(option, "code", None)
    return str(YES_NO_LABELS[code]) if code in YES_NO_LABELS else option.label


def _ballot_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    slug, ballot_id = payload.get("slug"), payload.get("ballot_id") or notification.object_id
    if not slug or not ballot_id:
        return None
    return url_for("votes.detail", slug=slug, ballot_id=ballot_id)


register_event("votes.announced",
               _l("Owners' ballot announced on “%(title)s”: voting opens %(opens)s and closes %(closes)s."),
               _ballot_link, times=("opens", "closes"))
register_event("votes.opened", _l("Voting is open on “%(title)s” until %(closes)s."), _ballot_link,
               times=("closes",))
register_event("votes.closed", _l("The ballot on “%(title)s” has closed: see the result."), _ballot_link)
# Sent once per ballot and person by portal.notifications.reminders, only to those who have not voted.
register_event("votes.closing_soon",
               _l("Voting on “%(title)s” closes at %(closes)s and you have not voted yet."), _ballot_link,
               times=("closes",))


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return (now or utcnow()).astimezone(UTC)


def _local(ballot, moment) -> datetime:
    return in_zone(moment, ballot.community.time_zone)


_text = proposals._text  # the same trimming, "required" and length rules (and messages) as proposals' fields


def _moment(value, field):
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DomainError(_l("Give a date and time."), field)
    return value.astimezone(UTC)


def _payload(ballot, **extra):
    proposal = ballot.proposal
    title = f"#{proposal.id}" if proposal.hidden_state else proposal.title
    payload = {"title": title, "slug": ballot.community.slug, "ballot_id": ballot.id, "proposal_id": proposal.id,
               "zone": ballot.community.time_zone}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def _notify_all(recipient_ids, event, obj, payload, now):
    """The outbox rows about `obj` (a ballot, a notice…) for every account a SELECT of user ids names, in one
    INSERT … SELECT: an owners' ballot may reach hundreds of thousands of accounts, which must not become
    as many ORM objects. (notify() is the one-by-one form of the same rows.)"""
    if event not in EVENTS:
        raise ValueError(f"unregistered notification event {event!r}")
    ids = recipient_ids.subquery("recipients")
    rows = select(ids.c.user_id, literal(event), literal(type(obj).__tablename__), literal(obj.id),
                  literal(payload, Notification.payload.type), literal(now, Notification.created_at.type)) \
        .select_from(ids)
    db.session.execute(db.insert(Notification).from_select(
        ["recipient_id", "event", "object_type", "object_id", "payload", "created_at"], rows))
    events.notifications_written.send(None, event=event, object_type=type(obj).__tablename__, object_id=obj.id,
                                      created_at=now)


def _told_ids(ballot, people) -> set[int]:
    """Which of these people the ballot's own notices reach (they may cast a vote in it)."""
    ids = [p.id for p in people if p is not None]
    if not ids:
        return set()
    return set(db.session.scalars(select(BallotCaster.user_id).where(
        BallotCaster.ballot_id == ballot.id, BallotCaster.user_id.in_(ids))))


def _tell_proposal_followers(ballot, event, actor=None, *, announced_on=None):
    """The proposal's author and supporters hear of its step, unless the ballot's notice reaches them."""
    proposal = ballot.proposal
    followers = proposals.followers_of(proposal)
    told = _told_ids(ballot, followers)
    if announced_on is not None:
        ids = [p.id for p in followers if p is not None]
        told |= set(db.session.scalars(_owner_account_ids(ballot, announced_on).where(Owner.user_id.in_(ids))))
    proposals.tell_followers(proposal, event, actor=actor, skip_ids=told)


def _caster_ids(ballot):
    return select(BallotCaster.user_id).where(BallotCaster.ballot_id == ballot.id).distinct()


def _owner_account_ids(ballot, on):
    """Accounts linked to an owner of the community holding a unit within the ballot's scope on `on`."""
    return select(Owner.user_id).join(Ownership, Ownership.owner_id == Owner.id) \
        .join(Household, Household.id == Ownership.household_id).join(Building, Building.id == Household.building_id) \
        .where(Owner.community_id == ballot.community_id, Owner.user_id.is_not(None), Ownership.held_on(on),
               units_clause(ballot)).distinct()


# Statements a page or a cast runs every time are built once (on first use) with bound parameters: building
# a SELECT with its loader options and computing its cache key costs more Python than running it, and a
# built statement keeps its cache key.
@cache
def _lock_statement():
    return (select(Ballot).where(Ballot.id == bindparam("ballot_id")).with_for_update()
            .execution_options(populate_existing=True))


def _lock(ballot) -> Ballot:
    """Take the ballot's row lock for the rest of the transaction and read it afresh (log head and length,
    status): casts and closing of one ballot happen one after the other."""
    return db.session.execute(_lock_statement(), {"ballot_id": ballot.id}).scalar_one()


def _require(rule, actor, ballot, message):
    """The committee's steps on an open ballot: its members are told when voting is not open (any more);
    everyone else is refused."""
    if rule(actor, ballot):
        return
    if ballot.status != "open" and roles.is_member_of(actor, ballot.organization):
        _still_open(ballot, utcnow())
    raise NotAllowed(message)


def _still_open(ballot, now):
    if ballot.status != "open" or ballot.closes_at <= now:
        raise DomainError(_l("Voting on this ballot is closed.") if ballot.status == "closed"
                          else _l("Voting on this ballot is not open."), "ballot")
