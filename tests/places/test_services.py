"""Places rules: who may change what, areas, ownership periods, sales and co-owners."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.places import services
from portal.places.importer import parse_area
from portal.places.models import Community, Owner, Ownership
from tests.factories import (
    gen_building,
    gen_committee_member,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_sub_district,
    gen_user,
)


def actions():
    return [e.action for e in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))]


# ---- communities -----------------------------------------------------------------------------------------

def test_admin_creates_community_with_default_time_zone_and_audit():
    admin = gen_user(is_admin=True)
    sd = gen_sub_district()
    community = services.create_community(admin, sub_district=sd, name="花家地社区", slug="Huajiadi",
                                          postcode="100102", time_zone="")
    assert community.slug == "huajiadi"
    assert community.time_zone == "Asia/Shanghai"
    assert "community.create" in actions()


@pytest.mark.parametrize("changes, field", [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "../etc/passwd"}, "time_zone"),
    ({"postcode": "10010"}, "postcode"),
    ({"postcode": "10010a"}, "postcode"),
    ({"slug": "花家地"}, "slug"),
    ({"slug": "-bad"}, "slug"),
    ({"name": "  "}, "name"),
])
def test_community_fields_are_validated(changes, field):
    admin = gen_user(is_admin=True)
    values = {"sub_district": gen_sub_district(), "name": "南湖社区", "slug": "nanhu", "postcode": "100102",
              "time_zone": "Asia/Shanghai"} | changes
    with pytest.raises(DomainError) as error:
        services.create_community(admin, **values)
    assert error.value.field == field


def test_community_slug_must_be_unique():
    admin = gen_user(is_admin=True)
    gen_community(slug="nanhu")
    with pytest.raises(DomainError) as error:
        services.create_community(admin, sub_district=gen_sub_district(), name="x", slug="nanhu", postcode="100102")
    assert error.value.field == "slug"


def test_only_admins_create_communities():
    community = gen_community()
    member = gen_committee_member(community)
    with pytest.raises(NotAllowed):
        services.create_community(member, sub_district=community.sub_district, name="x", slug="x",
                                  postcode="100102")


# ---- buildings -------------------------------------------------------------------------------------------

def test_committee_member_edits_own_communitys_buildings_but_not_anothers():
    mine, other = gen_community(), gen_community()
    member = gen_committee_member(mine, kind="homeowners_committee")
    building = services.create_building(member, mine, name="3号楼", code="3")
    assert building.community is mine
    with pytest.raises(NotAllowed):
        services.create_building(member, other, name="3号楼", code="3")
    with pytest.raises(NotAllowed):
        services.update_building(member, gen_building(other), name="x", code="9")


def test_property_staff_and_residents_cannot_edit_buildings():
    community = gen_community()
    staff = gen_user()
    gen_membership(staff, gen_organization("property_company", community=community), title="staff")
    resident = gen_user()
    for person in (staff, resident):
        with pytest.raises(NotAllowed):
            services.create_building(person, community, name="1号楼", code="1")


def test_building_code_unique_per_community_ignoring_case():
    admin = gen_user(is_admin=True)
    community = gen_community()
    services.create_building(admin, community, name="5A号楼", code="5A")
    with pytest.raises(DomainError) as error:
        services.create_building(admin, community, name="again", code="5a")
    assert error.value.field == "code"
    services.create_building(admin, gen_community(), name="5A号楼", code="5A")


def test_building_code_is_stable_once_it_has_units():
    admin = gen_user(is_admin=True)
    building = gen_building(code="3")
    services.update_building(admin, building, name="3号楼", code="3A")
    gen_household(building)
    with pytest.raises(DomainError) as error:
        services.update_building(admin, building, name="3号楼", code="4")
    assert error.value.field == "code"


# ---- households and area ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [("89.5", "89.50"), ("120", "120.00"), ("1,088.25", "1088.25"),
                                            ("65.250", "65.25"), (Decimal("72.1"), "72.10")])
def test_area_is_an_exact_decimal(text, expected):
    assert parse_area(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "abc", "0", "-5", "89.555", "NaN", "Infinity", "1e12"])
def test_bad_areas_are_refused(text):
    with pytest.raises(DomainError) as error:
        parse_area(text)
    assert error.value.field == "area_m2"


def test_household_create_and_update_keep_exact_area_and_refuse_duplicates():
    admin = gen_user(is_admin=True)
    building = gen_building(code="3")
    household = services.create_household(admin, building, entrance="1", room="101", area_m2="89.52")
    assert household.area_m2 == Decimal("89.52")
    with pytest.raises(DomainError) as error:
        services.create_household(admin, building, entrance="1", room="101", area_m2="70")
    assert error.value.field == "room"
    services.update_household(admin, household, entrance="1", room="101", area_m2="90.10")
    assert household.area_m2 == Decimal("90.10")
    with pytest.raises(DomainError) as error:
        services.update_household(admin, household, entrance="1", room="101", area_m2="0")
    assert error.value.field == "area_m2"
    assert actions().count("household.update") == 1


# ---- owners and ownership --------------------------------------------------------------------------------

def test_same_phone_is_the_same_owner_within_a_community():
    admin = gen_user(is_admin=True)
    building = gen_building()
    units = [gen_household(building) for _ in range(3)]
    for unit in units:
        services.start_ownership(admin, unit, [("刘建国", "139 0000 8888")], date(2020, 1, 1))
    owners = db.session.scalars(db.select(Owner).where(Owner.phone == "13900008888")).all()
    assert len(owners) == 1 and len(owners[0].ownerships) == 3
    other = gen_household(gen_building(gen_community()))
    services.start_ownership(admin, other, [("刘建国", "13900008888")], date(2020, 1, 1))
    assert db.session.scalar(db.select(db.func.count(Owner.id)).where(Owner.phone == "13900008888")) == 2


def test_one_developer_owner_per_community():
    admin = gen_user(is_admin=True)
    building = gen_building()
    a, b = gen_household(building), gen_household(building)
    services.start_ownership(admin, a, "developer", date(2020, 1, 1))
    services.start_ownership(admin, b, ["developer"], date(2020, 1, 1))
    developers = db.session.scalars(db.select(Owner).where(Owner.is_developer)).all()
    assert len(developers) == 1


def test_developer_cannot_be_a_co_owner():
    admin = gen_user(is_admin=True)
    with pytest.raises(DomainError) as error:
        services.start_ownership(admin, gen_household(), ["developer", ("王芳", "13900001234")])
    assert error.value.field == "owners"


def test_co_owners_recorded_together_are_allowed():
    admin = gen_user(is_admin=True)
    household = gen_household()
    created = services.start_ownership(admin, household, [("王芳", "13900001234"), ("李强", "13900005678")],
                                       date(2015, 6, 1))
    assert len(created) == 2
    assert {o.owner.name for o in services.current_ownerships(household)} == {"王芳", "李强"}


def test_overlapping_ownership_by_another_owner_is_refused():
    admin = gen_user(is_admin=True)
    household = gen_household()
    services.start_ownership(admin, household, [("王芳", "13900001234")], date(2015, 6, 1))
    with pytest.raises(DomainError) as error:
        services.start_ownership(admin, household, [("李强", "13900005678")], date(2018, 1, 1))
    assert error.value.field == "owners"
    assert "王芳" in str(error.value.message) and "sale" in str(error.value.message)
    # Even one starting before the current holding overlaps it.
    with pytest.raises(DomainError):
        services.start_ownership(admin, household, [("李强", "13900005678")], date(2010, 1, 1))
    assert db.session.scalar(db.select(db.func.count(Ownership.id))) == 1


def test_transfer_ends_current_ownerships_and_keeps_history():
    admin = gen_user(is_admin=True)
    household = gen_household()
    services.start_ownership(admin, household, [("王芳", "13900001234"), ("李强", "13900005678")],
                             date(2008, 6, 30))
    sale = date(2019, 8, 30)
    services.transfer_household(admin, household, [("张伟", "13900009999")], sale)
    history = services.ownership_history(household)
    assert len(history) == 3
    assert [o.owner.name for o in history if o.end_date is None] == ["张伟"]
    assert all(o.end_date == sale for o in history if o.owner.name in ("王芳", "李强"))
    assert [o.owner.name for o in services.current_ownerships(household)] == ["张伟"]
    assert {o.owner.name for o in services.current_ownerships(household, on=date(2019, 8, 29))} == {"王芳", "李强"}
    assert "household.transfer" in actions()


def test_transfer_from_developer_to_buyer():
    admin = gen_user(is_admin=True)
    household = gen_household()
    services.start_ownership(admin, household, "developer", date(2019, 12, 20))
    services.transfer_household(admin, household, [("赵敏", "13900004321")], date(2021, 3, 15))
    assert [o.owner.name for o in services.current_ownerships(household)] == ["赵敏"]


def test_transfer_dated_before_current_holding_or_in_future_is_refused():
    admin = gen_user(is_admin=True)
    household = gen_household()
    services.start_ownership(admin, household, [("王芳", "13900001234")], date(2015, 6, 1))
    with pytest.raises(DomainError) as error:
        services.transfer_household(admin, household, [("李强", "13900005678")], date(2014, 1, 1))
    assert error.value.field == "on_date"
    with pytest.raises(DomainError) as error:
        services.transfer_household(admin, household, [("李强", "13900005678")],
                                    services.local_today(household.community) + timedelta(days=1))
    assert error.value.field == "on_date"


def test_transfer_to_the_same_owners_is_refused():
    admin = gen_user(is_admin=True)
    household = gen_household()
    services.start_ownership(admin, household, [("王芳", "13900001234")], date(2015, 6, 1))
    with pytest.raises(DomainError) as error:
        services.transfer_household(admin, household, [("王芳", "13900001234")], date(2020, 1, 1))
    assert error.value.field == "owners"


def test_transfer_needs_committee_of_that_community():
    household = gen_household()
    outsider = gen_committee_member(gen_community())
    with pytest.raises(NotAllowed):
        services.transfer_household(outsider, household, [("王芳", "13900001234")], date(2020, 1, 1))
    member = gen_committee_member(household.community, kind="residents_committee")
    services.transfer_household(member, household, [("王芳", "13900001234")], date(2020, 1, 1))


def test_bad_phone_in_transfer_is_refused():
    admin = gen_user(is_admin=True)
    with pytest.raises(DomainError) as error:
        services.transfer_household(admin, gen_household(), [("王芳", "2390000123")], date(2020, 1, 1))
    assert error.value.field == "owners"


def test_demo_places_are_believable_and_idempotent():
    from portal.places.demo import seed_places
    first = seed_places()
    second = seed_places()
    assert first == second
    assert db.session.scalar(db.select(db.func.count(Community.id))) == 3
    buyer = db.session.scalar(db.select(Owner).where(Owner.phone == "13900008888"))
    assert len(buyer.ownerships) == 3
    assert "305 units" in first[0]  # 300, and the owner roll's five units of 南湖社区 building 11
    nanhu = db.session.scalar(db.select(Community).where(Community.slug == "nanhu"))
    assert db.session.scalar(db.select(Owner).where(Owner.name == "赵敏")).phone_numbers == ["13900009001",
                                                                                            "13900009002"]
    assert db.session.scalar(db.select(Owner.kind).where(Owner.name == "北京望京科技有限公司")) == "organization"
    assert db.session.scalar(db.select(Owner).where(Owner.name == "周桂兰")).phone is None
    assert [(p.first.name, p.second.name) for p in services.probable_duplicates(nanhu)] == [("林峰", "林锋")]
