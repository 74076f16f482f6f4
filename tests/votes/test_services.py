"""Ballots through portal.votes.services: opening per method, announcing, casting and changing, paper
ballots, extending, closing (early, at the time through run-due, lazily), results by method through the
database's tally, the proposal's state after each result, hidden results, secret ballots, receipts, the
log and its verification, notifications."""
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from flask_login import AnonymousUserMixin

from portal.audit.models import AuditEntry
from portal.clock import utcnow
from portal.due import DUE_STEPS, run_due
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notifications.models import Notification
from portal.notifications.services import link_for, message_for
from portal.outbox import instant
from portal.proposals.models import ProposalEvent
from portal.votes import services
from portal.votes.models import Ballot, BallotLogEntry, BallotVote, BallotVoter
from tests.factories import gen_membership, gen_user
from tests.proposals import gen_in_deliberation, gen_proposal
from tests.queries import recorded_statements
from tests.votes import (
    DEFAULT_NOTICE,
    OWNERS_AREA_CM,
    OWNERS_HEADCOUNT,
    RESIDENT_HOUSEHOLDS,
    RESIDENTS_PERSONS,
    gen_ballot,
    option,
    vote,
)

# A fixed "now" for time-driven tests: 09:00 in Beijing a month ahead, so that memberships (which the
# factories start 30 days before the real today) are current on every day a test freezes an electorate.
T0 = datetime.combine(date.today() + timedelta(days=30), time(1, 0), tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def beijing(moment):
    """The moment as English pages and messages write it in the community's zone (Asia/Shanghai, UTC+8)."""
    local = moment + 8 * H
    return local.strftime("%-d %b %H:%M" if local.year == (utcnow() + 8 * H).year else "%-d %b %Y %H:%M")


def opening(world, method="committee", **kw):
    """open_ballot's keywords for a ballot opening at T0 (owners: announced 15 days and an hour before)."""
    kw.setdefault("question", "是否同意？")
    kw.setdefault("opens_at", T0)
    kw.setdefault("closes_at", T0 + 7 * D)
    if method == "owners":
        kw.setdefault("matter", 5)
        kw.setdefault("notice", DEFAULT_NOTICE)
        kw.setdefault("now", T0 - 15 * D - H)
    elif method == "residents":
        kw.setdefault("resident_unit", "person")
        kw.setdefault("quorum_percent", "50")
        kw.setdefault("threshold", "simple")
    kw.setdefault("now", T0)
    return dict(method=method, **kw)


def proposal_at(world, now=T0 - 20 * D):
    return gen_in_deliberation(world, now=now)


def notified(event, ballot=None):
    query = db.select(Notification).where(Notification.event == event)
    if ballot is not None:
        query = query.where(Notification.object_id == ballot.id)
    return db.session.scalars(query).all()


def recipients(event, ballot=None):
    return {n.recipient_id for n in notified(event, ballot)}


def kinds(proposal):
    return [e.kind for e in db.session.scalars(db.select(ProposalEvent).where(
        ProposalEvent.proposal_id == proposal.id).order_by(ProposalEvent.id))]


def audit(action):
    return db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action)).all()


def add_members(world, org, n):
    people = [gen_user(display_name=f"委员 {k + 1}") for k in range(n)]
    for person in people:
        gen_membership(person, org)
    return people


# --- opening: committee ----------------------------------------------------------------------------------

def test_a_committee_ballot_opens_at_once_freezes_the_members_and_tells_them(world):
    proposal = proposal_at(world)
    ballot = services.open_ballot(world.chair_x, proposal, organization=world.rc_x, **opening(world))
    assert ballot.status == "open" and ballot.frozen_at == T0
    assert [o.code for o in ballot.options] == ["yes", "no", "abstain"]
    voters = db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)).all()
    assert {v.user_id for v in voters} == {world.chair_x.id, world.member_x.id}
    assert proposal.status == "voting" and kinds(proposal)[-1] == "ballot"
    assert recipients("votes.opened", ballot) == {world.chair_x.id, world.member_x.id}
    assert audit("ballot.created") and audit("ballot.opened")
    assert services.live_ballot(proposal) is ballot


def test_a_committee_ballot_copies_at_least_half_from_its_organization(world):
    world.rc_x.at_least_half = True
    ballot = gen_ballot(world, "committee")
    assert ballot.at_least_half is True


def test_a_member_of_two_committees_chooses_which_one_votes(world):
    gen_membership(world.chair_x, world.hoa_x)
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world))
    assert refused.value.field == "organization"
    ballot = services.open_ballot(world.chair_x, proposal_at(world), organization=world.hoa_x, **opening(world))
    assert ballot.organization_id == world.hoa_x.id


def test_a_committee_one_does_not_serve_on_is_refused(world):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), organization=world.hoa_x, **opening(world))
    assert refused.value.field == "organization"
    with pytest.raises(DomainError):
        services.open_ballot(world.chair_x, proposal_at(world), organization=world.rc_y, **opening(world))


@pytest.mark.parametrize("who", ["reporter", "neighbour", "member_y", "admin", "property_x", "official_a",
                                 "owner_a"])
def test_only_the_communitys_committee_opens_a_ballot(world, who):
    proposal = proposal_at(world)
    with pytest.raises(NotAllowed):
        services.open_ballot(getattr(world, who), proposal, **opening(world))
    assert proposal.status == "deliberation"
    assert db.session.scalar(db.select(db.func.count(Ballot.id))) == 0


def test_only_a_proposal_in_consultation_goes_to_a_vote(world):
    collecting = gen_proposal(world, now=T0 - D)
    with pytest.raises(NotAllowed):
        services.open_ballot(world.chair_x, collecting, **opening(world))


def test_a_second_ballot_is_refused_while_one_is_announced_or_open(world):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises((DomainError, NotAllowed)):
        services.open_ballot(world.chair_x, ballot.proposal, **opening(world))
    # The proposal is in voting, so the rule already says no; a proposal put back in consultation by hand
    # still meets the check and, behind it, the database's unique index.
    ballot.proposal.status = "deliberation"
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, ballot.proposal, **opening(world))
    assert refused.value.field == "proposal"


def test_the_unique_index_refuses_a_second_live_ballot_the_checks_missed(world, monkeypatch):
    ballot = gen_ballot(world, "committee", now=T0)
    ballot.proposal.status = "deliberation"
    db.session.flush()
    monkeypatch.setattr(services.opening, "live_ballot", lambda proposal: None)
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, ballot.proposal, **opening(world))
    assert refused.value.field == "proposal"
    assert db.session.scalar(db.select(db.func.count(Ballot.id))) == 1


def test_a_new_ballot_may_open_after_one_ended_without_a_decision(world):
    ballot = gen_ballot(world, "committee", now=T0)
    services.close(world.chair_x, ballot, "无人投票", now=T0 + H)
    assert ballot.result == "no_quorum" and ballot.proposal.status == "deliberation"
    again = services.open_ballot(world.chair_x, ballot.proposal, **opening(world, now=T0 + 2 * H,
                                                                            opens_at=T0 + 2 * H))
    assert again.status == "open" and again.proposal.status == "voting"


# --- opening: times, options -----------------------------------------------------------------------------

def test_voting_cannot_open_in_the_past_beyond_a_minutes_grace(world):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, opens_at=T0 - 2 * timedelta(
            minutes=1)))
    assert refused.value.field == "opens_at"
    ballot = services.open_ballot(world.chair_x, proposal_at(world),
                                  **opening(world, opens_at=T0 - timedelta(seconds=30)))
    assert ballot.status == "open"


@pytest.mark.parametrize("closes_at, field", [(T0, "closes_at"), (T0 - H, "closes_at"),
                                              (datetime(2030, 3, 9, 1, 0), "closes_at"), ("tomorrow", "closes_at")])
def test_voting_closes_after_it_opens_at_an_aware_time(world, closes_at, field):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, closes_at=closes_at))
    assert refused.value.field == field


@pytest.mark.parametrize("question", ["", "   ", "问" * 301])
def test_the_question_is_required_and_short(world, question):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, question=question))
    assert refused.value.field == "question"


def test_an_unknown_method_is_refused(world):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, method="show_of_hands"))
    assert refused.value.field == "method"


@pytest.mark.parametrize("method", ["committee", "owners"])
def test_named_choices_are_for_residents_only(world, method):
    opener = world.hoa_chair if method == "owners" else world.chair_x
    with pytest.raises(DomainError) as refused:
        services.open_ballot(opener, proposal_at(world), **opening(world, method, options=["甲", "乙"]))
    assert refused.value.field == "options"


def test_named_choices_ignore_blanks_and_keep_their_order(world):
    ballot = services.open_ballot(world.chair_x, proposal_at(world), **opening(
        world, "residents", options=[" 东侧草坪 ", "", "北门", "  ", "南侧"], threshold=None))
    assert [(o.code, o.label) for o in ballot.options] == [(None, "东侧草坪"), (None, "北门"), (None, "南侧")]
    assert ballot.threshold is None and not ballot.is_yes_no


@pytest.mark.parametrize("options", [["只有一个"], ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"],
                                     ["东侧", "东侧 "], ["Lawn", "lawn"], ["a" * 201, "b"]])
def test_named_choices_are_two_to_ten_distinct_labels(world, options):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, "residents", options=options))
    assert refused.value.field == "options"


def test_ten_choices_are_allowed(world):
    ballot = services.open_ballot(world.chair_x, proposal_at(world), **opening(
        world, "residents", options=[f"方案{n}" for n in range(10)]))
    assert len(ballot.options) == 10


# --- opening: residents ----------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"resident_unit": None}, "resident_unit"), ({"resident_unit": "family"}, "resident_unit"),
    ({"quorum_percent": "0"}, "quorum_percent"), ({"quorum_percent": "100.01"}, "quorum_percent"),
    ({"quorum_percent": "-5"}, "quorum_percent"), ({"quorum_percent": "abc"}, "quorum_percent"),
    ({"quorum_percent": None}, "quorum_percent"), ({"quorum_percent": "33.333"}, "quorum_percent"),
    ({"quorum_percent": "NaN"}, "quorum_percent"), ({"quorum_percent": "1e999999999"}, "quorum_percent"),
    ({"quorum_percent": "9" * 5000}, "quorum_percent"), ({"threshold": None}, "threshold"),
    ({"threshold": "three_quarters"}, "threshold")])
def test_a_residents_ballot_needs_its_unit_quorum_and_threshold(world, changes, field):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, "residents", **changes))
    assert refused.value.field == field


@pytest.mark.parametrize("quorum, stored", [("33.33", Decimal("33.33")), ("100", Decimal("100.00")),
                                            ("50%", Decimal("50.00")), (Decimal("0.01"), Decimal("0.01"))])
def test_the_quorum_is_a_percentage_with_two_decimals_at_most(world, quorum, stored):
    ballot = services.open_ballot(world.chair_x, proposal_at(world),
                                  **opening(world, "residents", quorum_percent=quorum))
    assert ballot.quorum_percent == stored


def test_a_residents_ballot_freezes_verified_adults_once_each(world):
    ballot = gen_ballot(world, "residents")
    voters = db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)).all()
    assert len(voters) == RESIDENTS_PERSONS
    ids = {v.user_id for v in voters}
    assert world.neighbour.id in ids and world.child.id not in ids and world.pending.id not in ids


def test_a_household_ballot_freezes_households_cast_by_their_adults(world):
    ballot = gen_ballot(world, "residents", resident_unit="household")
    assert services.participation(ballot) == (0, RESIDENT_HOUSEHOLDS)
    vote(world.reporter, ballot, "yes")
    with pytest.raises(NotAllowed):
        vote(world.child, ballot, "no")
    assert len(services.my_votes(world.neighbour, ballot)) == 2  # hx2 and hx3


def test_the_fields_of_other_methods_are_left_out(world):
    ballot = services.open_ballot(world.chair_x, proposal_at(world), **opening(
        world, matter=4, resident_unit="person", quorum_percent="50", threshold="simple", notice="通知"))
    assert (ballot.matter, ballot.resident_unit, ballot.quorum_percent, ballot.threshold, ballot.notice) == \
        (None, None, None, None, None)


# --- opening: owners -------------------------------------------------------------------------------------

def test_an_owners_ballot_is_announced_to_every_owner_and_opens_fifteen_days_later(world, app):
    ballot = services.open_ballot(world.hoa_chair, proposal_at(world), **opening(world, "owners"))
    assert ballot.status == "scheduled" and ballot.organization_id == world.hoa_x.id
    assert ballot.proposal.status == "voting"
    assert db.session.scalar(db.select(db.func.count(BallotVoter.id))) == 0
    owners = {world.owner_a.id, world.buyer.id, world.co_owner_1.id, world.co_owner_2.id, world.developer_rep.id,
              world.reporter.id, *(p.id for p in world.owners_more)}
    assert recipients("votes.announced", ballot) == owners  # not the seller, whose unit was sold
    notice = notified("votes.announced", ballot)[0]
    assert notice.payload["opens"] == instant(T0) and notice.payload["closes"] == instant(T0 + 7 * D)
    assert notice.payload["zone"] == world.x.time_zone
    assert beijing(T0) in message_for(notice)
    with app.test_request_context():
        assert f"/{ballot.id}" in link_for(notice) or f"/{ballot.proposal_id}" in link_for(notice)
    assert not services.apply_due(ballot, T0 - timedelta(seconds=1))
    assert services.apply_due(ballot, T0)
    assert ballot.status == "open"
    assert services.participation(ballot) == (0, OWNERS_HEADCOUNT)
    assert services.tally(ballot).electorate_area == OWNERS_AREA_CM
    assert recipients("votes.opened", ballot) == owners


def test_fifteen_days_notice_exactly_is_enough_and_a_second_less_is_not(world):
    announced = T0 - 15 * D
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.hoa_chair, proposal_at(world), **opening(
            world, "owners", now=announced + timedelta(seconds=1)))
    assert refused.value.field == "opens_at"
    ballot = services.open_ballot(world.hoa_chair, proposal_at(world), **opening(world, "owners", now=announced))
    assert ballot.status == "scheduled"


@pytest.mark.parametrize("changes, field", [
    ({"matter": None}, "matter"), ({"matter": 0}, "matter"), ({"matter": 10}, "matter"), ({"matter": "x"}, "matter"),
    ({"notice": ""}, "notice"), ({"notice": "   "}, "notice"), ({"notice": "通" * 10001}, "notice"),
    ({"secret": True}, "secret")])
def test_an_owners_ballot_needs_a_matter_and_a_notice_and_is_never_secret(world, changes, field):
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.hoa_chair, proposal_at(world), **opening(world, "owners", **changes))
    assert refused.value.field == field


def test_an_owners_ballot_is_opened_by_the_homeowners_committee(world):
    with pytest.raises(NotAllowed):
        services.open_ballot(world.chair_x, proposal_at(world), **opening(world, "owners"))
    with pytest.raises(NotAllowed):
        services.open_ballot(world.hoa_chair, proposal_at(world), organization=world.rc_x,
                             **opening(world, "owners"))


def test_without_a_homeowners_committee_the_residents_committee_opens_it(world):
    world.hoa_x.kind = "deliberation_council"
    db.session.flush()
    ballot = services.open_ballot(world.chair_x, proposal_at(world), **opening(world, "owners"))
    assert ballot.organization_id == world.rc_x.id


@pytest.mark.parametrize("matter", range(1, 10))
def test_every_matter_of_article_278_can_be_decided(world, matter):
    ballot = services.open_ballot(world.hoa_chair, proposal_at(world), **opening(world, "owners", matter=matter))
    assert ballot.matter == matter


# --- casting ---------------------------------------------------------------------------------------------

def test_a_cast_appends_to_the_log_and_is_the_live_vote(world):
    ballot = gen_ballot(world, "committee", now=T0)
    entry = vote(world.member_x, ballot, "yes", now=T0 + H)
    assert (entry.seq, entry.prev_hash, ballot.log_length, ballot.log_head) == (1, "0" * 64, 1, entry.hash)
    assert len(entry.receipt) == 20 and entry.cast_by_id == world.member_x.id and not entry.is_paper
    [(voter, live)] = services.my_votes(world.member_x, ballot)
    assert voter.user_id == world.member_x.id and live.option_id == option(ballot, "yes").id
    assert live.cast_at == T0 + H and live.entry_id == entry.id
    assert services.participation(ballot) == (1, 2)
    assert services.verify(ballot).ok


def test_changing_a_vote_keeps_every_cast_and_counts_the_latest(world):
    ballot = gen_ballot(world, "committee", now=T0)
    first = vote(world.member_x, ballot, "yes", now=T0 + H)
    second = vote(world.member_x, ballot, "no", now=T0 + 2 * H)
    assert ballot.log_length == 2 and second.prev_hash == first.hash
    assert db.session.scalar(db.select(db.func.count(BallotVote.id))) == 1
    figures = services.tally(ballot)
    assert figures.by_option == {option(ballot, "no").id: (1, 0)} and figures.voted_count == 1
    assert services.check_receipt(ballot, first.receipt) == ("replaced", first, T0 + 2 * H)
    assert services.check_receipt(ballot, second.receipt) == ("counted", second)
    assert services.verify(ballot).ok


@pytest.mark.parametrize("pasted", ["", "   ", "AAAAAAAAAAAAAAAAAAAA", "not a receipt", "1" * 20, "A" * 500])
def test_an_unknown_or_tampered_receipt_is_unknown(world, pasted):
    ballot = gen_ballot(world, "committee", now=T0)
    entry = vote(world.member_x, ballot, "yes", now=T0 + H)
    assert services.check_receipt(ballot, pasted) == ("unknown", None)
    tampered = entry.receipt[:-1] + ("A" if entry.receipt[-1] != "A" else "B")
    assert services.check_receipt(ballot, tampered) == ("unknown", None)


def test_a_receipt_is_found_with_spaces_dashes_and_lower_case(world):
    ballot = gen_ballot(world, "committee", now=T0)
    entry = vote(world.member_x, ballot, "yes", now=T0 + H)
    pasted = f" {entry.receipt[:5].lower()}-{entry.receipt[5:10]} {entry.receipt[10:]} "
    assert services.check_receipt(ballot, pasted) == ("counted", entry)


def test_a_receipt_of_another_ballot_is_unknown_here(world):
    first = gen_ballot(world, "committee", now=T0)
    entry = vote(world.member_x, first, "yes", now=T0 + H)
    other = gen_ballot(world, "residents", now=T0)
    assert services.check_receipt(other, entry.receipt) == ("unknown", None)


def test_casting_is_refused_before_voting_opens(world):
    ballot = gen_ballot(world, "owners", open=False, now=T0)
    with pytest.raises(DomainError) as refused:
        services.cast(world.owner_a, ballot, option(ballot, "yes").id, now=T0 + H)
    assert "not open" in str(refused.value.message)
    assert ballot.log_length == 0


def test_casting_is_refused_after_close_and_changes_nothing(world):
    ballot = gen_ballot(world, "committee", now=T0)
    vote(world.member_x, ballot, "yes", now=T0 + H)
    services.close(world.chair_x, ballot, "提前结束", now=T0 + 2 * H)
    stored = dict(ballot.figures)
    with pytest.raises(DomainError) as refused:
        vote(world.chair_x, ballot, "no", now=T0 + 3 * H)
    assert "closed" in str(refused.value.message)
    assert ballot.log_length == 1 and ballot.figures == stored


@pytest.mark.parametrize("who", ["neighbour", "stranger", "admin", "member_y", "hoa_chair", "seller"])
def test_only_the_frozen_electorate_casts(world, who):
    committee = gen_ballot(world, "committee")
    owners = gen_ballot(world, "owners")
    for ballot in (committee, owners):
        with pytest.raises(NotAllowed):
            services.cast(getattr(world, who), ballot, ballot.options[0].id)
    assert committee.log_length == owners.log_length == 0


def test_anonymous_visitors_cannot_cast(world):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(NotAllowed):
        services.cast(AnonymousUserMixin(), ballot, ballot.options[0].id, now=T0 + H)


def test_someone_who_joins_after_the_freeze_cannot_cast(world):
    ballot = gen_ballot(world, "committee", now=T0)
    latecomer = add_members(world, world.rc_x, 1)[0]
    with pytest.raises(NotAllowed):
        vote(latecomer, ballot, "yes", now=T0 + H)


@pytest.mark.parametrize("forged", ["other", 0, -1, "abc", None, "1 OR 1=1", 10 ** 12])
def test_a_forged_option_is_refused_and_changes_nothing(world, forged):
    ballot = gen_ballot(world, "committee", now=T0)
    other = gen_ballot(world, "residents", now=T0)
    option_id = other.options[0].id if forged == "other" else forged
    with pytest.raises(DomainError) as refused:
        services.cast(world.member_x, ballot, option_id, now=T0 + H)
    assert refused.value.field == "option_id"
    assert ballot.log_length == 0 and services.tally(ballot).voted_count == 0


def test_a_voter_from_another_community_is_refused(world):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(NotAllowed):
        services.cast(world.member_y, ballot, option(ballot, "yes").id, now=T0 + H)
    residents = gen_ballot(world, "residents", now=T0)
    with pytest.raises(NotAllowed):
        services.cast(world.resident_y, residents, option(residents, "yes").id, now=T0 + H)


def test_a_voter_of_another_ballot_is_refused(world):
    ballot = gen_ballot(world, "committee", now=T0)
    other = gen_ballot(world, "committee", now=T0)
    [(their_voter, _)] = services.my_votes(world.member_x, other)
    with pytest.raises(NotAllowed):
        services.cast(world.member_x, ballot, option(ballot, "yes").id, voter=their_voter.id, now=T0 + H)
    assert ballot.log_length == 0


def test_an_account_with_several_votes_says_which_it_casts(world):
    # Co-owner 1 also owns the empty unit alone: two votes, the co-owned unit's and their own.
    from portal.places.models import Ownership
    db.session.add(Ownership(household=world.empty_unit, owner=world.co_record_1, start_date=date(2021, 1, 1)))
    db.session.flush()
    ballot = gen_ballot(world, "owners")
    mine = services.my_votes(world.co_owner_1, ballot)
    assert sorted(v.kind for v, _ in mine) == ["co_owned_unit", "owner"]
    with pytest.raises(DomainError) as refused:
        vote(world.co_owner_1, ballot, "yes")
    assert refused.value.field == "voter_id"
    for voter, _ in mine:
        vote(world.co_owner_1, ballot, "yes" if voter.kind == "owner" else "no", voter=voter)
    assert services.participation(ballot) == (2, OWNERS_HEADCOUNT + 1)


def test_either_co_owner_casts_the_units_vote_and_the_latest_counts(world):
    ballot = gen_ballot(world, "owners")
    vote(world.co_owner_1, ballot, "yes")
    entry = vote(world.co_owner_2, ballot, "no")
    [(voter, live)] = services.my_votes(world.co_owner_1, ballot)
    assert voter.kind == "co_owned_unit" and voter.headcount == 1 and voter.area_cm == 11000
    assert (live.option_id, live.cast_by_id, live.entry_id) == (option(ballot, "no").id, world.co_owner_2.id,
                                                                entry.id)
    assert services.participation(ballot) == (1, OWNERS_HEADCOUNT)


def test_the_developers_units_are_cast_once_by_its_representative(world):
    ballot = gen_ballot(world, "owners")
    [(voter, _)] = services.my_votes(world.developer_rep, ballot)
    assert (voter.kind, voter.headcount, voter.area_cm) == ("developer", 1, 32000)
    vote(world.developer_rep, ballot, "abstain")
    figures = services.tally(ballot)
    assert figures.by_option == {option(ballot, "abstain").id: (1, 32000)}


# --- paper ballots ---------------------------------------------------------------------------------------

def test_a_committee_member_enters_a_paper_ballot_for_a_named_voter(world):
    ballot = gen_ballot(world, "owners")
    voter = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                           BallotVoter.owner_id == world.unlinked_owner.id))
    entry = services.enter_paper(world.hoa_member, ballot, voter, option(ballot, "yes").id)
    assert entry.is_paper and entry.cast_by_id == world.hoa_member.id and entry.voter_id == voter.id
    live = db.session.scalar(db.select(BallotVote).where(BallotVote.voter_id == voter.id))
    assert live.is_paper and live.cast_by_id == world.hoa_member.id
    assert audit("ballot.paper_entered")[0].details == {"voter_id": voter.id}
    assert services.verify(ballot).ok


def test_a_paper_ballot_locks_online_casting_and_a_second_paper_entry_is_refused(world):
    # Issue #16: a second paper ballot for the same voter used to replace the first silently. It is refused
    # now (the first one counts), and the running totals stay those of the first.
    ballot = gen_ballot(world, "owners")
    [(voter, _)] = services.my_votes(world.owner_a, ballot)
    services.enter_paper(world.hoa_chair, ballot, voter.id, option(ballot, "no").id)
    with pytest.raises(DomainError) as refused:
        vote(world.owner_a, ballot, "yes")
    assert refused.value.field == "voter_id"
    with pytest.raises(DomainError) as refused:
        services.enter_paper(world.hoa_member, ballot, str(voter.id), option(ballot, "yes").id)
    assert refused.value.field == "voter_id" and "already entered" in str(refused.value.message)
    assert "王建国" in str(refused.value.message)
    assert services.tally(ballot).by_option == {option(ballot, "no").id: (1, 10000)}
    assert services.running_figures(ballot) == services.tally(ballot)
    assert ballot.log_length == 1
    assert len(audit("ballot.paper_entered")) == 1


def test_a_paper_ballot_is_refused_for_someone_who_voted_online(world):
    ballot = gen_ballot(world, "owners")
    vote(world.owner_a, ballot, "yes")
    [(voter, _)] = services.my_votes(world.owner_a, ballot)
    with pytest.raises(DomainError) as refused:
        services.enter_paper(world.hoa_chair, ballot, voter, option(ballot, "no").id)
    assert refused.value.field == "voter_id" and "王建国" in str(refused.value.message)
    assert ballot.log_length == 1


@pytest.mark.parametrize("who", ["chair_x", "owner_a", "admin", "neighbour", "member_y"])
def test_only_the_opening_committee_enters_paper_ballots(world, who):
    ballot = gen_ballot(world, "owners")
    voter = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id).limit(1))
    with pytest.raises(NotAllowed):
        services.enter_paper(getattr(world, who), ballot, voter, option(ballot, "yes").id)


@pytest.mark.parametrize("voter", ["other", "abc", None, 0])
def test_a_paper_ballot_names_a_voter_of_this_ballot(world, voter):
    ballot = gen_ballot(world, "owners")
    other = gen_ballot(world, "committee")
    if voter == "other":
        voter = db.session.scalar(db.select(BallotVoter.id).where(BallotVoter.ballot_id == other.id).limit(1))
    with pytest.raises(DomainError) as refused:
        services.enter_paper(world.hoa_chair, ballot, voter, option(ballot, "yes").id)
    assert refused.value.field == "voter_id"


def test_no_paper_ballot_after_close(world):
    ballot = gen_ballot(world, "committee", now=T0)
    services.close(world.chair_x, ballot, "结束", now=T0 + H)
    voter = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id).limit(1))
    with pytest.raises(DomainError) as refused:
        services.enter_paper(world.member_x, ballot, voter, option(ballot, "yes").id, now=T0 + 2 * H)
    assert "closed" in str(refused.value.message)


# --- extending -------------------------------------------------------------------------------------------

def test_the_committee_extends_once_with_a_reason_before_the_close_time(world):
    ballot = gen_ballot(world, "owners")
    first_close = ballot.closes_at
    services.extend(world.hoa_member, ballot, first_close + 3 * D, "参与率不足三分之二，延长三天")
    assert (ballot.closes_at, ballot.original_closes_at) == (first_close + 3 * D, first_close)
    assert ballot.extend_reason == "参与率不足三分之二，延长三天" and ballot.extended_at is not None
    assert audit("ballot.extended")
    with pytest.raises(DomainError) as refused:
        services.extend(world.hoa_chair, ballot, first_close + 5 * D, "再延长")
    assert "once" in str(refused.value.message)


@pytest.mark.parametrize("reason, later, field", [("", 3 * D, "reason"), ("   ", 3 * D, "reason"),
                                                  ("理由", 0 * D, "closes_at"), ("理由", -D, "closes_at")])
def test_an_extension_needs_a_reason_and_a_later_time(world, reason, later, field):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(DomainError) as refused:
        services.extend(world.chair_x, ballot, ballot.closes_at + later, reason, now=T0 + H)
    assert refused.value.field == field and ballot.extended_at is None


def test_no_extension_after_the_close_time(world):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(DomainError) as refused:
        services.extend(world.chair_x, ballot, T0 + 10 * D, "太晚了", now=T0 + 7 * D)
    assert "closed" in str(refused.value.message)
    assert ballot.status == "closed" and ballot.original_closes_at is None


def test_no_extension_when_participation_already_meets_the_quorum(world):
    ballot = gen_ballot(world, "committee", now=T0)
    vote(world.chair_x, ballot, "yes", now=T0 + H)
    vote(world.member_x, ballot, "no", now=T0 + H)
    with pytest.raises(DomainError) as refused:
        services.extend(world.chair_x, ballot, T0 + 10 * D, "想多等等", now=T0 + 2 * H)
    assert "quorum" in str(refused.value.message)


@pytest.mark.parametrize("who", ["hoa_chair", "admin", "owner_a", "neighbour"])
def test_only_the_opening_committee_extends(world, who):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(NotAllowed):
        services.extend(getattr(world, who), ballot, T0 + 10 * D, "理由", now=T0 + H)
    assert ballot.extended_at is None


# --- closing ---------------------------------------------------------------------------------------------

def test_the_opening_committee_closes_early_with_a_reason(world):
    ballot = gen_ballot(world, "committee", now=T0)
    vote(world.chair_x, ballot, "yes", now=T0 + H)
    vote(world.member_x, ballot, "yes", now=T0 + H)
    with pytest.raises(DomainError) as refused:
        services.close(world.member_x, ballot, "  ", now=T0 + 2 * H)
    assert refused.value.field == "reason"
    services.close(world.member_x, ballot, "全体委员均已投票", now=T0 + 2 * H)
    assert (ballot.status, ballot.result, ballot.closed_at, ballot.closed_by_id, ballot.close_reason) == (
        "closed", "passed", T0 + 2 * H, world.member_x.id, "全体委员均已投票")
    assert audit("ballot.closed")[0].details["early"] is True


@pytest.mark.parametrize("who", ["hoa_chair", "admin", "neighbour", "member_y"])
def test_closing_a_ballot_you_did_not_open_is_refused(world, who):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(NotAllowed):
        services.close(getattr(world, who), ballot, "理由", now=T0 + H)
    assert ballot.status == "open"


def test_closing_twice_tells_the_committee_it_is_closed(world):
    ballot = gen_ballot(world, "committee", now=T0)
    services.close(world.chair_x, ballot, "结束", now=T0 + H)
    with pytest.raises(DomainError) as refused:
        services.close(world.member_x, ballot, "再结束", now=T0 + 2 * H)
    assert "closed" in str(refused.value.message) and ballot.closed_by_id == world.chair_x.id


def test_run_due_closes_a_ballot_at_its_time(world):
    assert "ballots" in DUE_STEPS
    ballot = gen_ballot(world, "committee", now=T0)
    vote(world.chair_x, ballot, "yes", now=T0 + H)
    db.session.commit()
    assert run_due(T0 + 7 * D - timedelta(seconds=1))["ballots"] == 0
    assert run_due(T0 + 7 * D + 5 * timedelta(minutes=1))["ballots"] == 1
    assert ballot.status == "closed" and ballot.closed_at == T0 + 7 * D and ballot.closed_by_id is None
    assert ballot.result == "no_quorum"
    assert run_due(T0 + 8 * D)["ballots"] == 0  # idempotent
    assert audit("ballot.closed")[0].details["early"] is False


def test_run_due_opens_an_announced_ballot_at_its_time(world):
    ballot = gen_ballot(world, "owners", open=False, now=T0)
    db.session.commit()
    assert run_due(ballot.opens_at - timedelta(seconds=1))["ballots"] == 0
    assert run_due(ballot.opens_at)["ballots"] == 1
    assert ballot.status == "open" and ballot.frozen_at == ballot.opens_at


def test_a_ballot_past_its_close_time_closes_on_first_access(world):
    ballot = gen_ballot(world, "committee", now=T0)
    vote(world.chair_x, ballot, "yes", now=T0 + H)
    vote(world.member_x, ballot, "yes", now=T0 + H)
    with pytest.raises(DomainError):
        vote(world.member_x, ballot, "no", now=T0 + 8 * D)  # the first access after the time
    assert ballot.status == "closed" and ballot.result == "passed" and ballot.closed_at == T0 + 7 * D
    assert ballot.proposal.status == "notice"  # decided, and its public notice starts at once


def test_an_extended_ballot_closes_at_its_new_time(world):
    ballot = gen_ballot(world, "committee", now=T0)
    services.extend(world.chair_x, ballot, T0 + 10 * D, "参与不足", now=T0 + H)
    assert not services.apply_due(ballot, T0 + 8 * D)
    vote(world.member_x, ballot, "yes", now=T0 + 8 * D)
    assert services.apply_due(ballot, T0 + 10 * D) and ballot.closed_at == T0 + 10 * D


# --- results by method, and the proposal after them ------------------------------------------------------

def close_committee(world, votes, *, at_least_half=False, members=0):
    world.rc_x.at_least_half = at_least_half
    extra = add_members(world, world.rc_x, members)
    return vote_and_close(world, gen_ballot(world, "committee", now=T0), [world.chair_x, world.member_x, *extra],
                          votes)


def vote_and_close(world, ballot, people, codes):
    """`people` vote `codes` in turn (None: does not vote) an hour after T0; the chair closes an hour later."""
    for person, code in zip(people, codes, strict=False):
        if code:
            vote(person, ballot, code, now=T0 + H)
    services.close(world.chair_x, ballot, "结束", now=T0 + 2 * H)
    return ballot


@pytest.mark.parametrize("votes, members, at_least_half, result", [
    (["yes", "yes"], 0, False, "passed"),
    (["yes", "no"], 0, False, "failed"),         # 1 of 2 is not more than half
    (["yes", "no"], 0, True, "passed"),          # … but it is at least half
    (["yes", None], 0, False, "no_quorum"),      # 1 of 2 cast: not more than half of all members
    (["yes", "yes", "abstain", None, None], 3, False, "failed"),   # valid (3 of 5 cast); 2 yes of 5 members
    (["yes", "yes", "yes", "abstain", None], 3, False, "passed"),
    (["yes", "yes", "abstain", "abstain", None], 3, False, "failed"),
    (["abstain", "abstain", "abstain", None, None], 3, False, "failed"),
])
def test_committee_results_through_the_database(world, votes, members, at_least_half, result):
    ballot = close_committee(world, votes, at_least_half=at_least_half, members=members)
    assert ballot.result == result
    proposal = ballot.proposal
    if result == "passed":
        assert (proposal.status, proposal.outcome) == ("notice", "passed")
    elif result == "failed":
        assert (proposal.status, proposal.outcome) == ("notice", "rejected")
    else:
        assert proposal.status == "deliberation" and proposal.outcome is None
        assert kinds(proposal)[-1] == "returned"


def residents_ballot(world, codes, **kw):
    return vote_and_close(world, gen_ballot(world, "residents", now=T0, **kw),
                          [world.reporter, world.neighbour, *world.supporters], codes)


@pytest.mark.parametrize("codes, kw, result", [
    (["yes"] * 4 + ["no"] * 3, {}, "passed"),                                 # 7 of 14 is the 50 % quorum
    (["yes"] * 4 + ["no"] * 2, {}, "no_quorum"),                              # 6 of 14
    (["yes"] * 3 + ["no"] * 3 + ["abstain"], {}, "failed"),                   # yes = no is not more
    (["yes"] * 4 + ["no"] * 2 + ["abstain"], {"threshold": "two_thirds"}, "passed"),  # 4 ≥ 2/3 of 6
    (["yes"] * 3 + ["no"] * 2 + ["abstain"] * 2, {"threshold": "two_thirds"}, "failed"),
    (["abstain"] * 7, {}, "failed"),                                          # quorum met, no yes or no
    (["yes"] * 2, {"quorum_percent": "14.29"}, "no_quorum"),                  # 2 of 14 = 14.2857 %
    (["yes"] * 2, {"quorum_percent": "14.28"}, "passed"),
])
def test_residents_yes_no_results_through_the_database(world, codes, kw, result):
    ballot = residents_ballot(world, codes, **kw)
    assert ballot.result == result
    assert ballot.proposal.status == ("deliberation" if result == "no_quorum" else "notice")


PLACES = ["东侧草坪", "北门", "南侧"]


def test_residents_named_choices_are_decided_by_plurality(world):
    ballot = residents_ballot(world, ["东侧草坪"] * 3 + ["北门"] * 2 + ["南侧"], options=PLACES, quorum_percent="30")
    assert ballot.result == "passed" and ballot.figures["details"]["winner_id"] == option(ballot, "东侧草坪").id
    assert ballot.proposal.outcome == "passed"


def test_equal_top_counts_are_a_tie_and_the_proposal_goes_back_to_consultation(world):
    ballot = residents_ballot(world, ["东侧草坪"] * 2 + ["北门"] * 2 + ["南侧"], options=PLACES, quorum_percent="30")
    assert ballot.result == "tie"
    assert set(ballot.figures["details"]["tie_ids"]) == {option(ballot, "东侧草坪").id, option(ballot, "北门").id}
    assert ballot.proposal.status == "deliberation" and ballot.proposal.comments_closed_at is None
    event = db.session.scalars(db.select(ProposalEvent).where(ProposalEvent.kind == "returned")).one()
    assert event.details == {"ballot_id": ballot.id, "result": "tie"}


def owners_close(world, yes, no=(), abstain=(), *, matter=5, paper=()):
    """An owners' ballot where the named world accounts vote; `paper` entries for the unlinked owner."""
    ballot = gen_ballot(world, "owners", matter=matter)
    for names, code in ((yes, "yes"), (no, "no"), (abstain, "abstain")):
        for name in names:
            person = getattr(world, name) if isinstance(name, str) else world.owners_more[name]
            vote(person, ballot, code)
    for code in paper:
        voter = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                               BallotVoter.owner_id == world.unlinked_owner.id))
        services.enter_paper(world.hoa_chair, ballot, voter, option(ballot, code).id)
    services.close(world.hoa_chair, ballot, "表决期满前全部票已收回")
    return ballot


def test_an_owners_decision_on_the_maintenance_fund_passes_with_more_than_half_of_each(world):
    ballot = owners_close(world, yes=["buyer", "developer_rep", "co_owner_1", "owner_a", 0, 1],
                          no=["reporter", 2, 3], paper=["no"])
    figures = ballot.figures
    assert (figures["electorate_count"], figures["electorate_area"]) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)
    assert (figures["voted_count"], figures["voted_area"]) == (10, OWNERS_AREA_CM)
    details = figures["details"]
    assert (details["yes_count"], details["yes_area"]) == (6, 30050 + 32000 + 11000 + 10000 + 20000)
    assert details["yes_count_pct"] == "60.00" and details["yes_area_pct"] == "72.87"
    assert details["participation_count_pct"] == "100.00" and details["rule"] == "more_than_half"
    assert ballot.result == "passed" and ballot.proposal.outcome == "passed"
    assert services.verify(ballot).ok


def test_the_same_votes_fail_a_matter_that_needs_three_quarters(world):
    ballot = owners_close(world, yes=["buyer", "developer_rep", "co_owner_1", "owner_a", 0, 1],
                          no=["reporter", 2, 3], paper=["no"], matter=6)
    assert ballot.result == "failed" and ballot.figures["details"]["rule"] == "three_quarters"
    assert (ballot.proposal.status, ballot.proposal.outcome) == ("notice", "rejected")


def test_owners_below_two_thirds_participation_have_no_quorum(world):
    # 6 of 10 by headcount (below 2/3) even with 81 % of the area.
    ballot = owners_close(world, yes=["buyer", "developer_rep", "co_owner_1", "owner_a", 0, 1])
    assert ballot.figures["voted_area"] * 3 >= 2 * OWNERS_AREA_CM
    assert ballot.result == "no_quorum" and ballot.proposal.status == "deliberation"


def test_owners_abstaining_take_part_and_weigh_against_more_than_half(world):
    passed = owners_close(world, yes=["buyer", "developer_rep", "co_owner_1", "owner_a"],
                          abstain=["reporter", 0, 1])
    assert passed.figures["voted_count"] == 7 and passed.result == "passed"  # 7 of 10 take part; 4 of 7 yes
    db.session.commit()
    failed = owners_close(world, yes=["buyer", "developer_rep", "co_owner_1", "owner_a"],
                          abstain=["reporter", 0, 1, 2])
    # 4 yes of 8 participating is not more than half by headcount, though it is by area.
    assert failed.figures["details"]["yes_area"] * 2 > failed.figures["voted_area"]
    assert failed.result == "failed"


def test_the_tally_is_two_aggregate_queries_whatever_the_number_of_votes(world):
    ballot = gen_ballot(world, "residents", now=T0)
    for person in [world.reporter, world.neighbour, *world.supporters]:
        vote(person, ballot, "yes", now=T0 + H)
    with recorded_statements() as statements:
        figures = services.tally(ballot)
    assert len(statements) == 2 and all("sum(" in s.lower() for s in statements)
    assert "group by" in statements[1].lower()
    assert figures.voted_count == RESIDENTS_PERSONS


# --- hidden results, secret ballots ----------------------------------------------------------------------

def test_hidden_results_are_never_returned_before_close(world):
    ballot = gen_ballot(world, "residents", results_hidden=True, now=T0)
    vote(world.reporter, ballot, "yes", now=T0 + H)
    for viewer in (world.admin, world.chair_x, world.reporter, world.neighbour, AnonymousUserMixin()):
        assert services.visible_tally(viewer, ballot) is None
        assert services.result_details(viewer, ballot) is None
        assert services.log_entries(viewer, ballot) is None
    assert services.participation(ballot) == (1, RESIDENTS_PERSONS)  # how many, never for what
    assert not services.results_visible(ballot)
    services.close(world.chair_x, ballot, "结束", now=T0 + 2 * H)
    figures = services.visible_tally(world.neighbour, ballot)
    assert figures.by_option == {option(ballot, "yes").id: (1, 0)}


def test_live_results_are_the_databases_tally_while_open(world):
    ballot = gen_ballot(world, "residents", now=T0)
    vote(world.reporter, ballot, "no", now=T0 + H)
    assert services.visible_tally(AnonymousUserMixin(), ballot) == services.tally(ballot)
    assert services.visible_tally(world.stranger, gen_ballot(world, "owners", open=False)) is None


def test_a_members_only_communitys_tally_is_for_its_members(world):
    world.x.members_only = True
    ballot = gen_ballot(world, "residents", now=T0)
    assert services.visible_tally(AnonymousUserMixin(), ballot) is None
    assert services.visible_tally(world.stranger, ballot) is None
    assert services.visible_tally(world.neighbour, ballot) is not None


def test_a_secret_ballot_never_shows_names_next_to_choices(world):
    ballot = gen_ballot(world, "residents", secret=True, now=T0)
    entry = vote(world.reporter, ballot, "yes", now=T0 + H)
    vote(world.neighbour, ballot, "no", now=T0 + H)
    voter = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                           BallotVoter.user_id == world.supporters[0].id))
    services.enter_paper(world.chair_x, ballot, voter, option(ballot, "no").id, now=T0 + H)
    assert audit("ballot.paper_entered")[0].details == {}  # not even whose paper ballot it was
    assert not db.session.scalars(db.select(AuditEntry).where(AuditEntry.action.like("ballot.cast%"))).all()
    services.close(world.chair_x, ballot, "结束", now=T0 + 2 * H)
    for viewer in (world.admin, world.chair_x, world.reporter, AnonymousUserMixin()):
        page = services.log_entries(viewer, ballot)
        assert page.total == 3 and not page.names
        assert all(r.voter is None and r.cast_by is None and r.at is None and r.hash is None for r in page.rows)
        assert {r.receipt for r in page.rows} >= {entry.receipt}
        assert sorted(r.option_label for r in page.rows) == ["No", "No", "Yes"]
    # The voter still sees their own current choice.
    [(_, live)] = services.my_votes(world.reporter, ballot)
    assert live.option_id == option(ballot, "yes").id
    payloads = [n.payload for n in notified("votes.closed", ballot)]
    assert payloads and all("option" not in str(p) and "Yes" not in str(p) for p in payloads)


def test_a_public_owners_ballots_log_names_voters_for_owners_and_the_committee(world):
    ballot = gen_ballot(world, "owners")
    vote(world.buyer, ballot, "yes")
    vote(world.co_owner_2, ballot, "no")
    assert services.log_entries(world.owner_a, ballot) is None  # published after close only
    services.close(world.hoa_chair, ballot, "结束")
    page = services.log_entries(world.owner_a, ballot)
    assert page.names and [(r.voter, r.cast_by, r.option_label) for r in page.rows] == [
        ("陈志远", "业主 陈志远", "Yes"), ("5号楼, 1-0301", "业主 张伟", "No")]
    assert page.rows[0].area_cm == 30050 and page.rows[1].hash == ballot.log_head
    for viewer in (world.hoa_member, world.chair_x):
        assert services.log_entries(viewer, ballot).names
    for viewer in (world.neighbour, world.seller, world.admin, AnonymousUserMixin()):
        page = services.log_entries(viewer, ballot)
        assert not page.names and page.rows[0].voter is None and page.rows[0].receipt


def test_the_log_is_paged_by_sequence(world):
    ballot = gen_ballot(world, "residents", now=T0)
    people = [world.reporter, world.neighbour, *world.supporters]
    for n, person in enumerate(people):
        vote(person, ballot, "yes", now=T0 + n * timedelta(minutes=1))
    services.close(world.chair_x, ballot, "结束", now=T0 + H)
    first = services.log_entries(world.reporter, ballot, page=1, per_page=5)
    last = services.log_entries(world.reporter, ballot, page=99, per_page=5)
    assert (first.pages, first.total, [r.seq for r in first.rows]) == (3, 14, [1, 2, 3, 4, 5])
    assert (last.page, [r.seq for r in last.rows]) == (3, [11, 12, 13, 14])
    assert services.log_entries(world.reporter, ballot, page="x").page == 1


# --- the outcome -----------------------------------------------------------------------------------------

def test_the_opening_committee_records_the_outcome_after_close(world):
    ballot = gen_ballot(world, "committee", now=T0)
    with pytest.raises(NotAllowed):
        services.record_outcome(world.chair_x, ballot, "还没结束", now=T0 + H)
    services.close(world.chair_x, ballot, "结束", now=T0 + H)
    with pytest.raises(DomainError) as refused:
        services.record_outcome(world.chair_x, ballot, " ", now=T0 + 2 * H)
    assert refused.value.field == "statement"
    for who in (world.hoa_chair, world.admin, world.neighbour):
        with pytest.raises(NotAllowed):
            services.record_outcome(who, ballot, "结论", now=T0 + 2 * H)
    services.record_outcome(world.member_x, ballot, "未达到法定人数，议题退回协商，下月再议。", now=T0 + 2 * H)
    assert (ballot.outcome_statement, ballot.outcome_by_id, ballot.outcome_at) == (
        "未达到法定人数，议题退回协商，下月再议。", world.member_x.id, T0 + 2 * H)
    assert audit("ballot.outcome_recorded")


# --- notifications, lists --------------------------------------------------------------------------------

def test_the_electorate_is_told_when_voting_opens_and_closes(world):
    ballot = gen_ballot(world, "residents", now=T0)
    residents = {world.reporter.id, world.neighbour.id, *(p.id for p in world.supporters)}
    assert recipients("votes.opened", ballot) == residents
    opened = notified("votes.opened", ballot)[0]
    assert opened.payload["closes"] == instant(T0 + 7 * D) and opened.object_type == "ballot"
    assert beijing(T0 + 7 * D) in message_for(opened)
    services.close(world.chair_x, ballot, "结束", now=T0 + H)
    assert recipients("votes.closed", ballot) == residents
    assert notified("votes.closed", ballot)[0].created_at == T0 + H


def test_needs_my_vote_lists_open_ballots_with_a_vote_still_to_cast(world):
    committee = gen_ballot(world, "committee")
    owners = gen_ballot(world, "owners")
    announced = gen_ballot(world, "owners", open=False)
    assert services.needs_my_vote(world.co_owner_1) == [owners]
    assert services.needs_my_vote(world.chair_x) == [committee]
    vote(world.co_owner_2, owners, "yes")  # the unit's vote is cast
    assert services.needs_my_vote(world.co_owner_1) == []
    assert services.needs_my_vote(AnonymousUserMixin()) == [] and services.needs_my_vote(world.stranger) == []
    assert announced not in services.needs_my_vote(world.owner_a)
    services.close(world.chair_x, committee, "结束")
    assert services.needs_my_vote(world.chair_x) == []


def test_needs_my_vote_leaves_out_a_ballot_past_its_close_time(world):
    ballot = gen_ballot(world, "committee", now=T0)
    assert services.needs_my_vote(world.chair_x, now=T0 + H) == [ballot]
    assert services.needs_my_vote(world.chair_x, now=T0 + 7 * D) == []


def test_reads_by_community_and_proposal(world):
    ballot = gen_ballot(world, "committee", now=T0)
    services.close(world.chair_x, ballot, "结束", now=T0 + H)
    again = services.open_ballot(world.chair_x, ballot.proposal, **opening(world, now=T0 + 2 * H,
                                                                           opens_at=T0 + 2 * H))
    assert services.ballot_in(world.x, ballot.id) is ballot
    assert services.ballot_in(world.y, ballot.id) is None and services.ballot_in(world.x, "abc") is None
    assert services.ballots_for_proposal(ballot.proposal) == [again, ballot]
    assert services.community_ballots(world.x, AnonymousUserMixin()) == [again, ballot]


# --- verification ----------------------------------------------------------------------------------------

def tampered_ballot(world):
    ballot = gen_ballot(world, "residents", now=T0)
    for person, code in zip([world.reporter, world.neighbour, world.supporters[0]], ["yes", "no", "yes"],
                            strict=True):
        vote(person, ballot, code, now=T0 + H)
    services.close(world.chair_x, ballot, "结束", now=T0 + 2 * H)
    db.session.commit()
    return ballot


def test_the_log_verifies_and_its_recount_equals_the_stored_result(world):
    ballot = tampered_ballot(world)
    report = services.verify(ballot)
    assert report.ok and report.recount == services.visible_tally(world.reporter, ballot)


def test_changing_a_log_row_names_the_broken_entry(world, runner):
    ballot = tampered_ballot(world)
    db.session.execute(db.update(BallotLogEntry).where(BallotLogEntry.ballot_id == ballot.id,
                                                       BallotLogEntry.seq == 2)
                       .values(option_id=option(ballot, "yes").id))
    db.session.commit()
    report = services.verify(ballot)
    assert not report.ok and report.broken_seq == 2
    result = runner.invoke(args=["verify-ballot", str(ballot.id)])
    assert result.exit_code == 1 and "entry 2" in result.output


def test_changing_a_live_vote_is_found(world, runner):
    ballot = tampered_ballot(world)
    db.session.execute(db.update(BallotVote).where(BallotVote.ballot_id == ballot.id)
                       .values(option_id=option(ballot, "abstain").id))
    db.session.commit()
    assert not services.verify(ballot).ok
    assert runner.invoke(args=["verify-ballot", str(ballot.id)]).exit_code == 1


def test_changing_the_stored_result_is_found(world, runner):
    ballot = tampered_ballot(world)
    figures = dict(ballot.figures)
    figures["voted_count"] += 1
    ballot.figures = figures
    db.session.commit()
    assert not services.verify(ballot).ok
    assert runner.invoke(args=["verify-ballot", str(ballot.id)]).exit_code == 1


def test_the_command_verifies_a_sound_ballot(world, runner):
    ballot = tampered_ballot(world)
    result = runner.invoke(args=["verify-ballot", str(ballot.id)])
    assert result.exit_code == 0, result.output
    assert "3 entries" in result.output and ballot.log_head in result.output
    missing = runner.invoke(args=["verify-ballot", "999999"])
    assert missing.exit_code != 0 and "No ballot" in missing.output


def test_the_real_clock_is_used_when_no_time_is_given(world):
    ballot = gen_ballot(world, "committee")
    before = utcnow()
    entry = vote(world.chair_x, ballot, "yes")
    assert before <= entry.at <= utcnow()


def test_a_residents_ballot_is_opened_by_the_residents_committee_of_a_member_of_several(world):
    gen_membership(world.chair_x, world.hoa_x)
    ballot = services.open_ballot(world.chair_x, proposal_at(world), **opening(world, "residents"))
    assert ballot.organization_id == world.rc_x.id
