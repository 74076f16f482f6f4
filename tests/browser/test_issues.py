"""Issue 4 in a phone browser: a verified resident reports a broken lift with a photo and sees a similar
issue while typing; the property company's staff accept and resolve it with a photo; the resident rates
the result. A second test does the report and "me too" with JavaScript off."""
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import form_with, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)

pytestmark = pytest.mark.browser


def seed(live_server, label: str) -> dict:
    """A community with a property company (staff member), two verified residents and one open issue."""
    from portal.issues import services
    with live_server.app.app_context():
        community = gen_community(name=f"Peony Court {label}", slug=f"peony-{label}")
        building = gen_building(community, code="B5", name="Building 5")
        staff = gen_user(email=unique_email("property"), display_name="Manager Li")
        gen_membership(staff, gen_organization("property_company", community=community,
                                               name="Peony Property Services"), title="staff")
        resident = gen_user(email=unique_email("resident"), display_name="Wang Fang 王芳", phone=unique_phone())
        gen_residency(resident, household=gen_household(building, entrance="1", room="0301"))
        neighbour = gen_user(email=unique_email("neighbour"), display_name="Neighbour Zhao", phone=unique_phone())
        gen_residency(neighbour, household=gen_household(building, entrance="1", room="0302"))
        categories = {c.code: c for c in services.ensure_default_categories(community)}
        existing = services.report_issue(neighbour, community, category=categories["lift"],
                                         title="Lift stuck between floors 2 and 3", building=building)
        db.session.commit()
        return {"slug": community.slug, "staff": staff.email, "resident": resident.email,
                "neighbour": neighbour.email, "existing": existing.id, "existing_title": existing.title}


def photo_file(tmp_path, name: str, colour) -> str:
    path = tmp_path / name
    Image.new("RGB", (2400, 1800), colour).save(path, "JPEG", quality=90)
    return str(path)


def issue_state(live_server, issue_id: int):
    from portal.issues.models import Issue
    with live_server.app.app_context():
        issue = db.session.get(Issue, issue_id)
        return issue.status, len(issue.photos), issue.rating_satisfaction, issue.title


def test_report_similar_accept_resolve_and_rate(new_context, live_server, tmp_path):
    place = seed(live_server, unique_phone()[-6:])
    slug = place["slug"]

    # The resident starts a report; while the title is typed, the similar open issue shows up.
    resident = new_context().new_page()
    sign_in(resident, place["resident"], DEFAULT_PASSWORD)
    visit(resident, f"/c/{slug}/issues/new")
    form = form_with(resident, "title")
    form.locator("[name=title]").press_sequentially("Lift stuck", delay=30)
    similar = resident.locator("#similar-issues")
    expect(similar).to_contain_text(place["existing_title"])
    expect(similar.get_by_role("button", name=re.compile("Me too"))).to_be_visible()
    capture(resident, "issue-report-similar")

    # It is a different lift problem: report it anyway, with a photo.
    form.locator("[name=title]").fill("Lift door in building 5 does not close")
    form.locator("[name=description]").fill("The door of the left lift bounces back open on every floor.")
    form.locator("[name=category]").select_option(label="Lift")
    form.locator("[name=building]").select_option(label="Building 5")
    form.locator("[name=location_text]").fill("Entrance 1, left lift")
    form.locator("[name=photos]").set_input_files(photo_file(tmp_path, "door.jpg", (120, 140, 160)))
    # photo-shrink.js shrinks the photo in the browser, then sets the input's files again.
    expect(form.locator("[name=photos]")).to_have_attribute("data-shrunk", "done")
    capture(resident, "issue-report")
    form.get_by_role("button", name="Send the issue").click()
    expect(resident).to_have_url(re.compile(rf"/c/{slug}/issues/\d+$"))
    issue_id = int(resident.url.rsplit("/", 1)[1])
    expect(resident.locator("main h1")).to_contain_text("Lift door in building 5 does not close")
    expect(resident.locator("main .issue-status")).to_have_text("Submitted")
    expect(resident.locator("main .photo-grid img")).to_have_count(1)
    capture(resident, "issue-reported", docs="issue")
    assert issue_state(live_server, issue_id)[:2] == ("submitted", 1)

    # The property company's staff accept it and resolve it with a photo of the repair.
    staff = new_context().new_page()
    sign_in(staff, place["staff"], DEFAULT_PASSWORD)
    visit(staff, "/handling")
    expect(staff.locator("main")).to_contain_text("Lift door in building 5 does not close")
    capture(staff, "issue-queue")
    staff.locator("main").get_by_role("link", name=re.compile("Lift door in building 5")).click()
    expect(staff.locator("main")).to_contain_text("Wang Fang 王芳")  # handlers see who reported
    capture(staff, "issue-handler")
    staff.locator("main [name='accept-note']").fill("We will send the lift company today.")
    staff.locator("main").get_by_role("button", name="Accept", exact=True).click()
    expect(staff.locator("main .issue-status")).to_have_text("Accepted")
    staff.locator("main summary", has_text="Resolve").click()
    resolve = form_with(staff, "resolve-note")
    resolve.locator("[name='resolve-note']").fill("The door sensor was replaced.")
    resolve.locator("[name='resolve-photos']").set_input_files(photo_file(tmp_path, "fixed.jpg", (40, 160, 90)))
    expect(resolve.locator("[name='resolve-photos']")).to_have_attribute("data-shrunk", "done")
    resolve.get_by_role("button", name="Mark as resolved").click()
    expect(staff.locator("main .issue-status")).to_have_text("Resolved")
    capture(staff, "issue-resolved")
    assert issue_state(live_server, issue_id)[:2] == ("resolved", 2)

    # The resident sees the resolution and rates it.
    visit(resident, f"/c/{slug}/issues/{issue_id}")
    expect(resident.locator("main .timeline")).to_contain_text("The door sensor was replaced.")
    rate = form_with(resident, "rate-satisfaction")
    rate.get_by_label("Yes").check()
    rate.get_by_label("Satisfied", exact=True).check()
    rate.locator("[name='rate-comment']").fill("Quick and clean, thank you.")
    capture(resident, "issue-rate")
    rate.get_by_role("button", name="Send my answer").click()
    expect(resident.locator("main .issue-status")).to_have_text("Closed")
    capture(resident, "issue-closed")
    assert issue_state(live_server, issue_id)[:3] == ("closed", 2, "satisfied")


def test_similar_issues_and_me_too_without_javascript(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, place["resident"], DEFAULT_PASSWORD)
    visit(page, f"/c/{place['slug']}/issues/new")
    form = form_with(page, "title")
    form.locator("[name=title]").fill("lift stuck")
    form.get_by_role("button", name="Check for similar issues").click()
    similar = page.locator("#similar-issues")
    expect(similar).to_contain_text(place["existing_title"])
    expect(page.locator("[name=title]")).to_have_value("lift stuck")
    capture(page, "issue-similar-no-js")
    similar.get_by_role("button", name=re.compile("Me too")).click()
    expect(page).to_have_url(re.compile(rf"/issues/{place['existing']}$"))
    expect(page.locator("main .support")).to_contain_text("1 person has this problem too")
    expect(page.locator("main .support")).to_contain_text("You support this issue")
