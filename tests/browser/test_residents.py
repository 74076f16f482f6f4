"""Issue 3 in a phone browser: a committee member imports the household register, a new resident
claims a unit, and the committee member verifies them and confirms they are the registered owner."""
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import form_with, register, sign_in, submit, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import DEFAULT_PASSWORD, gen_building, gen_committee_member, gen_community

pytestmark = pytest.mark.browser


def seed_community_with_committee(live_server, label: str):
    """A community with one building (code B3) and a residents' committee member; returns what the
    browser needs to know about them."""
    with live_server.app.app_context():
        community = gen_community(name=f"Lotus Garden {label}", slug=f"lotus-{label}")
        gen_building(community, code="B3", name="Building 3")
        member = gen_committee_member(community, kind="residents_committee", title="chair")
        member.email = unique_email("committee")
        member.display_name = "Director Zhou 周主任"
        db.session.commit()
        return {"slug": community.slug, "name": community.name, "id": community.id,
                "member_login": member.email}


def register_csv(owner_name: str, owner_phone: str) -> bytes:
    return (
        "building_code,entrance,room,area_m2,owners\n"
        f"B3,1,101,88.50,{owner_name}:{owner_phone}\n"
        "B3,1,102,102.35,李强:13900005678; 张丽:13900005679\n"
        "B3,2,201,75.00,developer\n"
    ).encode()


def household_rooms(live_server, community_id: int) -> list[str]:
    from portal.places.models import Building, Household
    with live_server.app.app_context():
        return sorted(db.session.scalars(db.select(Household.room).join(Building)
                                         .where(Building.community_id == community_id)))


def residency_and_owner_of(live_server, phone: str):
    from portal.auth.services import find_by_login
    from portal.places.models import Owner, Residency
    with live_server.app.app_context():
        user = find_by_login(phone)
        residency = db.session.scalar(db.select(Residency).where(Residency.user_id == user.id))
        owner = db.session.scalar(db.select(Owner).where(Owner.phone == phone))
        return (residency.status if residency else None,
                residency.household.room if residency else None,
                owner.user_id == user.id if owner else None)


def test_import_register_claim_a_unit_and_verify_the_owner(new_context, live_server):
    place = seed_community_with_committee(live_server, label=str(unique_phone()[-6:]))
    resident_phone = unique_phone()

    # The committee member imports the register: upload, preview, confirm.
    committee = new_context().new_page()
    sign_in(committee, place["member_login"], DEFAULT_PASSWORD)
    visit(committee, f"/c/{place['slug']}/register/import")
    capture(committee, "import")
    form = form_with(committee, "file")
    form.locator("[name=file]").set_input_files(
        {"name": "register.csv", "mimeType": "text/csv", "buffer": register_csv("王芳", resident_phone)})
    submit(form)
    expect(committee.locator("main h1")).to_have_text("Check the import")
    expect(committee.locator("main .stats")).to_contain_text("Units to add")
    expect(committee.locator("main table")).to_contain_text("B3-1-101")
    capture(committee, "import-preview")
    committee.locator("main").get_by_role("button", name="Import these changes").click()
    expect(committee.locator(".flashes")).to_contain_text(re.compile(r"\b3\b"))
    expect(committee).to_have_url(re.compile(rf"/c/{place['slug']}/register$"))
    capture(committee, "register-after-import")
    assert household_rooms(live_server, place["id"]) == ["101", "102", "201"]

    # A new resident registers with the phone in the register and claims unit 1-101.
    resident = new_context().new_page()
    register(resident, resident_phone, "Wang Fang 王芳", "plum blossom 88")
    visit(resident, "/claim")
    form = form_with(resident, "community")
    form.locator("[name=community]").select_option(label=place["name"])
    units = form.locator("select[name=household]")
    expect(units).to_be_visible()  # swapped in by htmx when the community is chosen
    units.select_option(label="Building 3 1-101")
    capture(resident, "claim")
    form.get_by_role("button", name="Send my claim").click()
    expect(resident).to_have_url(re.compile(r"/my/residency$"))
    expect(resident.locator("main")).to_contain_text("Waiting for verification")
    capture(resident, "my-residency-pending")

    # The committee member verifies the claim and confirms the register owner.
    visit(committee, f"/c/{place['slug']}/residents/pending")
    claim = committee.locator("article.claim", has_text="Wang Fang 王芳")
    expect(claim).to_contain_text("Building 3 1-101")
    owner_box = claim.get_by_label(re.compile("Confirm that Wang Fang 王芳 is the registered owner 王芳"))
    capture(committee, "pending-claims", docs="committee-verify")
    expect(owner_box, "the register's owner with the claimant's phone should be offered for confirmation"
           ).to_be_visible()
    owner_box.check()
    claim.get_by_role("button", name="Verify Wang Fang 王芳").click()
    expect(committee.locator("main")).to_contain_text("is verified as living at Building 3 1-101")
    capture(committee, "pending-after-verify")

    assert residency_and_owner_of(live_server, resident_phone) == ("verified", "101", True)

    resident.reload()
    expect(resident.locator("main .status")).to_have_text("Verified")
    expect(resident.locator("main")).to_contain_text("Owner in the register")
    capture(resident, "my-residency-verified")


def test_claim_a_unit_without_javascript(new_context, live_server):
    place = seed_community_with_committee(live_server, label=str(unique_phone()[-6:]))
    page = new_context(java_script_enabled=False).new_page()
    committee_page = new_context().new_page()
    sign_in(committee_page, place["member_login"], DEFAULT_PASSWORD)
    visit(committee_page, f"/c/{place['slug']}/register/import")
    form = form_with(committee_page, "file")
    form.locator("[name=file]").set_input_files(
        {"name": "register.csv", "mimeType": "text/csv", "buffer": register_csv("赵敏", unique_phone())})
    submit(form)
    committee_page.locator("main").get_by_role("button", name="Import these changes").click()
    expect(committee_page.locator(".flashes")).to_contain_text(re.compile(r"\b3\b"))

    phone = unique_phone()
    register(page, phone, "Chen Jie 陈杰", "plum blossom 88")
    visit(page, "/claim")
    form = form_with(page, "community")
    form.locator("[name=community]").select_option(label=place["name"])
    form.get_by_role("button", name="Show the units of this community").click()
    form = form_with(page, "household")
    form.locator("select[name=household]").select_option(label="Building 3 2-201")
    form.get_by_role("button", name="Send my claim").click()
    expect(page).to_have_url(re.compile(r"/my/residency$"))
    expect(page.locator("main")).to_contain_text("Waiting for verification")
    assert residency_and_owner_of(live_server, phone)[:2] == ("pending", "201")
