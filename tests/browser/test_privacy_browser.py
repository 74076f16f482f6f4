"""Issue 18 in a phone browser: a resident downloads a copy of their data (the ZIP holds their photo), asks for
their account to be deleted, cancels, asks again; after the cooling-off period run-due anonymizes them and
their comment shows "deleted participant"."""
import io
import zipfile
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_committee_member,
    gen_community,
    gen_household,
    gen_residency,
    gen_user,
)
from tests.issues.test_services import tiny_png

pytestmark = pytest.mark.browser


def seed_resident_with_a_photo_and_a_comment(live_server):
    from portal.issues import services as issues
    from portal.issues.models import IssuePhoto
    from portal.proposals import services as proposals
    label = unique_phone()[-6:]
    with live_server.app.app_context():
        community = gen_community(name=f"Privacy Court {label}", slug=f"privacy-{label}")
        household = gen_household(gen_building(community, code="P1"))
        chair = gen_committee_member(community, title="chair")
        resident = gen_user(email=unique_email("privacy"), display_name="Resident Fang 方女士")
        gen_residency(resident, household=household)
        category = issues.ensure_default_categories(community)[0]
        issue = issues.report_issue(resident, community, category=category, title="Broken bench",
                                    photos=[tiny_png()])
        proposal = proposals.create_proposal(resident, community, title="Fix the benches", summary="Benches",
                                             body="Fix them.", category="other", publish=True)
        proposals.move_to_deliberation(chair, proposal, "Urgent before winter")
        proposals.add_comment(resident, proposal, stance="for", body="Please fix the bench by gate 2.")
        db.session.commit()
        photo_key = db.session.scalar(db.select(IssuePhoto.key).where(IssuePhoto.issue_id == issue.id))
        return {"login": resident.email, "id": resident.id, "photo_key": photo_key,
                "proposal": f"/c/{community.slug}/proposals/{proposal.id}"}


def test_download_my_data_ask_cancel_ask_again_and_be_anonymized(new_context, live_server):
    seeded = seed_resident_with_a_photo_and_a_comment(live_server)
    page = new_context(accept_downloads=True).new_page()
    sign_in(page, seeded["login"], DEFAULT_PASSWORD)
    visit(page, "/account")
    page.get_by_role("link", name="Download my data or delete my account").click()
    expect(page.get_by_role("heading", name="My data and privacy")).to_be_visible()

    page.get_by_role("button", name="Prepare a copy of my data").click()
    link = page.locator("#download a[href*='/account/privacy/export/']")
    expect(link).to_be_visible()
    capture(page, "privacy-my-data")
    with page.expect_download() as download_info:
        link.click()
    archive = zipfile.ZipFile(io.BytesIO(open(download_info.value.path(), "rb").read()))
    assert "data.json" in archive.namelist()
    assert f"photos/{seeded['photo_key']}-1600.jpg" in archive.namelist()

    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("button", name="Cancel the deletion")).to_be_visible()
    capture(page, "privacy-deletion-requested")
    page.get_by_role("button", name="Cancel the deletion").click()
    expect(page.get_by_role("button", name="Delete my account")).to_be_visible()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("button", name="Cancel the deletion")).to_be_visible()

    from portal.clock import utcnow
    from portal.privacy import services
    with live_server.app.app_context():
        assert services.carry_out_due_deletions(utcnow() + timedelta(days=8)) >= 1
        db.session.commit()

    visit(page, seeded["proposal"])  # signed out by the deletion: the public page
    comment = page.locator("main").get_by_text("Please fix the bench by gate 2.")
    expect(comment).to_be_visible()
    expect(page.locator("main").get_by_text("deleted participant").first).to_be_visible()
    expect(page.locator("main").get_by_text("Resident Fang")).to_have_count(0)
    capture(page, "privacy-deleted-participant")
    response = page.goto("/account")
    assert "/login" in page.url, response.status
