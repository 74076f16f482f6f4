"""Insight in a phone browser (390 px): a resident types a description and sees the suggested category and a
similar issue found by its words (电梯按钮失灵 finds 电梯停运: they share the word 电梯, not just characters);
an official picks the month's problem among the topics, opens a programme from it, and turns an expected rise
into a proactive action."""
from datetime import UTC, datetime, time

import pytest
from playwright.sync_api import expect

from tests.browser.flows import form_with, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_community,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_sub_district,
    gen_user,
)

pytestmark = pytest.mark.browser

CHARGING = ["楼道有人飞线充电", "电动车从窗口拉电线飞线充电", "又有飞线充电，电瓶车在楼下充",
            "楼下飞线充电电线挂在树上"]
LIFTS = ["电梯停运两天了", "电梯按钮失灵", "电梯困人，物业不来", "电梯异响很吓人"]


def seed_resident(live_server, label: str) -> dict:
    from portal.extensions import db
    from portal.issues import services
    with live_server.app.app_context():
        community = gen_community(name=f"南湖 {label}", slug=f"nanhu-{label}")
        neighbour = gen_user(email=unique_email("neighbour"), phone=unique_phone())
        gen_residency(neighbour, community)
        resident = gen_user(email=unique_email("resident"), phone=unique_phone())
        gen_residency(resident, community)
        categories = {c.code: c for c in services.ensure_default_categories(community)}
        services.report_issue(neighbour, community, category=categories["lift"], title="电梯停运")
        db.session.commit()
        return {"slug": community.slug, "resident": resident.email}


def seed_official(live_server, label: str) -> dict:
    """A sub-district whose last month had charging and lift issues in two communities (topics grouped), and a
    community with an expected lift rise this month."""
    from portal.extensions import db
    from portal.insight import services as insight
    from portal.insight import topics
    from portal.insight.models import Forecast
    from portal.issues import services
    with live_server.app.app_context():
        sub_district = gen_sub_district(name=f"望京 {label}", slug=f"wj-{label}")
        official = gen_user(email=unique_email("official"), phone=unique_phone())
        gen_membership(official, gen_organization("subdistrict_office", sub_district=sub_district), title="staff")
        communities = [gen_community(sub_district, name=f"社区{n} {label}", slug=f"wj-{label}-{n}") for n in (1, 2)]
        month = topics.sub_district_month(sub_district) - 1
        at = datetime.combine(insight.month_start(month).replace(day=12), time(4), UTC)
        for n, community in enumerate(communities):
            gen_organization("residents_committee", community=community)
            resident = gen_user(email=unique_email("r"), phone=unique_phone())
            gen_residency(resident, community)
            categories = {c.code: c for c in services.ensure_default_categories(community)}
            for title in CHARGING[n::2] + LIFTS[n::2]:
                services.report_issue(resident, community, title=title, now=at,
                                      category=categories["security" if "充电" in title else "lift"])
        topics.compute_topics(sub_district, month)
        first = communities[0]
        lift = next(c for c in services.ensure_default_categories(first) if c.code == "lift")
        db.session.add(Forecast(community_id=first.id, category_id=lift.id, month=insight.current_month(first),
                                expected=14, last_month=6, recent=6, method="glm", season_pct=140, trend_pct=3,
                                rise=True))
        db.session.commit()
        return {"official": official.email, "sub_district": sub_district.id}


def test_a_resident_sees_the_suggested_category_and_a_similar_issue_by_its_words(new_context, live_server):
    place = seed_resident(live_server, unique_phone()[-6:])
    page = new_context().new_page()
    sign_in(page, place["resident"], DEFAULT_PASSWORD)
    visit(page, f"/c/{place['slug']}/issues/new")
    form = form_with(page, "title")
    form.locator("[name=title]").press_sequentially("电梯按钮失灵", delay=40)
    expect(page.locator("#similar-issues")).to_contain_text("电梯停运")
    field = page.locator("#category-field")
    expect(field).to_contain_text("Suggested from what you wrote")
    expect(field).to_contain_text("Lift")
    capture(page, "insight-suggest-similar")


def test_an_official_picks_the_months_problem_opens_a_programme_and_acts_on_a_rise(new_context, live_server):
    place = seed_official(live_server, unique_phone()[-6:])
    page = new_context().new_page()
    sign_in(page, place["official"], DEFAULT_PASSWORD)
    visit(page, f"/dashboard?sub_district={place['sub_district']}")
    expect(page.locator("#topics")).to_contain_text("飞线充电")
    page.locator("#topics").get_by_role("link", name="Topics and the month's problem").click()
    topic = page.locator(".insight-topic", has_text="飞线充电")
    topic.get_by_role("button", name="Pick as the month's problem").click()
    topic = page.locator(".insight-topic", has_text="飞线充电")
    expect(topic).to_contain_text("The month's problem")
    capture(page, "insight-topics")
    topic.get_by_role("link", name="Open a programme").click()
    form = form_with(page, "name")
    form.locator("[name=name]").fill("飞线充电专项")
    form.get_by_role("button", name="Open the programme").click()
    expect(page.locator("h1")).to_contain_text("飞线充电专项")
    expect(page.locator("#figure svg")).to_be_visible()
    page.get_by_role("button", name="Create the action").click()
    expect(page.locator("h1")).to_contain_text("Programme: 飞线充电专项")
    visit(page, f"/sub-districts/{place['sub_district']}/topics")
    expect(page.locator(".insight-topic", has_text="飞线充电")).to_contain_text("Open programme")
    visit(page, f"/sub-districts/{place['sub_district']}/forecasts")
    page.get_by_role("button", name="Turn into a proactive action").first.click()
    expect(page.locator("h1")).to_contain_text("Before the complaints come")
    capture(page, "insight-rise-action")
