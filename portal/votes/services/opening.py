"""Opening a ballot on a proposal in consultation: who may open it (the committee, or for owners the
homeowners' or residents' committee), the method's rules (options, secrecy, matter, unit, quorum,
threshold), the owners' 15-day announcement, one live ballot per proposal, and freezing the electorate
when voting opens."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit.services import record
from portal.auth import permissions, roles
from portal.clock import in_zone
from portal.committees.models import COMMITTEE_KINDS, Organization
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import instant
from portal.proposals import services as proposals
from portal.votes import electorate, totals
from portal.votes.models import (
    CO_OWNER_HEADCOUNTS,
    MATTERS,
    METHODS,
    OPTION_CODES,
    OWNERS_NOTICE_DAYS,
    RESIDENT_RULES,
    RESIDENT_UNITS,
    THRESHOLDS,
    Ballot,
    BallotOption,
)
from portal.votes.services import scope, unowned
from portal.votes.services._common import (
    CHOICES_RANGE,
    NOTICE_MAX,
    OPENING_GRACE,
    OPTION_LABEL_MAX,
    QUESTION_MAX,
    STORED_LABELS,
    _caster_ids,
    _local,
    _moment,
    _notify_all,
    _now,
    _owner_account_ids,
    _payload,
    _tell_proposal_followers,
    _text,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.places.models import Estate
    from portal.proposals.models import Proposal


def _committees_of(actor, community) -> list[Organization]:
    return [o for o in roles.organizations(actor, COMMITTEE_KINDS) if o.community_id == community.id]


# --- opening ---------------------------------------------------------------------------------------------

def _opening_organization(actor, proposal, method, organization, estate=None) -> Organization:
    community = proposal.community
    if method == "owners":
        # The estate's homeowners' committee, else its property management committee, else the residents'
        # committee (services/scope.py).
        opener = (scope.opening_committees(community, estate) or [None])[0]
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


def _check_method(method, *, options, secret, matter, resident_unit, resident_rule, quorum_percent, threshold,
                  notice, opens_at, now) -> dict:
    """The method's own fields, checked and cleaned; fields another method uses are left out. A residents'
    vote under the meeting rule has its quorum and threshold fixed by the rule: what was given for them is
    not used."""
    options = [str(o) for o in (options or ()) if str(o or "").strip()]
    named = bool(options)
    if named and method != "residents":
        raise DomainError(_l("Named choices are for residents' votes; this ballot asks yes, no or abstain."),
                          "options")
    fields = {"choices": _choices(options) if named else None, "secret": bool(secret), "matter": None,
              "resident_unit": None, "resident_rule": None, "quorum_percent": None, "threshold": None,
              "notice": None}
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
        resident_rule = resident_rule or "simple"
        if resident_rule not in RESIDENT_RULES:
            raise DomainError(_l("Choose how the residents' vote is decided."), "resident_rule")
        fields.update(resident_unit=resident_unit, resident_rule=resident_rule)
        if resident_rule == "meeting":
            if named:
                raise DomainError(_l("The residents' meeting rule decides a yes/no question: named choices "
                                     "are for the simple rule."), "resident_rule")
            return fields
        fields["quorum_percent"] = _quorum(quorum_percent)
        if not named:
            if threshold not in THRESHOLDS:
                raise DomainError(_l("Choose the share of yes votes needed to pass."), "threshold")
            fields["threshold"] = threshold
    return fields


def co_owner_headcount() -> str:
    """The portal's co-owner reading (CO_OWNER_HEADCOUNT), frozen on each owners' ballot."""
    reading = current_app.config.get("CO_OWNER_HEADCOUNT", "separate")
    if reading not in CO_OWNER_HEADCOUNTS:
        raise RuntimeError(f"CO_OWNER_HEADCOUNT must be one of {CO_OWNER_HEADCOUNTS}, not {reading!r}")
    return reading


def _check_owner_roll(ballot, opens_at) -> None:
    """Every unit within the ballot's scope without an owner on the opening day is resolved (see
    services.unowned), else no owners' ballot: the list is on the opening form. Asked once the ballot and
    its scope are flushed, inside the savepoint that a refusal rolls back."""
    community = ballot.community
    unresolved = unowned.unresolved_units(community, in_zone(opens_at, community.time_zone).date(), ballot)
    if unresolved:
        raise DomainError(_l("%(count)d units have no owner on the register. Record their owners, assign them "
                             "to the developer, or record why they are excluded, then open the ballot.",
                             count=len(unresolved)), "owner_roll")


def open_ballot(actor: User, proposal: Proposal, *, method: str, question: str, options: Iterable[str] | None = None,
                opens_at: datetime, closes_at: datetime, secret: bool = False, results_hidden: bool = False,
                matter: int | str | None = None, resident_unit: str | None = None, resident_rule: str | None = None,
                quorum_percent: str | Decimal | None = None, threshold: str | None = None, notice: str = "",
                organization: Organization | None = None, estate: Estate | None = None, scope_kind: str | None = None,
                scope_buildings: Iterable[int] = (), scope_entrances: Iterable[tuple[int, str]] = (),
                now: datetime | None = None) -> Ballot:
    """A ballot on a proposal in consultation, which goes to voting. Voting opens at once when `opens_at`
    has come (the electorate is frozen and told), else the ballot is announced (owners: every owner with
    an account receives the notice). `options` None means yes / no / abstain; named choices (2–10) are
    for residents' votes. A residents' vote is decided by `resident_rule` "simple" (the default: the quorum
    and threshold given) or "meeting" (the 居民会议 rule, yes/no only)."""
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
    owners_scope = scope.check_scope(proposal.community, estate=estate, scope=scope_kind, buildings=scope_buildings,
                                     entrances=scope_entrances) if method == "owners" else None
    opener = _opening_organization(actor, proposal, method, organization,
                                   owners_scope.estate if owners_scope else None)
    fields = _check_method(method, options=options, secret=secret, matter=matter, resident_unit=resident_unit,
                           resident_rule=resident_rule, quorum_percent=quorum_percent, threshold=threshold,
                           notice=notice, opens_at=opens_at, now=now)
    if live_ballot(proposal) is not None:
        raise DomainError(_l("This proposal already has a ballot announced or open."), "proposal")

    ballot = Ballot(proposal=proposal, community=proposal.community, organization=opener, opened_by_id=actor.id,
                    method=method, matter=fields["matter"], resident_unit=fields["resident_unit"],
                    resident_rule=fields["resident_rule"],
                    co_owner_headcount=co_owner_headcount() if method == "owners" else None,
                    quorum_percent=fields["quorum_percent"], threshold=fields["threshold"],
                    at_least_half=bool(opener.at_least_half) if method == "committee" else False,
                    question=question, notice=fields["notice"], secret=fields["secret"],
                    results_hidden=bool(results_hidden), status="scheduled", created_at=now, opens_at=opens_at,
                    closes_at=closes_at)
    if owners_scope is not None:
        scope.apply_scope(ballot, owners_scope)
    labels = fields["choices"] or [None] * len(OPTION_CODES)
    for position, label in enumerate(labels, start=1):
        code = None if fields["choices"] else OPTION_CODES[position - 1]
        ballot.options.append(BallotOption(position=position, code=code, label=label or STORED_LABELS[code]))
    try:
        with db.session.begin_nested():
            db.session.add(ballot)
            db.session.flush()
            if method == "owners":  # within the savepoint: a refusal leaves nothing written
                _check_owner_roll(ballot, opens_at)
    except IntegrityError:
        raise DomainError(_l("This proposal already has a ballot announced or open."), "proposal") from None
    proposals.enter_voting(proposal, actor, now=now, ballot_id=ballot.id)
    db.session.flush()
    record(actor, "ballot.created", ballot, proposal_id=proposal.id, method=method, matter=ballot.matter,
           resident_rule=ballot.resident_rule, estate_id=ballot.estate_id, scope=ballot.scope,
           scope_units=[[b, e] for b, e in owners_scope.rows] if owners_scope else None,
           organization_id=opener.id, secret=ballot.secret, results_hidden=ballot.results_hidden,
           opens_at=opens_at.isoformat(), closes_at=closes_at.isoformat())
    announced_on = None
    if opens_at <= now:
        _open(ballot, now)
    elif method == "owners":
        announced_on = _local(ballot, now).date()
        _notify_all(_owner_account_ids(ballot, announced_on), "votes.announced", ballot,
                    _payload(ballot, opens=instant(opens_at), closes=instant(closes_at)),
                    now)
        scope.tell_residents_committee(ballot, now)
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
                _payload(ballot, closes=instant(ballot.closes_at)), now)


def live_ballot(proposal: Proposal) -> Ballot | None:
    """The proposal's ballot that is announced or open, if any."""
    return db.session.scalar(select(Ballot).where(Ballot.proposal_id == proposal.id,
                                                  Ballot.status.in_(("scheduled", "open"))))
