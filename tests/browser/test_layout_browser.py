"""Issue 16, phone layout, measured in Chromium at 390×844: the header is one row for every role (its menu
opens without JavaScript), the first issue of a list is on the first screen, stand-alone links are 44px
targets, the notification centre's groups show their disclosure arrow."""
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import open_menu, press_switch, sign_in, sign_out, unique_email, unique_phone, visit
from tests.browser.screens import capture, small_targets
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_sub_district,
    gen_user,
)

pytestmark = pytest.mark.browser

HEADER_LIMIT = 110  # px of an 844px screen: "about 100"
SCREEN_HEIGHT = 844


def seed(live_server, label: str) -> dict:
    """A community with a person of each role, and issues the property company has accepted and updated."""
    from portal.issues import services
    with live_server.app.app_context():
        sub_district = gen_sub_district(name=f"Wangjing {label}", slug=f"wj-{label}")
        community = gen_community(sub_district, name=f"Lotus Court {label}", slug=f"lotus-{label}")
        building = gen_building(community, code="B1", name="Building 1")
        people = {}

        def person(role, **fields):
            user = gen_user(email=unique_email(role.replace(" ", "-")), display_name=f"{role.title()} 王", **fields)
            people[role] = user.email
            return user

        resident = person("resident", phone=unique_phone())
        gen_residency(resident, household=gen_household(building, entrance="1", room="0101"))
        gen_membership(person("committee chair"),
                       gen_organization("residents_committee", community=community), title="chair")
        staff = person("property staff")
        gen_membership(staff, gen_organization("property_company", community=community), title="staff")
        gen_membership(person("official"), gen_organization("subdistrict_office", sub_district=sub_district),
                       title="staff")
        person("admin", is_admin=True)
        categories = {c.code: c for c in services.ensure_default_categories(community)}
        issues = [services.report_issue(resident, community, category=categories["lift"], building=building,
                                        title=f"Lift in building 1 stops between floors ({n})") for n in range(4)]
        db.session.commit()
        services.accept_issue(staff, issues[0])
        services.post_update(staff, issues[0], "The lift company comes at 14:00 today.")
        db.session.commit()
        return {"slug": community.slug, "people": people, "issue": issues[0].id}


def header_height(page) -> float:
    return page.evaluate("document.querySelector('header').getBoundingClientRect().height")


def signed_in(new_context, login, **options):
    page = new_context(**options).new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    return page


ROLES = ["resident", "committee chair", "property staff", "official", "admin"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_header_is_one_short_row_for_every_role(new_context, live_server, language):
    place = seed(live_server, unique_phone()[-6:])
    heights = {}
    for role in ROLES:
        page = signed_in(new_context, place["people"][role])
        if language == "zh":
            press_switch(page, "language", "zh")
        for path in ("/", f"/c/{place['slug']}/issues"):
            visit(page, path)
            heights[f"{role} {path}"] = header_height(page)
        capture(page, f"layout-header-{language}-{role.replace(' ', '-')}")
        # The menu opens without JavaScript being needed for it, over the page, and holds sign-out.
        open_menu(page)
        expect(page.locator("header").get_by_role("button", name=re.compile("Sign out|退出"))).to_be_visible()
        capture(page, f"layout-menu-{language}-{role.replace(' ', '-')}")
    too_tall = {k: v for k, v in heights.items() if v > HEADER_LIMIT}
    assert not too_tall, f"headers taller than {HEADER_LIMIT}px at 390px: {too_tall}"


def test_the_header_stays_short_in_larger_text_and_for_visitors(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    visitor = new_context().new_page()
    visit(visitor, "/")
    assert header_height(visitor) <= HEADER_LIMIT
    elder = signed_in(new_context, place["people"]["resident"])
    press_switch(elder, "large", "1")
    expect(elder.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))
    assert header_height(elder) <= HEADER_LIMIT, header_height(elder)
    capture(elder, "layout-header-large-text")


def test_the_menu_works_without_javascript(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, place["people"]["committee chair"], DEFAULT_PASSWORD)
    open_menu(page)
    expect(page.locator("header").get_by_role("link", name="My account")).to_be_visible()
    sign_out(page)


def test_the_first_issue_is_on_the_first_screen_and_the_filters_fold(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    page = signed_in(new_context, place["people"]["resident"])
    visit(page, f"/c/{place['slug']}/issues")
    first = page.locator(".issue-row").first
    box = first.bounding_box()
    assert box["y"] + min(box["height"], 60) <= SCREEN_HEIGHT, f"the first issue starts at {box['y']}px"
    expect(page.locator("select[name=status]")).to_be_hidden()
    capture(page, "layout-issue-list")

    # Opening the filters (no script needed) and choosing one keeps them open on the answer.
    page.locator("details.filter-fold > summary").click()
    page.locator("select[name=status]").select_option("open")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    expect(page.locator("details.filter-fold")).to_have_attribute("open", "")
    expect(page.locator("details.filter-fold > summary")).to_contain_text("(1 chosen)")
    capture(page, "layout-issue-list-filtered")


def test_stand_alone_links_are_44px_targets(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    visitor = new_context().new_page()
    for path in ("/login", "/forgot-password", "/register", f"/c/{place['slug']}/issues/{place['issue']}"):
        visit(visitor, path)
        assert not small_targets(visitor), (path, small_targets(visitor))
    resident = signed_in(new_context, place["people"]["resident"])
    for path in ("/", f"/c/{place['slug']}/issues", f"/c/{place['slug']}/issues/{place['issue']}",
                 "/notifications/", "/account"):
        visit(resident, path)
        assert not small_targets(resident), (path, small_targets(resident))
    # Focus stays visible on a link made taller.
    visit(visitor, "/login")
    link = visitor.get_by_role("link", name="Forgot your password?")
    link.focus()
    outline = link.evaluate("e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineWidth")
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline


def test_the_notification_centre_groups_show_their_disclosure_arrow(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    page = signed_in(new_context, place["people"]["resident"])
    visit(page, "/notifications/")
    summary = page.locator("details.notification-earlier > summary").first
    expect(summary).to_be_visible()
    arrow = summary.evaluate("""e => {
        const before = getComputedStyle(e, '::before');
        return {display: getComputedStyle(e).display, content: before.content, width: parseFloat(before.width),
                border: before.borderRightStyle};
    }""")
    shows_marker = arrow["display"] == "list-item" or (
        arrow["content"] not in ("none", "normal") and arrow["width"] > 0 and arrow["border"] == "solid")
    assert shows_marker, arrow
    closed = summary.evaluate("e => getComputedStyle(e, '::before').transform")
    summary.click()
    expect(page.locator("details.notification-earlier").first).to_have_attribute("open", "")
    assert summary.evaluate("e => getComputedStyle(e, '::before').transform") != closed  # it turns when open
    capture(page, "layout-notifications-open")
