"""The votes demo: a ballot in every state for 花家地, consistent logs, idempotent."""
from portal.extensions import db
from portal.issues.demo import seed_issues
from portal.proposals.demo import seed_proposals
from portal.residents.demo import seed_people
from portal.votes import services
from portal.votes.demo import DEMOLISHED_REASON, seed_votes
from portal.votes.models import Ballot, BallotLogEntry, BallotVote, BallotVoter
from tests.residents.test_demo import demo_places


def counts():
    return {model.__name__: db.session.scalar(db.select(db.func.count(model.id)))
            for model in (Ballot, BallotLogEntry, BallotVote)}


def co_own_a_unit():
    """The small places demo has no co-owned unit: every owner of huajiadi also co-owns its first unit."""
    from datetime import date

    from portal.places.models import Household, Owner, Ownership
    owners = db.session.scalars(db.select(Owner).join(Owner.community).where(Owner.phone.like("139111%"))
                                .order_by(Owner.id)).all()
    first = db.session.scalars(db.select(Household).join(Ownership).where(Ownership.owner_id == owners[0].id)).one()
    for owner in owners[1:]:
        db.session.add(Ownership(household=first, owner=owner, start_date=date(2010, 1, 1)))
    db.session.flush()


def test_the_demo_shows_a_ballot_in_every_state_and_is_idempotent(app):
    demo_places()
    co_own_a_unit()
    seed_people()
    seed_issues()
    seed_proposals()
    lines = seed_votes()
    assert len(lines) == 1 and "8 ballots" in lines[0]
    ballots = {(b.method, b.status, b.result, b.secret, b.results_hidden): b
               for b in db.session.scalars(db.select(Ballot)) if b.resident_rule != "meeting"}
    assert set(ballots) == {
        ("owners", "scheduled", None, False, False),     # the roof, matter (5), announced
        ("owners", "open", None, False, False),          # the property company, matter (4)
        ("owners", "closed", "passed", False, False),    # the bicycle shed, matter (8), decided
        ("committee", "closed", "passed", False, False),
        ("residents", "closed", "passed", False, False),  # plurality over named choices
        ("residents", "closed", "no_quorum", False, False),
        ("residents", "open", None, True, True),
    }
    roof = ballots[("owners", "scheduled", None, False, False)]
    assert roof.matter == 5 and roof.proposal.category == "maintenance_fund" and roof.notice
    owners = ballots[("owners", "open", None, False, False)]
    entries = db.session.scalars(db.select(BallotLogEntry).where(BallotLogEntry.ballot_id == owners.id)).all()
    assert any(e.is_paper for e in entries) and any(not e.is_paper for e in entries)
    assert len(entries) > len({e.voter_id for e in entries})  # one owner changed their vote
    assert [e.seq for e in sorted(entries, key=lambda e: e.at)] == sorted(e.seq for e in entries)
    plurality = ballots[("residents", "closed", "passed", False, False)]
    assert not plurality.is_yes_no and plurality.figures["details"]["winner_id"]
    no_quorum = ballots[("residents", "closed", "no_quorum", False, False)]
    assert no_quorum.proposal.status == "deliberation" and no_quorum.outcome_statement
    assert ballots[("committee", "closed", "passed", False, False)].proposal.outcome == "passed"
    meeting = db.session.scalars(db.select(Ballot).where(Ballot.resident_rule == "meeting")).one()
    assert (meeting.status, meeting.result, meeting.figures["details"]["rule"]) == ("closed", "passed",
                                                                                   "residents_meeting")
    assert 2 * meeting.figures["voted_count"] > meeting.figures["electorate_count"] > 0
    assert meeting.figures["details"]["abstain_count"] and meeting.outcome_statement
    shed = ballots[("owners", "closed", "passed", False, False)]
    assert shed.matter == 8 and shed.outcome_statement
    excluded = {e.label: e.reason for e in shed.exclusions}
    assert any(reason == DEMOLISHED_REASON for reason in excluded.values())
    assert all(e.reason == DEMOLISHED_REASON for e in owners.exclusions if "101附" in e.label)
    represented = db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == owners.id,
                                                                  BallotVoter.representative_id.is_not(None))).all()
    assert len(represented) == 1
    for ballot in [*ballots.values(), meeting]:
        assert services.verify(ballot).ok
    before = counts()
    assert seed_votes() == [lines[0].split(":")[0] + ": ballots already seeded"]
    assert counts() == before


def test_the_demo_does_nothing_without_places(app):
    assert seed_votes() == []
    assert counts()["Ballot"] == 0
