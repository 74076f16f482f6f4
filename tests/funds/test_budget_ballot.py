"""Voting in a budget round (issue #23), the rules: who votes (each verified adult resident, or one ballot per
household), knapsack ballots within the total and approval ballots within their number, changing a ballot
until voting closes, nothing cast outside the voting phase, the hash-chained log with receipts, and every
project's vote count equal to a recount of the live ballots."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.funds import budget_ballot as voting
from portal.funds.rounds_models import BudgetBallot, BudgetLogEntry, BudgetProject, BudgetRound
from portal.proposals.models import Proposal
from tests.factories import gen_household, gen_residency, gen_user

D = timedelta(days=1)


def make_round(w, *, kind="knapsack", unit="resident", max_approvals=None, total=100_000, voting_from=-D,
               voting_until=7 * D):
    """A round on x's fund whose voting started `voting_from` from now: three accepted projects (600, 300 and
    250 yuan), one rejected and one awaiting review."""
    now = utcnow()
    round_ = BudgetRound(fund_id=w.fund.id, title="2027年微实事", total_fen=total, ballot_kind=kind,
                         max_approvals=max_approvals, voter_unit=unit, tie_rule="lower_cost",
                         proposing_from=now + voting_from - 30 * D, review_from=now + voting_from - 10 * D,
                         voting_from=now + voting_from, voting_until=now + voting_until,
                         results_from=now + voting_until + D, created_by_id=w.keeper.id)
    db.session.add(round_)
    db.session.flush()
    projects = []
    for title, cost, state in (("Benches by the pond", 60_000, "accepted"), ("Lights on path 3", 30_000, "accepted"),
                               ("Bicycle shed roof", 25_000, "accepted"), ("A fountain", 10_000, "rejected"),
                               ("Shade sails", 5_000, "pending")):
        proposal = Proposal(community_id=w.x.id, author_id=w.resident.id, title=title, status="deliberation",
                            kind="project", published_at=round_.proposing_from)
        db.session.add(proposal)
        db.session.flush()
        project = BudgetProject(round_id=round_.id, proposal_id=proposal.id, estimated_cost_fen=cost,
                                reviewed_cost_fen=cost if state != "pending" else None, review_state=state,
                                review_reason="Too costly to keep up." if state == "rejected" else None)
        db.session.add(project)
        projects.append(project)
    db.session.flush()
    return round_, projects


@pytest.fixture
def voting_round(world):
    """world (tests/funds/__init__.py) with `round` (knapsack, 1,000 yuan, per resident, voting now), its
    projects `benches` (600), `lights` (300), `shed` (250), `fountain` (rejected), `sails` (pending), and
    `neighbour`: a second verified adult resident of the resident's household, `minor`: a verified child."""
    w = world
    w.round, (w.benches, w.lights, w.shed, w.fountain, w.sails) = make_round(w)
    w.household = _household_of(w.resident)
    w.neighbour = gen_user(display_name="Neighbour")
    gen_residency(w.neighbour, household=w.household)
    w.minor = gen_user(display_name="Minor")
    gen_residency(w.minor, household=w.household).is_adult = False
    db.session.commit()
    return w


def _household_of(user):
    from portal.places.models import Residency
    return db.session.scalar(select(Residency).where(Residency.user_id == user.id)).household


def ids(*projects):
    return [str(p.id) for p in projects]


def counts(w):
    db.session.expire_all()
    return {p.proposal.title: p.vote_count for p in (w.benches, w.lights, w.shed)}


# --- who votes ------------------------------------------------------------------------------------------------

def test_each_role_may_vote_only_as_a_verified_adult_resident_of_the_funds_community(voting_round):
    w = voting_round
    expected = {w.resident: True, w.neighbour: True, w.minor: False, w.resident_y: False, w.keeper: False,
                w.official: False, w.property: False, w.hoa_member: False, w.outsider: False, w.admin: False}
    for person, may in expected.items():
        assert voting.can_vote_in_round(person, w.round) is may, person.display_name
    from flask_login import AnonymousUserMixin
    assert voting.can_vote_in_round(AnonymousUserMixin(), w.round) is False
    # A committee member who also lives in x votes as a resident.
    gen_residency(w.keeper, household=gen_household(w.building_x))
    assert voting.can_vote_in_round(w.keeper, w.round) is True


def test_nobody_may_vote_before_or_after_the_voting_phase(voting_round):
    w = voting_round
    assert voting.can_vote_in_round(w.resident, w.round, now=w.round.voting_from - timedelta(seconds=1)) is False
    assert voting.can_vote_in_round(w.resident, w.round, now=w.round.voting_until) is False
    assert voting.can_vote_in_round(w.resident, w.round, now=w.round.voting_from) is True


def test_a_ballot_outside_the_voting_phase_is_refused_and_nothing_is_written(voting_round):
    w = voting_round
    with pytest.raises(DomainError, match="not open"):
        voting.cast_ballot(w.resident, w.round, ids(w.lights), now=w.round.voting_from - D)
    with pytest.raises(DomainError, match="closed"):
        voting.cast_ballot(w.resident, w.round, ids(w.lights), now=w.round.voting_until + timedelta(seconds=1))
    db.session.rollback()
    assert w.round.log_length == 0 and db.session.scalar(select(BudgetBallot.id)) is None


def test_someone_the_round_does_not_count_is_not_allowed(voting_round):
    w = voting_round
    for person in (w.resident_y, w.minor, w.outsider, w.keeper):
        with pytest.raises(NotAllowed):
            voting.cast_ballot(person, w.round, ids(w.lights))


# --- knapsack ----------------------------------------------------------------------------------------------------

def test_a_knapsack_ballot_within_the_total_is_counted_with_a_receipt(voting_round):
    w = voting_round
    entry = voting.cast_ballot(w.resident, w.round, ids(w.benches, w.lights))
    db.session.commit()
    assert len(entry.receipt) == 20 and entry.seq == 1 and entry.project_ids == f"[{w.benches.id},{w.lights.id}]"
    assert counts(w) == {"Benches by the pond": 1, "Lights on path 3": 1, "Bicycle shed roof": 0}
    ballot, chosen = voting.current_ballot(w.resident, w.round)
    assert chosen == {w.benches.id, w.lights.id} and ballot.receipt == entry.receipt and ballot.voter_key == \
        f"u{w.resident.id}"
    assert (w.round.log_length, w.round.log_head) == (1, entry.hash)


def test_a_selection_over_the_total_is_refused_with_the_figures_and_nothing_is_written(voting_round):
    w = voting_round
    selection = voting.check_selection(w.round, [w.benches.id, w.lights.id, w.shed.id])
    assert (selection.spent_fen, selection.left_fen) == (115_000, -15_000)
    assert "more than the round's total" in selection.problem
    with pytest.raises(DomainError, match="more than the round's total"):
        voting.cast_ballot(w.resident, w.round, ids(w.benches, w.lights, w.shed))
    db.session.rollback()
    assert counts(w) == {"Benches by the pond": 0, "Lights on path 3": 0, "Bicycle shed roof": 0}
    assert w.round.log_length == 0


def test_exactly_the_total_fits(voting_round):
    w = voting_round
    w.round.total_fen = 90_000
    assert voting.check_selection(w.round, [w.benches.id, w.lights.id]).problem is None
    assert voting.check_selection(w.round, [w.benches.id, w.lights.id]).left_fen == 0


@pytest.mark.parametrize("forged", [["fountain"], ["sails"], ["other"], ["-1"], ["abc"], ["1e3"], ["99999999999"]])
def test_projects_not_on_the_ballot_are_refused(voting_round, forged):
    w = voting_round
    other_round, other_projects = make_round(w)
    names = {"fountain": w.fountain.id, "sails": w.sails.id, "other": other_projects[1].id}
    posted = [str(names.get(f, f)) for f in forged] + ids(w.lights)
    with pytest.raises(DomainError, match="projects of this round"):
        voting.cast_ballot(w.resident, w.round, posted)


def test_an_empty_ballot_is_refused(voting_round):
    w = voting_round
    with pytest.raises(DomainError, match="at least one project"):
        voting.cast_ballot(w.resident, w.round, [])


def test_the_same_project_twice_counts_once(voting_round):
    w = voting_round
    voting.cast_ballot(w.resident, w.round, ids(w.lights, w.lights))
    db.session.commit()
    assert counts(w)["Lights on path 3"] == 1


# --- approval ----------------------------------------------------------------------------------------------------

def test_an_approval_ballot_takes_up_to_its_number_whatever_the_costs(world):
    w = world
    round_, (benches, lights, shed, *_rest) = make_round(w, kind="approval", max_approvals=2, total=1)
    db.session.commit()
    with pytest.raises(DomainError, match="at most 2 projects"):
        voting.cast_ballot(w.resident, round_, ids(benches, lights, shed))
    db.session.rollback()
    voting.cast_ballot(w.resident, round_, ids(benches, shed))
    db.session.commit()
    db.session.expire_all()
    assert (benches.vote_count, lights.vote_count, shed.vote_count) == (1, 0, 1)


# --- changing ------------------------------------------------------------------------------------------------------

def test_a_ballot_changed_moves_the_counts_and_the_old_receipt_says_replaced(voting_round):
    w = voting_round
    first = voting.cast_ballot(w.resident, w.round, ids(w.benches, w.lights))
    db.session.commit()
    later = w.round.voting_from + 2 * D
    second = voting.cast_ballot(w.resident, w.round, ids(w.lights, w.shed), now=later)
    db.session.commit()
    assert counts(w) == {"Benches by the pond": 0, "Lights on path 3": 1, "Bicycle shed roof": 1}
    assert db.session.scalar(select(BudgetBallot.receipt)) == second.receipt
    assert voting.receipt_status(w.round, first.receipt)[0] == "replaced"
    assert voting.receipt_status(w.round, first.receipt)[2] == later
    assert voting.receipt_status(w.round, second.receipt.lower())[0] == "counted"
    assert voting.receipt_status(w.round, "A" * 20) == ("unknown", None)
    assert voting.receipt_status(w.round, "not a receipt") == ("unknown", None)
    assert voting.verify_round_log(w.round).ok


def test_a_receipt_of_another_round_is_unknown(voting_round):
    w = voting_round
    entry = voting.cast_ballot(w.resident, w.round, ids(w.lights))
    other, _projects = make_round(w)
    db.session.commit()
    assert voting.receipt_status(other, entry.receipt) == ("unknown", None)


# --- households ------------------------------------------------------------------------------------------------------

def test_a_household_shares_one_ballot_and_the_latest_cast_counts(world):
    w = world
    round_, (benches, lights, shed, *_rest) = make_round(w, unit="household")
    household = _household_of(w.resident)
    partner = gen_user(display_name="Partner")
    gen_residency(partner, household=household)
    db.session.commit()
    voting.cast_ballot(w.resident, round_, ids(benches))
    db.session.commit()
    voting.cast_ballot(partner, round_, ids(lights, shed))
    db.session.commit()
    db.session.expire_all()
    ballots = db.session.scalars(select(BudgetBallot).where(BudgetBallot.round_id == round_.id)).all()
    assert [(b.voter_key, b.user_id) for b in ballots] == [(f"h{household.id}", partner.id)]
    assert (benches.vote_count, lights.vote_count, shed.vote_count) == (0, 1, 1)
    # Both see the household's ballot.
    assert voting.current_ballot(w.resident, round_)[1] == {lights.id, shed.id}
    assert voting.verify_round_log(round_).ok


# --- the log and the counts ------------------------------------------------------------------------------------

def _many_casts(w, n=12):
    """n residents cast and change ballots in an interleaved order, each cast its own transaction."""
    people = []
    for k in range(n):
        person = gen_user(display_name=f"居民 {k}")
        gen_residency(person, household=gen_household(w.building_x))
        people.append(person)
    db.session.commit()
    choices = [(w.benches,), (w.lights,), (w.shed,), (w.lights, w.shed), (w.benches, w.lights), (w.benches, w.shed)]
    for step in range(3):
        for k, person in enumerate(people):
            if (k + step) % 3:
                voting.cast_ballot(person, w.round, ids(*choices[(k * 5 + step) % len(choices)]))
                db.session.commit()
    return people


def test_vote_counts_kept_by_many_changing_casts_equal_the_recount_of_live_ballots(voting_round):
    w = voting_round
    _many_casts(w)
    db.session.expire_all()
    assert voting.stored_counts(w.round) == voting.recount(w.round)
    assert sum(voting.recount(w.round).values()) > 0
    report = voting.verify_round_log(w.round)
    assert report.ok, report.message
    assert report.counts == voting.recount(w.round)


def test_verification_names_a_changed_entry(voting_round):
    w = voting_round
    _many_casts(w, 4)
    db.session.execute(update(BudgetLogEntry).where(BudgetLogEntry.round_id == w.round.id, BudgetLogEntry.seq == 3)
                       .values(project_ids=f"[{w.fountain.id}]"))
    db.session.commit()
    report = voting.verify_round_log(w.round)
    assert not report.ok and report.broken_seq == 3 and "Entry 3 was changed" in report.message


def test_verification_names_a_relinked_entry_and_a_missing_one(voting_round):
    w = voting_round
    _many_casts(w, 4)
    db.session.execute(update(BudgetLogEntry).where(BudgetLogEntry.round_id == w.round.id, BudgetLogEntry.seq == 3)
                       .values(prev_hash="f" * 64))
    db.session.commit()
    report = voting.verify_round_log(w.round)
    assert not report.ok and report.broken_seq == 3 and "does not follow" in report.message
    db.session.execute(update(BudgetLogEntry).where(BudgetLogEntry.round_id == w.round.id, BudgetLogEntry.seq == 2)
                       .values(hash="f" * 64))
    db.session.commit()
    report = voting.verify_round_log(w.round)
    assert not report.ok and report.broken_seq == 2 and "Entry 2 was changed" in report.message
    db.session.execute(BudgetLogEntry.__table__.delete().where(BudgetLogEntry.round_id == w.round.id,
                                                               BudgetLogEntry.seq >= 2))
    db.session.commit()
    report = voting.verify_round_log(w.round)
    assert not report.ok and report.broken_seq == 2


def test_verification_names_a_live_ballot_changed_behind_the_log(voting_round):
    w = voting_round
    voting.cast_ballot(w.resident, w.round, ids(w.lights))
    db.session.commit()
    db.session.execute(update(BudgetBallot).values(receipt="B" * 20))
    db.session.commit()
    report = voting.verify_round_log(w.round)
    assert not report.ok and report.broken_seq == 1 and "live ballot" in report.message


def test_verification_names_a_vote_count_changed_behind_the_ballots(voting_round):
    w = voting_round
    voting.cast_ballot(w.resident, w.round, ids(w.lights))
    db.session.commit()
    db.session.execute(update(BudgetProject).where(BudgetProject.id == w.shed.id).values(vote_count=5))
    db.session.commit()
    report = voting.verify_round_log(w.round)
    assert not report.ok and f"project {w.shed.id}" in report.message


def test_verification_reads_the_log_in_batches(voting_round):
    w = voting_round
    _many_casts(w, 5)
    assert voting.verify_round_log(w.round, batch_size=2).ok
    assert voting.verify_round_log(w.round, batch_size=1).ok


def test_the_chain_hashes_as_the_ballot_log_does(voting_round):
    """The round's link is SHA-256 over the previous hash and the canonical JSON, as ballots' (votes.log)."""
    import hashlib
    import json
    w = voting_round
    entry = voting.cast_ballot(w.resident, w.round, ids(w.shed, w.lights))
    body = json.dumps({"cast_at": entry.cast_at.isoformat(timespec="microseconds"),
                       "project_ids": sorted([w.shed.id, w.lights.id]), "receipt": entry.receipt,
                       "round_id": w.round.id, "seq": 1, "voter_key": f"u{w.resident.id}"},
                      sort_keys=True, separators=(",", ":"))
    assert entry.hash == hashlib.sha256(("0" * 64 + body).encode()).hexdigest()


def test_helpers_the_view_uses_see_the_world_as_the_services_do(voting_round):
    w = voting_round
    assert [p.id for p in voting.ballot_projects(w.round)] == [w.benches.id, w.lights.id, w.shed.id]
    assert voting.current_ballot(w.outsider, w.round) == (None, set())


def test_concurrent_casts_and_changes_keep_the_counts_equal_to_the_recount(voting_round, app):
    """Real, separate PostgreSQL connections (a thread, app context and session per cast): voters who cast
    two different selections at the same moment and voters who change while others vote. The round's row
    lock orders them: no cast lost, one live ballot per voter (their latest), counts equal to the recount.
    SQLite serializes writers and is skipped."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    from portal.auth.models import User
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("concurrent casts need PostgreSQL (TEST_DATABASE_URL)")
    w = voting_round
    people = []
    for k in range(20):
        person = gen_user(display_name=f"并发 {k}")
        gen_residency(person, household=gen_household(w.building_x))
        people.append(person.id)
    db.session.commit()
    round_id = w.round.id
    choices = [[w.benches.id], [w.lights.id, w.shed.id], [w.benches.id, w.shed.id], [w.lights.id]]
    rng = random.Random(23)
    casts = [(p, rng.choice(choices)) for p in people for _twice in range(2)]
    rng.shuffle(casts)

    def cast(user_id, chosen):
        with app.app_context():
            try:
                entry = voting.cast_ballot(db.session.get(User, user_id), db.session.get(BudgetRound, round_id),
                                           [str(i) for i in chosen])
                seq = entry.seq
                db.session.commit()
                return user_id, chosen, seq, None
            except Exception as error:  # noqa: BLE001 — every failure is reported by the assertion below
                db.session.rollback()
                return user_id, chosen, None, repr(error)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: cast(*c), casts))
    assert [r for r in results if r[3] is not None] == []
    assert sorted(r[2] for r in results) == list(range(1, len(casts) + 1))
    db.session.expire_all()
    latest = {}
    for user_id, chosen, _seq, _error in sorted(results, key=lambda r: r[2]):
        latest[f"u{user_id}"] = sorted(chosen)
    live = {}
    for key in db.session.scalars(select(BudgetBallot.voter_key).where(BudgetBallot.round_id == round_id)):
        live[key] = sorted(voting.current_ballot(db.session.get(User, int(key[1:])), w.round)[1])
    assert live == latest
    round_ = db.session.get(BudgetRound, round_id)
    assert voting.stored_counts(round_) == voting.recount(round_)
    report = voting.verify_round_log(round_)
    assert report.ok, report.message
