"""Casting and changing a vote, online or on paper entered by a committee member, by the voter or by their
proxy (书面委托, votes.services.proxies): under the ballot's row lock, each cast appends the next entry to the
hash-chained log, upserts the voter's one live vote and keeps the running totals.

A vote is the voter's own, or cast by their proxy (`proxy_id` on the entry and the live vote). The owner's
own vote overrides the proxy's: it replaces a vote cast by the proxy (online or on paper), and a vote the
owner cast is never replaced by the proxy. Otherwise a person has either a paper or an online ballot."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.votes import electorate, scans, totals
from portal.votes import log as ballot_log
from portal.votes.models import BallotLogEntry, BallotOption, BallotVote, BallotVoter
from portal.votes.services import proxies
from portal.votes.services._common import _lock, _now, _require, _still_open
from portal.votes.services.closing import apply_due

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User
    from portal.votes.models import Ballot


@cache
def _live_vote_statement():
    return (select(BallotVote).where(BallotVote.ballot_id == bindparam("ballot_id"),
                                     BallotVote.voter_id == bindparam("voter_id"))
            .execution_options(populate_existing=True))


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


# --- casting ---------------------------------------------------------------------------------------------

def _append(ballot, voter, option, live, *, cast_by, is_paper, now, proxy=None) -> BallotLogEntry:
    """The next log entry, the voter's live vote (replacing `live`, the one it had, if any) and the running
    totals, all in this transaction. The ballot row is locked by the caller, who read `live` under the lock:
    every writer of live votes comes through here."""
    seq = ballot.log_length + 1
    fields = {"ballot_id": ballot.id, "seq": seq, "voter_id": voter.id, "option_id": option.id,
              "headcount": voter.headcount, "area_cm": voter.area_cm, "cast_by_id": cast_by.id,
              "is_paper": is_paper, "at": now, "receipt": ballot_log.new_receipt(),
              "proxy_id": getattr(proxy, "id", None)}
    digest = ballot_log.entry_hash(ballot.log_head, fields)
    entry = BallotLogEntry(prev_hash=ballot.log_head, hash=digest, **fields)
    db.session.add(entry)
    ballot.log_head = digest
    ballot.log_length = seq
    totals.count_cast(ballot, voter, option, live.option_id if live is not None else None)
    db.session.flush()
    changed = db.session.execute(update(BallotVote).where(
        BallotVote.ballot_id == ballot.id, BallotVote.voter_id == voter.id).values(
        option_id=option.id, entry_id=entry.id, cast_by_id=cast_by.id, is_paper=is_paper, cast_at=now,
        proxy_id=fields["proxy_id"])).rowcount
    if not changed:
        db.session.add(BallotVote(ballot_id=ballot.id, voter_id=voter.id, option_id=option.id, entry_id=entry.id,
                                  cast_by_id=cast_by.id, is_paper=is_paper, cast_at=now,
                                  proxy_id=fields["proxy_id"]))
        db.session.flush()
    return entry


def _live_vote(ballot, voter) -> BallotVote | None:
    return db.session.scalar(_live_vote_statement(), {"ballot_id": ballot.id, "voter_id": voter.id})


def cast(user: User, ballot: Ballot, option_id: int, *, voter: BallotVoter | int | None = None,
         now: datetime | None = None) -> BallotLogEntry:
    """The user's vote (a new one, or a change: the latest counts, every cast stays in the log). `voter`
    names which vote when the account casts several (its own units, a co-owned unit, an owner's vote it
    holds as a proxy — a proxy's vote is always named). Returns the log entry; its receipt is the voter's."""
    now = _now(now)
    apply_due(ballot, now)
    _still_open(ballot, now)
    option = _option_of(ballot, option_id)
    chosen, proxy = _whose_vote(ballot, user, voter)
    _lock(ballot)
    _still_open(ballot, now)
    live = _live_vote(ballot, chosen)
    if proxy is not None:
        current = proxies.live_proxy(ballot, chosen)  # read again under the lock: revoked meanwhile?
        if current is None or current.id != proxy.id:
            raise NotAllowed(_l("You may not cast this vote."))
        if live is not None and live.proxy_id is None:
            raise DomainError(_l("The owner has voted themselves: their own vote counts, and a proxy cannot replace "
                                 "it."), "voter_id")
    if live is not None and live.is_paper and (proxy is not None or live.proxy_id is None):
        raise DomainError(_l("A paper ballot was entered for this vote: it cannot be cast online."), "voter_id")
    return _append(ballot, chosen, option, live, cast_by=user, is_paper=False, now=now, proxy=proxy)


def _whose_vote(ballot, user, voter) -> tuple[BallotVoter, object]:
    """(the voter, None) for the account's own vote, (the voter, the authorization) for a vote it holds as
    a proxy; NotAllowed for any other."""
    mine = electorate.voters_for(ballot, user)
    if voter is None:
        if len(mine) > 1:
            raise DomainError(_l("You cast several votes in this ballot: choose which one."), "voter_id")
        if mine:
            return mine[0], None
        if proxies.held_by(ballot, user):
            raise DomainError(_l("Choose whose vote you cast."), "voter_id")
        raise NotAllowed(_l("You are not among the voters of this ballot."))
    voter_id = str(getattr(voter, "id", voter)).strip()
    chosen = next((v for v in mine if str(v.id) == voter_id), None)
    if chosen is not None:
        return chosen, None
    held = next(((v, p) for v, p in proxies.held_by(ballot, user) if str(v.id) == voter_id), None)
    if held is not None:
        return held
    if not mine:
        raise NotAllowed(_l("You are not among the voters of this ballot."))
    raise NotAllowed(_l("You may not cast this vote."))


def enter_paper(member: User, ballot: Ballot, voter: BallotVoter | int, option_id: int, *, by_proxy: bool = False,
                scan: tuple[str, bytes] | None = None, now: datetime | None = None) -> BallotLogEntry:
    """A committee member enters a ballot collected on paper for a named voter. Refused when the voter has
    voted online, and refused when a paper ballot is already entered for them: one paper ballot per voter, so
    a second sheet (or a second member typing the same sheet) never silently replaces the first. Once
    entered, the voter can no longer vote online. `by_proxy`: the sheet is signed by the voter's recorded
    proxy (refused without a live authorization, or when the owner or the proxy has voted). The owner's own
    paper ballot replaces a vote their proxy cast. `scan` is the signed sheet, (filename, bytes)."""
    now = _now(now)
    apply_due(ballot, now)
    _require(permissions.can_enter_paper, member, ballot,
             _l("Only members of the committee that opened the ballot can enter paper ballots."))
    chosen = _voter_of(ballot, voter)
    if chosen is None:
        raise DomainError(_l("Choose a voter of this ballot."), "voter_id")
    option = _option_of(ballot, option_id)
    prepared = scans.prepare(scan)
    _lock(ballot)
    _still_open(ballot, now)
    live = _live_vote(ballot, chosen)
    proxy = None
    if by_proxy:
        proxy = proxies.live_proxy(ballot, chosen)
        if proxy is None:
            raise DomainError(_l("No proxy of %(name)s is recorded for this ballot (or it was revoked).",
                                 name=chosen.label), "by_proxy")
        if live is not None and live.proxy_id is None:
            raise DomainError(_l("%(name)s has voted themselves: their own vote counts, and a proxy cannot replace "
                                 "it.", name=chosen.label), "voter_id")
        if live is not None:
            raise DomainError(_l("The proxy of %(name)s has already voted: a second ballot of theirs is refused.",
                                 name=chosen.label), "voter_id")
    elif live is not None and live.proxy_id is None and not live.is_paper:
        raise DomainError(_l("%(name)s has voted online: a paper ballot cannot be entered for them.",
                             name=chosen.label), "voter_id")
    elif live is not None and live.proxy_id is None:
        raise DomainError(_l("A paper ballot of %(name)s is already entered: a second one is refused, the first "
                             "one counts.", name=chosen.label), "voter_id")
    entry = _append(ballot, chosen, option, live, cast_by=member, is_paper=True, now=now, proxy=proxy)
    if prepared is not None:
        scans.save(prepared, ballot=ballot, voter=chosen, purpose="paper_ballot", uploaded_by=member, proxy=proxy)
    record(member, "ballot.paper_entered", ballot, **({} if ballot.secret else {"voter_id": chosen.id}),
           **({"proxy": proxy.proxy_name} if proxy is not None else {}),
           **({"scan": True} if prepared is not None else {}))
    return entry
