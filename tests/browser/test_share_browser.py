"""Issue 21 in a phone browser: a visitor opens a proposal, copies its short link with the button (the clipboard
holds the absolute short link), opens the QR code, and the short link leads back to the page. With JavaScript
off the short link is a plain link and the button stays hidden. The page does not scroll sideways at 390 px
with a long Chinese title and a long short-link address."""
import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import unique_email, unique_phone, visit
from tests.browser.screens import capture, small_targets
from tests.factories import gen_building, gen_community, gen_household, gen_residency, gen_user

pytestmark = pytest.mark.browser

TITLE = "关于在三号楼、五号楼和七号楼加装电梯以及改造地下车库照明和排水系统的建议"


def seed(live_server, label: str) -> str:
    """A published proposal in a new community; its page's path."""
    from portal.proposals import services
    with live_server.app.app_context():
        community = gen_community(name=f"Share Garden {label}", slug=f"share-{label}")
        author = gen_user(email=unique_email("sharer"), display_name="Wang Fang 王芳", phone=unique_phone())
        gen_residency(author, household=gen_household(gen_building(community, code="S1"), room="0101"))
        proposal = services.create_proposal(author, community, title=TITLE, summary="三号楼老人上下楼困难。",
                                            body="建议加装电梯。", category="lift", publish=True)
        db.session.commit()
        return f"/c/{community.slug}/proposals/{proposal.id}"


def test_copy_the_short_link_open_its_qr_code_and_follow_it(new_context, live_server):
    path = seed(live_server, "js")
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    visit(page, path)
    panel = page.locator(".share-panel")
    link = panel.locator(".share-link a")
    short_url = link.get_attribute("href")
    assert short_url.startswith(f"{live_server.url}/s/")
    button = panel.get_by_role("button", name="Copy link")
    expect(button).to_be_visible()
    button.click()
    expect(panel.get_by_role("status")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == short_url
    panel.locator("summary").click()
    qr = panel.get_by_role("img", name=f"QR code of the short link {short_url}")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert not [t for t in small_targets(page) if "Copy" in t or "QR" in t or "/s/" in t]
    capture(page, "share-proposal")
    link.click()
    page.wait_for_url(f"**{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)


def test_without_javascript_the_short_link_is_a_plain_link(new_context, live_server):
    path = seed(live_server, "nojs")
    page = new_context(java_script_enabled=False).new_page()
    visit(page, path)
    panel = page.locator(".share-panel")
    expect(panel.get_by_role("button", name="Copy link")).to_be_hidden()
    short_url = panel.locator(".share-link a").get_attribute("href")
    page.goto(short_url)
    page.wait_for_url(f"**{path}")
    capture(page, "share-proposal-nojs")
