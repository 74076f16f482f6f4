"""Whistle-blowing on an agreed action on a phone (390 px), issue #20: the sub-district office summons a
department to an action with a reason; the department's staff report in with a date; the commitment shows as
a step of the action under the department, and the report-in on the summons."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.flows import form_with, sign_in, sign_out, submit, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_community,
    gen_membership,
    gen_organization,
    gen_sub_district,
    gen_user,
)

pytestmark = pytest.mark.browser


def seed(live_server) -> dict:
    from portal.actions import services
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.places.models import Building
    with live_server.app.app_context():
        n = unique_phone()[-6:]
        sub_district = gen_sub_district(name=f"望京街道 {n}", slug=f"wh-sd-{n}")
        office = gen_organization("subdistrict_office", sub_district=sub_district, name="望京街道办事处")
        official = gen_user(email=unique_email("wh-official"), display_name="高静", phone=unique_phone(), locale="en")
        gen_membership(official, office)
        department = gen_organization("department", sub_district=sub_district, name="城管执法科")
        clerk = gen_user(email=unique_email("wh-clerk"), display_name="刘军", phone=unique_phone(), locale="en")
        gen_membership(clerk, department)
        community = gen_community(sub_district, name=f"花家地社区 {n}", slug=f"wh-{n}")
        company = gen_organization("property_company", community=community, name="花家地物业")
        from portal.issues import services as issues
        lighting = {c.code: c for c in issues.ensure_default_categories(community)}["lighting"]
        building = Building(community=community, code="B3", name="3号楼")
        db.session.add(building)
        db.session.flush()
        now = utcnow()
        action = services.create_action(
            official, community, source="hotspot", title="3号楼楼道照明集中整治", responsible_org=company,
            due_date=services.local_date(community, now) + timedelta(days=20),
            hotspot={"building": building, "category": lighting,
                     "month": services.local_date(community, now).strftime("%Y-%m")}, now=now)
        db.session.commit()
        return {"official": official.email, "clerk": clerk.email,
                "path": f"/c/{community.slug}/actions/{action.id}", "department": department.id}


def test_the_office_summons_a_department_that_reports_in_with_a_step(live_server, page):
    seeded = seed(live_server)
    sign_in(page, seeded["official"], DEFAULT_PASSWORD)
    visit(page, seeded["path"])
    page.locator("summary", has_text="Blow the whistle").click()
    form = form_with(page, "whistle-reason")
    form.locator("[name='whistle-organizations']").select_option(str(seeded["department"]))
    form.locator("[name='whistle-reason']").fill("楼道堆物需要城管执法配合清理")
    submit(form)
    expect(page.get_by_text("The organizations are summoned and told when to report in.")).to_be_visible()
    expect(page.get_by_text("waiting for the report")).to_be_visible()
    sign_out(page)

    sign_in(page, seeded["clerk"], DEFAULT_PASSWORD)
    visit(page, seeded["path"])
    form = form_with(page, "reportin-attendee")
    form.locator("[name='reportin-attendee']").fill("科室工作人员 刘军")
    form.locator("[name='reportin-action']").fill("清理楼道堆物")
    form.locator("[name='reportin-action_due']").fill("2099-01-02")
    submit(form)
    expect(page.get_by_text("You have reported in; the joint handling is on the timeline.")).to_be_visible()
    steps = page.locator("section", has=page.locator("#steps-heading"))
    expect(steps.get_by_role("heading", name="城管执法科")).to_be_visible()
    expect(steps.get_by_role("link", name="城管执法科: 清理楼道堆物")).to_be_visible()
    expect(page.locator("#summonses").get_by_text("Who comes: 科室工作人员 刘军")).to_be_visible()
    expect(page.locator(".timeline").get_by_text("Who comes: 科室工作人员 刘军")).to_be_visible()
    capture(page, "action-whistle")
