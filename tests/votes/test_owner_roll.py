"""The owner roll before an owners' ballot (issue #19): a unit without an owner blocks opening until it is
resolved (owner recorded, assigned to the developer, or excluded with a reason shown on the result); the
co-owner reading ("separate" / "once") and its numbers; the co-owners' representative as the sole caster."""
import re
from datetime import date, timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.auth import permissions
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places.models import Ownership
from portal.votes import services
from portal.votes.models import Ballot, BallotCaster, BallotExclusion, BallotVoter, UnitRepresentative, UnownedUnit
from portal.votes.services import unowned
from tests.proposals import gen_in_deliberation
from tests.residents import post
from tests.votes import OWNERS_AREA_CM, OWNERS_HEADCOUNT, gen_ballot, vote

EMPTY_AREA_CM = 6660  # 5-4-0101, 66.60 m²
DEVELOPER_AREA_CM = 32000
CO_UNIT_AREA_CM = 11000


def unexclude(unit):
    """Undo the test world's exclusion of `unit`: it has no owner and nothing is recorded for it."""
    db.session.execute(db.delete(UnownedUnit).where(UnownedUnit.household_id == unit.id))
    db.session.flush()


def owners_opening(now):
    opens = now + timedelta(days=15, hours=1)
    return {"method": "owners", "question": "是否同意更换5号楼屋面防水层？", "matter": 5, "notice": "公告",
            "opens_at": opens, "closes_at": opens + timedelta(days=7)}


def opened_owners_ballot(world, **kw):
    """Announced 16 days ago, opened an hour ago (no automatic exclusions: the world as it stands)."""
    return gen_ballot(world, "owners", exclude_unowned_units=False, **kw)


def weights(ballot):
    return db.session.execute(db.select(db.func.sum(BallotVoter.headcount), db.func.sum(BallotVoter.area_cm))
                              .where(BallotVoter.ballot_id == ballot.id)).one()


def developer_voter(ballot):
    return db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                          BallotVoter.kind == "developer"))


# --- a unit with no owner ---------------------------------------------------------------------------------

def test_a_unit_without_an_owner_blocks_opening_an_owners_ballot(world):
    unexclude(world.empty_unit)
    now = utcnow()
    proposal = gen_in_deliberation(world, now=now)
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.hoa_chair, proposal, now=now, **owners_opening(now))
    assert refused.value.field == "owner_roll"
    assert "1 units have no owner" in str(refused.value.message)
    assert [u.label for u in unowned.unresolved_units(world.x, now.date())] == ["5号楼, 4-0101"]
    assert db.session.scalar(db.select(db.func.count(Ballot.id))) == 0


def test_the_opening_form_lists_the_units_without_an_owner_with_links(client, auth, world):
    unexclude(world.empty_unit)
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    path = f"/c/x/proposals/{proposal.id}/ballots/new?method=owners"
    page = client.get(path).get_data(as_text=True)
    assert "1 unit has no owner on the register" in page
    assert "5号楼, 4-0101" in page
    assert f"/c/x/households/{world.empty_unit.id}/owners" in page
    assert f"/c/x/owner-roll/units/{world.empty_unit.id}" in page
    opens = utcnow() + timedelta(days=16)
    response = post(client, path, {"method": "owners", "question": "Q?", "matter": "5", "notice": "公告",
                                   "opens_at": opens.strftime("%Y-%m-%dT%H:%M"),
                                   "closes_at": (opens + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 units have no owner on the register" in page
    assert 'value="Q?"' in page  # the typing is kept
    assert db.session.scalar(db.select(db.func.count(Ballot.id))) == 0


def test_recording_the_owner_lets_the_ballot_open(world):
    unexclude(world.empty_unit)
    db.session.add(Ownership(household=world.empty_unit, owner=world.unlinked_owner, start_date=date(2020, 1, 1)))
    ballot = opened_owners_ballot(world)
    assert ballot.status == "open"
    assert tuple(weights(ballot)) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM + EMPTY_AREA_CM)


def test_a_unit_assigned_to_the_developer_counts_in_its_one_head_and_area(world):
    unexclude(world.empty_unit)
    now = utcnow()
    unowned.resolve_unit(world.hoa_chair, world.x, world.empty_unit.id, resolution="developer",
                         now=now - timedelta(days=20))
    ballot = opened_owners_ballot(world, now=now)
    assert ballot.status == "open"
    assert tuple(weights(ballot)) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM + EMPTY_AREA_CM)
    assert developer_voter(ballot).area_cm == DEVELOPER_AREA_CM + EMPTY_AREA_CM
    assert db.session.scalar(db.select(BallotExclusion.id).where(
        BallotExclusion.household_id == world.empty_unit.id)) is None
    entry = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "owner_roll.unit_resolved")).one()
    assert entry.details["resolution"] == "developer" and entry.object_id == world.empty_unit.id


def test_an_excluded_unit_is_frozen_with_its_reason_and_shown_on_the_result(client, world):
    unexclude(world.empty_unit)
    now = utcnow()
    unowned.resolve_unit(world.hoa_chair, world.x, world.empty_unit.id, resolution="excluded",
                         reason="  2024年拆除 （拆除许可 2024-017） ", now=now - timedelta(days=20))
    ballot = opened_owners_ballot(world, now=now)
    assert tuple(weights(ballot)) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)
    frozen = db.session.scalars(db.select(BallotExclusion).where(
        BallotExclusion.ballot_id == ballot.id, BallotExclusion.household_id == world.empty_unit.id)).one()
    assert (frozen.label, frozen.reason) == ("5号楼, 4-0101", "2024年拆除 （拆除许可 2024-017）")
    vote(world.owner_a, ballot, "yes")
    services.close(world.hoa_chair, ballot, "测试提前结束", now=now + timedelta(minutes=5))
    # a later change of the unit's resolution does not change what the ballot froze
    unowned.resolve_unit(world.hoa_chair, world.x, world.empty_unit.id, resolution="developer")
    db.session.commit()
    page = client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True)
    assert re.search(r"\d+ units excluded: [^<]*5号楼, 4-0101 \(2024年拆除 （拆除许可 2024-017）\)", page)


def test_excluding_needs_a_reason_and_a_unit_with_an_owner_is_not_resolved(world):
    with pytest.raises(DomainError) as refused:
        unowned.resolve_unit(world.hoa_chair, world.x, world.empty_unit.id, resolution="excluded", reason=" ")
    assert refused.value.field == "reason"
    with pytest.raises(DomainError) as refused:
        unowned.resolve_unit(world.hoa_chair, world.x, world.units["1-0101"].id, resolution="excluded", reason="x")
    assert refused.value.field == "household"
    with pytest.raises(DomainError):
        unowned.resolve_unit(world.hoa_chair, world.x, world.empty_unit.id, resolution="sold")
    with pytest.raises(NotAllowed):
        unowned.resolve_unit(world.chair_x, world.x, world.empty_unit.id, resolution="excluded", reason="x")


def test_a_unit_that_lost_its_owner_after_the_announcement_is_excluded_as_unresolved(world):
    now = utcnow()
    ballot = gen_ballot(world, "owners", open=False, now=now)
    owned = db.session.scalars(db.select(Ownership).where(Ownership.household_id == world.units["1-0101"].id)).one()
    owned.end_date = date(2020, 6, 1)  # a correction of the register: 王建国 never held it after 2020
    db.session.flush()
    services.apply_due(ballot, now=ballot.opens_at + timedelta(minutes=1))
    assert ballot.status == "open"
    frozen = db.session.scalars(db.select(BallotExclusion).where(
        BallotExclusion.ballot_id == ballot.id, BallotExclusion.household_id == world.units["1-0101"].id)).one()
    assert frozen.reason is None


def test_who_keeps_the_owner_roll(world):
    assert permissions.can_keep_owner_roll(world.hoa_chair, world.x)
    assert permissions.can_keep_owner_roll(world.hoa_member, world.x)
    for who in ("chair_x", "reporter", "owner_a", "admin", "member_y"):
        assert not permissions.can_keep_owner_roll(getattr(world, who), world.x), who
    assert not permissions.can_keep_owner_roll(world.hoa_chair, world.y)


def test_the_residents_committee_keeps_the_roll_where_there_is_no_homeowners_committee(world):
    from portal.committees.models import Organization, OrgMembership
    db.session.execute(db.delete(OrgMembership).where(OrgMembership.organization_id == world.hoa_x.id))
    db.session.execute(db.delete(Organization).where(Organization.id == world.hoa_x.id))
    db.session.expire_all()
    assert permissions.can_keep_owner_roll(world.chair_x, world.x)


# --- the co-owner reading ---------------------------------------------------------------------------------

def co_owner_also_owns_alone(world):
    """李娜 co-owns 5-1-0301 with 张伟 and solely owns 5-4-0101 (66.60 m²)."""
    db.session.add(Ownership(household=world.empty_unit, owner=world.co_record_1, start_date=date(2021, 1, 1)))
    db.session.flush()


def test_the_separate_reading_counts_the_co_owned_unit_as_its_own_head(app, monkeypatch, world):
    co_owner_also_owns_alone(world)
    ballot = opened_owners_ballot(world)
    assert ballot.co_owner_headcount == "separate"
    assert tuple(weights(ballot)) == (OWNERS_HEADCOUNT + 1, OWNERS_AREA_CM + EMPTY_AREA_CM)


def test_the_once_reading_merges_the_co_owned_units_head_into_the_persons(app, monkeypatch, world):
    monkeypatch.setitem(app.config, "CO_OWNER_HEADCOUNT", "once")
    co_owner_also_owns_alone(world)
    ballot = opened_owners_ballot(world)
    assert ballot.co_owner_headcount == "once"
    assert tuple(weights(ballot)) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM + EMPTY_AREA_CM)
    unit = db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                           BallotVoter.household_id == world.co_unit.id)).one()
    assert (unit.kind, unit.headcount, unit.area_cm) == ("co_owned_unit", 0, CO_UNIT_AREA_CM)
    # the co-owned unit is still cast by its co-owners: its area counts, its head is 李娜's
    vote(world.co_owner_2, ballot, "yes")
    figures = services.tally(ballot)
    assert (figures.voted_count, figures.voted_area) == (0, CO_UNIT_AREA_CM)
    own = db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                          BallotVoter.owner_id == world.co_record_1.id)).one()
    vote(world.co_owner_1, ballot, "no", voter=own.id)
    figures = services.tally(ballot)
    assert (figures.voted_count, figures.voted_area) == (1, CO_UNIT_AREA_CM + EMPTY_AREA_CM)
    assert figures.option(ballot.options[0].id) == (0, CO_UNIT_AREA_CM)  # yes: the unit, no head


def test_the_once_reading_leaves_co_owned_units_of_people_without_other_units_alone(app, monkeypatch, world):
    monkeypatch.setitem(app.config, "CO_OWNER_HEADCOUNT", "once")
    ballot = opened_owners_ballot(world)
    assert tuple(weights(ballot)) == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)


def test_the_reading_is_shown_on_the_ballot_and_its_result(client, app, monkeypatch, world):
    monkeypatch.setitem(app.config, "CO_OWNER_HEADCOUNT", "once")
    ballot = opened_owners_ballot(world)
    vote(world.owner_a, ballot, "yes")
    services.close(world.hoa_chair, ballot, "测试提前结束")
    db.session.commit()
    page = client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True)
    assert page.count("counts once by headcount") == 2  # the result, and the rule
    monkeypatch.setitem(app.config, "CO_OWNER_HEADCOUNT", "separate")
    other = opened_owners_ballot(world)
    db.session.commit()
    assert "counts twice by headcount" in client.get(f"/c/x/ballots/{other.id}").get_data(as_text=True)


def test_an_unknown_reading_is_a_configuration_error(app, monkeypatch, world):
    monkeypatch.setitem(app.config, "CO_OWNER_HEADCOUNT", "twice")
    with pytest.raises(RuntimeError):
        opened_owners_ballot(world)


# --- the co-owners' representative ------------------------------------------------------------------------

def casters(ballot, unit):
    return set(db.session.scalars(db.select(BallotCaster.user_id)
                                  .join(BallotVoter, BallotVoter.id == BallotCaster.voter_id)
                                  .where(BallotVoter.ballot_id == ballot.id, BallotVoter.household_id == unit.id)))


def test_the_named_representative_is_the_only_caster(world):
    unowned.name_representative(world.hoa_chair, world.x, world.co_unit.id, world.co_record_1.id)
    ballot = opened_owners_ballot(world)
    assert casters(ballot, world.co_unit) == {world.co_owner_1.id}
    assert not permissions.can_vote(world.co_owner_2, ballot)
    with pytest.raises(NotAllowed):
        vote(world.co_owner_2, ballot, "no")
    entry = vote(world.co_owner_1, ballot, "yes")
    assert entry.cast_by_id == world.co_owner_1.id
    audit = db.session.scalars(db.select(AuditEntry).where(
        AuditEntry.action == "owner_roll.representative_named")).one()
    assert audit.details["owner_id"] == world.co_record_1.id


def test_without_a_representative_any_co_owner_casts_and_the_page_says_so(client, auth, world):
    ballot = opened_owners_ballot(world)
    assert casters(ballot, world.co_unit) == {world.co_owner_1.id, world.co_owner_2.id}
    db.session.commit()
    auth.login(world.co_owner_2)
    page = client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True)
    assert "named no representative: any of them may cast its vote, and the latest cast counts" in page


def test_a_representative_changed_after_opening_applies_to_later_ballots_only(world):
    unowned.name_representative(world.hoa_chair, world.x, world.co_unit.id, world.co_record_1.id)
    first = opened_owners_ballot(world)
    unowned.name_representative(world.hoa_chair, world.x, world.co_unit.id, world.co_record_2.id)
    second = opened_owners_ballot(world)
    assert casters(first, world.co_unit) == {world.co_owner_1.id}
    assert casters(second, world.co_unit) == {world.co_owner_2.id}
    unowned.name_representative(world.hoa_chair, world.x, world.co_unit.id, None)
    assert db.session.scalar(db.select(UnitRepresentative.id)) is None


def test_the_representative_must_be_a_co_owner_of_a_co_owned_unit(world):
    with pytest.raises(DomainError) as refused:
        unowned.name_representative(world.hoa_chair, world.x, world.co_unit.id, world.owner_a_record.id)
    assert refused.value.field == "owner"
    with pytest.raises(DomainError) as refused:
        unowned.name_representative(world.hoa_chair, world.x, world.units["1-0101"].id, world.owner_a_record.id)
    assert refused.value.field == "household"
    with pytest.raises(NotAllowed):
        unowned.name_representative(world.co_owner_1, world.x, world.co_unit.id, world.co_record_1.id)


# --- pages ------------------------------------------------------------------------------------------------

def test_the_owner_roll_pages_for_the_committee(client, auth, world):
    unexclude(world.empty_unit)
    db.session.commit()
    auth.login(world.hoa_chair)
    page = client.get("/c/x/owner-roll").get_data(as_text=True)
    assert "5号楼, 4-0101" in page and "not resolved" in page
    assert "李娜" in page and "no representative named" in page
    path = f"/c/x/owner-roll/units/{world.empty_unit.id}"
    response = post(client, path, {"resolution": "excluded", "reason": ""})
    assert response.status_code == 200 and "Say why the unit is excluded" in response.get_data(as_text=True)
    response = post(client, path, {"resolution": "excluded", "reason": "已拆除"})
    assert response.status_code == 302
    assert db.session.scalar(db.select(UnownedUnit.reason).where(UnownedUnit.household_id == world.empty_unit.id)) \
        == "已拆除"
    path = f"/c/x/owner-roll/co-owned/{world.co_unit.id}"
    assert "张伟" in client.get(path).get_data(as_text=True)
    assert post(client, path, {"owner_id": str(world.co_record_2.id)}).status_code == 302
    assert db.session.scalar(db.select(UnitRepresentative.owner_id)) == world.co_record_2.id
    response = post(client, path, {"owner_id": "99999"})
    assert response.status_code == 200 and "must be one of the unit" in response.get_data(as_text=True)
    assert client.get(f"/c/x/owner-roll/co-owned/{world.units['1-0101'].id}").status_code == 404


def test_the_owner_roll_is_closed_to_others(client, auth, world):
    auth.login(world.chair_x)
    assert client.get("/c/x/owner-roll").status_code == 403
    assert post(client, f"/c/x/owner-roll/units/{world.empty_unit.id}",
                {"resolution": "excluded", "reason": "x"}).status_code == 403


def test_only_the_units_without_an_owner_within_the_scope_block_a_scoped_ballot(world):
    """The unit without an owner is in building 5, entrance 4: a lift ballot of entrance 3 opens and lists
    no exclusion of it; one of entrance 4 is refused, with nothing written."""
    unexclude(world.empty_unit)
    ballot = gen_ballot(world, "owners", exclude_unowned_units=False, scope_kind="entrances",
                        scope_entrances=[(world.b5.id, "3")])
    assert ballot.status == "open"
    assert world.empty_unit.id not in set(db.session.scalars(
        db.select(BallotExclusion.household_id).where(BallotExclusion.ballot_id == ballot.id)))
    now = utcnow()
    with pytest.raises(DomainError) as refused:
        services.open_ballot(world.hoa_chair, gen_in_deliberation(world, now=now), now=now, scope_kind="entrances",
                             scope_entrances=[(world.b5.id, "4")], **owners_opening(now))
    assert refused.value.field == "owner_roll" and "1 units have no owner" in str(refused.value.message)
    assert db.session.scalar(db.select(db.func.count(Ballot.id))) == 1
