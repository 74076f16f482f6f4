"""The officials' dashboard on a phone (390 px), in Chinese and English: nothing scrolls sideways — neither the
page nor any box inside it — each rate shows as one line with its numerator and denominator, the chart's
labels do not overlap, and the ballot-participation rows are whole."""
import pytest
from playwright.sync_api import expect

from tests.browser.flows import sign_in, unique_email, unique_phone, visit
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

LONG_NAME = "住宅小区公共设施及电梯维修养护管理（含加装电梯后续维保）"


def seed(live_server, label: str, language: str) -> dict:
    """A sub-district with an official, two communities with long names, issues in several categories (one
    category renamed very long), so every table of the dashboard has rows."""
    from portal.issues import services as issues
    with live_server.app.app_context():
        from portal.extensions import db
        sub_district = gen_sub_district(name=f"望京街道 {label}", slug=f"wangjing-{label}")
        office = gen_organization("subdistrict_office", sub_district=sub_district, name="望京街道办事处")
        official = gen_user(email=unique_email("dash-official"), display_name="高静", phone=unique_phone(),
                            locale="en")
        gen_membership(official, office, title="member")
        for n, name in enumerate((f"花家地社区居民委员会辖区 {label}", f"南湖东园社区 {label}")):
            community = gen_community(sub_district, name=name, slug=f"dash-{label}-{n}")
            categories = issues.ensure_default_categories(community)
            categories[0].name = LONG_NAME
            resident = gen_user(email=unique_email("dash-resident"), phone=unique_phone())
            gen_residency(resident, community)
            db.session.flush()
            for i, category in enumerate(categories[:5] * 2):
                issues.report_issue(resident, community, category=category,
                                    title=f"Issue {i} with a rather long title that goes on")
        db.session.commit()
        return {"official": official.email}


def _speak(live_server, email: str, language: str) -> None:
    """After signing in (the sign-in helper reads English): the person's chosen language from now on."""
    from portal.auth.models import User
    from portal.extensions import db
    with live_server.app.app_context():
        db.session.scalar(db.select(User).where(User.email == email)).locale = language
        db.session.commit()


def _sideways(page) -> list[str]:
    """Whatever is wider than the screen or scrolls sideways inside: the page, or any box on it."""
    return page.evaluate("""() => {
        const out = [];
        if (document.documentElement.scrollWidth > innerWidth) out.push('page ' + document.documentElement.scrollWidth);
        for (const e of document.querySelectorAll('main *')) {
            if (e.closest('.visually-hidden') || e.matches('.visually-hidden, thead, thead *, caption')) continue;
            const style = getComputedStyle(e);
            if (style.position === 'absolute' && style.clip !== 'auto') continue;
            if (e.scrollWidth > e.clientWidth + 1 && style.overflowX !== 'visible' && style.overflowX !== 'hidden')
                out.push(e.tagName.toLowerCase() + '.' + e.className + ' ' + e.scrollWidth + '/' + e.clientWidth);
            const right = e.getBoundingClientRect().right;
            if (right > innerWidth + 0.5) out.push(e.tagName.toLowerCase() + '.' + e.className + ' right ' + right);
        }
        return out.slice(0, 10);
    }""")


def _labels_overlap(page, chart_id: str) -> list[str]:
    return page.evaluate("""(id) => {
        const boxes = [...document.querySelectorAll('#' + id + ' text')]
          .map(t => [t.textContent, t.getBoundingClientRect()]);
        const out = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const [a, p] = boxes[i], [b, q] = boxes[j];
            if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5)
                out.push(a + ' / ' + b);
        }
        const svg = document.getElementById(id).getBoundingClientRect();
        for (const [t, r] of boxes) if (r.left < svg.left - 0.5 || r.right > svg.right + 0.5) out.push(t + ' outside');
        return out;
    }""", chart_id)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_dashboard_fits_a_phone_without_sideways_scrolling(new_context, live_server, locale):
    place = seed(live_server, unique_phone()[-6:] + locale[:2], locale[:2])
    page = new_context().new_page()
    sign_in(page, place["official"], DEFAULT_PASSWORD)
    _speak(live_server, place["official"], locale[:2])
    visit(page, "/dashboard")
    expect(page.locator("#rates-overall")).to_be_visible()
    assert _sideways(page) == []
    # each rate: one line, its name, numerator / denominator and the percentage side by side
    line = page.locator("#rates-overall tbody tr").first
    numerator = line.locator("td.dash-num").first
    denominator = line.locator("td.dash-den").first
    percent = line.locator("td.dash-pct").first

    def middle(cell):
        box = cell.bounding_box()
        return box["y"] + box["height"] / 2
    assert abs(middle(denominator) - middle(numerator)) < 4 and abs(middle(percent) - middle(numerator)) < 4
    assert denominator.bounding_box()["x"] > numerator.bounding_box()["x"]
    for chart in ("chart-trend", "chart-categories"):
        assert _labels_overlap(page, chart) == [], chart
    # the chart's smallest label reads at 12 px or more on the phone
    size = page.evaluate("""() => { const t = document.querySelector('#chart-trend .chart-axis-label');
        return t.getBoundingClientRect().height; }""")
    assert size >= 12
    capture(page, f"dashboard-phone-{locale[:2]}", docs="dashboard-zh" if locale == "zh-CN" else None)


def test_audit_log_reads_like_a_log_on_a_phone(new_context, live_server):
    """The audit log at 390 px in Chinese: translated actions, objects as links, details as text, no
    sideways scrolling, pages of 50 with an "older" link."""
    from portal.audit.services import record
    from portal.extensions import db
    label = unique_phone()[-6:]
    with live_server.app.app_context():
        admin = gen_user(email=unique_email("audit-admin"), display_name="平台管理员", is_admin=True, locale="en")
        sub_district = gen_sub_district(name=f"望京街道 {label}", slug=f"audit-{label}")
        community = gen_community(sub_district, name="花家地社区", slug=f"audit-c-{label}")
        org = gen_organization(community=community, name="花家地社区居民委员会")
        member = gen_user(email=unique_email("audit-member"), display_name="居委会委员王芳")
        for n in range(60):
            record(member, "organization.created", org, reason="居民代表会议决定成立，负责本社区加装电梯的协调工作",
                   personal=n % 2 == 0, ids=[n, n + 1])
        db.session.commit()
        login, org_id = admin.email, org.id
    page = new_context().new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    _speak(live_server, login, "zh")
    visit(page, "/admin/audit/?action=organization.")
    page.locator(".audit-filters summary").click()  # fold the filters for the picture
    expect(page.locator(".audit-entry").first).to_contain_text("创建了组织")
    expect(page.locator(".audit-entry").first.get_by_role("link", name=f"组织 #{org_id}")).to_be_visible()
    expect(page.locator(".audit-entry")).to_have_count(50)
    assert _sideways(page) == []
    assert "\\u" not in page.locator("main").inner_text()
    capture(page, "audit-log-zh", docs="audit-zh")
    page.get_by_role("link", name="较早").click()
    expect(page.locator(".audit-entry").first).to_be_visible()
