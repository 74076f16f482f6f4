"""The ballot log: the chain builds and verifies; any changed, deleted or reordered row, a changed head or
a changed live vote is found and the first broken entry named; receipts say counted / replaced / unknown.

Casts are written here with the models directly (`append`, the same steps as services._append), so these
tests pin the log itself; tampering is done with plain SQL, as someone editing the database would."""
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select, update

from portal.extensions import db
from portal.votes import log, totals
from portal.votes.counting import Figures
from portal.votes.models import Ballot, BallotLogEntry, BallotVote, BallotVoter
from tests.queries import recorded_statements
from tests.votes import OWNERS_AREA_CM, OWNERS_HEADCOUNT
from tests.votes.test_electorate import frozen

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def append(ballot, voter, code, user, *, at, is_paper=False) -> BallotLogEntry:
    """One cast: the next chained entry, the new head, the voter's live vote and the running totals."""
    option = next(o for o in ballot.options if o.code == code)
    fields = {"ballot_id": ballot.id, "seq": ballot.log_length + 1, "voter_id": voter.id, "option_id": option.id,
              "headcount": voter.headcount, "area_cm": voter.area_cm, "cast_by_id": user.id,
              "is_paper": is_paper, "at": at, "receipt": log.new_receipt()}
    entry = BallotLogEntry(prev_hash=ballot.log_head, hash=log.entry_hash(ballot.log_head, fields), **fields)
    db.session.add(entry)
    ballot.log_head, ballot.log_length = entry.hash, entry.seq
    vote = db.session.scalar(select(BallotVote).where(BallotVote.ballot_id == ballot.id,
                                                      BallotVote.voter_id == voter.id))
    totals.count_cast(ballot, voter, option, vote.option_id if vote is not None else None)
    db.session.flush()
    if vote is None:
        vote = BallotVote(ballot_id=ballot.id, voter_id=voter.id)
        db.session.add(vote)
    vote.option_id, vote.entry_id, vote.cast_by_id, vote.is_paper, vote.cast_at = (
        option.id, entry.id, user.id, is_paper, at)
    db.session.flush()
    return entry


def voter_of(ballot, *, owner=None, household=None) -> BallotVoter:
    return db.session.scalar(select(BallotVoter).where(
        BallotVoter.ballot_id == ballot.id,
        BallotVoter.owner_id == owner.id if owner else BallotVoter.household_id == household.id))


@pytest.fixture
def cast(world):
    """An owners' ballot with seven casts: two changed votes and a paper ballot."""
    ballot = frozen(world)
    v = SimpleNamespace(owner_a=voter_of(ballot, owner=world.owner_a_record),
                        buyer=voter_of(ballot, owner=world.buyer_record),
                        co_unit=voter_of(ballot, household=world.co_unit),
                        developer=voter_of(ballot, owner=world.developer),
                        unlinked=voter_of(ballot, owner=world.unlinked_owner))
    steps = [(v.owner_a, "yes", world.owner_a, False), (v.buyer, "yes", world.buyer, False),
             (v.co_unit, "no", world.co_owner_1, False), (v.co_unit, "yes", world.co_owner_2, False),
             (v.developer, "abstain", world.developer_rep, False), (v.owner_a, "no", world.owner_a, False),
             (v.unlinked, "yes", world.hoa_member, True)]
    entries = [append(ballot, voter, code, user, at=T0 + timedelta(minutes=n, microseconds=123457 * (n + 1)),
                      is_paper=paper)
               for n, (voter, code, user, paper) in enumerate(steps)]
    db.session.commit()
    return SimpleNamespace(ballot=ballot, voters=v, entries=entries, world=world)


def option_id(ballot, code):
    return next(o.id for o in ballot.options if o.code == code)


def verify_after(ballot, *statements):
    """Run tampering statements in a savepoint, verify, and undo them."""
    savepoint = db.session.begin_nested()
    for statement in statements:
        db.session.execute(statement)
    db.session.expire_all()
    report = log.verify(ballot)
    savepoint.rollback()
    db.session.expire_all()
    return report


def change_entry(entry_id, **values):
    return update(BallotLogEntry).where(BallotLogEntry.id == entry_id).values(**values)


# --- building and verifying ---

def test_the_chain_builds_and_verifies(cast):
    ballot, entries = cast.ballot, cast.entries
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6, 7]
    assert entries[0].prev_hash == log.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:]))
    assert (ballot.log_head, ballot.log_length) == (entries[-1].hash, 7)
    report = log.verify(ballot)
    assert (report.ok, report.broken_seq) == (True, None)
    assert "7" in report.message and ballot.log_head in report.message


def test_recount_from_the_log_takes_each_voters_latest_entry(cast):
    ballot = cast.ballot
    yes, no, abstain = (option_id(ballot, c) for c in ("yes", "no", "abstain"))
    expected = Figures(electorate_count=OWNERS_HEADCOUNT, electorate_area=OWNERS_AREA_CM, voted_count=5,
                       voted_area=30050 + 11000 + 9525 + 10000 + 32000,
                       by_option={yes: (3, 30050 + 11000 + 9525), no: (1, 10000), abstain: (1, 32000)})
    assert log.verify(ballot).recount == expected
    assert log.recount_from_log(ballot) == expected


def test_an_empty_log_verifies(world):
    ballot = frozen(world)
    report = log.verify(ballot)
    assert report.ok and report.recount.voted_count == 0


def test_hash_is_sha256_over_the_previous_hash_and_canonical_json():
    fields = {"ballot_id": 3, "seq": 1, "voter_id": 9, "option_id": 12, "headcount": 1, "area_cm": 30050,
              "cast_by_id": 5, "is_paper": False, "at": datetime(2025, 3, 3, 9, 0, 0, 1,
                                                                 tzinfo=timezone(timedelta(hours=8))),
              "receipt": "ABCDEFGHIJKLMNOPQRST", "ignored": "not hashed"}
    text = ('{"area_cm":30050,"at":"2025-03-03T01:00:00.000001+00:00","ballot_id":3,"cast_by_id":5,'
            '"headcount":1,"is_paper":false,"option_id":12,"receipt":"ABCDEFGHIJKLMNOPQRST","seq":1,"voter_id":9}')
    assert log.canonical(fields) == text
    assert log.entry_hash(log.GENESIS, fields) == hashlib.sha256((log.GENESIS + text).encode()).hexdigest()
    assert log.entry_hash("1" * 64, fields) != log.entry_hash(log.GENESIS, fields)


def test_receipts_are_twenty_base32_characters_and_unguessable():
    receipts = {log.new_receipt() for _n in range(500)}
    assert len(receipts) == 500
    assert all(len(r) == 20 and set(r) <= set(log.RECEIPT_ALPHABET) for r in receipts)


# --- tampering with one field of one row ---

def _other_voter(cast, entry):
    return next(v.id for v in vars(cast.voters).values() if v.id != entry.voter_id)


def _other_option(cast, entry):
    return next(o.id for o in cast.ballot.options if o.id != entry.option_id)


TAMPERING = {
    "option_id": _other_option,
    "voter_id": _other_voter,
    "headcount": lambda cast, e: e.headcount + 1,
    "area_cm": lambda cast, e: e.area_cm + 1,
    "cast_by_id": lambda cast, e: cast.world.stranger.id,
    "is_paper": lambda cast, e: not e.is_paper,
    "at": lambda cast, e: e.at + timedelta(microseconds=1),
    "receipt": lambda cast, e: log.new_receipt(),
    "hash": lambda cast, e: "f" * 64,
    "prev_hash": lambda cast, e: "e" * 64,
}


@pytest.mark.parametrize("field", list(TAMPERING))
def test_changing_any_field_of_any_row_names_that_entry(cast, field):
    for entry in cast.entries:
        new_value = TAMPERING[field](cast, entry)
        report = verify_after(cast.ballot, change_entry(entry.id, **{field: new_value}))
        assert (report.ok, report.broken_seq) == (False, entry.seq), (field, entry.seq, report.message)
        assert str(entry.seq) in report.message
        assert report.recount is None
    assert log.verify(cast.ballot).ok  # every change was undone


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link(cast):
    entry = cast.entries[2]
    fields = {name: getattr(entry, name) for name in log.HASHED_FIELDS}
    fields["option_id"] = option_id(cast.ballot, "yes")
    report = verify_after(cast.ballot, change_entry(entry.id, option_id=fields["option_id"],
                                                    hash=log.entry_hash(entry.prev_hash, fields)))
    assert (report.ok, report.broken_seq) == (False, 4)


def test_a_changed_weight_with_a_recomputed_hash_differs_from_the_frozen_electorate(cast):
    entry = cast.entries[1]
    fields = {name: getattr(entry, name) for name in log.HASHED_FIELDS}
    fields["area_cm"] = entry.area_cm * 10
    report = verify_after(cast.ballot, change_entry(entry.id, area_cm=fields["area_cm"],
                                                    hash=log.entry_hash(entry.prev_hash, fields)))
    assert (report.ok, report.broken_seq) == (False, 2)


def test_rewriting_the_whole_chain_still_disagrees_with_the_live_votes(cast):
    """Someone changes the last vote and rehashes it and the head: the chain holds, the live vote does not."""
    entry = cast.entries[-1]
    fields = {name: getattr(entry, name) for name in log.HASHED_FIELDS}
    fields["option_id"] = option_id(cast.ballot, "no")
    new_hash = log.entry_hash(entry.prev_hash, fields)
    report = verify_after(cast.ballot, change_entry(entry.id, option_id=fields["option_id"], hash=new_hash),
                          update(Ballot).where(Ballot.id == cast.ballot.id).values(log_head=new_hash))
    assert (report.ok, report.broken_seq) == (False, 7)


# --- deleting and reordering ---

@pytest.mark.parametrize("index", [0, 2], ids=["first", "middle"])
def test_deleting_a_replaced_row_names_it(cast, index):
    entry = cast.entries[index]
    assert db.session.scalar(select(BallotVote.id).where(BallotVote.entry_id == entry.id)) is None
    report = verify_after(cast.ballot, delete(BallotLogEntry).where(BallotLogEntry.id == entry.id))
    assert (report.ok, report.broken_seq) == (False, entry.seq)
    assert "missing" in report.message


def test_deleting_a_live_row_with_its_live_vote_names_it(cast):
    entry = cast.entries[5]  # owner A's changed vote, the live one
    report = verify_after(cast.ballot, delete(BallotVote).where(BallotVote.entry_id == entry.id),
                          delete(BallotLogEntry).where(BallotLogEntry.id == entry.id))
    assert (report.ok, report.broken_seq) == (False, 6)


def test_deleting_the_last_row_names_it(cast):
    last = cast.entries[-1]
    report = verify_after(cast.ballot, delete(BallotVote).where(BallotVote.entry_id == last.id),
                          delete(BallotLogEntry).where(BallotLogEntry.id == last.id))
    assert (report.ok, report.broken_seq) == (False, 7)


def test_reordering_rows_names_the_first_moved_entry(cast):
    second, third = cast.entries[1], cast.entries[2]
    report = verify_after(cast.ballot, change_entry(second.id, seq=-2), change_entry(third.id, seq=2),
                          change_entry(second.id, seq=3))
    assert (report.ok, report.broken_seq) == (False, 2)


def test_reordered_timestamps_are_changed_rows(cast):
    first, second = cast.entries[0], cast.entries[1]
    report = verify_after(cast.ballot, change_entry(first.id, at=second.at), change_entry(second.id, at=first.at))
    assert (report.ok, report.broken_seq) == (False, 1)


# --- the ballot's head and length ---

def test_a_changed_head_is_detected(cast):
    report = verify_after(cast.ballot, update(Ballot).where(Ballot.id == cast.ballot.id).values(log_head="a" * 64))
    assert (report.ok, report.broken_seq) == (False, 7)
    assert "head" in report.message


def test_the_head_of_the_previous_entry_is_detected(cast):
    report = verify_after(cast.ballot, update(Ballot).where(Ballot.id == cast.ballot.id)
                          .values(log_head=cast.entries[-2].hash))
    assert (report.ok, report.broken_seq) == (False, 7)


@pytest.mark.parametrize("length, broken", [(6, 7), (8, 8)])
def test_a_changed_length_is_detected(cast, length, broken):
    report = verify_after(cast.ballot, update(Ballot).where(Ballot.id == cast.ballot.id).values(log_length=length))
    assert (report.ok, report.broken_seq) == (False, broken)


# --- the live votes against the log ---

def test_a_changed_live_vote_names_the_voters_latest_entry(cast):
    buyer = cast.voters.buyer
    report = verify_after(cast.ballot, update(BallotVote).where(BallotVote.voter_id == buyer.id)
                          .values(option_id=option_id(cast.ballot, "no")))
    assert (report.ok, report.broken_seq) == (False, 2)


def test_a_live_vote_pointing_at_a_replaced_entry_is_detected(cast):
    owner_a = cast.voters.owner_a
    report = verify_after(cast.ballot, update(BallotVote).where(BallotVote.voter_id == owner_a.id)
                          .values(entry_id=cast.entries[0].id, option_id=cast.entries[0].option_id))
    assert (report.ok, report.broken_seq) == (False, 6)


def test_a_deleted_live_vote_is_detected(cast):
    report = verify_after(cast.ballot, delete(BallotVote).where(BallotVote.voter_id == cast.voters.developer.id))
    assert (report.ok, report.broken_seq) == (False, 5)


def test_a_live_vote_without_any_entry_is_detected(cast):
    stray_voter = db.session.scalar(select(BallotVoter).where(
        BallotVoter.ballot_id == cast.ballot.id, BallotVoter.owner_id == cast.world.owner_records_more[0].id))
    stray = BallotVote.__table__.insert().values(
        ballot_id=cast.ballot.id, voter_id=stray_voter.id, option_id=option_id(cast.ballot, "yes"),
        entry_id=cast.entries[1].id, cast_by_id=cast.world.owners_more[0].id, is_paper=False, cast_at=T0)
    report = verify_after(cast.ballot, stray)
    assert not report.ok and report.broken_seq is None
    assert "1" in report.message


# --- the stored result ---

def test_a_closed_ballot_verifies_against_its_stored_figures(cast):
    ballot = cast.ballot
    recount = log.recount_from_log(ballot)
    ballot.status, ballot.figures = "closed", {**recount.as_json(), "details": {"rule": "more_than_half"}}
    db.session.commit()
    assert log.verify(ballot).ok

    tampered = {**ballot.figures, "voted_area": recount.voted_area + 1}
    report = verify_after(ballot, update(Ballot).where(Ballot.id == ballot.id).values(figures=tampered))
    assert not report.ok and report.recount == recount
    assert "recount" in report.message


def test_unreadable_stored_figures_do_not_verify(cast):
    cast.ballot.status, cast.ballot.figures = "closed", {"nonsense": True}
    db.session.commit()
    assert not log.verify(cast.ballot).ok


# --- receipts ---

def test_receipt_of_the_latest_cast_is_counted(cast):
    last = cast.entries[-1]
    assert log.receipt_status(cast.ballot, last.receipt) == ("counted", last)


def test_receipt_of_a_changed_vote_is_replaced_at_the_time_of_the_next_cast(cast):
    first, replacement = cast.entries[0], cast.entries[5]
    assert log.receipt_status(cast.ballot, first.receipt) == ("replaced", first, replacement.at)
    co_first, co_second = cast.entries[2], cast.entries[3]
    assert log.receipt_status(cast.ballot, co_first.receipt) == ("replaced", co_first, co_second.at)


@pytest.mark.parametrize("spelling", [str.lower, lambda r: f"  {r[:5]}-{r[5:10]} {r[10:15]}-{r[15:]} "])
def test_receipt_is_read_the_way_people_paste_it(cast, spelling):
    last = cast.entries[-1]
    assert log.receipt_status(cast.ballot, spelling(last.receipt)) == ("counted", last)


def test_unknown_and_tampered_receipts(cast, world):
    receipt = cast.entries[-1].receipt
    flipped = ("B" if receipt[0] == "A" else "A") + receipt[1:]
    other_ballot = frozen(world)
    for text in (flipped, log.new_receipt(), "", "short", receipt + "A", "0" * 20, "' OR 1=1 --"):
        assert log.receipt_status(cast.ballot, text) == ("unknown", None), text
    assert log.receipt_status(other_ballot, receipt) == ("unknown", None)


# --- streaming ---

def _log_reads(run):
    """The log-reading statements `run` makes (and what it returns)."""
    with recorded_statements() as statements:
        result = run()
    return [s for s in statements
            if "FROM ballot_log_entry" in s and "ORDER BY ballot_log_entry.seq" in s], result


@pytest.mark.parametrize("batch_size, reads", [(2, 4), (3, 3), (7, 2), (100, 1)])
def test_verify_reads_the_log_in_batches(cast, batch_size, reads):
    seen, report = _log_reads(lambda: log.verify(cast.ballot, batch_size=batch_size))
    assert report.ok
    assert len(seen) == reads
    assert all("LIMIT" in statement for statement in seen)


def test_a_break_past_the_first_batch_is_named(cast):
    entry = cast.entries[4]
    savepoint = db.session.begin_nested()
    db.session.execute(change_entry(entry.id, area_cm=entry.area_cm + 1))
    report = log.verify(cast.ballot, batch_size=2)
    savepoint.rollback()
    assert (report.ok, report.broken_seq) == (False, 5)
