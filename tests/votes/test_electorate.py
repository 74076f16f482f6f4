"""Freezing the electorate: who counts, once, with which weight, cast by whom — from the register, the
residents and the committees as they stand on the freeze date. The `world` is tests/votes/conftest.py's.

Ballots here are bare rows (`make_ballot`), so these tests do not depend on the ballot services."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.clock import utcnow
from portal.extensions import db
from portal.places.models import Ownership
from portal.votes import electorate
from portal.votes.models import Ballot, BallotCaster, BallotOption, BallotVoter
from portal.votes.totals import set_electorate
from tests.factories import gen_building, gen_household, gen_membership, gen_residency, gen_user
from tests.proposals import gen_in_deliberation
from tests.queries import recorded_statements
from tests.residents import gen_owner
from tests.votes import OWNERS_AREA_CM, OWNERS_HEADCOUNT, RESIDENT_HOUSEHOLDS, RESIDENTS_PERSONS

TODAY = date.today()


def make_ballot(world, method="owners", *, organization=None, status="open", **kw):
    """A ballot row with yes / no / abstain options, on a fresh proposal of x; nothing frozen yet."""
    now = utcnow()
    organization = organization or (world.hoa_x if method == "owners" else world.rc_x)
    kw.setdefault("matter", 5 if method == "owners" else None)
    kw.setdefault("resident_unit", "person" if method == "residents" else None)
    ballot = Ballot(proposal=gen_in_deliberation(world), community_id=world.x.id, organization=organization,
                    opened_by_id=world.chair_x.id, method=method, question="Q?", status=status,
                    opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=7), **kw)
    db.session.add(ballot)
    for position, code in enumerate(("yes", "no", "abstain")):
        db.session.add(BallotOption(ballot=ballot, position=position, code=code, label=code.title()))
    db.session.flush()
    return ballot


def frozen(world, method="owners", *, on=TODAY, **kw):
    ballot = make_ballot(world, method, **kw)
    electorate.freeze(ballot, on=on)
    set_electorate(ballot)  # as opening does after the freeze
    return ballot


def voters(ballot) -> list[BallotVoter]:
    return list(db.session.scalars(select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
                                   .order_by(BallotVoter.id)))


def casters_of(voter) -> set[int]:
    return set(db.session.scalars(select(BallotCaster.user_id).where(BallotCaster.voter_id == voter.id)))


def voter_of_owner(ballot, owner):
    return next((v for v in voters(ballot) if v.owner_id == owner.id), None)


def totals(ballot) -> tuple[int, int]:
    vs = voters(ballot)
    return sum(v.headcount for v in vs), sum(v.area_cm for v in vs)


# --- owners ---

def test_owners_electorate_totals(world):
    ballot = frozen(world)
    assert totals(ballot) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)
    assert all(v.headcount == 1 for v in voters(ballot))


def test_buyer_of_three_units_counts_once_with_the_area_of_all_three(world):
    ballot = frozen(world)
    voter = voter_of_owner(ballot, world.buyer_record)
    assert (voter.kind, voter.headcount, voter.area_cm) == ("owner", 1, 9000 + 9000 + 12050)
    assert [v for v in voters(ballot) if v.owner_id == world.buyer_record.id] == [voter]
    assert casters_of(voter) == {world.buyer.id}
    assert voter.label == "陈志远"


def test_co_owned_unit_counts_once_and_any_co_owner_may_cast(world):
    ballot = frozen(world)
    unit_voters = [v for v in voters(ballot) if v.household_id == world.co_unit.id]
    assert len(unit_voters) == 1
    voter = unit_voters[0]
    assert (voter.kind, voter.headcount, voter.area_cm, voter.owner_id) == ("co_owned_unit", 1, 11000, None)
    assert voter.label == "5号楼, 1-0301"
    assert casters_of(voter) == {world.co_owner_1.id, world.co_owner_2.id}
    assert voter_of_owner(ballot, world.co_record_1) is None  # no second vote as a person
    assert [v.id for v in electorate.voters_for(ballot, world.co_owner_2)] == [voter.id]


def test_the_developers_forty_unsold_units_count_once_by_headcount_and_fully_by_area(world):
    building = gen_building(world.x, code="9", name="9号楼")
    for n in range(36):  # the world's developer already holds four units of 80.00 m²
        unit = gen_household(building, entrance=str(n // 12 + 1), room=f"{n % 12 + 1:02d}01", area="97.35")
        db.session.add(Ownership(household=unit, owner=world.developer, start_date=date(2020, 1, 1)))
    db.session.flush()
    ballot = frozen(world)
    developer_voters = [v for v in voters(ballot) if v.kind == "developer"]
    assert len(developer_voters) == 1
    voter = developer_voters[0]
    assert (voter.owner_id, voter.headcount, voter.area_cm) == (world.developer.id, 1, 4 * 8000 + 36 * 9735)
    assert casters_of(voter) == {world.developer_rep.id}
    assert totals(ballot) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM + 36 * 9735)


def test_developer_without_a_representative_has_no_caster(world):
    world.developer.user_id = None
    ballot = frozen(world)
    voter = next(v for v in voters(ballot) if v.kind == "developer")
    assert casters_of(voter) == set()


def test_sold_unit_counts_for_the_new_owner_from_the_handover_day(world):
    buyer_of_sold_unit = world.owner_records_more[3]  # bought 3-0104 from the seller on 2023-06-01
    on_handover = frozen(world, on=date(2023, 6, 1))
    assert voter_of_owner(on_handover, world.seller_record) is None
    assert voter_of_owner(on_handover, buyer_of_sold_unit).area_cm == 10000
    assert electorate.voters_for(on_handover, world.seller) == []

    day_before = frozen(world, on=date(2023, 5, 31))
    assert voter_of_owner(day_before, world.seller_record).area_cm == 10000
    assert voter_of_owner(day_before, buyer_of_sold_unit) is None  # a future ownership is not counted
    assert totals(day_before) == totals(on_handover)


def test_ownerships_starting_after_the_freeze_date_are_excluded(world):
    later = gen_household(world.b5, entrance="4", room="0102", area="50.00")
    gen_owner(later, name="Future Owner", phone="13600000077", start=TODAY + timedelta(days=1))
    ballot = frozen(world)
    assert not any(v.label == "Future Owner" for v in voters(ballot))
    assert totals(ballot) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)


def test_unit_without_a_current_owner_is_not_in_the_electorate(world):
    ballot = frozen(world)
    assert all(v.household_id != world.empty_unit.id for v in voters(ballot))


def test_unlinked_owner_is_in_the_electorate_without_a_caster(world):
    ballot = frozen(world)
    voter = voter_of_owner(ballot, world.unlinked_owner)
    assert (voter.kind, voter.area_cm) == ("owner", 9525)
    assert casters_of(voter) == set()


def test_sole_owner_who_also_co_owns_a_unit_casts_both(world):
    unit = gen_household(world.b5, entrance="4", room="0201", area="60.00")
    db.session.add(Ownership(household=unit, owner=world.buyer_record, start_date=date(2021, 1, 1)))
    gen_owner(unit, name="Co-buyer", phone="13600000088")
    ballot = frozen(world)
    mine = electorate.voters_for(ballot, world.buyer)
    assert sorted((v.kind, v.area_cm) for v in mine) == [("co_owned_unit", 6000), ("owner", 30050)]


def test_other_communities_owners_are_not_in_the_electorate(world):
    gen_owner(world.hy, name="Owner in Y", phone="13600000099")
    ballot = frozen(world)
    assert not any(v.label == "Owner in Y" for v in voters(ballot))


def test_areas_are_exact_hundredths_even_where_floats_are_not(world):
    owner = None
    for room, area in (("0301", "0.10"), ("0302", "0.20"), ("0303", "0.29"), ("0304", "33.33")):
        unit = gen_household(world.b5, entrance="4", room=room, area=area)
        if owner is None:
            owner = gen_owner(unit, name="Small Units", phone="13600000066")
        else:
            db.session.add(Ownership(household=unit, owner=owner, start_date=date(2020, 1, 1)))
    db.session.flush()
    ballot = frozen(world)
    assert voter_of_owner(ballot, owner).area_cm == 10 + 20 + 29 + 3333
    assert isinstance(voter_of_owner(ballot, owner).area_cm, int)


def test_freezing_writes_a_few_statements_whatever_the_size(world, app):
    def statements_for(extra_units):
        building = gen_building(world.x)
        for n in range(extra_units):
            gen_owner(gen_household(building, room=f"{n:04d}", area=Decimal("70.00")), name=f"Bulk {n}",
                      phone=f"15{extra_units:03d}{n:06d}")
        ballot = make_ballot(world)
        with recorded_statements() as seen:
            electorate.freeze(ballot, on=TODAY)
        return ballot, seen

    small_ballot, small = statements_for(5)
    large_ballot, large = statements_for(200)
    # the check, three kinds of voters, the representatives, three kinds of casters, the excluded units
    # (and one more under the "once" co-owner reading)
    assert len(small) == len(large) <= 9
    assert not any(isinstance(obj, (BallotVoter, BallotCaster)) for obj in db.session)  # no ORM row objects
    assert totals(large_ballot)[0] == totals(small_ballot)[0] + 200


def test_freezing_twice_is_refused(world):
    ballot = frozen(world)
    with pytest.raises(RuntimeError):
        electorate.freeze(ballot, on=TODAY)
    assert totals(ballot) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)


# --- committee ---

def test_committee_members_current_at_opening_only(world):
    left = gen_user(display_name="Left Last Month")
    gen_membership(left, world.rc_x, start=TODAY - timedelta(days=100), end=TODAY - timedelta(days=1))
    last_day = gen_user(display_name="Last Day Today")
    gen_membership(last_day, world.rc_x, start=TODAY - timedelta(days=100), end=TODAY)
    joining = gen_user(display_name="Joins Tomorrow")
    gen_membership(joining, world.rc_x, start=TODAY + timedelta(days=1))
    gen_membership(world.chair_x, world.rc_x, start=TODAY - timedelta(days=400), end=TODAY + timedelta(days=5))
    ballot = frozen(world, "committee")
    vs = voters(ballot)
    assert sorted(v.user_id for v in vs) == sorted([world.chair_x.id, world.member_x.id, last_day.id])
    assert all((v.kind, v.headcount, v.area_cm) == ("member", 1, 0) for v in vs)
    assert all(casters_of(v) == {v.user_id} for v in vs)
    assert {v.label for v in vs} == {"Chair X", "Member X", "Last Day Today"}


def test_members_of_other_organizations_are_not_in_a_committee_electorate(world):
    ballot = frozen(world, "committee", organization=world.hoa_x)
    assert {v.user_id for v in voters(ballot)} == {world.hoa_chair.id, world.hoa_member.id, world.hoa_member2.id}
    assert electorate.voters_for(ballot, world.chair_x) == []


# --- residents ---

def test_residents_per_person_verified_adults_once(world):
    ended = gen_user(display_name="Moved Out")
    gen_residency(ended, household=world.hx2, status="ended")
    rejected = gen_user(display_name="Rejected")
    gen_residency(rejected, household=world.hx2, status="rejected")
    ballot = frozen(world, "residents", resident_unit="person")
    vs = voters(ballot)
    ids = [v.user_id for v in vs]
    assert len(vs) == RESIDENTS_PERSONS and len(set(ids)) == len(ids)
    assert world.neighbour.id in ids  # two residencies, one vote
    assert not {world.child.id, world.pending.id, ended.id, rejected.id, world.resident_y.id} & set(ids)
    assert all((v.kind, v.headcount, v.area_cm) == ("resident", 1, 0) for v in vs)
    assert [v.label for v in electorate.voters_for(ballot, world.neighbour)] == [world.neighbour.display_name]


def test_residents_per_household_cast_by_any_verified_adult(world):
    partner = gen_user(display_name="Partner of the reporter")
    gen_residency(partner, household=world.hx)
    only_child = gen_user(display_name="Only a child here")
    gen_residency(only_child, household=gen_household(world.bx, entrance="4", room="0101")).is_adult = False
    db.session.flush()
    ballot = frozen(world, "residents", resident_unit="household")
    vs = voters(ballot)
    assert len(vs) == RESIDENT_HOUSEHOLDS
    assert len({v.household_id for v in vs}) == len(vs)
    hx = next(v for v in vs if v.household_id == world.hx.id)
    assert (hx.kind, hx.headcount, hx.label) == ("household", 1, "Building 3, 1-0201")
    assert casters_of(hx) == {world.reporter.id, partner.id}  # not the child
    assert {v.household_id for v in electorate.voters_for(ballot, world.neighbour)} == {world.hx2.id, world.hx3.id}


# --- who may cast ---

def test_voters_for_outsiders_and_anonymous_is_empty(world):
    from flask_login import AnonymousUserMixin
    ballot = frozen(world)
    assert electorate.voters_for(ballot, world.stranger) == []
    assert electorate.voters_for(ballot, AnonymousUserMixin()) == []


def test_voters_for_the_developers_representative(world):
    ballot = frozen(world)
    assert [v.kind for v in electorate.voters_for(ballot, world.developer_rep)] == ["developer"]
