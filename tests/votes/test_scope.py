"""Estates and the scope of owners' ballots (issue #19): a ballot decided by the owners of one entrance, of
listed buildings, or of one estate of a community that holds two; the residents' committee told when an
owners' ballot is announced; the announcement among the public notices; a scope naming buildings or
entrances outside the estate refused with nothing written. The `world` is tests/votes/conftest.py's: x's
building 5 (w.b5) holds the register's owners, entrance 3 four owners of 100.00 m² each."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import in_zone, utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.outbox import Notification
from portal.places.models import Estate
from portal.votes import services
from portal.votes.models import Ballot, BallotScope, BallotVoter
from tests.factories import gen_building, gen_household, gen_membership, gen_organization, gen_user
from tests.proposals import gen_in_deliberation
from tests.residents import gen_owner, post
from tests.votes import DEFAULT_NOTICE, OWNERS_AREA_CM, OWNERS_HEADCOUNT, gen_ballot


def electorate_of(ballot) -> tuple[int, int, set]:
    """(headcount, area in hundredths of m², owner ids) of the frozen electorate."""
    rows = db.session.execute(select(BallotVoter.headcount, BallotVoter.area_cm, BallotVoter.owner_id)
                              .where(BallotVoter.ballot_id == ballot.id)).all()
    return sum(r[0] for r in rows), sum(r[1] for r in rows), {r[2] for r in rows}


def ballots_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


# --- the electorate within the scope ----------------------------------------------------------------------

def test_a_one_entrance_lift_ballot_counts_exactly_that_entrances_owners(world):
    ballot = gen_ballot(world, "owners", matter=7, scope_kind="entrances", scope_entrances=[(world.b5.id, "3")])
    assert ballot.status == "open" and ballot.scope == "entrances"
    headcount, area, owner_ids = electorate_of(ballot)
    assert headcount == 4 and area == 4 * 10000  # four units of 100.00 m²
    assert owner_ids == {r.id for r in world.owner_records_more}
    assert (ballot.electorate_count, ballot.electorate_area_cm) == (4, 40000)
    assert services.participation(ballot) == (0, 4)


def test_a_building_scope_leaves_out_the_other_buildings(world):
    ballot = gen_ballot(world, "owners", scope_kind="buildings", scope_buildings=[world.b5.id])
    headcount, area, owner_ids = electorate_of(ballot)
    assert headcount == OWNERS_HEADCOUNT - 1  # the reporter's unit is in building 3
    assert area == OWNERS_AREA_CM - 8850
    assert world.reporter_record.id not in owner_ids


def test_the_whole_estate_is_the_default(world):
    ballot = gen_ballot(world, "owners")
    assert ballot.scope == "estate" and ballot.estate is not None
    assert ballot.estate.community_id == world.x.id
    assert electorate_of(ballot)[:2] == (OWNERS_HEADCOUNT, OWNERS_AREA_CM)


def test_an_estates_ballot_leaves_out_the_other_estates_owners(world):
    """A community with two estates has two owners' assemblies: building 3 (the reporter's unit) moves to a
    second estate with no committee of its own, whose ballots the residents' committee opens."""
    first = world.b5.estate
    second = Estate(community=world.x, name="花家地西里")
    db.session.add(second)
    world.bx.estate = second
    db.session.flush()
    ballot = gen_ballot(world, "owners", estate=first)
    headcount, area, owner_ids = electorate_of(ballot)
    assert (headcount, area) == (OWNERS_HEADCOUNT - 1, OWNERS_AREA_CM - 8850)
    assert world.reporter_record.id not in owner_ids
    assert ballot.organization_id == world.hoa_x.id

    other = gen_ballot(world, "owners", estate=second, opener=world.chair_x)
    assert electorate_of(other) == (1, 8850, {world.reporter_record.id})
    assert other.organization_id == world.rc_x.id  # no homeowners' committee there


def test_a_property_management_committee_opens_its_estates_ballots(world):
    second = Estate(community=world.x, name="花家地东里")
    db.session.add(second)
    world.bx.estate = second
    pmc = gen_organization("property_management_committee", community=world.x, name="东里物业管理委员会")
    pmc.estate = second
    chair = gen_user(display_name="物管会主任", phone="13900000077")
    gen_membership(chair, pmc, title="chair")
    db.session.flush()
    with pytest.raises(Exception, match="homeowners' committee"):
        gen_ballot(world, "owners", estate=second, opener=world.hoa_chair)
    db.session.rollback()


def test_with_several_estates_the_estate_must_be_chosen(world):
    db.session.add(Estate(community=world.x, name="花家地北里"))
    db.session.flush()
    before = ballots_count()
    with pytest.raises(DomainError) as refused:
        gen_ballot(world, "owners", open=False)
    assert refused.value.field == "estate"
    db.session.rollback()
    assert ballots_count() == before


# --- scope validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["unknown entrance", "other estate's building", "other community's entrance",
                                  "no entrance ticked", "no building ticked", "unknown scope", "empty entrance",
                                  "other community's estate"])
def test_a_scope_outside_the_estate_is_refused_and_nothing_is_written(world, case):
    y_building = gen_building(world.y, code="9", name="9号楼")
    gen_household(y_building, entrance="1", room="0101")
    other_estate = Estate(community=world.x, name="另一小区")
    db.session.add(other_estate)
    elsewhere = gen_building(world.x, code="E1", name="东1号楼")
    elsewhere.estate = other_estate
    db.session.flush()
    estate = world.b5.estate
    kw = {"unknown entrance": {"scope_kind": "entrances", "scope_entrances": [(world.b5.id, "9")]},
          "other estate's building": {"scope_kind": "buildings", "scope_buildings": [world.b5.id, elsewhere.id]},
          "other community's entrance": {"scope_kind": "entrances", "scope_entrances": [(y_building.id, "1")]},
          "no entrance ticked": {"scope_kind": "entrances"},
          "no building ticked": {"scope_kind": "buildings"},
          "unknown scope": {"scope_kind": "everyone"},
          "empty entrance": {"scope_kind": "entrances", "scope_entrances": [(world.b5.id, "")]},
          "other community's estate": {"estate": y_building.estate}}[case]
    kw.setdefault("estate", estate)
    db.session.commit()
    before = ballots_count()
    with pytest.raises(DomainError) as refused:
        gen_ballot(world, "owners", open=False, **kw)
    assert refused.value.field in ("scope", "estate")
    db.session.rollback()
    assert ballots_count() == before
    assert db.session.scalar(select(func.count()).select_from(BallotScope)) == 0


# --- the residents' committee and the public notices -----------------------------------------------------

def test_the_residents_committee_is_told_when_an_owners_ballot_is_announced(world):
    ballot = gen_ballot(world, "owners", open=False, scope_kind="entrances", scope_entrances=[(world.b5.id, "3")])
    assert ballot.status == "scheduled"
    told = set(db.session.scalars(select(Notification.recipient_id).where(
        Notification.event == "votes.announced_to_residents_committee", Notification.object_id == ballot.id)))
    assert told == {world.chair_x.id, world.member_x.id}
    # The owners told are those of the entrance only.
    owners_told = set(db.session.scalars(select(Notification.recipient_id).where(
        Notification.event == "votes.announced", Notification.object_id == ballot.id)))
    assert owners_told == {u.id for u in world.owners_more if u is not world.seller}


def test_the_announcement_is_among_the_public_notices_and_the_page_says_the_scope(client, world):
    ballot = gen_ballot(world, "owners", open=False, scope_kind="entrances", scope_entrances=[(world.b5.id, "3")])
    db.session.commit()
    notices = client.get("/c/x/notices").get_data(as_text=True)
    assert f"/c/x/ballots/{ballot.id}" in notices
    assert "Owners of 5号楼, entrance 3" in notices
    page = client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True)
    assert "Owners of 5号楼, entrance 3" in page
    # The board is kept between requests (portal.versions): what the announcement says changes with its ballot.
    world.b5.name = "5号楼（东）"
    db.session.commit()
    assert "Owners of 5号楼（东）, entrance 3" in client.get("/c/x/notices").get_data(as_text=True)
    ballot.status, ballot.closed_at = "closed", utcnow()
    db.session.commit()
    assert f"/c/x/ballots/{ballot.id}" not in client.get("/c/x/notices").get_data(as_text=True)


# --- through the form ------------------------------------------------------------------------------------

def _local(moment):
    return in_zone(moment, "Asia/Shanghai").strftime("%Y-%m-%dT%H:%M")


def _form(**extra):
    now = utcnow()
    data = {"method": "owners", "question": "是否同意5号楼3单元加装电梯？", "matter": "7", "notice": DEFAULT_NOTICE,
            "opens_at": _local(now + timedelta(days=16)), "closes_at": _local(now + timedelta(days=23))}
    data.update(extra)
    return data


def test_the_form_opens_an_entrance_scoped_ballot(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    page = client.get(f"/c/x/proposals/{proposal.id}/ballots/new?method=owners").get_data(as_text=True)
    assert f'value="{world.b5.id}:3"' in page
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method=owners",
                    _form(scope="entrances", scope_entrance=[f"{world.b5.id}:3"]), token_from="/")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    ballot = db.session.scalar(select(Ballot))
    assert ballot.scope == "entrances"
    assert [(r.building_id, r.entrance) for r in ballot.scope_rows] == [(world.b5.id, "3")]
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "announced to the owners it concerns" in shown and "entrance 3" in shown


@pytest.mark.parametrize("extra", [
    {"scope": "entrances", "scope_entrance": ["99999:1"]},
    {"scope": "entrances", "scope_entrance": ["abc"]},
    {"scope": "entrances", "scope_entrance": ["1:\x00"]},
    {"scope": "buildings", "scope_building": ["-1"]},
    {"scope": "buildings"},
    {"scope": "\x00everyone"},
    {"estate": "99999999999"},
])
def test_a_bad_scope_on_the_form_is_a_message_with_the_typing_kept(client, auth, world, extra):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method=owners", _form(**extra),
                    token_from="/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'class="error"' in body or "form-errors" in body or "error" in body
    assert "是否同意5号楼3单元加装电梯" in body
    assert ballots_count() == 0


def test_ballot_scope_label_names_buildings(world):
    third = gen_building(world.x, code="7", name="7号楼")
    gen_household(third, entrance="1", room="0101")
    gen_owner(third.households[0], name="七号楼业主", phone="13600000077")
    db.session.flush()
    ballot = gen_ballot(world, "owners", scope_kind="buildings", scope_buildings=[world.b5.id, third.id])
    from portal.votes.scope import scope_label
    assert scope_label(ballot) == "Owners of 5号楼; 7号楼"
    assert electorate_of(ballot)[0] == OWNERS_HEADCOUNT  # 9 in building 5, 1 in building 7


def test_the_ballot_page_reads_its_scope_and_exclusions_once_and_follows_a_renamed_building(client, world):
    import re

    from portal.places.models import Building
    from portal.votes.models import BallotExclusion
    from tests.queries import recorded_statements
    third = gen_building(world.x, code="7", name="7号楼")
    gen_household(third, entrance="1", room="0101")  # no owner: excluded when voting opens
    gen_owner(gen_household(third, entrance="1", room="0102"), name="七号楼业主", phone="13600000077")
    db.session.flush()
    ballot = gen_ballot(world, "owners", scope_kind="buildings", scope_buildings=[world.b5.id, third.id])
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(BallotExclusion)
                             .where(BallotExclusion.ballot_id == ballot.id))
    path = f"/c/{ballot.community.slug}/ballots/{ballot.id}"
    client.get(path)  # the first view makes the short link, which changes the version
    first = client.get(path).get_data(as_text=True)
    with recorded_statements() as statements:
        again = client.get(path).get_data(as_text=True)
    read = " ".join(statements)
    assert "FROM ballot_scope" not in read and "FROM ballot_exclusion" not in read
    assert "Owners of 5号楼; 7号楼" in again and "Owners of 5号楼; 7号楼" in first
    assert re.search(r"units? excluded: [^<]*7号楼", again)
    db.session.get(Building, third.id).name = "七号楼"
    db.session.commit()
    assert "Owners of 5号楼; 七号楼" in client.get(path).get_data(as_text=True)
