"""Casting and changing a vote, online or on paper entered by a committee member: under the ballot's row
lock, each cast appends the next entry to the hash-chained log, upserts the voter's one live vote and
keeps the running totals."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.votes import electorate, totals
from portal.votes import log as ballot_log
from portal.votes.models import BallotLogEntry, BallotOption, BallotVote, BallotVoter
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


def cast(user: User, ballot: Ballot, option_id: int, *, voter: BallotVoter | int | None = None,
         now: datetime | None = None) -> BallotLogEntry:
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


def enter_paper(member: User, ballot: Ballot, voter: BallotVoter | int, option_id: int, *,
                now: datetime | None = None) -> BallotLogEntry:
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
