"""Estates (小区 / 物业管理区域) of a community (issue #19): the default estate every community gets with its
first building, adding and renaming estates (audited, by admins and the community's committee members),
choosing a building's estate when there are several, and the estate of a homeowners' or property
management committee."""
import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.committees.models import KIND_LABELS
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places import estates, services
from portal.places.models import Building, Estate
from tests.csrf import csrf_token
from tests.factories import gen_building, gen_committee_member, gen_community, gen_organization, gen_user


def post(client, path, data):
    return client.post(path, data=dict(data, csrf_token=csrf_token(client, path)))


@pytest.fixture
def place():
    x = gen_community(slug="huajiadi", name="花家地社区")
    y = gen_community(slug="nanhu", name="南湖社区")
    member = gen_committee_member(x)
    building = gen_building(x, code="3", name="3号楼")
    people = {"admin": gen_user(is_admin=True), "outsider": gen_committee_member(y), "resident": gen_user()}
    db.session.commit()  # committed, so requests made by the test client see it
    return {"x": x, "y": y, "member": member, "building": building, **people}


def test_the_first_building_makes_a_default_estate_named_after_the_community(place):
    estate = place["building"].estate
    assert estate.name == "花家地社区" and estate.community_id == place["x"].id
    second = gen_building(place["x"], code="4")
    assert second.estate_id == estate.id
    assert db.session.scalar(select(func.count()).select_from(Estate).where(Estate.community_id == place["x"].id)) == 1


def test_a_homeowners_committee_belongs_to_the_default_estate_and_the_new_kind_is_a_committee(place):
    hoa = gen_organization("homeowners_committee", community=place["x"])
    pmc = gen_organization("property_management_committee", community=place["x"])
    assert hoa.estate_id == pmc.estate_id == place["building"].estate_id
    assert str(KIND_LABELS["property_management_committee"]) == "Property management committee"
    rc = gen_organization("residents_committee", community=place["x"])
    assert rc.estate_id is None


def test_adding_and_renaming_estates_is_audited(place):
    estate = estates.create_estate(place["member"], place["x"], name="花家地北里")
    estates.rename_estate(place["admin"], estate, name="花家地北里小区")
    db.session.commit()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("estate.%"))
                                 .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["estate.create", "estate.rename"]
    assert entries[1].details["name"] == ["花家地北里", "花家地北里小区"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 121, "花家地社区"])
def test_estate_names_are_checked(place, name):
    with pytest.raises(DomainError) as refused:
        estates.create_estate(place["member"], place["x"], name=name)
    assert refused.value.field == "name"


@pytest.mark.parametrize("who", ["outsider", "resident"])
def test_only_the_communitys_committee_and_admins_change_estates(place, who):
    with pytest.raises(NotAllowed):
        estates.create_estate(place[who], place["x"], name="别的小区")


def test_with_two_estates_a_building_names_its_estate(place):
    north = estates.create_estate(place["member"], place["x"], name="花家地北里")
    with pytest.raises(DomainError) as refused:
        services.create_building(place["member"], place["x"], name="5号楼", code="5")
    assert refused.value.field == "estate_id"
    with pytest.raises(DomainError):  # another community's estate
        services.create_building(place["member"], place["x"], name="5号楼", code="5",
                                 estate_id=place["y"].estates[0].id if place["y"].estates else 10**6)
    building = services.create_building(place["member"], place["x"], name="5号楼", code="5", estate_id=north.id)
    assert building.estate_id == north.id
    services.update_building(place["member"], place["building"], name="3号楼", code="3", estate_id=north.id)
    assert place["building"].estate_id == north.id


def test_estate_pages(client, auth, place):
    auth.login(place["member"])
    assert "花家地社区" in client.get("/c/huajiadi/estates").get_data(as_text=True)
    response = post(client, "/c/huajiadi/estates/new", {"name": "花家地北里"})
    assert response.status_code == 302
    estate = db.session.scalar(select(Estate).where(Estate.name == "花家地北里"))
    response = post(client, f"/c/huajiadi/estates/{estate.id}/edit", {"name": ""})
    assert response.status_code == 200  # the form again, with the message
    response = post(client, f"/c/huajiadi/estates/{estate.id}/edit", {"name": "花家地北里小区"})
    assert response.status_code == 302
    db.session.expire_all()
    assert estate.name == "花家地北里小区"
    # The building form now offers the estate, and needs it.
    page = client.get("/c/huajiadi/buildings/new").get_data(as_text=True)
    assert 'name="estate_id"' in page
    response = post(client, "/c/huajiadi/buildings/new", {"name": "6号楼", "code": "6"})
    assert response.status_code == 200
    assert db.session.scalar(select(Building).where(Building.code == "6")) is None
    response = post(client, "/c/huajiadi/buildings/new", {"name": "6号楼", "code": "6", "estate_id": str(estate.id)})
    assert response.status_code == 302
    assert db.session.scalar(select(Building.estate_id).where(Building.code == "6")) == estate.id
    # Another community's committee member is refused; an estate of another community is not there.
    auth.logout()
    auth.login(place["outsider"])
    assert client.get("/c/huajiadi/estates").status_code == 403
    assert client.get(f"/c/nanhu/estates/{estate.id}/edit").status_code == 404


def test_buildings_added_by_community_id_in_one_flush_share_one_default_estate(app):
    """Bulk builders (benches, importers) add buildings by `community_id` only: the first makes the
    community's default estate, the others join it rather than making one each."""
    community = gen_community(name="Ginkgo Court", slug="ginkgo-court")
    db.session.flush()
    db.session.add_all([Building(community_id=community.id, name=f"Building {n}", code=str(n)) for n in range(3)])
    db.session.flush()
    estates = db.session.scalars(db.select(Estate).where(Estate.community_id == community.id)).all()
    assert len(estates) == 1
    assert {b.estate_id for b in db.session.scalars(db.select(Building).where(
        Building.community_id == community.id))} == {estates[0].id}
