"""Issue 8 in a phone browser: a proposal that passed and whose public notice ended (set up through the
services, with `now` in the past) becomes an agreed action — a committee member uses "Create action" on the
proposal page; the property company's staff post progress and complete it with a photo; a resident rates
the result; an official of the sub-district opens the dashboard, sees the actions' figures and exports XLSX."""
import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from PIL import Image
from playwright.sync_api import expect

from portal.extensions import db
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


def seed(live_server, label: str) -> dict:
    """Sub-district with an office (one official) and a community with a homeowners' committee (chair and
    member), a property company (one staff member) and a verified resident. A proposal went through a
    committee ballot twenty days ago; its notice ended: it is being implemented. A second action, created
    forty days ago by the chair, is overdue (so the dashboard has an overdue figure)."""
    from portal.actions import services as actions
    from portal.clock import utcnow
    from portal.notices import services as notices
    from portal.notices.models import Notice
    from portal.proposals import services as proposals
    from portal.votes import services as votes
    with live_server.app.app_context():
        sub_district = gen_sub_district(name=f"Riverside sub-district {label}", slug=f"riverside-{label}")
        community = gen_community(sub_district, name=f"Camphor Garden {label}", slug=f"camphor-{label}")
        office = gen_organization("subdistrict_office", sub_district=sub_district,
                                  name="Riverside sub-district office")
        hoa = gen_organization("homeowners_committee", community=community, name="Camphor homeowners' committee")
        property_company = gen_organization("property_company", community=community,
                                            name="Greenleaf Property Services")
        people = {"slug": community.slug, "zone": community.time_zone}
        accounts = {}
        for key, name, org, title in (("chair", "Chair Liu Min 刘敏", hoa, "chair"),
                                      ("member", "Member Zhao Qiang", hoa, "member"),
                                      ("staff", "Staff Huang Wei 黄伟", property_company, "member"),
                                      ("official", "Official Gao Jing 高静", office, "member")):
            person = gen_user(email=unique_email(f"action-{key}"), display_name=name, phone=unique_phone())
            gen_membership(person, org, title=title)
            accounts[key] = person
            people[key] = person.email
        resident = gen_user(email=unique_email("action-resident"), display_name="Resident Wang Fang 王芳",
                            phone=unique_phone())
        gen_residency(resident, community)
        people["resident"] = resident.email
        chair, member = accounts["chair"], accounts["member"]

        past = utcnow() - timedelta(days=20)
        proposal = proposals.create_proposal(
            chair, community, title="Repaint the fire lane by gate 2",
            summary="The red marking of the fire lane has faded; cars park on it. Repaint it and add signs.",
            body="## Cost\n\n8,000 yuan from the public revenue account.", category="facilities",
            publish=True, now=past)
        proposals.move_to_deliberation(chair, proposal, "The fire brigade asked for it.", now=past)
        ballot = votes.open_ballot(chair, proposal, method="committee", question="Repaint the fire lane?",
                                   opens_at=past, closes_at=past + timedelta(days=7), organization=hoa, now=past)
        yes = next(o for o in ballot.options if o.code == "yes")
        for person in (chair, member):
            votes.cast(person, ballot, yes.id, now=past + timedelta(hours=1))
        votes.close(chair, ballot, "Every member has voted.", now=past + timedelta(hours=2))
        notice = db.session.scalar(db.select(Notice).where(Notice.proposal_id == proposal.id))
        assert notices.apply_due(notice, now=utcnow()), "the notice period has ended"
        assert proposal.status == "implementing"

        long_ago = utcnow() - timedelta(days=40)
        start = long_ago.astimezone(ZoneInfo(community.time_zone)).date()
        actions.create_action(chair, community, source="proposal", proposal=proposal,
                              title="Put up no-parking signs by gate 2", responsible_org=property_company,
                              owner=accounts["staff"], due_date=start + timedelta(days=10), now=long_ago)
        db.session.commit()
        people["proposal"] = f"/c/{community.slug}/proposals/{proposal.id}"
        people["property_company"] = property_company.name
        people["due"] = (utcnow().astimezone(ZoneInfo(community.time_zone)).date()
                         + timedelta(days=21)).isoformat()
        return people


def action_state(live_server, action_id: int):
    from portal.actions.models import Action, ActionEvidence, ActionRating
    with live_server.app.app_context():
        action = db.session.get(Action, action_id)
        kinds = sorted(db.session.scalars(db.select(ActionEvidence.kind)
                                          .where(ActionEvidence.action_id == action_id)))
        ratings = list(db.session.scalars(db.select(ActionRating.satisfaction)
                                          .where(ActionRating.action_id == action_id)))
        return action.status, action.progress, kinds, ratings


def jpeg(color=(60, 140, 70)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


def signed_in_page(new_context, login, **options):
    page = new_context(**options).new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    return page


def test_a_passed_proposal_becomes_an_action_that_is_done_rated_and_counted(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    slug = place["slug"]

    # A committee member turns the implemented proposal into an action from the proposal page.
    member = signed_in_page(new_context, place["member"])
    visit(member, place["proposal"])
    member.locator("main").get_by_role("link", name="Create action").click()
    expect(member).to_have_url(re.compile(rf"/c/{slug}/actions/new\?.*source=proposal"))
    form = form_with(member, "responsible_org")
    expect(form.locator("[name=title]")).to_have_value("Repaint the fire lane by gate 2")
    form.locator("[name=description]").fill("Repaint the red marking and put up two signs.")
    for name, text in (("responsible_org", "Greenleaf Property Services"), ("owner", "Staff Huang Wei")):
        option = form.locator(f"[name={name}] option", has_text=text)
        form.locator(f"[name={name}]").select_option(option.get_attribute("value"))
    form.locator("[name=due_date]").fill(place["due"])
    form.locator("[name=budget]").fill("8000")
    form.locator("[name=funding_source]").fill("Public revenue account")
    capture(member, "action-new")
    form.get_by_role("button", name="Create the action").click()
    expect(member).to_have_url(re.compile(rf"/c/{slug}/actions/\d+$"))
    action_url = member.url
    action_id = int(action_url.rsplit("/", 1)[1])
    expect(member.locator("main h1")).to_have_text("Repaint the fire lane by gate 2")
    expect(member.locator("main .action-status").first).to_have_text("Planned")
    expect(member.locator("main .timeline .badge").first).to_have_text("Created")
    visit(member, place["proposal"])
    expect(member.locator("main .included-in")).to_contain_text("Repaint the fire lane by gate 2")

    # The property company's staff post progress with a photo, then complete it with a photo.
    staff = signed_in_page(new_context, place["staff"])
    visit(staff, action_url)
    staff.locator("#progress summary").click()
    progress = staff.locator("#progress form")
    # Screenshot before filling: after a full-page screenshot Chromium scrolls on the next mouse-down, and
    # the click would land on the summary above instead of the button.
    capture(staff, "action-progress-form")
    progress.locator("[name=progress-body]").fill("The old marking is scraped off; painting starts tomorrow.")
    progress.locator("[name=progress-percent]").fill("40")
    progress.locator("[name=progress-photos]").set_input_files(
        [{"name": "scraped.jpg", "mimeType": "image/jpeg", "buffer": jpeg((120, 120, 120))}])
    expect(progress.locator("[name=progress-photos]")).to_have_attribute("data-shrunk", "done")
    # photo-shrink.js looks at the photo in the browser first (this one is small: it stays as it is).

    progress.get_by_role("button", name="Post the progress").click()
    expect(staff).to_have_url(re.compile(rf"/c/{slug}/actions/{action_id}"))
    expect(staff.locator("main .timeline")).to_contain_text("painting starts tomorrow")
    expect(staff.locator("main .timeline .badge", has_text="Progress")).to_have_count(1)
    expect(staff.locator("main .action-status").first).to_have_text("In progress")
    assert action_state(live_server, action_id)[:3] == ("in_progress", 40, ["image"])

    staff.locator("#complete summary").click()
    complete = staff.locator("#complete form")
    complete.locator("[name=complete-note]").fill("The fire lane is repainted red and two signs are up.")
    complete.locator("[name=complete-photos]").set_input_files(
        [{"name": "done.jpg", "mimeType": "image/jpeg", "buffer": jpeg((200, 40, 40))}])
    expect(complete.locator("[name=complete-photos]")).to_have_attribute("data-shrunk", "done")
    complete.get_by_role("button", name="Mark as done").click()
    expect(staff.locator("main .action-status").first).to_have_text("Done")
    expect(staff.locator("main")).to_contain_text("The fire lane is repainted red")
    expect(staff.locator("main .timeline .badge", has_text="Completed")).to_have_count(1)
    expect(staff.locator("main .photo-grid img")).to_have_count(2)
    assert action_state(live_server, action_id)[:3] == ("done", 100, ["image", "image"])

    # A resident rates the result.
    resident = signed_in_page(new_context, place["resident"])
    visit(resident, action_url)
    rate = resident.locator("#rate")
    rate.get_by_label("Basically satisfied").check()
    rate.get_by_role("button", name="Send my rating").click()
    expect(resident.locator("#ratings")).to_contain_text("Basically satisfied: 1")
    assert action_state(live_server, action_id)[3] == ["basically_satisfied"]
    resident.locator("main h1").scroll_into_view_if_needed()
    capture(resident, "action-done-rated", docs="action")

    # The sub-district's official opens the dashboard: the overdue action of the property company shows.
    official = signed_in_page(new_context, place["official"])
    visit(official, "/dashboard")
    overdue = official.locator("#overdue-actions")
    expect(overdue).to_contain_text(place["property_company"])
    row = overdue.locator("tr", has_text=place["property_company"])
    expect(row).to_contain_text("1")
    expect(official.locator("#proposals")).to_contain_text("1")
    capture(official, "dashboard")
    overdue.scroll_into_view_if_needed()
    capture(official, "dashboard-overdue-actions", docs="dashboard")

    export = official.locator("#export")
    export.get_by_label("XLSX").check()
    with official.expect_download() as download_info:
        export.get_by_role("button", name="Export").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True)
    cells = [list(row) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]
    overdue_rows = [r for r in cells if place["property_company"] in r]
    assert overdue_rows, "the export has the property company's row"
    assert any(list(r[-2:]) == [1, 1] for r in overdue_rows), overdue_rows
