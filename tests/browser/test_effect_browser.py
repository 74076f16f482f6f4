"""Did it work, rankings and public statistics on a phone (390 px): the page itself never scrolls sideways
(a wide table scrolls inside its own labelled region), every table has a caption, a visitor reads a
community's statistics in Chinese and an official the rankings."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.flows import sign_in, unique_email, unique_phone, visit
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


def seed(live_server, label: str) -> dict:
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.issues import services as issues
    with live_server.app.app_context():
        sub_district = gen_sub_district(name=f"望京街道 {label}", slug=f"eff-{label}")
        official = gen_user(email=unique_email("eff-official"), display_name="高静", phone=unique_phone(),
                            locale="en")
        gen_membership(official, gen_organization("subdistrict_office", sub_district=sub_district), title="member")
        slugs = []
        for n, name in enumerate((f"花家地社区 {label}", f"南湖东园社区 {label}")):
            community = gen_community(sub_district, name=name, slug=f"eff-{label}-{n}")
            household = gen_household(gen_building(community, code="1", name="1号楼"), entrance="1", room="0101")
            categories = issues.ensure_default_categories(community)
            resident = gen_user(email=unique_email("eff-resident"), phone=unique_phone())
            gen_residency(resident, household=household)
            db.session.flush()
            for i, category in enumerate(categories[:8]):
                issues.report_issue(resident, community, category=category, title=f"诉求 {i}",
                                    now=utcnow() - timedelta(days=35 * (i % 4)))
            slugs.append(community.slug)
        db.session.commit()
        return {"official": official.email, "sub_district": sub_district.id, "slug": slugs[0]}


def _page_sideways(page) -> list[str]:
    """The page wider than the screen, or anything reaching past its right edge outside a scroll region."""
    return page.evaluate("""() => {
        const out = [];
        if (document.documentElement.scrollWidth > innerWidth) out.push('page ' + document.documentElement.scrollWidth);
        for (const e of document.querySelectorAll('main *')) {
            if (e.closest('.dash-table-wrap') || e.closest('.visually-hidden')) continue;
            const right = e.getBoundingClientRect().right;
            if (right > innerWidth + 0.5) out.push(e.tagName.toLowerCase() + '.' + e.className + ' right ' + right);
        }
        return out.slice(0, 10);
    }""")


def test_a_visitor_reads_the_statistics_and_an_official_the_rankings_on_a_phone(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    page = new_context(locale="zh-CN").new_page()
    visit(page, f"/c/{place['slug']}/statistics")
    expect(page.locator("h1")).to_contain_text("居务公开统计")
    assert page.locator("table").count() == page.locator("table > caption").count() >= 3
    assert _page_sideways(page) == []
    official = new_context().new_page()
    sign_in(official, place["official"], DEFAULT_PASSWORD)
    visit(official, f"/sub-districts/{place['sub_district']}/rankings?by=demand")
    expect(official.locator("#rank-community caption")).to_be_visible()
    expect(official.locator("#rank-community tbody tr")).to_have_count(2)
    assert _page_sideways(official) == []
