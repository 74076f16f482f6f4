"""Issue 6 in a phone browser: the homeowners' committee announces an owners' ballot on matter (5), using
the maintenance fund; fifteen days later voting opens (run-due); an owner finds it under "Needs my vote" and
votes (htmx swaps the vote block and shows the receipt); another owner, with JavaScript off, votes and then
changes the vote; a committee member enters the paper ballot of an owner without an account; the chair
closes the ballot early with a reason and the result shows in words, colour and figures; the log is
published; receipts are checked: the first owner's is counted, the replaced one says when it was replaced."""
import re
from datetime import timedelta

import pytest
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
    gen_user,
)
from tests.residents import gen_owner

pytestmark = pytest.mark.browser

RECEIPT = re.compile(r"[A-Z2-7]{20}")


def seed(live_server, label: str) -> dict:
    """A community with a homeowners' committee (chair and member), building 5 with four owners — three
    with confirmed accounts, one without (she votes on paper) — and a proposal in consultation."""
    from portal.clock import utcnow
    from portal.proposals import services as proposals
    with live_server.app.app_context():
        community = gen_community(name=f"Osmanthus Garden {label}", slug=f"osmanthus-{label}")
        building = gen_building(community, code="5", name="Building 5")
        hoa = gen_organization("homeowners_committee", community=community, name="Osmanthus homeowners' committee")
        chair = gen_user(email=unique_email("hoa-chair"), display_name="Chair Liu Min 刘敏", phone=unique_phone())
        gen_membership(chair, hoa, title="chair")
        member = gen_user(email=unique_email("hoa-member"), display_name="Member Zhao Qiang", phone=unique_phone())
        gen_membership(member, hoa, title="member")
        people = {"slug": community.slug, "chair": chair.email, "member": member.email}
        for key, name, room, area in (("owner_a", "Wang Jianguo 王建国", "0101", "100.00"),
                                      ("owner_b", "Chen Zhiyuan 陈志远", "0102", "90.00"),
                                      ("owner_c", "Li Na 李娜", "0201", "120.50")):
            phone = unique_phone()
            person = gen_user(email=unique_email(key), display_name=name, phone=phone)
            owner = gen_owner(gen_household(building, entrance="1", room=room, area=area), name=name, phone=phone)
            owner.user_id, owner.confirmed_by_id, owner.confirmed_at = person.id, chair.id, utcnow()
            people[key] = person.email
        gen_owner(gen_household(building, entrance="1", room="0202", area="95.25"), name="Wu Xiuying 吴秀英",
                  phone=unique_phone())
        proposal = proposals.create_proposal(
            chair, community, title="Repair the roof of building 5 with the maintenance fund",
            summary="The roof of building 5 leaks into four top-floor flats. Use the building maintenance fund.",
            body="## Budget\n\n186,000 yuan from the maintenance fund of building 5.", category="facilities",
            publish=True)
        proposals.move_to_deliberation(chair, proposal, "Urgent: the rainy season starts next month.")
        db.session.commit()
        people["proposal"] = f"/c/{community.slug}/proposals/{proposal.id}"
        return people


def ballot_state(live_server, ballot_id: int):
    from portal.votes.models import Ballot, BallotVote
    with live_server.app.app_context():
        ballot = db.session.get(Ballot, ballot_id)
        votes = db.session.scalars(db.select(BallotVote).where(BallotVote.ballot_id == ballot_id)).all()
        return ballot.status, ballot.result, ballot.log_length, sorted(v.is_paper for v in votes), \
            ballot.proposal.status


def fifteen_days_pass(live_server, ballot_id: int) -> None:
    """The notice period ends: move the opening time into the past and run the due steps (as `run-due`)."""
    from portal.clock import utcnow
    from portal.votes import services
    from portal.votes.models import Ballot
    with live_server.app.app_context():
        ballot = db.session.get(Ballot, ballot_id)
        ballot.opens_at = utcnow() - timedelta(minutes=1)
        db.session.flush()
        assert services.apply_due(ballot)
        db.session.commit()


def signed_in_page(new_context, login, **options):
    page = new_context(**options).new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    return page


def receipt_on(locator) -> str:
    return RECEIPT.search(locator.inner_text()).group(0)


def test_owners_vote_on_using_the_maintenance_fund(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    slug = place["slug"]

    # The chair of the homeowners' committee announces the ballot from the proposal page.
    chair = signed_in_page(new_context, place["chair"])
    visit(chair, place["proposal"])
    chair.locator("main").get_by_role("link", name="Open a ballot").click()
    chair.locator("main").get_by_label("Homeowners' decision").check()
    capture(chair, "ballot-new-method")
    chair.locator("main").get_by_role("button", name="Next").click()
    form = form_with(chair, "question")
    form.locator("[name=question]").fill("Use 186,000 yuan of the maintenance fund to repair the roof of building 5?")
    # The matters are choices whose long names wrap on a phone instead of a select that cuts them off.
    for label in form.locator(".matter-choice label").all():
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth && e.getBoundingClientRect().right <= 390"), \
            label.inner_text()
    form.get_by_label("(5) Using the building maintenance fund").check()
    form.locator("[name=notice]").fill("The roof of building 5 leaks. Vote online, or hand your paper ballot to "
                                       "the committee's office by the closing day.")
    expect(form.locator("[name=secret]")).to_have_count(0)  # owners' ballots are signed
    capture(chair, "ballot-new-owners")
    form.get_by_role("button", name="Announce the ballot").click()
    expect(chair).to_have_url(re.compile(rf"/c/{slug}/ballots/\d+$"))
    ballot_url = chair.url
    ballot_id = int(ballot_url.rsplit("/", 1)[1])
    expect(chair.locator("main .ballot-status")).to_have_text("Announced")
    expect(chair.locator("main .ballot-notice")).to_contain_text("The roof of building 5 leaks")
    expect(chair.locator("main")).to_contain_text("more than half of the participating area")
    capture(chair, "ballot-announced")
    assert ballot_state(live_server, ballot_id)[0] == "scheduled"

    # Fifteen days later voting opens; the first owner finds it on the home page and votes (htmx).
    fifteen_days_pass(live_server, ballot_id)
    owner_a = signed_in_page(new_context, place["owner_a"])
    visit(owner_a, "/")
    needs = owner_a.locator("main .needs-vote")
    expect(needs).to_contain_text("Use 186,000 yuan of the maintenance fund")
    needs.get_by_role("link", name=re.compile("maintenance fund")).click()
    expect(owner_a).to_have_url(ballot_url)
    block = owner_a.locator("#vote")
    expect(block).to_contain_text("0 of 4 have voted")
    block.get_by_label("Yes").check()
    block.get_by_role("button", name="Cast my vote").click()
    expect(owner_a.locator("#vote")).to_contain_text("Your vote is counted")
    expect(owner_a.locator("#vote .current-vote")).to_contain_text(re.compile(r"You voted Yes at \d\d:\d\d"))
    expect(owner_a.locator("#vote")).to_contain_text("1 of 4 has voted")
    assert owner_a.url == ballot_url  # swapped in place
    receipt_a = receipt_on(owner_a.locator("#vote .receipt-line").first)
    capture(owner_a, "ballot-voted")

    # The second owner votes without JavaScript, then changes the vote: the latest counts.
    owner_b = signed_in_page(new_context, place["owner_b"], java_script_enabled=False)
    visit(owner_b, ballot_url)
    owner_b.locator("#vote").get_by_label("No").check()
    owner_b.locator("#vote").get_by_role("button", name="Cast my vote").click()
    expect(owner_b).to_have_url(re.compile(r"#vote$"))
    expect(owner_b.locator("main .flashes")).to_contain_text("Your vote is counted")
    first_receipt_b = RECEIPT.search(owner_b.locator("main .flashes").inner_text()).group(0)
    expect(owner_b.locator("#vote .current-vote")).to_contain_text("You voted No at")
    owner_b.locator("#vote").get_by_label("Yes").check()
    owner_b.locator("#vote").get_by_role("button", name="Change my vote").click()
    expect(owner_b.locator("#vote .current-vote")).to_contain_text("You voted Yes at")
    expect(owner_b.locator("#vote")).to_contain_text("2 of 4 have voted")
    capture(owner_b, "ballot-changed-no-js")

    owner_c = signed_in_page(new_context, place["owner_c"])
    visit(owner_c, ballot_url)
    owner_c.locator("#vote").get_by_label("No").check()
    owner_c.locator("#vote").get_by_role("button", name="Cast my vote").click()
    expect(owner_c.locator("#vote")).to_contain_text("3 of 4 have voted")

    # A committee member enters the paper ballot of the owner without an account.
    member = signed_in_page(new_context, place["member"])
    visit(member, ballot_url)
    expect(member.locator("main")).to_contain_text("Votes so far")  # live results, as the opener chose
    member.locator("main").get_by_role("link", name="Enter paper ballots").click()
    search = form_with(member, "q")
    search.locator("[name=q]").fill("Wu Xiuying")
    search.get_by_role("button", name="Find").click()
    paper = form_with(member, "option_id")
    paper.get_by_label("Wu Xiuying 吴秀英").check()
    paper.get_by_label("Yes").check()
    capture(member, "ballot-paper")
    paper.get_by_role("button", name="Enter the paper ballot").click()
    expect(member.locator("main .flashes")).to_contain_text("The paper ballot of Wu Xiuying 吴秀英 is entered")
    assert ballot_state(live_server, ballot_id)[2:4] == (5, [False, False, False, True])

    # The chair closes voting early, with a reason; the result shows in words, colour and figures.
    visit(chair, ballot_url)
    expect(chair.locator("main .hash-line")).to_contain_text(re.compile(r"[0-9a-f]{64}"))
    chair.locator("main").get_by_role("link", name="Close voting early").click()
    close_form = form_with(chair, "reason")
    close_form.get_by_role("button", name="Close and count").click()  # no reason: the form again, with why
    expect(chair.locator("main")).to_contain_text("Say why voting closes early.")
    form_with(chair, "reason").locator("[name=reason]").fill("Every owner has voted.")
    form_with(chair, "reason").get_by_role("button", name="Close and count").click()
    expect(chair).to_have_url(ballot_url)
    result = chair.locator("#result")
    expect(result.locator(".ballot-result-passed")).to_have_text("Passed")
    expect(result).to_contain_text("4 of 4 (100.00%)")
    expect(result).to_contain_text("405.75 m² of 405.75 m² (100.00%)")
    expect(result).to_contain_text("3 · 75.00% of the 4 participating")
    expect(result).to_contain_text("285.25 m² · 70.30% of the participating area")
    assert ballot_state(live_server, ballot_id) == ("closed", "passed", 5, [False, False, False, True], "notice")
    result.scroll_into_view_if_needed()
    capture(chair, "ballot-result", docs="ballot")

    # The committee records the outcome; the log is published with names for owners.
    chair.locator("main").get_by_role("link", name="Record the outcome").click()
    form_with(chair, "statement").locator("[name=statement]").fill(
        "The committee will sign the repair contract and publish it on the notice board.")
    chair.locator("main").get_by_role("button", name="Save the statement").click()
    expect(chair.locator("main .ballot-outcome")).to_contain_text("sign the repair contract")
    visit(owner_a, f"{ballot_url}/log")
    expect(owner_a.locator("main .log-entry")).to_have_count(5)
    expect(owner_a.locator("main")).to_contain_text("Wu Xiuying 吴秀英")
    capture(owner_a, "ballot-log")

    # Receipts: the first owner's is counted; the second owner's first one was replaced.
    visit(owner_a, ballot_url)
    owner_a.locator("main").get_by_role("link", name="Check a receipt").click()
    form_with(owner_a, "receipt").locator("[name=receipt]").fill(
        " ".join(receipt_a[i:i + 4] for i in range(0, 20, 4)))
    owner_a.locator("main").get_by_role("button", name="Check").click()
    expect(owner_a.locator("main .receipt-result")).to_contain_text("Counted")
    capture(owner_a, "ballot-receipt")
    form_with(owner_a, "receipt").locator("[name=receipt]").fill(first_receipt_b)
    owner_a.locator("main").get_by_role("button", name="Check").click()
    expect(owner_a.locator("main .receipt-result")).to_contain_text("Replaced")
    form_with(owner_a, "receipt").locator("[name=receipt]").fill("AAAAAAAAAAAAAAAAAAAA")
    owner_a.locator("main").get_by_role("button", name="Check").click()
    expect(owner_a.locator("main .receipt-result")).to_contain_text("Unknown")
