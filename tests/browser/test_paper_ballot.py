"""Issue 19 in a phone browser (390 px): paper ballots and proxies of an owners' ballot — a lift decided by the
owners of one entrance. The chair prints the
named ballot forms, enters two paper ballots by scanning their QR codes (decoded here from the printed
page's picture, then visited), records an owner's written authorization and enters that owner's paper ballot
"by proxy"; an owner then finds their paper ballot's receipt and checks it. And the batch print of a ballot
of 20 owners is 20 A4 pages in Chromium's PDF."""
import io
import re
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from pypdf import PdfReader

from portal.extensions import db
from tests.browser.flows import sign_in, unique_email, unique_phone, visit
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


def seed(live_server, label: str, *, owners: int, one_entrance: bool = False) -> dict:
    """A community with a homeowners' committee chair, `owners` owners of building 7 (the first three with
    accounts, the others without), a resident who will be a proxy, and an open owners' ballot on matter (7);
    with `one_entrance`, two more owners live in entrance 9 and the ballot is decided by the owners of
    entrance 1 only (a lift in one entrance: issue #19's scope)."""
    from portal.clock import utcnow
    from portal.proposals import services as proposals
    from portal.votes import services
    with live_server.app.app_context():
        now = utcnow()
        community = gen_community(name=f"Lotus Court {label}", slug=f"lotus-{label}")
        building = gen_building(community, code="7", name="Building 7")
        hoa = gen_organization("homeowners_committee", community=community, name="Lotus Court homeowners' committee")
        chair = gen_user(email=unique_email("paper-chair"), display_name="Chair Liu Min 刘敏", phone=unique_phone())
        gen_membership(chair, hoa, title="chair")
        proxy = gen_user(email=unique_email("paper-proxy"), display_name="Zhang Ayi 张阿姨", phone=unique_phone())
        people = {"slug": community.slug, "chair": chair.email, "proxy": proxy.email, "proxy_phone": proxy.phone,
                  "owners": []}
        for n in range(owners):
            name = f"Owner {n + 1:02d} 业主"
            phone = unique_phone()
            household = gen_household(building, entrance=str(1 + n // 10), room=f"{n % 10 + 1:02d}01", area="88.00")
            owner = gen_owner(household, name=name, phone=phone)
            if n < 3:
                person = gen_user(email=unique_email(f"paper-owner{n}"), display_name=name, phone=phone)
                owner.user_id, owner.confirmed_by_id, owner.confirmed_at = person.id, chair.id, now
                people["owners"].append(person.email)
        if one_entrance:
            for room in ("0101", "0201"):
                gen_owner(gen_household(building, entrance="9", room=room, area="88.00"),
                          name=f"Entrance 9 owner {room}", phone=unique_phone())
        scope = {"scope_kind": "entrances", "scope_entrances": [(building.id, "1")]} if one_entrance else {}
        proposal = proposals.create_proposal(
            chair, community, title="Add a lift to building 7", summary="A lift for the elderly of building 7.",
            body="## Budget\n\n600,000 yuan.", category="facilities", publish=True)
        proposals.move_to_deliberation(chair, proposal, "The subsidy application closes next month.")
        ballot = services.open_ballot(chair, proposal, method="owners", matter=7, question="Add a lift to building 7?",
                                      notice="Vote online, or on the paper form handed to you.",
                                      opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=7),
                                      now=now - timedelta(days=16), **scope)
        services.apply_due(ballot, now)
        db.session.commit()
        people["ballot"] = f"/c/{community.slug}/ballots/{ballot.id}"
        people["ballot_id"] = ballot.id
        return people


def live_votes(live_server, ballot_id):
    from portal.votes.models import BallotVote
    with live_server.app.app_context():
        return sorted((v.is_paper, v.proxy_id is not None) for v in db.session.scalars(
            db.select(BallotVote).where(BallotVote.ballot_id == ballot_id)))


def scan_form(page, n: int) -> str:
    """The QR code of the n-th printed form, read from a picture of it as a phone camera would."""
    picture = Image.open(io.BytesIO(page.locator(".ballot-form-sheet svg.qr-code").nth(n).screenshot()))
    picture = picture.resize((picture.width * 4, picture.height * 4), Image.NEAREST)
    [code] = [r.text for r in zxingcpp.read_barcodes(picture)]
    return code


def test_the_batch_print_of_twenty_owners_is_twenty_a4_pages(page, live_server):
    place = seed(live_server, unique_phone()[-6:], owners=20)
    sign_in(page, place["chair"], DEFAULT_PASSWORD)
    visit(page, place["ballot"] + "/print/forms")
    expect(page.locator(".ballot-form-sheet")).to_have_count(20)
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 20


def test_the_chair_enters_paper_ballots_by_their_qr_codes_and_one_by_proxy(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:], owners=6, one_entrance=True)
    chair = new_context().new_page()
    sign_in(chair, place["chair"], DEFAULT_PASSWORD)
    visit(chair, place["ballot"])
    expect(chair.locator("main")).to_contain_text("entrance 1")  # who decides: entrance 1's owners alone
    chair.get_by_role("link", name="Print every paper ballot form").click()
    expect(chair.locator(".ballot-form-sheet")).to_have_count(6)  # not entrance 9's two
    capture(chair, "paper-ballot-forms", docs="paper-ballot-form")
    codes = [scan_form(chair, n) for n in range(3)]
    assert all(code.startswith(live_server.url + place["ballot"] + "/paper/") for code in codes)

    # Two signed forms come back: the first owner's (yes) and the fourth's, an owner without an account (no).
    for code, choice, who in ((codes[0], "Yes", "Owner 01"), (scan_form(chair, 3), "No", "Owner 04")):
        visit(chair, code.removeprefix(live_server.url))
        expect(chair.locator("main h1")).to_contain_text(who)
        chair.locator("main form.paper-form").get_by_label(choice, exact=True).check()
        chair.locator("main form.paper-form").get_by_role("button", name="Enter the paper ballot").click()
        expect(chair.locator(".flash, [role=status], .notice").first).to_contain_text("is entered")
    capture(chair, "paper-ballot-entered")

    # The second owner authorized the resident Zhang in writing; her signed form is entered "by proxy".
    visit(chair, place["ballot"] + "/proxies?q=Owner 02")
    form = chair.locator("main form.paper-form")
    form.get_by_label("Owner 02 业主").check()
    form.locator("[name=proxy_login]").fill(place["proxy_phone"])
    form.locator("[name=signed_on]").fill("2026-01-05")
    form.get_by_role("button", name="Record the authorization").click()
    expect(chair.locator("main .proxy-list")).to_contain_text("Owner 02 业主")
    capture(chair, "paper-ballot-proxies")
    visit(chair, codes[1].removeprefix(live_server.url))
    expect(chair.locator("main")).to_contain_text("Zhang Ayi 张阿姨")
    form = chair.locator("main form.paper-form")
    form.get_by_label("Yes", exact=True).check()
    form.locator("[name=by_proxy]").check()
    form.get_by_role("button", name="Enter the paper ballot").click()
    expect(chair.locator(".flash, [role=status], .notice").first).to_contain_text("is entered")
    assert live_votes(live_server, place["ballot_id"]) == [(True, False), (True, False), (True, True)]

    # The first owner scans their own form: it leads to their vote, with its receipt, which checks as counted.
    owner = new_context().new_page()
    sign_in(owner, place["owners"][0], DEFAULT_PASSWORD)
    visit(owner, codes[0].removeprefix(live_server.url))
    vote = owner.locator("#vote")
    expect(vote).to_contain_text("on paper")
    receipt = RECEIPT.search(vote.locator(".receipt-line").inner_text()).group(0)
    capture(owner, "paper-ballot-owner")
    owner.get_by_role("link", name="Check a receipt").click()
    owner.locator("[name=receipt]").fill(receipt)
    owner.get_by_role("button", name="Check").click()
    expect(owner.locator(".receipt-result")).to_contain_text("Counted")
