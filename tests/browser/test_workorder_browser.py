"""The 12345 work order on a phone (390 px), end to end (issue #20): a hotline request arrives by Open311, the
property staff sign for it and ask for two more days, the sub-district office approves, the staff resolve
it with the closure report, the office's return visit records "basically satisfied", and the dashboard's
satisfaction rate moves from 0 of 1 to 1 of 2."""
import re
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
    gen_residency,
    gen_sub_district,
    gen_user,
)

pytestmark = pytest.mark.browser


def seed(live_server) -> dict:
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.issues import services as issues
    from portal.open311 import services as open311
    with live_server.app.app_context():
        n = unique_phone()[-6:]
        sub_district = gen_sub_district(name=f"望京街道 {n}", slug=f"wo-sd-{n}")
        office = gen_organization("subdistrict_office", sub_district=sub_district, name="望京街道办事处")
        official = gen_user(email=unique_email("wo-official"), display_name="高静", phone=unique_phone(), locale="en")
        gen_membership(official, office)
        community = gen_community(sub_district, name=f"花家地社区 {n}", slug=f"wo-{n}")
        company = gen_organization("property_company", community=community, name="花家地物业")
        staff = gen_user(email=unique_email("wo-staff"), display_name="李师傅", phone=unique_phone(), locale="en")
        gen_membership(staff, company)
        categories = {c.code: c for c in issues.ensure_default_categories(community)}
        categories["lift"].default_org_id = company.id
        resident = gen_user(email=unique_email("wo-resident"), phone=unique_phone())
        gen_residency(resident, community)
        db.session.flush()
        # One resident's issue, rated dissatisfied after its reopening: satisfaction 0 of 1 before.
        now = utcnow() - timedelta(hours=2)
        earlier = issues.report_issue(resident, community, category=categories["lift"], title="电梯异响", now=now)
        issues.accept_issue(staff, earlier, now=now)
        issues.resolve_issue(staff, earlier, "已修", now=now)
        earlier.reopen_count = 1
        issues.rate_issue(resident, earlier, resolved=False, satisfaction="dissatisfied", now=now)
        admin = gen_user(email=unique_email("wo-admin"), is_admin=True)
        _key, token = open311.create_key(admin, name="12345 热线", communities=[community])
        db.session.commit()
        return {"official": official.email, "staff": staff.email, "slug": community.slug, "token": token,
                "zone": community.time_zone}


def satisfaction(page) -> str:
    """The overall row's satisfaction figures, "numerator denominator percent"."""
    visit(page, "/dashboard")
    row = page.locator("table", has=page.locator("caption", has_text="The three rates")).locator("tbody tr").first
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    return " ".join(cells[-3:])


def test_a_hotline_work_order_from_open311_to_the_return_visit(live_server, page):
    seeded = seed(live_server)
    response = page.request.post(f"{live_server.url}/open311/v2/requests.json", form={
        "api_key": seeded["token"], "jurisdiction_id": seeded["slug"], "service_code": "lift",
        "address_string": "3号楼东侧", "description": "电梯停在5层不动", "phone": "13912345678"})
    assert response.status in (200, 201), response.text()
    issue_id = int(response.json()[0]["service_request_id"])
    path = f"/c/{seeded['slug']}/issues/{issue_id}"

    sign_in(page, seeded["official"], DEFAULT_PASSWORD)
    assert satisfaction(page) == "0 1 0.0"
    sign_out(page)

    sign_in(page, seeded["staff"], DEFAULT_PASSWORD)
    visit(page, path)
    expect(page.get_by_text("Waiting to be signed for")).to_be_visible()
    capture(page, "workorder-waiting")
    submit(form_with(page, "sign-note"))
    expect(page.get_by_text("The work order is signed for; the hotline is told.")).to_be_visible()
    page.get_by_text("Ask for more time", exact=True).first.click()
    form = form_with(page, "extension-reason")
    form.locator("[name='extension-reason']").fill("需要等电梯配件")
    with live_server.app.app_context():
        from zoneinfo import ZoneInfo

        from portal.extensions import db
        from portal.issues.models import Issue
        resolve_by = db.session.get(Issue, issue_id).resolve_by
    day = (resolve_by.astimezone(ZoneInfo(seeded["zone"] or "Asia/Shanghai")) + timedelta(days=2)).date()
    form.locator("[name='extension-proposed']").fill(day.isoformat())
    submit(form)
    expect(page.get_by_text("Your request for more time is sent to the sub-district office.")).to_be_visible()
    sign_out(page)

    sign_in(page, seeded["official"], DEFAULT_PASSWORD)
    visit(page, path)
    form = form_with(page, "extdecision-decision")
    form.locator("[name='extdecision-decision'][value='approve']").check()
    capture(page, "workorder-extension")
    submit(form)
    expect(page.get_by_text("The request for more time is decided.")).to_be_visible()
    expect(page.get_by_text(re.compile("Resolve by moved from"))).to_be_visible()
    sign_out(page)

    sign_in(page, seeded["staff"], DEFAULT_PASSWORD)
    visit(page, path)
    page.locator("summary", has_text=re.compile("^Resolve$")).click()
    form = form_with(page, "resolve-note")
    form.locator("[name='resolve-note']").fill("更换了控制板，电梯恢复运行")
    form.locator("[name='resolve-caller_contacted'][value='yes']").check()
    form.locator("[name='resolve-contact_method'][value='phone']").check()
    submit(form)
    expect(page.get_by_text("The issue is resolved; the reporter is asked to rate it.")).to_be_visible()
    sign_out(page)

    sign_in(page, seeded["official"], DEFAULT_PASSWORD)
    visit(page, path)
    form = form_with(page, "visit-contacted")
    form.locator("[name='visit-contacted'][value='yes']").check()
    form.locator("[name='visit-solved'][value='yes']").check()
    form.locator("[name='visit-satisfaction'][value='basically_satisfied']").check()
    form.locator("[name='visit-words']").fill("修好了，还可以")
    capture(page, "workorder-return-visit")
    submit(form)
    expect(page.get_by_text("The return visit is recorded.")).to_be_visible()
    assert satisfaction(page) == "1 2 50.0"
