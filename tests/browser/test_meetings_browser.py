"""Issue 7 in a phone browser: the chair of a homeowners' committee schedules a meeting, adds the proposal to
the agenda with the search picker, records attendance (the quorum shows), writes the minutes, and another
member approves and publishes them; the meeting decides to open a ballot (the votes area takes over); the
committee votes and the ballot closes, which publishes a notice (公示); the notice page and its print view
are opened, and the print view is screenshotted at A4 size with print media."""
import io
import os
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import form_with, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import DOCS, SCREENSHOTS, capture, small_targets
from tests.factories import DEFAULT_PASSWORD, gen_community, gen_membership, gen_organization, gen_user

pytestmark = pytest.mark.browser

A4 = {"width": 794, "height": 1123}  # 210 × 297 mm at 96 dpi


def seed(live_server, label: str) -> dict:
    """A community with a homeowners' committee (chair and two members) and a proposal in consultation."""
    from portal.proposals import services as proposals
    with live_server.app.app_context():
        community = gen_community(name=f"Peony Court {label}", slug=f"peony-{label}")
        hoa = gen_organization("homeowners_committee", community=community, name="Peony Court homeowners' committee")
        people = {"slug": community.slug, "org_id": hoa.id, "zone": community.time_zone}
        for key, name, title in (("chair", "Chair Liu Min 刘敏", "chair"), ("member", "Member Zhao Qiang", "member"),
                                 ("member2", "Member Sun Li", "member")):
            person = gen_user(email=unique_email(f"meeting-{key}"), display_name=name, phone=unique_phone())
            gen_membership(person, hoa, title=title)
            people[key] = person.email
            people[f"{key}_id"] = person.id
        chair = db.session.get(type(person), people["chair_id"])
        proposal = proposals.create_proposal(
            chair, community, title="Install bicycle racks by gate 2",
            summary="Bicycles block the fire lane by gate 2. Put up racks for forty bicycles.",
            body="## Cost\n\n12,000 yuan from the public revenue account.", category="facilities", publish=True)
        proposals.move_to_deliberation(chair, proposal, "The fire brigade asked for the lane to be cleared.")
        db.session.commit()
        people["proposal_id"] = proposal.id
        return people


def committee_votes_and_closes(live_server, place) -> int:
    """The votes area's part (tested in tests/browser/test_votes_browser.py): the committee's ballot on the
    proposal, two yes votes, closed early by the chair. Closing it starts the notice. Returns its id."""
    from portal.auth.models import User
    from portal.clock import utcnow
    from portal.committees.models import Organization
    from portal.notices.models import Notice
    from portal.proposals.models import Proposal
    from portal.votes import services
    with live_server.app.app_context():
        chair, member = (db.session.get(User, place[k]) for k in ("chair_id", "member_id"))
        proposal = db.session.get(Proposal, place["proposal_id"])
        now = utcnow()
        ballot = services.open_ballot(chair, proposal, method="committee", question="Install the bicycle racks?",
                                      opens_at=now, closes_at=now + timedelta(days=7),
                                      organization=db.session.get(Organization, place["org_id"]), now=now)
        for person in (chair, member):
            yes = next(o for o in ballot.options if o.code == "yes")
            services.cast(person, ballot, yes.id)
        services.close(chair, ballot, "Every member present has voted.")
        db.session.commit()
        notice = db.session.scalar(db.select(Notice).where(Notice.proposal_id == proposal.id))
        assert notice is not None, "closing the ballot starts the notice"
        return notice.id


def signed_in_page(new_context, login):
    page = new_context().new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    return page


def test_a_committee_meets_decides_and_pins_the_notice(new_context, live_server):
    from portal.clock import utcnow
    place = seed(live_server, unique_phone()[-6:])
    org = f"/o/{place['org_id']}"

    # The chair schedules the meeting from the organization page (it starts in half an hour).
    chair = signed_in_page(new_context, place["chair"])
    visit(chair, org)
    chair.locator("main").get_by_role("link", name="Schedule a meeting").click()
    form = form_with(chair, "starts_at")
    starts = (utcnow() + timedelta(minutes=30)).astimezone(ZoneInfo(place["zone"]))
    form.locator("[name=title]").fill("Monthly meeting: bicycles and the fire lane")
    form.locator("[name=starts_at]").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    form.locator("[name=place]").fill("Community room, building 1")
    form.locator("[name=agenda]").fill("Last month's accounts")
    capture(chair, "meeting-schedule")
    form.get_by_role("button", name="Schedule the meeting").click()
    expect(chair).to_have_url(re.compile(rf"{org}/meetings/\d+$"))
    meeting_url = chair.url
    expect(chair.locator("main #agenda")).to_contain_text("Last month's accounts")

    # The agenda picker: typing searches (htmx swaps the results), "Add to the agenda" posts.
    chair.locator("#agenda-q").fill("bicycle racks")
    results = chair.locator("#agenda-results")
    expect(results).to_contain_text("Install bicycle racks by gate 2")
    capture(chair, "meeting-agenda-picker")
    results.get_by_role("button", name="Add to the agenda").first.click()
    expect(chair.locator("main #agenda ol")).to_contain_text("Install bicycle racks by gate 2")

    # Attendance: two of three present — the quorum shows.
    attendance = chair.locator("main form.attendance-form")
    attendance.locator(f"#status-{place['chair_id']}-present").check()
    attendance.locator(f"#status-{place['member_id']}-present").check()
    attendance.locator(f"#status-{place['member2_id']}-excused").check()
    attendance.get_by_role("button", name="Record the attendance").click()
    expect(chair.locator("main .quorum")).to_contain_text("Quorum met")
    expect(chair.locator("main .quorum")).to_contain_text("2 of 3 members present")

    # Minutes per agenda item, saved as a draft.
    minutes = chair.locator("main form.minutes-form")
    minutes.locator("textarea").nth(0).fill("Accounts approved **without** objection.")
    minutes.locator("textarea").nth(1).fill("- Racks for 40 bicycles\n- Fire lane marked in red")
    minutes.get_by_role("button", name="Save the draft").click()
    expect(chair.locator("main .minutes-draft")).to_contain_text("Racks for 40 bicycles")
    capture(chair, "meeting-minutes-draft")

    # The decision hands over to the votes area.
    decision = chair.locator("main form.decision-form")
    decision.locator("[name=text]").fill("Put the bicycle racks to a committee vote.")
    decision.locator("[name=agenda_item]").select_option(label="2. Install bicycle racks by gate 2")
    decision.locator("[name=follow_up]").select_option("open_ballot")
    decision.get_by_role("button", name="Record the decision").click()
    expect(chair).to_have_url(re.compile(rf"/c/{place['slug']}/proposals/{place['proposal_id']}/ballots/new\?"
                                         r".*decision=\d+"))

    # Another member approves and publishes the minutes; from then on the public sees them.
    member = signed_in_page(new_context, place["member"])
    visit(member, meeting_url)
    member.locator("main").get_by_role("button", name="Approve and publish the minutes").click()
    expect(member.locator("main .minutes-version")).to_contain_text("Racks for 40 bicycles")
    expect(member.locator("main #decisions")).to_contain_text("Put the bicycle racks to a committee vote.")
    capture(member, "meeting-published", docs="meeting")
    assert not small_targets(member), small_targets(member)  # "Print" beside each decision is a 44px target

    public = new_context().new_page()
    visit(public, meeting_url)
    expect(public.locator("main .minutes-version strong")).to_have_text("without")
    expect(public.locator("main")).not_to_contain_text("Record the attendance")

    # The committee votes; closing the ballot publishes the notice, which the chair pins on the lobby board.
    notice_id = committee_votes_and_closes(live_server, place)
    notice_url = f"/c/{place['slug']}/notices/{notice_id}"
    visit(chair, notice_url)
    expect(chair.locator("main")).to_contain_text("Install bicycle racks by gate 2")
    capture(chair, "meeting-notice")
    chair.locator("main").get_by_role("link", name="Print").first.click()
    expect(chair).to_have_url(re.compile(rf"{notice_url}/print$"))
    chair.set_viewport_size(A4)
    chair.emulate_media(media="print")
    expect(chair.locator("svg").first).to_be_visible()  # the QR code
    assert chair.evaluate("document.querySelectorAll('script').length") == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = chair.screenshot(path=str(SCREENSHOTS / "print-notice.png"), full_page=False)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
        image.save(DOCS / "screen-print.png", optimize=True)
