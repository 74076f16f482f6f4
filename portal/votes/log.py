"""The ballot log: every cast, hash-chained, and the checks that make a changed row show.

Entry n's hash is SHA-256 over entry n-1's hash (64 zeros for the first) followed by a canonical JSON of
the entry (`canonical`): sorted keys, no spaces, ints as ints, the time as ISO-8601 UTC with
microseconds. The ballot keeps the running head (`log_head`, shown while voting is open) and the length.

`verify` walks the log in seq order, a batch at a time (memory does not grow with the log), recomputing
every hash and checking each entry's weights and option against the frozen electorate; then it checks the
ballot's head and length, that the live votes are exactly the latest entry of each voter, that the running
totals kept on the ballot equal a recount from the log, and — once the ballot is closed — that the stored
figures equal it too. The first thing found broken is
named.

A receipt is 20 random base32 characters; `receipt_status` says whether it is the voter's counted ballot,
was replaced by a later one (and when), or is unknown."""
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.votes.counting import Figures
from portal.votes.models import BallotLogEntry, BallotOption, BallotVote, BallotVoter
from portal.votes.totals import running_figures

GENESIS = "0" * 64
HASHED_FIELDS = ("ballot_id", "seq", "voter_id", "option_id", "headcount", "area_cm", "cast_by_id", "is_paper",
                 "at", "receipt")
# Hashed only when set, so every entry written before proxies existed keeps its hash: the proxy who cast it.
OPTIONAL_HASHED_FIELDS = ("proxy_id",)
RECEIPT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32: no 0/1/8/9 to misread
RECEIPT_LENGTH = 20
BATCH = 2000


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    broken_seq: int | None  # the first broken entry, when one can be named
    message: str
    recount: Figures | None  # the tally recomputed from the log (None when the chain itself is broken)


# --- building the chain ---

def utc_text(moment) -> str:
    """A moment as the chain hashes it: ISO-8601 in UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(values: dict) -> str:
    """The canonical JSON every hash chain of the portal hashes: sorted keys, compact, ASCII only."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(prev_hash: str, values: dict) -> str:
    """SHA-256 (hex) over the previous entry's hash followed by the canonical JSON of `values`: the link
    of a ballot's log, and of a budget round's (portal.funds.budget_ballot)."""
    return hashlib.sha256((prev_hash + canonical_json(values)).encode("ascii")).hexdigest()


def canonical(fields) -> str:
    """The canonical JSON of an entry: exactly HASHED_FIELDS (other keys ignored) and those of
    OPTIONAL_HASHED_FIELDS that are set, sorted, compact."""
    return canonical_json(_hashed_values(fields))


def _hashed_values(fields) -> dict:
    values = {}
    for name in HASHED_FIELDS:
        value = fields[name]
        if name == "at":
            value = utc_text(value)
        elif name == "is_paper":
            value = bool(value)
        elif name != "receipt":
            value = int(value)
        values[name] = value
    for name in OPTIONAL_HASHED_FIELDS:
        if fields.get(name) is not None:
            values[name] = int(fields[name])
    return values


def entry_hash(prev_hash: str, fields) -> str:
    """SHA-256 (hex) over the previous entry's hash and this entry's canonical JSON. `fields` is a dict,
    or anything with the HASHED_FIELDS as attributes (an entry, a row)."""
    if not isinstance(fields, dict):
        fields = {name: getattr(fields, name, None) for name in HASHED_FIELDS + OPTIONAL_HASHED_FIELDS}
    return chain_hash(prev_hash, _hashed_values(fields))


def new_receipt() -> str:
    """A voter's receipt: 20 base32 characters (100 random bits), no padding."""
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _position in range(RECEIPT_LENGTH))


def normalize_receipt(text: str) -> str | None:
    """A pasted receipt without spaces or dashes, upper-cased; None when it cannot be a receipt."""
    code = "".join((text or "").split()).replace("-", "").upper()
    if len(code) != RECEIPT_LENGTH or any(c not in RECEIPT_ALPHABET for c in code):
        return None
    return code


# --- receipts ---

def receipt_status(ballot, receipt: str) -> tuple:
    """("counted", entry) when the receipt's cast is its voter's latest; ("replaced", entry, replaced_at)
    when a later cast replaced it (at the time of the next one); ("unknown", None) otherwise."""
    code = normalize_receipt(receipt)
    entry = code and db.session.scalar(select(BallotLogEntry).where(
        BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.receipt == code))
    if entry is None:
        return ("unknown", None)
    replaced_at = db.session.scalar(
        select(BallotLogEntry.at).where(BallotLogEntry.ballot_id == ballot.id,
                                        BallotLogEntry.voter_id == entry.voter_id, BallotLogEntry.seq > entry.seq)
        .order_by(BallotLogEntry.seq).limit(1))
    return ("counted", entry) if replaced_at is None else ("replaced", entry, replaced_at)


# --- verification ---

def verify(ballot, *, batch_size: int = BATCH) -> VerifyReport:
    """Check the whole log of `ballot` (see the module docstring); the first problem found is reported."""
    problem = _walk_chain(ballot, batch_size) or _check_live_votes(ballot)
    if problem:
        return VerifyReport(False, problem[0], problem[1], None)
    recount = recount_from_log(ballot)
    if running_figures(ballot) != recount:
        return VerifyReport(False, None, _("The ballot's running totals differ from the recount from the log."),
                            recount)
    if ballot.status == "closed" and ballot.figures is not None and _stored(ballot) != recount:
        return VerifyReport(False, None, _("The stored result differs from the recount from the log."), recount)
    return VerifyReport(True, None, _("The log verifies: %(n)s entries, head %(head)s.",
                                      n=ballot.log_length, head=ballot.log_head), recount)


def _walk_chain(ballot, batch_size: int):
    """(seq, message) for the first broken link, or None when every entry and the head check out."""
    running, expected = GENESIS, 1
    for row in _stream_entries(ballot, batch_size):
        problem = _check_entry(row, expected, running)
        if problem:
            return expected, problem
        running, expected = row.hash, expected + 1
    length = expected - 1
    if ballot.log_length > length:
        return length + 1, _("Entry %(seq)s is missing.", seq=length + 1)
    if ballot.log_length < length:
        return ballot.log_length + 1, _("Entry %(seq)s is not counted in the ballot's log length.",
                                        seq=ballot.log_length + 1)
    if ballot.log_head != running:
        return length or None, _("The ballot's head hash does not match the last entry (%(seq)s).", seq=length)
    return None


def _stream_entries(ballot, batch_size: int):
    """The log in seq order, with each voter's frozen weights and each option's ballot, fetched a batch at a
    time by keyset (seq > last), so memory stays constant however long the log."""
    query = (select(BallotLogEntry.ballot_id, BallotLogEntry.seq, BallotLogEntry.voter_id,
                    BallotLogEntry.option_id, BallotLogEntry.headcount, BallotLogEntry.area_cm,
                    BallotLogEntry.cast_by_id, BallotLogEntry.is_paper, BallotLogEntry.at, BallotLogEntry.receipt,
                    BallotLogEntry.proxy_id, BallotLogEntry.prev_hash, BallotLogEntry.hash,
                    BallotVoter.ballot_id.label("voter_ballot_id"), BallotVoter.headcount.label("voter_headcount"),
                    BallotVoter.area_cm.label("voter_area_cm"), BallotOption.ballot_id.label("option_ballot_id"))
             .outerjoin(BallotVoter, BallotVoter.id == BallotLogEntry.voter_id)
             .outerjoin(BallotOption, BallotOption.id == BallotLogEntry.option_id)
             .where(BallotLogEntry.ballot_id == ballot.id).order_by(BallotLogEntry.seq).limit(batch_size))
    last = 0
    while True:
        rows = db.session.execute(query.where(BallotLogEntry.seq > last)).all()
        yield from rows
        if len(rows) < batch_size:
            return
        last = rows[-1].seq


def _check_entry(row, expected_seq: int, running: str) -> str | None:
    """Why this entry breaks the chain, or None."""
    if row.seq != expected_seq:
        return _("Entry %(seq)s is missing (the next entry is %(found)s).", seq=expected_seq, found=row.seq)
    if row.prev_hash != running:
        # Either this entry's link or the entry before it was changed (and rehashed): name the first
        # entry where the chain no longer holds.
        return _("Entry %(seq)s does not follow the entry before it: one of the two was changed.", seq=row.seq)
    if row.hash != entry_hash(running, row):
        return _("Entry %(seq)s was changed: its hash does not match its contents.", seq=row.seq)
    if row.voter_ballot_id != row.ballot_id or row.option_ballot_id != row.ballot_id:
        return _("Entry %(seq)s names a voter or an option of another ballot.", seq=row.seq)
    if (row.headcount, row.area_cm) != (row.voter_headcount, row.voter_area_cm):
        return _("Entry %(seq)s carries weights that differ from the frozen electorate.", seq=row.seq)
    return None


def _latest_entries(ballot):
    """Subquery: each voter's latest entry (the live vote the log says)."""
    last = (select(BallotLogEntry.voter_id, func.max(BallotLogEntry.seq).label("seq"))
            .where(BallotLogEntry.ballot_id == ballot.id).group_by(BallotLogEntry.voter_id).subquery("last"))
    entry = aliased(BallotLogEntry)
    return (select(entry.id, entry.seq, entry.voter_id, entry.option_id, entry.headcount, entry.area_cm,
                   entry.cast_by_id, entry.is_paper)
            .join(last, and_(last.c.voter_id == entry.voter_id, last.c.seq == entry.seq))
            .where(entry.ballot_id == ballot.id).subquery("latest"))


def _check_live_votes(ballot):
    """(seq, message) when the live votes are not exactly each voter's latest entry, else None."""
    latest = _latest_entries(ballot)
    vote = aliased(BallotVote)
    matches = and_(vote.ballot_id == ballot.id, vote.voter_id == latest.c.voter_id, vote.entry_id == latest.c.id,
                   vote.option_id == latest.c.option_id, vote.cast_by_id == latest.c.cast_by_id,
                   vote.is_paper == latest.c.is_paper)
    seq = db.session.scalar(select(latest.c.seq).outerjoin(vote, matches).where(vote.id.is_(None))
                            .order_by(latest.c.seq).limit(1))
    if seq is not None:
        return seq, _("The live vote of entry %(seq)s's voter does not match the log.", seq=seq)
    stray = db.session.scalar(
        select(func.count()).select_from(BallotVote)
        .outerjoin(latest, and_(latest.c.id == BallotVote.entry_id, latest.c.voter_id == BallotVote.voter_id))
        .where(BallotVote.ballot_id == ballot.id, latest.c.id.is_(None)))
    if stray:
        return None, _("%(n)s live votes have no matching latest entry in the log.", n=stray)
    return None


def recount_from_log(ballot) -> Figures:
    """The figures recomputed from the log (each voter's latest entry, with the weights it carries) and
    the frozen electorate — SQL aggregates, nothing loaded per vote."""
    latest = _latest_entries(ballot)
    by_option = {option_id: (int(count), int(area)) for option_id, count, area in db.session.execute(
        select(latest.c.option_id, func.sum(latest.c.headcount), func.sum(latest.c.area_cm))
        .group_by(latest.c.option_id))}
    electorate_count, electorate_area = db.session.execute(
        select(func.coalesce(func.sum(BallotVoter.headcount), 0), func.coalesce(func.sum(BallotVoter.area_cm), 0))
        .where(BallotVoter.ballot_id == ballot.id)).one()
    return Figures(electorate_count=int(electorate_count), electorate_area=int(electorate_area),
                   voted_count=sum(c for c, _a in by_option.values()),
                   voted_area=sum(a for _c, a in by_option.values()), by_option=by_option)


def _stored(ballot) -> Figures | None:
    try:
        return Figures.from_json(ballot.figures)
    except (KeyError, TypeError, ValueError):
        return None
