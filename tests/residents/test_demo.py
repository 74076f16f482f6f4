from portal.auth.models import User
from portal.committees.models import Organization
from portal.extensions import db
from portal.places.models import Owner, Residency
from portal.residents.demo import seed_people
from tests.factories import gen_building, gen_community, gen_household, gen_sub_district
from tests.residents import gen_owner


def demo_places():
    """What the places demo provides, in small: Wangjing with two of its three communities."""
    wangjing = gen_sub_district(name="望京街道", slug="wangjing")
    for slug, name, phone_base in (("huajiadi", "花家地社区", 13911110000), ("nanhu", "南湖社区", 13922220000)):
        community = gen_community(wangjing, name=name, slug=slug)
        building = gen_building(community, code="1", name="1号楼")
        for n in range(12):
            household = gen_household(building, entrance="1", room=f"{n + 1:02d}01")
            if n % 2 == 0:
                gen_owner(household, name=f"业主{n}", phone=str(phone_base + n))


def test_the_demo_seeds_every_state_and_is_idempotent(app):
    demo_places()
    lines = seed_people()
    assert any("13800000010" in line for line in lines)
    counts = {
        "users": db.session.scalar(db.select(db.func.count(User.id))),
        "orgs": db.session.scalar(db.select(db.func.count(Organization.id))),
        "residencies": db.session.scalar(db.select(db.func.count(Residency.id))),
    }
    states = set(db.session.scalars(db.select(Residency.status)))
    assert states == {"pending", "verified", "rejected", "ended"}
    assert db.session.scalar(db.select(Owner).where(Owner.user_id.is_not(None))) is not None
    elderly = db.session.scalar(db.select(User).where(User.phone == "13800000009"))
    assert elderly.consent_in_person
    kinds = set(db.session.scalars(db.select(Organization.kind)))
    assert kinds == {"residents_committee", "homeowners_committee", "deliberation_council", "property_company",
                     "subdistrict_office", "department", "party_committee", "service_station",
                     "social_organization", "volunteer_team"}
    # the missing third community is skipped, and a second run adds nothing
    seed_people()
    assert counts == {
        "users": db.session.scalar(db.select(db.func.count(User.id))),
        "orgs": db.session.scalar(db.select(db.func.count(Organization.id))),
        "residencies": db.session.scalar(db.select(db.func.count(Residency.id))),
    }


def test_the_demo_does_nothing_without_places(app):
    assert seed_people() == []
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0
