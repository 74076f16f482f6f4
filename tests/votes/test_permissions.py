"""Every votes rule for every role: someone not signed in, a person whose residency is pending, a verified
resident, a resident who is also an owner (the reporter), an owner who lives elsewhere, an owner who sold
their unit, the residents' committee of x (chair, member), the homeowners' committee of x (chair,
member), a committee member of y, property staff, an official of the sub-district and an admin."""
from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin

from portal.auth import permissions as can
from portal.votes import services
from tests.proposals import gen_in_deliberation, gen_proposal
from tests.votes import gen_ballot

ROLES = {
    "anonymous": None,
    "unverified": "pending",
    "resident": "neighbour",
    "resident_owner": "reporter",
    "owner": "owner_a",
    "former_owner": "seller",
    "rc_chair": "chair_x",
    "rc_member": "member_x",
    "hoa_chair": "hoa_chair",
    "hoa_member": "hoa_member",
    "member_y": "member_y",
    "property": "property_x",
    "official": "official_a",
    "admin": "admin",
}
EVERYONE = set(ROLES)
NOBODY = set()
RC = {"rc_chair", "rc_member"}
HOA = {"hoa_chair", "hoa_member"}
COMMITTEES_X = RC | HOA
OWNERS = {"resident_owner", "owner"}
RESIDENTS = {"resident", "resident_owner"}


def person(world, role):
    return AnonymousUserMixin() if ROLES[role] is None else getattr(world, ROLES[role])


def allowed(world, rule, obj):
    return {role for role in ROLES if rule(person(world, role), obj)}


def test_the_communitys_committees_open_a_ballot_on_a_proposal_in_consultation(world):
    assert allowed(world, can.can_open_ballot, gen_in_deliberation(world)) == COMMITTEES_X
    assert allowed(world, can.can_open_ballot, gen_proposal(world)) == NOBODY  # still collecting
    assert allowed(world, can.can_open_ballot, gen_proposal(world, publish=False)) == NOBODY
    assert allowed(world, can.can_open_ballot, None) == NOBODY


def test_nobody_opens_a_second_ballot_on_a_proposal_in_voting(world):
    ballot = gen_ballot(world, "committee")
    assert ballot.proposal.status == "voting"
    assert allowed(world, can.can_open_ballot, ballot.proposal) == NOBODY


def test_everyone_sees_a_ballot_of_a_public_community(world):
    for method in ("committee", "residents", "owners"):
        assert allowed(world, can.can_view_ballot, gen_ballot(world, method)) == EVERYONE
    assert allowed(world, can.can_view_ballot, None) == NOBODY


def test_a_members_only_community_shows_its_ballots_to_members_and_owners(world):
    world.x.members_only = True
    assert allowed(world, can.can_view_ballot, gen_ballot(world, "residents")) == {
        "unverified", "resident", "resident_owner", "owner", "rc_chair", "rc_member", "hoa_chair", "hoa_member",
        "property", "official", "admin"}


def test_the_frozen_electorate_votes_while_voting_is_open(world):
    assert allowed(world, can.can_vote, gen_ballot(world, "committee")) == RC
    assert allowed(world, can.can_vote, gen_ballot(world, "committee", organization=world.hoa_x,
                                                   opener=world.hoa_chair)) == HOA
    assert allowed(world, can.can_vote, gen_ballot(world, "residents")) == RESIDENTS
    assert allowed(world, can.can_vote, gen_ballot(world, "owners")) == OWNERS
    assert allowed(world, can.can_vote, gen_ballot(world, "owners", open=False)) == NOBODY  # announced
    assert allowed(world, can.can_vote, None) == NOBODY


def test_nobody_votes_after_close(world):
    ballot = gen_ballot(world, "owners")
    services.close(world.hoa_chair, ballot, "结束")
    assert allowed(world, can.can_vote, ballot) == NOBODY


@pytest.mark.parametrize("rule", [can.can_enter_paper, can.can_close_ballot, can.can_extend_ballot])
def test_the_opening_committee_runs_an_open_ballot(world, rule):
    assert allowed(world, rule, gen_ballot(world, "committee")) == RC
    assert allowed(world, rule, gen_ballot(world, "residents")) == RC
    assert allowed(world, rule, gen_ballot(world, "owners")) == HOA
    assert allowed(world, rule, gen_ballot(world, "owners", open=False)) == NOBODY
    assert allowed(world, rule, None) == NOBODY


def test_a_ballot_is_extended_once(world):
    ballot = gen_ballot(world, "owners")
    services.extend(world.hoa_chair, ballot, ballot.closes_at + timedelta(days=3), "参与不足")
    assert allowed(world, can.can_extend_ballot, ballot) == NOBODY
    assert allowed(world, can.can_close_ballot, ballot) == HOA


def test_after_close_the_opening_committee_records_the_outcome_and_nothing_else(world):
    ballot = gen_ballot(world, "owners")
    assert allowed(world, can.can_record_outcome, ballot) == NOBODY
    services.close(world.hoa_member, ballot, "结束")
    assert allowed(world, can.can_record_outcome, ballot) == HOA
    for rule in (can.can_enter_paper, can.can_close_ballot, can.can_extend_ballot):
        assert allowed(world, rule, ballot) == NOBODY


def test_an_owners_ballot_is_open_to_the_inspection_of_owners_and_the_committees(world):
    assert allowed(world, can.can_inspect_ballots, gen_ballot(world, "owners")) == OWNERS | COMMITTEES_X


def test_public_committee_and_residents_ballots_show_names_to_whoever_sees_them(world):
    assert allowed(world, can.can_inspect_ballots, gen_ballot(world, "committee")) == EVERYONE
    assert allowed(world, can.can_inspect_ballots, gen_ballot(world, "residents")) == EVERYONE
    world.x.members_only = True
    assert allowed(world, can.can_inspect_ballots, gen_ballot(world, "residents")) == \
        allowed(world, can.can_view_ballot, gen_ballot(world, "residents"))


def test_nobody_sees_names_on_a_secret_ballot(world):
    for method in ("committee", "residents"):
        ballot = gen_ballot(world, method, secret=True)
        assert allowed(world, can.can_inspect_ballots, ballot) == NOBODY
        services.close(world.chair_x, ballot, "结束")
        assert allowed(world, can.can_inspect_ballots, ballot) == NOBODY


def test_rules_do_not_cross_communities(world):
    # The committee of y serves y only: it neither opens, runs nor votes in x's ballots.
    ballot = gen_ballot(world, "committee")
    for rule in (can.can_vote, can.can_enter_paper, can.can_close_ballot, can.can_extend_ballot):
        assert not rule(world.member_y, ballot)
    assert not can.can_open_ballot(world.member_y, ballot.proposal)
