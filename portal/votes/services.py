"""Ballots (表决): opening one on a proposal in consultation, announcing it, freezing the electorate when
voting opens, casting and changing votes (online, or on paper entered by the committee), extending once,
closing at the close time or early, deciding the result, and reading tallies, receipts and the log.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, writes an audit entry and
notifies the people concerned. Callers commit; a DomainError leaves nothing written. `now=None` means
utcnow(); tests pass explicit times.

Integrity under load: every cast locks the ballot's row (`SELECT … FOR UPDATE`; SQLite serializes writers
anyway), reads the log's head and length, appends the next entry to the hash chain and upserts the one
live vote of the voter; the unique constraint on (ballot, voter) is the database's last word. Closing
takes the same lock, so no cast slips in between the count and the close.

Counting is done by the database: one GROUP BY over the live votes joined to the frozen electorate
(weights stored at opening), never by loading ballots into Python; `portal.votes.counting` decides. That
full count runs at close; while a ballot is open its pages read the running totals every cast keeps under
the lock (`portal.votes.totals`), which verification checks against the recount from the log.

Hidden results stay hidden: `visible_tally` is the only way a page gets numbers, and it answers None while
a ballot with hidden results is not closed. Secret ballots never show who voted what: the published log
of a secret ballot carries receipts, choices and weights only, and nothing is audited per online cast."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache

import click
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal import events
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.auth.models import User
from portal.clock import in_zone, utcnow
from portal.committees.models import COMMITTEE_KINDS, Organization
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import EVENTS, Notification, register_event
from portal.places.models import Owner, Ownership
from portal.proposals import services as proposals
from portal.votes import counting, electorate, totals
from portal.votes import log as ballot_log
from portal.votes.models import (
    MATTERS,
    METHODS,
    OPTION_CODES,
    OWNERS_NOTICE_DAYS,
    RESIDENT_UNITS,
    THRESHOLDS,
    Ballot,
    BallotCaster,
    BallotLogEntry,
    BallotOption,
    BallotVote,
    BallotVoter,
)
from portal.votes.totals import rebuild_running_totals, running_figures  # noqa: F401  (part of this interface)

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


def option_label(option) -> str:
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
               _ballot_link)
register_event("votes.opened", _l("Voting is open on “%(title)s” until %(closes)s."), _ballot_link)
register_event("votes.closed", _l("The ballot on “%(title)s” has closed: see the result."), _ballot_link)
# Sent once per ballot and person by portal.notifications.reminders, only to those who have not voted.
register_event("votes.closing_soon",
               _l("Voting on “%(title)s” closes at %(closes)s and you have not voted yet."), _ballot_link)


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return (now or utcnow()).astimezone(timezone.utc)


def _local(ballot, moment) -> datetime:
    return in_zone(moment, ballot.community.time_zone)


def _local_text(ballot, moment) -> str:
    return _local(ballot, moment).strftime("%Y-%m-%d %H:%M")


_text = proposals._text  # the same trimming, "required" and length rules (and messages) as proposals' fields


def _moment(value, field):
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DomainError(_l("Give a date and time."), field)
    return value.astimezone(timezone.utc)


def _payload(ballot, **extra):
    proposal = ballot.proposal
    title = f"#{proposal.id}" if proposal.hidden_state else proposal.title
    payload = {"title": title, "slug": ballot.community.slug, "ballot_id": ballot.id, "proposal_id": proposal.id}
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
    """Accounts linked to an owner of the community holding a unit on `on`."""
    return select(Owner.user_id).join(Ownership, Ownership.owner_id == Owner.id).where(
        Owner.community_id == ballot.community_id, Owner.user_id.is_not(None), Ownership.held_on(on)).distinct()


# Statements a page or a cast runs every time are built once (on first use) with bound parameters: building
# a SELECT with its loader options and computing its cache key costs more Python than running it, and a
# built statement keeps its cache key.
@cache
def _lock_statement():
    return (select(Ballot).where(Ballot.id == bindparam("ballot_id")).with_for_update()
            .execution_options(populate_existing=True))


@cache
def _live_vote_statement():
    return (select(BallotVote).where(BallotVote.ballot_id == bindparam("ballot_id"),
                                     BallotVote.voter_id == bindparam("voter_id"))
            .execution_options(populate_existing=True))


@cache
def _ballot_in_statement():
    return (select(Ballot).where(Ballot.community_id == bindparam("community_id"), Ballot.id == bindparam("ballot_id"))
            .options(joinedload(Ballot.proposal), joinedload(Ballot.community), joinedload(Ballot.organization),
                     selectinload(Ballot.options)))


@cache
def _votes_of_statement():
    return select(BallotVote).where(BallotVote.ballot_id == bindparam("ballot_id"),
                                    BallotVote.voter_id.in_(bindparam("voter_ids", expanding=True)))


def _lock(ballot) -> Ballot:
    """Take the ballot's row lock for the rest of the transaction and read it afresh (log head and length,
    status): casts and closing of one ballot happen one after the other."""
    return db.session.execute(_lock_statement(), {"ballot_id": ballot.id}).scalar_one()


def _option_of(ballot, option_id) -> BallotOption:
    try:
        option_id = int(option_id)
    except (TypeError, ValueError):
        raise DomainError(_l("Choose one of the ballot's options."), "option_id") from None
    option = next((o for o in ballot.options if o.id == option_id), None)
    if option is None:
        raise DomainError(_l("Choose one of the ballot's options."), "option_id")
    return option


def _voter_of(ballot, voter) -> BallotVoter | None:
    """A voter of this ballot from a BallotVoter or an id; None when it is not this ballot's."""
    voter_id = getattr(voter, "id", voter)
    try:
        voter_id = int(voter_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                       BallotVoter.id == voter_id))


def _committees_of(actor, community) -> list[Organization]:
    return [o for o in roles.organizations(actor, COMMITTEE_KINDS) if o.community_id == community.id]


# --- opening ---------------------------------------------------------------------------------------------

def _opening_organization(actor, proposal, method, organization) -> Organization:
    community = proposal.community
    if method == "owners":
        committees = db.session.scalars(select(Organization).where(
            Organization.community_id == community.id,
            Organization.kind.in_(("homeowners_committee", "residents_committee")))
            .order_by(Organization.id)).all()
        hoa = [o for o in committees if o.kind == "homeowners_committee"]
        opener = (hoa or committees or [None])[0]
        if opener is None or not roles.is_member_of(actor, opener) or (
                organization is not None and organization.id != opener.id):
            raise NotAllowed(_l("An owners' ballot is opened by the homeowners' committee, or by the residents' "
                                "committee where there is none."))
        return opener
    mine = _committees_of(actor, community)
    if organization is not None:
        if not any(o.id == organization.id for o in mine):
            raise DomainError(_l("Choose a committee of this community you serve on."), "organization")
        return next(o for o in mine if o.id == organization.id)
    if method == "residents" and len(mine) > 1:
        # The committee only opens a residents' vote; the residents' committee first, as the one that serves
        # every resident.
        return min(mine, key=lambda o: (COMMITTEE_KINDS.index(o.kind), o.id))
    if len(mine) != 1:
        raise DomainError(_l("Choose the committee that votes."), "organization")
    return mine[0]


def _choices(options) -> list[str]:
    labels, seen = [], set()
    for label in options:
        label = (label or "").strip()
        if not label:
            continue
        if len(label) > OPTION_LABEL_MAX:
            raise DomainError(_l("An option has at most %(max)d characters.", max=OPTION_LABEL_MAX), "options")
        if label.casefold() in seen:
            raise DomainError(_l("Each option must be different."), "options")
        seen.add(label.casefold())
        labels.append(label)
    if not CHOICES_RANGE[0] <= len(labels) <= CHOICES_RANGE[1]:
        raise DomainError(_l("Give from %(min)d to %(max)d options.", min=CHOICES_RANGE[0], max=CHOICES_RANGE[1]),
                          "options")
    return labels


def _quorum(value) -> Decimal:
    message = _l("Give the quorum as a percentage above 0 and at most 100, with at most two decimals.")
    try:
        quorum = Decimal(str(value).strip().rstrip("%").strip()[:32])
        if not quorum.is_finite() or not 0 < quorum <= 100 or quorum != quorum.quantize(Decimal("0.01")):
            raise DomainError(message, "quorum_percent")
    except (InvalidOperation, ValueError):
        raise DomainError(message, "quorum_percent") from None
    return quorum.quantize(Decimal("0.01"))


def _check_method(method, *, options, secret, matter, resident_unit, quorum_percent, threshold, notice,
                  opens_at, now) -> dict:
    """The method's own fields, checked and cleaned; fields another method uses are left out."""
    options = [str(o) for o in (options or ()) if str(o or "").strip()]
    named = bool(options)
    if named and method != "residents":
        raise DomainError(_l("Named choices are for residents' votes; this ballot asks yes, no or abstain."),
                          "options")
    fields = {"choices": _choices(options) if named else None, "secret": bool(secret), "matter": None,
              "resident_unit": None, "quorum_percent": None, "threshold": None, "notice": None}
    if method == "owners":
        try:
            matter = int(matter)
        except (TypeError, ValueError):
            matter = None
        if matter not in MATTERS:
            raise DomainError(_l("Choose the matter of Civil Code article 278 this ballot decides."), "matter")
        if secret:
            raise DomainError(_l("Owners' ballots are signed and open to owners' inspection: they cannot be "
                                 "secret."), "secret")
        earliest = now + timedelta(days=OWNERS_NOTICE_DAYS)
        if opens_at < earliest:
            raise DomainError(_l("Owners must be told at least %(days)d days before voting opens.",
                                 days=OWNERS_NOTICE_DAYS), "opens_at")
        fields.update(matter=matter, notice=_text(notice, "notice", maximum=NOTICE_MAX, required=True,
                                                  empty_message=_l("Write the notice every owner receives.")))
    elif method == "residents":
        if resident_unit not in RESIDENT_UNITS:
            raise DomainError(_l("Choose one vote per adult resident or one per household."), "resident_unit")
        fields.update(resident_unit=resident_unit, quorum_percent=_quorum(quorum_percent))
        if not named:
            if threshold not in THRESHOLDS:
                raise DomainError(_l("Choose the share of yes votes needed to pass."), "threshold")
            fields["threshold"] = threshold
    return fields


def open_ballot(actor, proposal, *, method, question, options=None, opens_at, closes_at, secret=False,
                results_hidden=False, matter=None, resident_unit=None, quorum_percent=None, threshold=None,
                notice="", organization=None, now=None) -> Ballot:
    """A ballot on a proposal in consultation, which goes to voting. Voting opens at once when `opens_at`
    has come (the electorate is frozen and told), else the ballot is announced (owners: every owner with
    an account receives the notice). `options` None means yes / no / abstain; named choices (2–10) are
    for residents' votes."""
    now = _now(now)
    if not permissions.can_open_ballot(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can open a ballot, on a proposal in consultation."))
    if method not in METHODS:
        raise DomainError(_l("Choose how the ballot is counted."), "method")
    question = _text(question, "question", maximum=QUESTION_MAX, required=True,
                     empty_message=_l("Write the question people vote on."))
    opens_at, closes_at = _moment(opens_at, "opens_at"), _moment(closes_at, "closes_at")
    if opens_at < now - OPENING_GRACE:
        raise DomainError(_l("Voting cannot open in the past."), "opens_at")
    if closes_at <= opens_at:
        raise DomainError(_l("Voting must close after it opens."), "closes_at")
    opener = _opening_organization(actor, proposal, method, organization)
    fields = _check_method(method, options=options, secret=secret, matter=matter, resident_unit=resident_unit,
                           quorum_percent=quorum_percent, threshold=threshold, notice=notice, opens_at=opens_at,
                           now=now)
    if live_ballot(proposal) is not None:
        raise DomainError(_l("This proposal already has a ballot announced or open."), "proposal")

    ballot = Ballot(proposal=proposal, community=proposal.community, organization=opener, opened_by_id=actor.id,
                    method=method, matter=fields["matter"], resident_unit=fields["resident_unit"],
                    quorum_percent=fields["quorum_percent"], threshold=fields["threshold"],
                    at_least_half=bool(opener.at_least_half) if method == "committee" else False,
                    question=question, notice=fields["notice"], secret=fields["secret"],
                    results_hidden=bool(results_hidden), status="scheduled", created_at=now, opens_at=opens_at,
                    closes_at=closes_at)
    labels = fields["choices"] or [None] * len(OPTION_CODES)
    for position, label in enumerate(labels, start=1):
        code = None if fields["choices"] else OPTION_CODES[position - 1]
        ballot.options.append(BallotOption(position=position, code=code, label=label or STORED_LABELS[code]))
    try:
        with db.session.begin_nested():
            db.session.add(ballot)
            db.session.flush()
    except IntegrityError:
        raise DomainError(_l("This proposal already has a ballot announced or open."), "proposal") from None
    proposals.enter_voting(proposal, actor, now=now, ballot_id=ballot.id)
    db.session.flush()
    record(actor, "ballot.created", ballot, proposal_id=proposal.id, method=method, matter=ballot.matter,
           organization_id=opener.id, secret=ballot.secret, results_hidden=ballot.results_hidden,
           opens_at=opens_at.isoformat(), closes_at=closes_at.isoformat())
    announced_on = None
    if opens_at <= now:
        _open(ballot, now)
    elif method == "owners":
        announced_on = _local(ballot, now).date()
        _notify_all(_owner_account_ids(ballot, announced_on), "votes.announced", ballot,
                    _payload(ballot, opens=_local_text(ballot, opens_at), closes=_local_text(ballot, closes_at)),
                    now)
    _tell_proposal_followers(ballot, "proposals.voting", actor, announced_on=announced_on)
    return ballot


def _open(ballot, now) -> None:
    """Scheduled → open: the electorate is frozen as it stands on the opening day, and told."""
    electorate.freeze(ballot, on=_local(ballot, ballot.opens_at).date())
    voters = totals.set_electorate(ballot)
    ballot.status = "open"
    ballot.frozen_at = now
    db.session.flush()
    record(None, "ballot.opened", ballot, voters=voters)
    _notify_all(_caster_ids(ballot), "votes.opened", ballot,
                _payload(ballot, closes=_local_text(ballot, ballot.closes_at)), now)


# --- time ------------------------------------------------------------------------------------------------

def apply_due(ballot, now=None) -> bool:
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


# --- casting ---------------------------------------------------------------------------------------------

def _append(ballot, voter, option, live, *, cast_by, is_paper, now) -> BallotLogEntry:
    """The next log entry, the voter's live vote (replacing `live`, the one it had, if any) and the running
    totals, all in this transaction. The ballot row is locked by the caller, who read `live` under the lock:
    every writer of live votes comes through here."""
    seq = ballot.log_length + 1
    fields = {"ballot_id": ballot.id, "seq": seq, "voter_id": voter.id, "option_id": option.id,
              "headcount": voter.headcount, "area_cm": voter.area_cm, "cast_by_id": cast_by.id,
              "is_paper": is_paper, "at": now, "receipt": ballot_log.new_receipt()}
    digest = ballot_log.entry_hash(ballot.log_head, fields)
    entry = BallotLogEntry(prev_hash=ballot.log_head, hash=digest, **fields)
    db.session.add(entry)
    ballot.log_head = digest
    ballot.log_length = seq
    totals.count_cast(ballot, voter, option, live.option_id if live is not None else None)
    db.session.flush()
    changed = db.session.execute(update(BallotVote).where(
        BallotVote.ballot_id == ballot.id, BallotVote.voter_id == voter.id).values(
        option_id=option.id, entry_id=entry.id, cast_by_id=cast_by.id, is_paper=is_paper, cast_at=now)
        ).rowcount
    if not changed:
        db.session.add(BallotVote(ballot_id=ballot.id, voter_id=voter.id, option_id=option.id, entry_id=entry.id,
                                  cast_by_id=cast_by.id, is_paper=is_paper, cast_at=now))
        db.session.flush()
    return entry


def _live_vote(ballot, voter) -> BallotVote | None:
    return db.session.scalar(_live_vote_statement(), {"ballot_id": ballot.id, "voter_id": voter.id})


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


def cast(user, ballot, option_id, *, voter=None, now=None) -> BallotLogEntry:
    """The user's vote (a new one, or a change: the latest counts, every cast stays in the log). `voter`
    names which vote when the account casts several (its own units, a co-owned unit…). Returns the log
    entry; its receipt is the voter's."""
    now = _now(now)
    apply_due(ballot, now)
    _still_open(ballot, now)
    option = _option_of(ballot, option_id)
    mine = electorate.voters_for(ballot, user)
    if not mine:
        raise NotAllowed(_l("You are not among the voters of this ballot."))
    if voter is None:
        if len(mine) > 1:
            raise DomainError(_l("You cast several votes in this ballot: choose which one."), "voter_id")
        chosen = mine[0]
    else:
        voter_id = getattr(voter, "id", voter)
        chosen = next((v for v in mine if str(v.id) == str(voter_id).strip()), None)
        if chosen is None:
            raise NotAllowed(_l("You may not cast this vote."))
    _lock(ballot)
    _still_open(ballot, now)
    live = _live_vote(ballot, chosen)
    if live is not None and live.is_paper:
        raise DomainError(_l("A paper ballot was entered for this vote: it cannot be cast online."), "voter_id")
    return _append(ballot, chosen, option, live, cast_by=user, is_paper=False, now=now)


def enter_paper(member, ballot, voter, option_id, *, now=None) -> BallotLogEntry:
    """A committee member enters a ballot collected on paper for a named voter. Refused when the voter has
    voted online, and refused when a paper ballot is already entered for them: one paper ballot per voter, so
    a second sheet (or a second member typing the same sheet) never silently replaces the first. Once
    entered, the voter can no longer vote online."""
    now = _now(now)
    apply_due(ballot, now)
    _require(permissions.can_enter_paper, member, ballot,
             _l("Only members of the committee that opened the ballot can enter paper ballots."))
    chosen = _voter_of(ballot, voter)
    if chosen is None:
        raise DomainError(_l("Choose a voter of this ballot."), "voter_id")
    option = _option_of(ballot, option_id)
    _lock(ballot)
    _still_open(ballot, now)
    live = _live_vote(ballot, chosen)
    if live is not None and not live.is_paper:
        raise DomainError(_l("%(name)s has voted online: a paper ballot cannot be entered for them.",
                             name=chosen.label), "voter_id")
    if live is not None:
        raise DomainError(_l("A paper ballot of %(name)s is already entered: a second one is refused, the first "
                             "one counts.", name=chosen.label), "voter_id")
    entry = _append(ballot, chosen, option, live, cast_by=member, is_paper=True, now=now)
    record(member, "ballot.paper_entered", ballot, **({} if ballot.secret else {"voter_id": chosen.id}))
    return entry


# --- extending, closing, the outcome ---------------------------------------------------------------------

def extend(actor, ballot, new_closes_at, reason, *, now=None) -> Ballot:
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


def close(actor, ballot, reason, *, now=None) -> Ballot:
    """Early, by a member of the committee that opened it, with a reason."""
    now = _now(now)
    apply_due(ballot, now)
    _require(permissions.can_close_ballot, actor, ballot,
             _l("Only the committee that opened the ballot can close it early."))
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why voting closes early."))
    _close(ballot, now, actor=actor, reason=reason)
    return ballot


def _close(ballot, now, *, actor=None, reason=None, notify_at=None) -> None:
    """Count (SQL aggregates), decide, store the result with its figures, move the proposal on."""
    _lock(ballot)
    if ballot.status != "open":
        return
    figures = tally(ballot)
    result, details = counting.decide(ballot, figures)
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


def record_outcome(actor, ballot, statement, *, now=None) -> Ballot:
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


# --- reading ---------------------------------------------------------------------------------------------

def ballot_in(community, ballot_id) -> Ballot | None:
    """One ballot of a community, with its proposal, opener and options."""
    try:
        ballot_id = int(ballot_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(_ballot_in_statement(), {"community_id": community.id, "ballot_id": ballot_id})


def ballots_for_proposal(proposal) -> list[Ballot]:
    """Every ballot on a proposal, newest first."""
    return db.session.scalars(select(Ballot).where(Ballot.proposal_id == proposal.id)
                              .options(selectinload(Ballot.options), joinedload(Ballot.organization))
                              .order_by(Ballot.id.desc())).all()


def live_ballot(proposal) -> Ballot | None:
    """The proposal's ballot that is announced or open, if any."""
    return db.session.scalar(select(Ballot).where(Ballot.proposal_id == proposal.id,
                                                  Ballot.status.in_(("scheduled", "open"))))


def community_ballots(community, viewer, *, limit=50) -> list[Ballot]:
    """The community's ballots: open first (closing soonest first), then announced, then closed (latest
    first)."""
    if not permissions.can_view_community(viewer, community):
        raise NotAllowed(_l("This community's pages are for its members."))
    order = db.case({"open": 0, "scheduled": 1}, value=Ballot.status, else_=2)
    return db.session.scalars(select(Ballot).where(Ballot.community_id == community.id)
                              .options(joinedload(Ballot.proposal), selectinload(Ballot.options))
                              .order_by(order, db.case((Ballot.status != "closed", Ballot.closes_at)),
                                        Ballot.closed_at.desc(), Ballot.id.desc())
                              .limit(max(1, min(int(limit), 200)))).all()


def tally(ballot) -> counting.Figures:
    """The full count, by the database: the electorate's sums in one query, the live votes per option in
    one GROUP BY over the frozen weights. Closing counts with it; pages of an open ballot read the running
    totals instead (`running_figures`, always equal to this, which verification checks)."""
    electorate_count, electorate_area = db.session.execute(
        select(func.coalesce(func.sum(BallotVoter.headcount), 0), func.coalesce(func.sum(BallotVoter.area_cm), 0))
        .where(BallotVoter.ballot_id == ballot.id)).one()
    rows = db.session.execute(
        select(BallotVote.option_id, func.sum(BallotVoter.headcount), func.sum(BallotVoter.area_cm))
        .join(BallotVoter, BallotVoter.id == BallotVote.voter_id)
        .where(BallotVote.ballot_id == ballot.id).group_by(BallotVote.option_id)).all()
    by_option = {int(option_id): (int(count), int(area)) for option_id, count, area in rows}
    return counting.Figures(
        electorate_count=int(electorate_count),
        electorate_area=int(electorate_area),  # 0 but for owners: only their voters carry an area
        voted_count=sum(c for c, _ in by_option.values()),
        voted_area=sum(a for _, a in by_option.values()),
        by_option=by_option)


SECRET_PARTICIPATION_MIN = 3  # a secret ballot names no count of voters below this: two voters would know


def results_visible(ballot) -> bool:
    """Whether anyone may see numbers per option now: closed, or open with live results. A secret ballot
    never shows running totals: with two voters each could deduce the other's choice from them."""
    if ballot.status == "closed":
        return True
    return ballot.status == "open" and not ballot.results_hidden and not ballot.secret


def visible_tally(viewer, ballot) -> counting.Figures | None:
    """The figures this viewer may see: the stored ones after close, the live count of an open ballot
    whose results are live, None otherwise (hidden until close — for everyone, admins included)."""
    if not permissions.can_view_ballot(viewer, ballot) or not results_visible(ballot):
        return None
    if ballot.status == "closed":
        return counting.Figures.from_json(ballot.figures)
    return running_figures(ballot)


def result_details(viewer, ballot) -> dict | None:
    """What counting.decide said at close (percentages, the rule, the winner), for the result page."""
    if ballot.status != "closed" or not permissions.can_view_ballot(viewer, ballot):
        return None
    return (ballot.figures or {}).get("details")


def participation(ballot) -> tuple[int, int]:
    """(voted, electorate) by headcount: how many have voted may always be shown, hidden results or not."""
    if ballot.status == "closed" and ballot.figures:
        return ballot.figures["voted_count"], ballot.figures["electorate_count"]
    if ballot.status != "open":
        return 0, 0
    # The running totals on the ballot's row (kept by every cast): nothing counted per page view.
    return ballot.voted_count, ballot.electorate_count


def participation_shown(ballot) -> bool:
    """Whether pages may say how many have voted: always, but on an open secret ballot only once at least
    SECRET_PARTICIPATION_MIN have (with one or two voters, the count tells who voted)."""
    return not (ballot.secret and ballot.status == "open" and ballot.voted_count < SECRET_PARTICIPATION_MIN)


def my_votes(user, ballot) -> list[tuple[BallotVoter, BallotVote | None]]:
    """The votes this account may cast, each with its live vote (None when not cast yet): "you voted X at
    14:02". For a co-owned unit the live vote may be the other co-owner's."""
    voters = electorate.voters_for(ballot, user)
    if not voters:
        return []
    votes = {v.voter_id: v for v in db.session.scalars(
        _votes_of_statement(), {"ballot_id": ballot.id, "voter_ids": [v.id for v in voters]})}
    return [(voter, votes.get(voter.id)) for voter in voters]


def needs_my_vote(user, limit=10, *, now=None) -> list[Ballot]:
    """Open ballots where this account can still cast a vote nobody has cast, closing soonest first (one
    query; each open ballot is probed through the (ballot, user) index of its casters)."""
    if not getattr(user, "is_authenticated", False):
        return []
    now = _now(now)
    waiting = exists(select(BallotCaster.id).outerjoin(BallotVote, and_(
        BallotVote.ballot_id == BallotCaster.ballot_id, BallotVote.voter_id == BallotCaster.voter_id))
        .where(BallotCaster.ballot_id == Ballot.id, BallotCaster.user_id == user.id, BallotVote.id.is_(None)))
    return db.session.scalars(select(Ballot).where(Ballot.status == "open", Ballot.closes_at > now, waiting)
                              .options(joinedload(Ballot.community), joinedload(Ballot.proposal))
                              .order_by(Ballot.closes_at, Ballot.id).limit(max(1, min(int(limit), 100)))).all()


@dataclass(frozen=True)
class LogRow:
    """One published log entry. voter, cast_by, at and the hashes are None on a secret ballot."""

    seq: int
    receipt: str
    option_label: str
    headcount: int
    area_cm: int
    is_paper: bool
    voter: str | None
    cast_by: str | None
    at: datetime | None
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True)
class LogPage:
    rows: list
    page: int
    pages: int
    total: int
    names: bool  # whether the rows carry names (public ballots, for those allowed to inspect them)


def log_entries(viewer, ballot, page=1, per_page=LOG_PAGE_SIZE) -> LogPage | None:
    """A page of the published log (after close only; None before, or for someone who may not see the
    ballot). Receipts, choices and weights for everyone who may see it; names, times and hashes too on
    public ballots, for those allowed to inspect them."""
    if ballot.status != "closed" or not permissions.can_view_ballot(viewer, ballot):
        return None
    names = permissions.can_inspect_ballots(viewer, ballot)
    per_page = max(1, min(int(per_page), 500))
    total = ballot.log_length
    pages = max(1, -(-total // per_page))
    try:
        page = min(max(1, int(page)), pages)
    except (TypeError, ValueError):
        page = 1
    first = (page - 1) * per_page + 1
    query = (select(BallotLogEntry, BallotOption, BallotVoter.label, User.display_name)
             .join(BallotOption, BallotOption.id == BallotLogEntry.option_id)
             .join(BallotVoter, BallotVoter.id == BallotLogEntry.voter_id)
             .join(User, User.id == BallotLogEntry.cast_by_id)
             .where(BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.seq >= first,
                    BallotLogEntry.seq < first + per_page)
             .order_by(BallotLogEntry.seq))
    rows = []
    for entry, option, voter_label, cast_by in db.session.execute(query):
        rows.append(LogRow(seq=entry.seq, receipt=entry.receipt, option_label=option_label(option),
                           headcount=entry.headcount, area_cm=entry.area_cm, is_paper=entry.is_paper,
                           voter=voter_label if names else None, cast_by=cast_by if names else None,
                           at=entry.at if names else None, prev_hash=entry.prev_hash if names else None,
                           hash=entry.hash if names else None))
    return LogPage(rows=rows, page=page, pages=pages, total=total, names=names)


def verify(ballot):
    """Walk the log: the chain, the head, the live votes and the stored result (votes.log.verify)."""
    return ballot_log.verify(ballot)


def check_receipt(ballot, receipt):
    """("counted", entry) | ("replaced", entry, replaced_at) | ("unknown", None) (votes.log.receipt_status;
    spaces, dashes and case do not matter). Pages show the status and the times only, never the entry's
    choice: the results may be hidden, and a receipt may not be the viewer's own."""
    return ballot_log.receipt_status(ballot, str(receipt or "")[:RECEIPT_MAX])


# --- the command ---------------------------------------------------------------------------------------

@click.command("verify-ballot")
@click.argument("ballot_id", type=int)
def verify_ballot_command(ballot_id):
    """Recompute a ballot's tally from its log and compare it with the stored votes and result; exits 1
    naming the first broken entry when anything differs."""
    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None:
        raise click.ClickException(f"No ballot {ballot_id}.")
    report = verify(ballot)
    if not report.ok:
        where = f" (entry {report.broken_seq})" if report.broken_seq is not None else ""
        click.echo(f"Ballot {ballot.id}: verification FAILED{where}: {report.message}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"Ballot {ballot.id}: {report.message}")
    if ballot.status == "closed":
        click.echo("The recount from the log equals the stored result.")
