"""Voting in a budget round: who votes, checking a selection against the round's rule, casting and changing a
ballot, receipts, and verifying the round's log.

Who votes: a round counts verified adult residents of the fund's community (the electorate of residents'
ballots, portal.votes.electorate), one ballot each ("u<user id>"), or one ballot per household with at least
one of them ("h<household id>"), which every verified adult resident of it may cast — the latest cast counts.
A person living in two households of the community casts for the one they claimed first.

What a ballot may hold: accepted projects of the round, at least one. A knapsack ballot's reviewed costs
together fit within the round's total (as Decidim's budgets); an approval ballot holds at most
`max_approvals` projects. Any other selection is refused with the reason, before anything is written.

Casting happens during the voting phase only (`round_phase`: from `voting_from` until `voting_until`), under
the round's row lock: the next entry of the round's hash chain (the same canonical hashing as ballots',
portal.votes.log.chain_hash), the round's head and length, the voter key's one live ballot with its choices,
and each project's `vote_count`, all in the caller's transaction. `verify_round_log` recomputes the chain,
checks the live ballots against each voter key's latest entry, and recounts every project's votes from the
live choices."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import aliased, joinedload

from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.funds.rounds import round_phase
from portal.funds.rounds_models import (
    BudgetBallot,
    BudgetBallotChoice,
    BudgetLogEntry,
    BudgetProject,
    BudgetRound,
)
from portal.places.models import Residency
from portal.votes import log as chain
from portal.votes.electorate import verified_adults

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User

VOTING = "voting"
NOT_YET = ("announced", "proposing", "review")  # phases of portal.funds.rounds before the voting
MAX_CHOICES = 500  # more ids than any round has projects is a forged form, not a choice


@dataclass(frozen=True)
class Selection:
    """A selection read against the round's rule. `left_fen` is negative when a knapsack ballot is over the
    total; `problem` says why it cannot be cast (None when it can)."""

    projects: list
    spent_fen: int
    left_fen: int
    problem: str | None

    @property
    def ids(self) -> set[int]:
        return {p.id for p in self.projects}


@dataclass(frozen=True)
class LogReport:
    ok: bool
    broken_seq: int | None  # the first broken entry, when one can be named
    message: str
    counts: dict | None  # project id → votes recounted from the live choices (None when the chain is broken)


# --- who votes ---------------------------------------------------------------------------------------------

def _verified_adult_residencies(user, round_):
    return (select(Residency.id, Residency.household_id)
            .where(Residency.user_id == user.id, verified_adults(round_.fund.community_id))
            .order_by(Residency.id))


def voter_key(user, round_: BudgetRound) -> str | None:
    """The key of the ballot this person casts in the round ("u<id>" or "h<household id>"), or None when
    they have no vote in it (not signed in, not a verified adult resident of the fund's community)."""
    if not getattr(user, "is_authenticated", False) or round_ is None or round_.fund.community_id is None:
        return None
    rows = db.session.execute(_verified_adult_residencies(user, round_)).all()
    if not rows:
        return None
    if round_.voter_unit == "household":
        household_id = next((h for _id, h in rows if h is not None), None)
        return f"h{household_id}" if household_id is not None else None
    return f"u{user.id}"


def voting_state(round_: BudgetRound, now: datetime | None = None) -> str:
    """"not_yet", "voting" or "closed": where the round stands for its ballots (from `round_phase`)."""
    phase = round_phase(round_, now or utcnow())
    if phase in NOT_YET:
        return "not_yet"
    return VOTING if phase == VOTING else "closed"


def voting_open(round_: BudgetRound, now: datetime | None = None) -> bool:
    return voting_state(round_, now) == VOTING


def can_vote_in_round(user, round_: BudgetRound, now: datetime | None = None) -> bool:
    """Cast or change a ballot: during the voting phase, for those the round counts (see the module)."""
    return round_ is not None and voting_open(round_, now) and voter_key(user, round_) is not None


# --- the selection -----------------------------------------------------------------------------------------

def ballot_projects(round_: BudgetRound) -> list[BudgetProject]:
    """The projects a ballot may hold: the round's accepted ones, in the order they were proposed."""
    return list(db.session.scalars(select(BudgetProject).options(joinedload(BudgetProject.proposal)).where(
        BudgetProject.round_id == round_.id, BudgetProject.review_state == "accepted").order_by(BudgetProject.id)))


def read_ids(values) -> list[int]:
    """Project ids as posted (strings), as whole numbers; anything else is not a project of the round."""
    ids = []
    for value in list(values or ())[:MAX_CHOICES + 1]:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 10:
            raise DomainError(_l("Choose among the projects of this round."), "projects")
        ids.append(int(text))
    return ids


def check_selection(round_: BudgetRound, project_ids, projects: list | None = None) -> Selection:
    """The selection against the round's rule (see the module). Ids that are not accepted projects of the
    round are refused outright (a forged form); the rule's refusals come back in `problem` with the figures,
    so a page can show what is over and keep the choices."""
    ids = set(project_ids)
    if len(ids) > MAX_CHOICES:
        raise DomainError(_l("Choose among the projects of this round."), "projects")
    offered = {p.id: p for p in (projects if projects is not None else ballot_projects(round_))}
    if not ids <= offered.keys():
        raise DomainError(_l("Choose among the projects of this round."), "projects")
    chosen = [offered[i] for i in sorted(ids)]
    spent = sum(p.reviewed_cost_fen for p in chosen)
    left = round_.total_fen - spent
    problem = None
    if not chosen:
        problem = _l("Choose at least one project.")
    elif round_.ballot_kind == "knapsack" and left < 0:
        problem = _l("Your choice costs more than the round's total: take a project out and check again.")
    elif round_.ballot_kind == "approval" and len(chosen) > round_.max_approvals:
        problem = _l("You may approve at most %(n)s projects: take some out and check again.",
                     n=round_.max_approvals)
    return Selection(projects=chosen, spent_fen=spent, left_fen=left, problem=problem and str(problem))


# --- the voter's ballot ------------------------------------------------------------------------------------

def current_ballot(user, round_: BudgetRound) -> tuple[BudgetBallot | None, set[int]]:
    """The live ballot of the person's voter key and the projects it holds ((None, set()) when none)."""
    key = voter_key(user, round_)
    if key is None:
        return None, set()
    ballot = _live(round_, key)
    if ballot is None:
        return None, set()
    return ballot, set(db.session.scalars(select(BudgetBallotChoice.project_id)
                                          .where(BudgetBallotChoice.ballot_id == ballot.id)))


@cache
def _live_statement():
    return (select(BudgetBallot).where(BudgetBallot.round_id == bindparam("round_id"),
                                       BudgetBallot.voter_key == bindparam("voter_key"))
            .execution_options(populate_existing=True))


def _live(round_, key) -> BudgetBallot | None:
    return db.session.scalar(_live_statement(), {"round_id": round_.id, "voter_key": key})


@cache
def _lock_statement():
    return (select(BudgetRound).where(BudgetRound.id == bindparam("round_id")).with_for_update()
            .execution_options(populate_existing=True))


def _lock(round_) -> BudgetRound:
    """The round's row lock for the rest of the transaction (SELECT … FOR UPDATE on PostgreSQL; SQLite
    serializes writers), read afresh: casts of one round happen one after the other."""
    return db.session.execute(_lock_statement(), {"round_id": round_.id}).scalar_one()


# --- casting -----------------------------------------------------------------------------------------------

def _still_voting(round_, now):
    if not voting_open(round_, now):
        raise DomainError(_l("Voting in this round has closed.") if voting_state(round_, now) == "closed"
                          else _l("Voting in this round is not open."), "round")


def cast_ballot(user: User, round_: BudgetRound, project_ids, *, now: datetime | None = None) -> BudgetLogEntry:
    """Cast (or change) the person's ballot in the round: refused outside the voting phase, for someone the
    round does not count, and for a selection its rule refuses (nothing written). Returns the log entry; its
    receipt is the ballot's. The caller commits."""
    now = (now or utcnow()).astimezone(UTC)
    key = voter_key(user, round_)
    if key is None:
        _still_voting(round_, now)
        raise NotAllowed(_l("You have no vote in this round."))
    _still_voting(round_, now)
    selection = check_selection(round_, read_ids(project_ids))
    if selection.problem:
        raise DomainError(selection.problem, "projects")
    round_ = _lock(round_)
    _still_voting(round_, now)
    ballot = _live(round_, key)
    before = set() if ballot is None else set(db.session.scalars(
        select(BudgetBallotChoice.project_id).where(BudgetBallotChoice.ballot_id == ballot.id)))
    entry = _append(round_, key, sorted(selection.ids), now)
    if ballot is None:
        ballot = BudgetBallot(round_id=round_.id, voter_key=key, user_id=user.id, cast_at=now, receipt=entry.receipt)
        db.session.add(ballot)
    else:
        ballot.user_id, ballot.cast_at, ballot.receipt = user.id, now, entry.receipt
    db.session.flush()
    _move_choices(ballot, before, selection.ids)
    return entry


def _append(round_, key, project_ids, now) -> BudgetLogEntry:
    seq = round_.log_length + 1
    fields = {"round_id": round_.id, "seq": seq, "voter_key": key, "project_ids": project_ids, "receipt":
              chain.new_receipt(), "cast_at": now}
    digest = chain.chain_hash(round_.log_head, hashed_values(fields))
    entry = BudgetLogEntry(round_id=round_.id, seq=seq, voter_key=key, project_ids=chain.canonical_json(project_ids),
                           receipt=fields["receipt"], cast_at=now, prev_hash=round_.log_head, hash=digest)
    db.session.add(entry)
    round_.log_head, round_.log_length = digest, seq
    return entry


def hashed_values(fields) -> dict:
    """What an entry's hash covers: the round, its place in the log, the voter key, the projects chosen (a
    sorted list of ids), the receipt and the time. `fields` is a dict or an entry (its project_ids as
    stored, canonical JSON)."""
    if not isinstance(fields, dict):
        fields = {name: getattr(fields, name) for name in ("round_id", "seq", "voter_key", "project_ids",
                                                            "receipt", "cast_at")}
    ids = fields["project_ids"]
    if isinstance(ids, str):
        ids = json.loads(ids)
    return {"round_id": int(fields["round_id"]), "seq": int(fields["seq"]), "voter_key": fields["voter_key"],
            "project_ids": [int(i) for i in ids], "receipt": fields["receipt"],
            "cast_at": chain.utc_text(fields["cast_at"])}


def _move_choices(ballot, before: set[int], after: set[int]) -> None:
    """The ballot's choices from `before` to `after`, and each project's vote_count with them."""
    gone, added = before - after, after - before
    if gone:
        db.session.execute(delete(BudgetBallotChoice).where(BudgetBallotChoice.ballot_id == ballot.id,
                                                            BudgetBallotChoice.project_id.in_(gone)))
        _count(gone, -1)
    if added:
        db.session.execute(insert(BudgetBallotChoice), [{"ballot_id": ballot.id, "project_id": p} for p in added])
        _count(added, +1)


def _count(project_ids: set[int], change: int) -> None:
    """vote_count moved by `change` in SQL (the round is locked), and the loaded projects told to read it again."""
    db.session.execute(update(BudgetProject).where(BudgetProject.id.in_(project_ids))
                       .values(vote_count=BudgetProject.vote_count + change)
                       .execution_options(synchronize_session=False))
    for project in list(db.session.identity_map.values()):
        if isinstance(project, BudgetProject) and project.id in project_ids:
            db.session.expire(project, ["vote_count"])


# --- receipts ----------------------------------------------------------------------------------------------

def receipt_status(round_: BudgetRound, receipt: str | None) -> tuple:
    """("counted", entry) when the receipt's cast is its voter key's latest; ("replaced", entry, replaced_at)
    when a later cast of the same key replaced it; ("unknown", None) otherwise."""
    code = chain.normalize_receipt(str(receipt or "")[:chain.RECEIPT_LENGTH * 4])
    entry = code and db.session.scalar(select(BudgetLogEntry).where(
        BudgetLogEntry.round_id == round_.id, BudgetLogEntry.receipt == code))
    if not entry:
        return ("unknown", None)
    replaced_at = db.session.scalar(
        select(BudgetLogEntry.cast_at).where(BudgetLogEntry.round_id == round_.id,
                                             BudgetLogEntry.voter_key == entry.voter_key,
                                             BudgetLogEntry.seq > entry.seq)
        .order_by(BudgetLogEntry.seq).limit(1))
    return ("counted", entry) if replaced_at is None else ("replaced", entry, replaced_at)


# --- verification ------------------------------------------------------------------------------------------

def recount(round_: BudgetRound) -> dict[int, int]:
    """Each project's votes counted from the live choices (projects without votes included, as 0)."""
    counts = dict.fromkeys(db.session.scalars(select(BudgetProject.id).where(BudgetProject.round_id == round_.id)), 0)
    counts.update({project_id: int(n) for project_id, n in db.session.execute(
        select(BudgetBallotChoice.project_id, func.count())
        .join(BudgetBallot, BudgetBallot.id == BudgetBallotChoice.ballot_id)
        .where(BudgetBallot.round_id == round_.id).group_by(BudgetBallotChoice.project_id))})
    return counts


def stored_counts(round_: BudgetRound) -> dict[int, int]:
    return dict(db.session.execute(select(BudgetProject.id, BudgetProject.vote_count)
                                   .where(BudgetProject.round_id == round_.id)).all())


def verify_round_log(round_: BudgetRound, *, batch_size: int = chain.BATCH) -> LogReport:
    """Walk the round's log (every hash, the head and the length), check that each live ballot is its voter
    key's latest entry (same projects, same receipt), and that every project's vote_count equals the recount
    from the live choices. The first problem found is named."""
    problem = _walk(round_, batch_size) or _check_live(round_)
    if problem:
        return LogReport(False, problem[0], str(problem[1]), None)
    counts = recount(round_)
    wrong = sorted(p for p, n in stored_counts(round_).items() if counts.get(p) != n)
    if wrong:
        return LogReport(False, None, str(_l("The votes kept on project %(id)s differ from the recount of the "
                                             "ballots.", id=wrong[0])), counts)
    return LogReport(True, None, str(_l("The log verifies: %(n)s entries, head %(head)s.", n=round_.log_length,
                                        head=round_.log_head)), counts)


def _walk(round_, batch_size):
    running, expected, last = chain.GENESIS, 1, 0
    query = (select(BudgetLogEntry).where(BudgetLogEntry.round_id == round_.id)
             .order_by(BudgetLogEntry.seq).limit(batch_size))
    while True:
        rows = db.session.scalars(query.where(BudgetLogEntry.seq > last)).all()
        for row in rows:
            problem = _check_entry(row, expected, running)
            if problem:
                return expected, problem
            running, expected = row.hash, expected + 1
        if len(rows) < batch_size:
            break
        last = rows[-1].seq
    length = expected - 1
    if round_.log_length != length:
        return min(length, round_.log_length) + 1, _l("The round's log length (%(n)s) differs from its entries "
                                                       "(%(m)s).", n=round_.log_length, m=length)
    if round_.log_head != running:
        return length or None, _l("The round's head hash does not match the last entry (%(seq)s).", seq=length)
    return None


def _check_entry(row, expected_seq, running):
    if row.seq != expected_seq:
        return _l("Entry %(seq)s is missing (the next entry is %(found)s).", seq=expected_seq, found=row.seq)
    if row.prev_hash != running:
        return _l("Entry %(seq)s does not follow the entry before it: one of the two was changed.", seq=row.seq)
    try:
        values = hashed_values(row)
    except (TypeError, ValueError):
        return _l("Entry %(seq)s was changed: its hash does not match its contents.", seq=row.seq)
    if row.project_ids != chain.canonical_json(values["project_ids"]) or row.hash != chain.chain_hash(running, values):
        return _l("Entry %(seq)s was changed: its hash does not match its contents.", seq=row.seq)
    return None


def _check_live(round_):
    """(seq, message) when a live ballot is not its voter key's latest entry, else None."""
    last = (select(BudgetLogEntry.voter_key, func.max(BudgetLogEntry.seq).label("seq"))
            .where(BudgetLogEntry.round_id == round_.id).group_by(BudgetLogEntry.voter_key).subquery("last"))
    entry = aliased(BudgetLogEntry)
    latest = {key: (seq, receipt, ids) for key, seq, receipt, ids in db.session.execute(
        select(entry.voter_key, entry.seq, entry.receipt, entry.project_ids)
        .join(last, (last.c.voter_key == entry.voter_key) & (last.c.seq == entry.seq))
        .where(entry.round_id == round_.id))}
    chosen: dict[int, list[int]] = {}
    for ballot_id, project_id in db.session.execute(
            select(BudgetBallotChoice.ballot_id, BudgetBallotChoice.project_id)
            .join(BudgetBallot, BudgetBallot.id == BudgetBallotChoice.ballot_id)
            .where(BudgetBallot.round_id == round_.id)):
        chosen.setdefault(ballot_id, []).append(project_id)
    ballots = db.session.execute(select(BudgetBallot.id, BudgetBallot.voter_key, BudgetBallot.receipt)
                                 .where(BudgetBallot.round_id == round_.id)).all()
    for ballot_id, key, receipt in ballots:
        found = latest.pop(key, None)
        if found is None:
            return None, _l("A live ballot (%(key)s) has no entry in the log.", key=key)
        seq, logged_receipt, ids = found
        if receipt != logged_receipt or chain.canonical_json(sorted(chosen.get(ballot_id, []))) != ids:
            return seq, _l("The live ballot of entry %(seq)s's voter does not match the log.", seq=seq)
    if latest:
        seq = min(seq for seq, _r, _i in latest.values())
        return seq, _l("Entry %(seq)s's voter has no live ballot.", seq=seq)
    return None
