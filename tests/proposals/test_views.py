"""Proposal pages: who sees and may do what, each form with bad input (the typing kept, nothing written),
plain form posts and htmx posts, the Atom feed, drafts nobody else sees, and archiving when a page is opened."""
import io
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter

from portal.clock import utcnow
from portal.extensions import db
from portal.proposals import services
from portal.proposals.models import (
    Comment,
    CommentLike,
    CommentRevision,
    Proposal,
    ProposalAttachment,
    ProposalSupport,
    ProposalVersion,
)
from tests.proposals import THRESHOLD, gen_comment, gen_in_deliberation, gen_issue, gen_proposal, gen_supports
from tests.records import count
from tests.residents import post

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = Path(__file__).resolve().parents[2]


def html_of(response) -> str:
    return response.get_data(as_text=True)


def fresh(model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)


def png_bytes(size=(64, 48), colour=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def proposal_data(world, **overrides):
    data = {"title": "Benches for the garden", "summary": "Two benches near the pond, for older neighbours.",
            "body": "## Why\n\nThere is **nowhere** to sit.", "category": "facilities", "estimated_cost": ""}
    data.update(overrides)
    return data


def page_of(proposal) -> str:
    return f"/c/{proposal.community.slug}/proposals/{proposal.id}"


# --- the list ------------------------------------------------------------------------------------------------

def test_list_is_public_and_each_row_shows_state_supports_days_comments_and_stances(client, world):
    collecting = gen_proposal(world, title="Benches for the garden", category="facilities")
    gen_supports(world, collecting, 1)
    talking = gen_in_deliberation(world, title="Paint the railings")
    gen_comment(world, talking, stance="for")
    gen_comment(world, talking, author=world.supporters[5], stance="against", body="Too expensive")
    db.session.commit()
    page = html_of(client.get("/c/x/proposals"))
    row = page.split("Benches for the garden")[1].split("</li>")[0]
    assert "Collecting supports" in row and "proposal-status-collecting" in row
    assert "1 of 3 supports" in row and "30 days left" in row and "Facilities" in row
    row = page.split("Paint the railings")[1].split("</li>")[0]
    assert "In consultation" in row and "2 comments" in row
    assert "For 1" in row and "Against 1" in row and "Neutral 0" in row and "tally-mini" in row
    assert "Propose something" not in page  # visitors cannot propose


def test_drafts_are_never_listed_but_their_author_finds_them_on_the_list(client, auth, world):
    gen_proposal(world, title="My secret draft", publish=False)
    db.session.commit()
    assert "My secret draft" not in html_of(client.get("/c/x/proposals"))
    auth.login(world.neighbour)
    assert "My secret draft" not in html_of(client.get("/c/x/proposals"))
    auth.logout()
    auth.login(world.reporter)
    page = html_of(client.get("/c/x/proposals"))
    assert "Your drafts" in page and "My secret draft" in page and 'href="/c/x/proposals/new"' in page


def test_list_filters_by_open_state_category_and_words_in_both_languages(client, world):
    gen_proposal(world, title="3号楼加装电梯", summary="老人上下楼困难", category="lift")
    parking = gen_proposal(world, title="More parking for bicycles", summary="Racks by the gate", category="parking")
    gone = gen_proposal(world, title="Summer cinema night", summary="Films in the square", category="activities")
    services.withdraw(world.reporter, gone, "no_longer_needed")
    db.session.commit()
    page = html_of(client.get("/c/x/proposals?status=open"))
    assert "3号楼加装电梯" in page and "More parking" in page and "Summer cinema" not in page
    page = html_of(client.get("/c/x/proposals?status=withdrawn"))
    assert "Summer cinema" in page and "More parking" not in page
    page = html_of(client.get("/c/x/proposals?category=parking"))
    assert "More parking" in page and "加装电梯" not in page
    page = html_of(client.get("/c/x/proposals?q=电梯"))
    assert "3号楼加装电梯" in page and "More parking" not in page
    page = html_of(client.get("/c/x/proposals?q=bicycles+parking"))
    assert "More parking" in page and "加装电梯" not in page
    assert "No proposals match" in html_of(client.get("/c/x/proposals?q=swimming"))
    # Nonsense filters are ignored, not a 500.
    page = html_of(client.get("/c/x/proposals?status=draft&category=nope&show=everything"))
    assert "More parking" in page
    assert parking.id


def test_needs_my_support_and_i_supported(client, auth, world):
    mine = gen_proposal(world, title="The reporter own idea")
    supported = gen_proposal(world, title="Already supported idea")
    waiting = gen_proposal(world, title="Waiting for support idea")
    gen_supports(world, supported, 1)
    db.session.commit()
    auth.login(world.supporters[0])
    page = html_of(client.get("/c/x/proposals?show=needs_support"))
    assert "Waiting for support idea" in page and "The reporter own idea" in page
    assert "Already supported idea" not in page
    page = html_of(client.get("/c/x/proposals?show=supported"))
    assert "Already supported idea" in page and "Waiting for support" not in page and "You support it" in page
    auth.logout()
    auth.login(world.reporter)
    assert "The reporter own idea" not in html_of(client.get("/c/x/proposals?show=needs_support"))
    assert mine.id and waiting.id


# --- the rows, kept under the community's version (views._proposal_rows, portal.versions) ----------------

def test_the_list_is_read_once_per_version_for_every_viewer(client, auth, world):
    from tests.queries import recorded_statements
    idea = gen_proposal(world, title="Benches for the garden")
    gen_proposal(world, title="My draft", publish=False)
    db.session.commit()
    auth.login(world.reporter)
    client.get("/c/x/proposals")
    with recorded_statements() as statements:
        page = html_of(client.get("/c/x/proposals"))
    assert "Benches for the garden" in page and "My draft" in page  # their draft, on their list
    assert len(statements) == 2  # the person, the community: rows, supports and drafts kept
    auth.logout()
    auth.login(world.neighbour)
    page = html_of(client.get("/c/x/proposals"))
    assert "Benches for the garden" in page and "My draft" not in page
    gen_supports(world, idea, 1)
    db.session.commit()
    page = html_of(client.get("/c/x/proposals"))
    assert "1 of 3 supports" in page and "You support it" not in page and "<!--supported" not in page
    auth.logout()
    auth.login(world.supporters[0])
    page = html_of(client.get("/c/x/proposals"))
    assert "1 of 3 supports" in page and "You support it" in page


def test_a_comment_changes_the_stances_on_the_list(client, world):
    talking = gen_in_deliberation(world, title="Paint the railings")
    gen_comment(world, talking, stance="for")
    db.session.commit()
    assert "For 1" in html_of(client.get("/c/x/proposals"))
    gen_comment(world, talking, author=world.supporters[5], stance="for", body="Yes please")
    db.session.commit()
    assert "For 2" in html_of(client.get("/c/x/proposals"))


def test_days_left_count_down_on_the_list_with_the_clock(client, world, monkeypatch):
    import portal.clock
    import portal.proposals.views
    now = utcnow()
    gen_proposal(world, title="Benches for the garden", now=now)
    db.session.commit()
    assert "30 days left" in html_of(client.get("/c/x/proposals"))
    for module in (portal.clock, portal.proposals.views):
        monkeypatch.setattr(module, "utcnow", lambda: now + timedelta(days=1, minutes=1))
    assert "29 days left" in html_of(client.get("/c/x/proposals"))


def test_a_persons_own_lists_are_never_shared(client, auth, world):
    supported = gen_proposal(world, title="Already supported idea")
    gen_proposal(world, title="Waiting for support idea")
    gen_supports(world, supported, 1)
    db.session.commit()
    auth.login(world.supporters[0])
    assert "Waiting for support" not in html_of(client.get("/c/x/proposals?show=supported"))
    auth.logout()
    auth.login(world.supporters[1])
    assert "Already supported idea" not in html_of(client.get("/c/x/proposals?show=supported"))


def test_load_more_pages_with_a_cursor_and_htmx_appends(client, world):
    for n in range(23):
        gen_proposal(world, title=f"Idea number {n:02d}", now=utcnow() - timedelta(minutes=n))
    db.session.commit()
    page = html_of(client.get("/c/x/proposals"))
    assert "Idea number 00" in page and "Idea number 22" not in page
    link = re.search(r'<a class="button button-secondary" href="([^"]+)" hx-get="([^"]+)"', page)
    assert link and "after=" in link.group(1) and 'hx-swap="outerHTML"' in page
    more_url = link.group(1).replace("&amp;", "&")
    assert "Idea number 22" in html_of(client.get(more_url))
    fragment = html_of(client.get(more_url, headers={"HX-Request": "true"}))
    assert "Idea number 22" in fragment and "<html" not in fragment and "Load more" not in fragment


def test_a_broken_cursor_goes_back_to_the_first_page(client, world):
    response = client.get("/c/x/proposals?after=garbage")
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/x/proposals")


def test_members_only_community_keeps_its_list_feed_and_proposals_to_members(client, auth, world):
    proposal = gen_proposal(world)
    world.x.members_only = True
    db.session.commit()
    for path in ("/c/x/proposals", "/c/x/proposals.atom", page_of(proposal)):
        assert client.get(path).status_code == 302, path
    auth.login(world.stranger)
    for path in ("/c/x/proposals", "/c/x/proposals.atom", page_of(proposal)):
        assert client.get(path).status_code == 403, path
    auth.logout()
    auth.login(world.neighbour)
    for path in ("/c/x/proposals", "/c/x/proposals.atom", page_of(proposal)):
        assert client.get(path).status_code == 200, path


def test_a_hidden_proposal_is_listed_as_a_placeholder(client, auth, world):
    proposal = gen_proposal(world, title="Rude words in this title")
    proposal.hidden_state = "hidden"
    proposal.hidden_reason = "Insults a neighbour"
    db.session.commit()
    page = html_of(client.get("/c/x/proposals"))
    assert "Hidden proposal" in page and "Rude words" not in page
    detail = html_of(client.get(page_of(proposal)))
    assert "Insults a neighbour" in detail and "Rude words" not in detail and "Two benches" not in detail
    assert 'property="og:title" content="A page on Yishi"' in detail  # nor in the card tags (issue #21)
    auth.login(world.reporter)  # the author still reads it, with the reason
    detail = html_of(client.get(page_of(proposal)))
    assert "Rude words in this title" in detail and "Insults a neighbour" in detail


# --- the feed ------------------------------------------------------------------------------------------------

def test_feed_is_valid_atom_with_links_from_the_portal_base_url_whatever_the_host(client, world):
    first = gen_proposal(world, title="Benches & <lights> for the garden")
    gen_proposal(world, title="A draft nobody sees", publish=False)
    hidden = gen_proposal(world, title="A hidden one")
    hidden.hidden_state = "pending"
    db.session.commit()
    response = client.get("/c/x/proposals.atom", headers={"Host": "evil.example.org"})
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    text = html_of(response)
    assert "evil.example.org" not in text
    root = ET.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None, required
    self_link = root.find(f"{ATOM}link[@rel='self']").get("href")
    assert self_link == "https://yishi.test/c/x/proposals.atom"
    entries = root.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert titles == ["Benches & <lights> for the garden"]  # no draft, no hidden proposal
    entry = entries[0]
    link = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
    assert link == f"https://yishi.test/c/x/proposals/{first.id}" == entry.find(f"{ATOM}id").text
    for required in ("updated", "published", "summary", "author"):
        assert entry.find(f"{ATOM}{required}") is not None, required
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", entry.find(f"{ATOM}updated").text)


def test_an_empty_feed_is_still_valid(client, world):
    root = ET.fromstring(client.get("/c/x/proposals.atom").data)
    assert root.find(f"{ATOM}updated").text and root.findall(f"{ATOM}entry") == []


def test_the_list_page_head_points_to_the_feed(client, world):
    head = html_of(client.get("/c/x/proposals")).split("</head>")[0]
    assert '<link rel="alternate" type="application/atom+xml" href="/c/x/proposals.atom"' in head


def test_the_list_page_links_the_feed_in_its_body(client, world):
    assert 'href="/c/x/proposals.atom"' in html_of(client.get("/c/x/proposals"))


# --- proposing -----------------------------------------------------------------------------------------------

def test_the_proposal_form_is_for_verified_residents_and_committee_members(client, auth, world):
    assert client.get("/c/x/proposals/new").status_code == 302
    for person in (world.stranger, world.resident_y, world.pending, world.property_x, world.admin, world.member_y):
        auth.login(person)
        assert client.get("/c/x/proposals/new").status_code == 403, person.display_name
        auth.logout()
    for person in (world.reporter, world.member_x):
        auth.login(person)
        page = html_of(client.get("/c/x/proposals/new"))
        assert 'enctype="multipart/form-data"' in page and 'name="buildings"' in page and "Building 3" in page
        assert 'name="publish"' in page and 'name="draft"' in page and "Markdown" in page
        assert re.search(r'<input[^>]*multiple[^>]*name="attachments"|<input[^>]*name="attachments"[^>]*multiple',
                         page)
        assert "<script>" not in page and "hx-on" not in page and " style=" not in page
        auth.logout()


def test_save_a_draft_then_publish_it_without_javascript(client, auth, world):
    auth.login(world.reporter)
    response = post(client, "/c/x/proposals/new", proposal_data(world, draft="1"), content_type="multipart/form-data")
    assert response.status_code == 302
    proposal = db.session.scalar(db.select(Proposal))
    assert response.headers["Location"].endswith(f"/c/x/proposals/{proposal.id}")
    assert proposal.status == "draft"
    page = html_of(client.get(page_of(proposal)))
    assert "This is a draft" in page and "Publish" in page
    auth.logout()
    assert client.get(page_of(proposal)).status_code == 404  # drafts are invisible, not forbidden
    auth.login(world.neighbour)
    assert client.get(page_of(proposal)).status_code == 404
    assert post(client, f"{page_of(proposal)}/publish").status_code == 404
    auth.logout()
    auth.login(world.admin)
    assert client.get(page_of(proposal)).status_code == 200
    auth.logout()
    auth.login(world.reporter)
    assert post(client, f"{page_of(proposal)}/publish", token_from=page_of(proposal)).status_code == 302
    proposal = fresh(Proposal, proposal.id)
    assert proposal.status == "collecting" and proposal.support_threshold == THRESHOLD
    assert count(ProposalVersion) == 1


def test_publish_at_once_with_buildings_cost_and_attachments(client, auth, world, upload_dir):
    auth.login(world.reporter)
    data = proposal_data(world, publish="1", buildings=[str(world.bx.id)], estimated_cost="45,000.5",
                         attachments=[(io.BytesIO(png_bytes()), "garden.png"),
                                      (io.BytesIO(pdf_bytes()), "方案 plan.pdf")])
    response = post(client, "/c/x/proposals/new", data, content_type="multipart/form-data")
    assert response.status_code == 302
    proposal = db.session.scalar(db.select(Proposal))
    assert proposal.status == "collecting" and [b.id for b in proposal.buildings] == [world.bx.id]
    assert str(proposal.estimated_cost) == "45000.50"
    image, pdf = sorted(proposal.attachments, key=lambda a: a.kind)
    page = html_of(client.get(page_of(proposal)))
    assert "Building 3" in page and "¥45,000.50" in page and "<strong>nowhere</strong>" in page
    assert f"/files/{image.key}/400" in page and f"/files/{image.key}/1600" in page
    assert f"/files/{pdf.key}\"" in page and "方案 plan.pdf" in page
    served = client.get(f"{page_of(proposal)}/files/{pdf.key}")
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("inline;")
    assert "filename*=UTF-8''%E6%96%B9%E6%A1%88%20plan.pdf" in served.headers["Content-Disposition"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    thumb = client.get(f"{page_of(proposal)}/files/{image.key}/400")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert client.get(f"{page_of(proposal)}/files/{image.key}/300").status_code == 404
    assert client.get(f"{page_of(proposal)}/files/{image.key}").status_code == 404
    assert client.get(f"{page_of(proposal)}/files/{pdf.key}/400").status_code == 404
    assert client.get(f"{page_of(proposal)}/files/nosuchkey").status_code == 404


def test_attachments_of_a_draft_are_for_its_author_only(client, auth, world, upload_dir):
    proposal = gen_proposal(world, publish=False, attachments=[("plan.pdf", pdf_bytes())])
    db.session.commit()
    url = f"{page_of(proposal)}/files/{proposal.attachments[0].key}"
    assert client.get(url).status_code == 404
    auth.login(world.neighbour)
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(world.reporter)
    response = client.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"


BAD_PROPOSALS = {
    "empty title": ({"title": "  "}, "title", None),
    "long body": ({"body": "长" * 20_001}, "body", "20001"),
    "other community's building": (lambda w: {"buildings": [str(w.by.id)]}, "buildings", None),
    "cost in words": ({"estimated_cost": "a lot"}, "estimated_cost", "Write the cost in yuan"),
    "negative cost": ({"estimated_cost": "-5"}, "estimated_cost", "0 or more"),
    "endless cost": ({"estimated_cost": "1e999999"}, "estimated_cost", "0 or more"),
    "unknown category": ({"category": "weather"}, "category", None),
    "seven files": ({"attachments": [(io.BytesIO(png_bytes()), f"p{i}.png") for i in range(7)]}, "attachments",
                    "at most 6 files"),
    "a text file": ({"attachments": [(io.BytesIO(b"just some words"), "notes.pdf")]}, "attachments", None),
}


@pytest.mark.parametrize("case", BAD_PROPOSALS, ids=list(BAD_PROPOSALS))
def test_bad_proposal_keeps_the_typing_and_writes_nothing(client, auth, world, upload_dir, case):
    changes, field, message = BAD_PROPOSALS[case]
    auth.login(world.reporter)
    data = proposal_data(world, publish="1", summary="Kept summary words")
    data.update(changes(world) if callable(changes) else changes)
    response = post(client, "/c/x/proposals/new", data, content_type="multipart/form-data")
    assert response.status_code == 200
    page = html_of(response)
    assert 'class="error"' in page
    if message:
        assert message.lower() in page.lower()
    if field in ("title", "body", "estimated_cost", "category"):
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', page)
    if case != "empty title":
        assert 'value="Benches for the garden"' in page
    assert "Kept summary words" in page
    if case == "cost in words":
        assert 'value="a lot"' in page
    db.session.rollback()
    assert count(Proposal) == 0 and count(ProposalAttachment) == 0
    assert not upload_dir.exists() or not any(upload_dir.rglob("*.*"))


def test_a_committee_member_acting_for_a_resident_writes_the_proposal_for_them(client, auth, world):
    world.neighbour.consent_in_person = True
    db.session.commit()
    auth.login(world.member_x)
    assert post(client, f"/act-for/{world.neighbour.id}").status_code == 302
    response = post(client, "/c/x/proposals/new", proposal_data(world, publish="1"),
                    content_type="multipart/form-data")
    assert response.status_code == 302
    proposal = db.session.scalar(db.select(Proposal))
    assert proposal.author_id == world.neighbour.id and proposal.created_by_id == world.member_x.id
    page = html_of(client.get(page_of(proposal)))
    assert "Neighbour N" in page and "written with Member X" in page


# --- one proposal, for each role -----------------------------------------------------------------------------

def test_the_page_for_each_role(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    url = page_of(proposal)
    page = html_of(client.get(url))
    assert "Collecting supports" in page and "0 of 3 supports" in page and "Sign in to support it" in page
    assert "For the committee" not in page and "Edit my proposal" not in page and "flag-control" not in page
    assert 'aria-current="step"' in page and "Steps of the proposal" in page
    expectations = {
        "reporter": (["Edit my proposal", "Withdraw it"], ["Support this proposal", "For the committee"]),
        "neighbour": (["Support this proposal", "flag-control"], ["Edit my proposal", "For the committee"]),
        "member_x": (["For the committee", "Move to consultation now", "Support threshold and window"],
                     ["Edit my proposal", "Support this proposal"]),
        "admin": (["For the committee", "Move to consultation now"], ["Edit my proposal", "Support this proposal"]),
        "member_y": ([], ["For the committee", "Support this proposal", "Edit my proposal"]),
        "resident_y": ([], ["Support this proposal", "flag-control", "Edit my proposal"]),
        "stranger": ([], ["Support this proposal", "For the committee"]),
    }
    for who, (shown, absent) in expectations.items():
        auth.login(getattr(world, who))
        page = html_of(client.get(url))
        for text in shown:
            assert text in page, (who, text)
        for text in absent:
            assert text not in page, (who, text)
        auth.logout()


def test_unknown_proposal_or_another_community_is_404(client, world):
    proposal = gen_proposal(world)
    db.session.commit()
    assert client.get("/c/x/proposals/999999").status_code == 404
    assert client.get(f"/c/y/proposals/{proposal.id}").status_code == 404
    assert client.get(f"/c/nowhere/proposals/{proposal.id}").status_code == 404


def test_open_graph_tags_carry_the_title_and_summary(client, world):
    proposal = gen_proposal(world, title="Benches for the garden", summary="Two benches near the pond.")
    db.session.commit()
    head = html_of(client.get(page_of(proposal))).split("</head>")[0]
    assert '<meta property="og:title" content="Benches for the garden">' in head
    assert 'property="og:description" content="Two benches near the pond. · Huajiadi"' in head


def test_the_step_bar_has_dates_and_a_withdrawn_proposal_says_so_with_its_reason(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    page = html_of(client.get(page_of(proposal)))
    bar = page.split('class="step-bar"')[1].split("</ol>")[0]
    assert bar.count("<time") == 3  # written, published, in consultation
    assert re.search(r'step-current"[^>]*aria-current="step">\s*<span class="step-name">In consultation', bar)
    withdrawn = gen_proposal(world, title="Changed my mind")
    services.withdraw(world.reporter, withdrawn, "other", "We found another way.")
    db.session.commit()
    page = html_of(client.get(page_of(withdrawn)))
    assert "Withdrawn by its author" in page and "We found another way." in page and "step-withdrawn" in page


def test_opening_an_expired_proposal_archives_it(client, world):
    proposal = gen_proposal(world, now=utcnow() - timedelta(days=31))
    gen_supports(world, proposal, 1, now=utcnow() - timedelta(days=30))
    db.session.commit()
    page = html_of(client.get(page_of(proposal)))
    assert "Archived" in page and "It did not reach 3 supports in time (it had 1)" in page
    assert "Support this proposal" not in page
    assert fresh(Proposal, proposal.id).status == "archived"


def test_an_escalated_proposal_links_its_issue(client, auth, world):
    issue = gen_issue(world, title="Gate lock broken for weeks")
    db.session.commit()
    auth.login(world.reporter)
    assert post(client, f"/c/x/issues/{issue.id}/escalate").status_code == 403
    auth.logout()
    auth.login(world.member_x)
    response = post(client, f"/c/x/issues/{issue.id}/escalate", token_from=f"/c/x/issues/{issue.id}")
    proposal = db.session.scalar(db.select(Proposal))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/c/x/proposals/{proposal.id}/edit")
    assert proposal.status == "draft" and proposal.source_issue_id == issue.id
    page = html_of(client.get(page_of(proposal)))
    assert f'href="/c/x/issues/{issue.id}"' in page and f"Escalated from issue no. {issue.id}" in page
    again = post(client, f"/c/x/issues/{issue.id}/escalate")
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/c/x/issues/{issue.id}")
    assert "already proposal" in html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert count(Proposal) == 1
    assert post(client, "/c/x/issues/999999/escalate").status_code == 404


# --- supports ------------------------------------------------------------------------------------------------

def test_support_without_javascript_twice_is_a_no_op_and_can_be_withdrawn(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    auth.login(world.neighbour)
    first = post(client, f"{page_of(proposal)}/support", {"action": "support"}, token_from=page_of(proposal))
    assert first.status_code == 302 and first.headers["Location"].endswith(f"{page_of(proposal)}#support")
    assert "Thank you: your support is counted." in html_of(client.get(page_of(proposal)))
    second = post(client, f"{page_of(proposal)}/support", {"action": "support"})
    assert second.status_code == 302
    assert count(ProposalSupport) == 1 and fresh(Proposal, proposal.id).support_count == 1
    page = html_of(client.get(page_of(proposal)))
    assert "You support this proposal" in page and "Withdraw my support" in page
    assert post(client, f"{page_of(proposal)}/support", {"action": "withdraw"}).status_code == 302
    assert count(ProposalSupport) == 0 and fresh(Proposal, proposal.id).support_count == 0


def test_support_with_htmx_swaps_the_block_and_the_threshold_opens_the_consultation(client, auth, world):
    proposal = gen_proposal(world)
    gen_supports(world, proposal, THRESHOLD - 1)
    db.session.commit()
    auth.login(world.neighbour)
    response = post(client, f"{page_of(proposal)}/support", {"action": "support"}, headers={"HX-Request": "true"},
                    token_from=page_of(proposal))
    assert response.status_code == 200
    fragment = html_of(response)
    assert fragment.lstrip().startswith(f'<div class="support" id="support-{proposal.id}">')
    assert "<html" not in fragment and "3 of 3 supports" in fragment and "goes to consultation" in fragment
    proposal = fresh(Proposal, proposal.id)
    assert proposal.status == "deliberation"
    page = html_of(client.get(page_of(proposal)))
    assert "In consultation" in page and "Your comment" in page
    # A double click, or a stale page, after the consultation opened: a message, not an error page.
    again = post(client, f"{page_of(proposal)}/support", {"action": "support"}, headers={"HX-Request": "true"})
    assert again.status_code == 200 and "You already support this proposal" in html_of(again)
    back = post(client, f"{page_of(proposal)}/support", {"action": "withdraw"})
    assert back.status_code == 302 and "can only be taken back while" in html_of(client.get(page_of(proposal)))
    assert fresh(Proposal, proposal.id).support_count == THRESHOLD


def test_support_is_refused_to_the_author_and_outsiders_and_needs_csrf(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    url = f"{page_of(proposal)}/support"
    assert client.post(url, data={"action": "support"}).status_code == 400  # no CSRF token
    for person in (world.reporter, world.resident_y, world.stranger, world.pending, world.member_y):
        auth.login(person)
        assert post(client, url, {"action": "support"}).status_code == 403, person.display_name
        auth.logout()
    assert count(ProposalSupport) == 0


def test_the_support_form_uses_htmx_and_works_as_a_plain_form(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    auth.login(world.neighbour)
    block = html_of(client.get(page_of(proposal))).split(f'id="support-{proposal.id}"')[1].split("</div>")[0]
    assert f'action="{page_of(proposal)}/support"' in block and f'hx-post="{page_of(proposal)}/support"' in block
    assert f'hx-target="#support-{proposal.id}"' in block and 'name="csrf_token"' in block


# --- editing, history, withdrawing -----------------------------------------------------------------------------

def test_editing_a_published_proposal_keeps_versions_and_the_history_shows_the_difference(client, auth, world):
    proposal = gen_proposal(world, title="Benches for the garden", body="Line one.\nLine <b>two</b>.")
    db.session.commit()
    auth.login(world.reporter)
    form = html_of(client.get(f"{page_of(proposal)}/edit"))
    assert 'value="Benches for the garden"' in form and "What did you change?" in form
    data = proposal_data(world, title="Three benches for the garden", summary=proposal.summary,
                         body="Line one.\nLine <i>three</i>.", category="lift", note="One more bench")
    response = post(client, f"{page_of(proposal)}/edit", data, content_type="multipart/form-data")
    assert response.status_code == 302
    proposal = fresh(Proposal, proposal.id)
    assert proposal.version == 2 and proposal.title == "Three benches for the garden"
    auth.logout()
    history = html_of(client.get(f"{page_of(proposal)}/history"))
    assert "Version 2" in history and "Version 1" in history and "One more bench" in history
    assert "<del>Benches</del><ins>Three benches</ins> for the garden" in history
    assert "Line &lt;" in history and "<b>" not in history and "<i>" not in history  # text, escaped
    assert "<del>" in history and "The text as published." in history


def test_the_edit_form_starts_from_the_proposal_as_it_stands(client, auth, world):
    proposal = gen_proposal(world, building_ids=[world.bx.id], estimated_cost="45000.5", category="safety")
    db.session.commit()
    auth.login(world.reporter)
    form = html_of(client.get(f"{page_of(proposal)}/edit"))
    assert re.search(rf'<input[^>]*checked[^>]*value="{world.bx.id}"|<input[^>]*value="{world.bx.id}"[^>]*checked',
                     form)
    assert 'value="45000.50"' in form and re.search(r'<option[^>]*selected[^>]*value="safety"', form)
    assert "3号楼加装电梯" in form and "老人上下楼困难" in form


def test_pages_of_a_draft_are_404_for_everyone_but_its_author(client, auth, world):
    proposal = gen_proposal(world, publish=False)
    db.session.commit()
    paths = ["", "/history", "/edit", "/withdraw", "/deliberate", "/close", "/summary"]
    for path in ("", "/history"):  # the public pages; the others ask visitors to sign in, whatever the number
        assert client.get(page_of(proposal) + path).status_code == 404, path
    for person in (world.neighbour, world.member_x):
        auth.login(person)
        for path in paths:
            assert client.get(page_of(proposal) + path).status_code == 404, (person.display_name, path)
        auth.logout()
    auth.login(world.reporter)
    for path in ("", "/edit", "/withdraw"):
        assert client.get(page_of(proposal) + path).status_code == 200, path
    assert client.get(f"{page_of(proposal)}/deliberate").status_code == 403


def test_committee_pages_for_each_role(client, auth, world):
    collecting = gen_proposal(world)
    talking = gen_in_deliberation(world, title="In consultation already")
    db.session.commit()
    pages = {f"{page_of(collecting)}/deliberate": "Move to consultation now",
             f"{page_of(talking)}/close": "Close the consultation",
             f"{page_of(talking)}/summary": "Consultation summary", "/c/x/proposals/settings": "Supports needed"}
    for path in pages:
        assert client.get(path).status_code == 302, path  # visitors: sign in first
    for person in (world.reporter, world.neighbour, world.member_y, world.property_x, world.official_a):
        auth.login(person)
        for path in pages:
            assert client.get(path).status_code == 403, (person.display_name, path)
        auth.logout()
    for person in (world.member_x, world.chair_x, world.admin):
        auth.login(person)
        for path, text in pages.items():
            assert text in html_of(client.get(path)), (person.display_name, path)
        auth.logout()
    auth.login(world.member_x)  # steps that do not fit the state
    assert client.get(f"{page_of(talking)}/deliberate").status_code == 403
    assert client.get(f"{page_of(collecting)}/close").status_code == 403


def test_history_of_a_proposal_is_public_and_its_hidden_text_is_not(client, world):
    proposal = gen_proposal(world)
    db.session.commit()
    assert "Version 1" in html_of(client.get(f"{page_of(proposal)}/history"))
    proposal.hidden_state = "hidden"
    db.session.commit()
    assert client.get(f"{page_of(proposal)}/history").status_code == 302


def test_editing_is_for_the_author_only_and_bad_input_keeps_the_typing(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    url = f"{page_of(proposal)}/edit"
    for person in (world.neighbour, world.member_x, world.admin):
        auth.login(person)
        assert client.get(url).status_code == 403, person.display_name
        assert post(client, url, proposal_data(world), content_type="multipart/form-data").status_code == 403
        auth.logout()
    auth.login(world.reporter)
    response = post(client, url, proposal_data(world, title="", body="My new careful words"),
                    content_type="multipart/form-data")
    assert response.status_code == 200 and "My new careful words" in html_of(response)
    assert 'class="error"' in html_of(response)
    assert fresh(Proposal, proposal.id).version == 1 and count(ProposalVersion) == 1


def test_removing_an_attachment_while_editing(client, auth, world, upload_dir):
    proposal = gen_proposal(world, attachments=[("plan.pdf", pdf_bytes())])
    db.session.commit()
    attachment_id = proposal.attachments[0].id
    auth.login(world.reporter)
    form = html_of(client.get(f"{page_of(proposal)}/edit"))
    assert f'name="remove_attachments" value="{attachment_id}"' in form
    data = proposal_data(world, title=proposal.title, summary=proposal.summary, body=proposal.body,
                         category=proposal.category, remove_attachments=str(attachment_id))
    assert post(client, f"{page_of(proposal)}/edit", data, content_type="multipart/form-data").status_code == 302
    assert count(ProposalAttachment) == 0


def test_withdrawing_needs_a_reason_and_a_note_for_other(client, auth, world):
    proposal = gen_proposal(world)
    gen_supports(world, proposal, 1)
    db.session.commit()
    url = f"{page_of(proposal)}/withdraw"
    auth.login(world.neighbour)
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login(world.reporter)
    page = html_of(client.get(url))
    assert "Duplicate of another proposal" in page and "Its 1 supporter will be told why." in page
    missing = post(client, url, {"note": "Typed note"})
    assert missing.status_code == 200 and "Say why you withdraw it" in html_of(missing)
    assert "Typed note" in html_of(missing)
    other = post(client, url, {"reason": "other"})
    assert other.status_code == 200 and "Say in a few words" in html_of(other)
    assert fresh(Proposal, proposal.id).status == "collecting"
    done = post(client, url, {"reason": "duplicate"})
    assert done.status_code == 302 and fresh(Proposal, proposal.id).status == "withdrawn"
    assert client.get(url).status_code == 403  # already withdrawn


# --- the committee ---------------------------------------------------------------------------------------------

def test_moving_to_consultation_needs_a_committee_member_and_a_reason(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    url = f"{page_of(proposal)}/deliberate"
    for person in (world.reporter, world.neighbour, world.member_y):
        auth.login(person)
        assert post(client, url, {"reason": "Urgent"}).status_code == 403, person.display_name
        auth.logout()
    auth.login(world.member_x)
    assert "Why now?" in html_of(client.get(page_of(proposal)))
    refused = post(client, url, {"reason": "  "})
    assert refused.status_code == 200 and "Say why the consultation opens now" in html_of(refused)
    assert fresh(Proposal, proposal.id).status == "collecting"
    assert post(client, url, {"reason": "The lift is unsafe: no time to lose"}).status_code == 302
    assert fresh(Proposal, proposal.id).status == "deliberation"
    page = html_of(client.get(page_of(proposal)))
    assert "The lift is unsafe: no time to lose" in page and "moved the proposal to consultation" in page


def test_closing_the_consultation_makes_comments_read_only(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    url = f"{page_of(proposal)}/close"
    auth.login(world.neighbour)
    assert post(client, url).status_code == 403
    auth.logout()
    auth.login(world.member_x)
    assert "Close the consultation" in html_of(client.get(url))
    assert post(client, url, {"reason": "Two weeks are over"}).status_code == 302
    auth.logout()
    auth.login(world.neighbour)
    page = html_of(client.get(page_of(proposal)))
    assert "comments are read-only" in page and "Post my comment" not in page
    assert post(client, f"{page_of(proposal)}/comments", {"stance": "for", "body": "Late"}).status_code == 403


def test_the_summary_is_written_by_the_committee_and_pinned_on_top(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    url = f"{page_of(proposal)}/summary"
    for person in (world.reporter, world.neighbour, world.member_y):
        auth.login(person)
        assert client.get(url).status_code == 403, person.display_name
        auth.logout()
    auth.login(world.member_x)
    empty = post(client, url, {"arguments_for": " ", "arguments_against": ""})
    assert empty.status_code == 200 and "Write the main arguments" in html_of(empty)
    long = post(client, url, {"arguments_for": "x" * 4001, "arguments_against": "Kept against"})
    assert long.status_code == 200 and "Kept against" in html_of(long)
    assert post(client, url, {"arguments_for": "Safer stairs", "arguments_against": "Cost per flat"}).status_code == 302
    page = html_of(client.get(page_of(proposal)))
    assert page.index("Consultation summary") < page.index("Safer stairs") < page.index('class="markdown"')
    assert "Cost per flat" in page and "written by Member X" in page
    form = html_of(client.get(url))
    assert "Safer stairs" in form and "Rewrite" not in form


def test_the_summary_page_of_a_collecting_proposal_is_refused(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    auth.login(world.member_x)
    assert client.get(f"{page_of(proposal)}/summary").status_code == 403


def test_support_settings_for_the_committee(client, auth, world):
    auth.login(world.reporter)
    assert client.get("/c/x/proposals/settings").status_code == 403
    auth.logout()
    auth.login(world.member_x)
    page = html_of(client.get("/c/x/proposals/settings"))
    assert 'value="3"' in page and 'value="30"' in page
    words = post(client, "/c/x/proposals/settings", {"threshold": "ten", "days": "14"})
    assert words.status_code == 200 and "Write a whole number" in html_of(words) and 'value="ten"' in html_of(words)
    zero = post(client, "/c/x/proposals/settings", {"threshold": "0", "days": "14"})
    assert zero.status_code == 200 and 'class="error"' in html_of(zero)
    assert post(client, "/c/x/proposals/settings", {"threshold": "5", "days": "14"}).status_code == 302
    db.session.expire_all()
    assert services.settings_for(world.x) == (5, 14)
    auth.logout()
    auth.login(world.member_y)
    assert post(client, "/c/x/proposals/settings", {"threshold": "1", "days": "1"}).status_code == 403


# --- comments --------------------------------------------------------------------------------------------------

def test_comment_and_reply_without_javascript(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    url = page_of(proposal)
    auth.login(world.neighbour)
    response = post(client, f"{url}/comments", {"stance": "against", "body": "Too expensive for us."}, token_from=url)
    top = db.session.scalar(db.select(Comment))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{url}#comment-{top.id}")
    auth.logout()
    auth.login(world.supporters[0])
    reply = post(client, f"{url}/comments", {"stance": "for", "body": "The fund pays half.", "parent_id": top.id})
    assert reply.status_code == 302
    first_reply = db.session.scalar(db.select(Comment).where(Comment.parent_id == top.id))
    # A reply to a reply joins the thread: one level deep.
    post(client, f"{url}/comments", {"stance": "neutral", "body": "Ask the owners.", "parent_id": first_reply.id})
    assert {c.parent_id for c in db.session.scalars(db.select(Comment).where(Comment.id != top.id))} == {top.id}
    page = html_of(client.get(url))
    assert f'id="comment-{top.id}"' in page and "Too expensive for us." in page and "The fund pays half." in page
    assert page.index("Too expensive") < page.index("The fund pays half.") < page.index("Ask the owners.")
    assert "Against 1" in page and "For 1" in page and "Neutral 1" in page
    # Each thread offers "Reply": a page of its own without JavaScript, the form in place with htmx.
    reply_url = f"{url}/comments/{top.id}/reply"
    assert 'class="reply-list"' in page and f'href="{reply_url}"' in page and f'hx-get="{reply_url}"' in page
    assert 'name="parent_id"' not in page  # no form under every thread of a long consultation
    reply_page = html_of(client.get(reply_url))
    assert "<html" in reply_page and "Too expensive for us." in reply_page
    assert f'name="parent_id" value="{top.id}"' in reply_page
    inline = html_of(client.get(reply_url, headers={"HX-Request": "true"}))
    assert "<html" not in inline and f'name="parent_id" value="{top.id}"' in inline
    assert f'id="body-reply-{top.id}"' in inline  # reply forms have their own ids
    # A reply to a reply opens the form of its thread.
    assert f'value="{top.id}"' in html_of(client.get(f"{url}/comments/{first_reply.id}/reply",
                                                     headers={"HX-Request": "true"}))


BAD_COMMENTS = {
    "no stance": ({"body": "Kept words"}, "Say whether you are for, against or neutral"),
    "empty body": ({"stance": "for", "body": "   "}, "Write your comment"),
    "too long": ({"stance": "against", "body": "Kept words " + "x" * 2000}, "At most 2000 characters"),
}


@pytest.mark.parametrize("case", BAD_COMMENTS, ids=list(BAD_COMMENTS))
def test_a_bad_comment_shows_the_form_again_with_the_typing(client, auth, world, case):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal, body="Original thread")
    db.session.commit()
    data, message = BAD_COMMENTS[case]
    auth.login(world.supporters[0])
    for extra in ({}, {"parent_id": top.id}):
        response = post(client, f"{page_of(proposal)}/comments", {**data, **extra}, token_from=page_of(proposal))
        assert response.status_code == 200
        page = html_of(response)
        assert message in page and 'class="error"' in page
        if case != "empty body":
            assert "Kept words" in page
        if extra:
            assert "Reply to a comment" in page and "Original thread" in page
    assert count(Comment) == 1


def test_comments_are_refused_outside_the_consultation_and_to_outsiders(client, auth, world):
    collecting = gen_proposal(world)
    talking = gen_in_deliberation(world)
    db.session.commit()
    data = {"stance": "for", "body": "Yes"}
    assert client.post(f"{page_of(talking)}/comments", data=data).status_code == 400  # no CSRF token
    auth.login(world.neighbour)
    assert post(client, f"{page_of(collecting)}/comments", data).status_code == 403
    assert post(client, f"{page_of(talking)}/comments", {**data, "parent_id": "999999"}).status_code == 404
    assert post(client, f"{page_of(talking)}/comments", {**data, "parent_id": "abc"}).status_code == 404
    auth.logout()
    for person in (world.resident_y, world.stranger, world.pending, world.member_y):
        auth.login(person)
        assert post(client, f"{page_of(talking)}/comments", data).status_code == 403, person.display_name
        auth.logout()
    assert count(Comment) == 0
    page = html_of(client.get(page_of(talking)))
    assert "Sign in to take part in the consultation" in page


def test_a_committee_member_may_comment(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.member_x)
    response = post(client, f"{page_of(proposal)}/comments", {"stance": "neutral", "body": "We will ask the district."},
                    token_from=page_of(proposal))
    assert response.status_code == 302 and count(Comment) == 1


def test_comments_sort_oldest_newest_and_most_liked(client, auth, world):
    proposal = gen_in_deliberation(world)
    first = gen_comment(world, proposal, author=world.supporters[0], body="First words")
    second = gen_comment(world, proposal, author=world.supporters[1], body="Second words")
    gen_comment(world, proposal, author=world.supporters[2], body="Third words")
    services.like_comment(world.neighbour, second)
    services.like_comment(world.supporters[0], second)
    services.like_comment(world.neighbour, first)
    db.session.commit()
    url = page_of(proposal)

    def order(query):
        page = html_of(client.get(url + query))
        return sorted(("First", "Second", "Third"), key=lambda w: page.index(f"{w} words"))
    assert order("") == ["First", "Second", "Third"]
    assert order("?sort=newest") == ["Third", "Second", "First"]
    assert order("?sort=liked") == ["Second", "First", "Third"]
    assert order("?sort=nonsense") == ["First", "Second", "Third"]
    assert 'aria-current="true">Most liked' in html_of(client.get(url + "?sort=liked"))


def test_comments_come_twenty_threads_a_page(client, world):
    proposal = gen_in_deliberation(world)
    people = world.supporters + [world.neighbour, world.reporter]
    for n in range(41):
        gen_comment(world, proposal, author=people[n % len(people)], body=f"Comment number {n:02d}.")
    db.session.commit()
    page = html_of(client.get(page_of(proposal)))
    assert "Comment number 19." in page and "Comment number 20." not in page and "Page 1 of 3" in page
    assert f'href="{page_of(proposal)}?page=2&amp;sort=oldest"' in page or "page=2" in page
    second = html_of(client.get(f"{page_of(proposal)}?page=2"))
    assert "Comment number 20." in second and "Comment number 39." in second and "Comment number 19." not in second
    assert "Comment number 40." in html_of(client.get(f"{page_of(proposal)}?page=3"))
    assert client.get(f"{page_of(proposal)}?page=99").status_code == 200
    assert client.get(f"{page_of(proposal)}?page=-3").status_code == 200


def test_likes_with_htmx_and_without(client, auth, world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, body="Worth liking")
    db.session.commit()
    url = f"{page_of(proposal)}/comments/{comment.id}/like"
    auth.login(world.neighbour)  # the author
    assert f'id="like-{comment.id}"' in html_of(client.get(page_of(proposal)))
    assert 'value="like"' not in html_of(client.get(page_of(proposal))).split(f'id="like-{comment.id}"')[1][:400]
    assert post(client, url, {"action": "like"}).status_code == 403
    auth.logout()
    auth.login(world.supporters[0])
    response = post(client, url, {"action": "like"}, headers={"HX-Request": "true"}, token_from=page_of(proposal))
    fragment = html_of(response)
    assert response.status_code == 200 and fragment.lstrip().startswith(f'<span class="like" id="like-{comment.id}">')
    assert 'aria-pressed="true"' in fragment and '<span class="like-count">1</span>' in fragment
    assert post(client, url, {"action": "like"}, headers={"HX-Request": "true"}).status_code == 200
    assert count(CommentLike) == 1
    plain = post(client, url, {"action": "unlike"})
    assert plain.status_code == 302 and plain.headers["Location"].endswith(f"#comment-{comment.id}")
    assert count(CommentLike) == 0 and fresh(Comment, comment.id).like_count == 0
    auth.logout()
    auth.login(world.resident_y)
    assert post(client, url, {"action": "like"}).status_code == 403


def test_editing_a_comment_silently_then_visibly_with_history_for_moderators(client, auth, world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, body="First thought")
    db.session.commit()
    url = f"{page_of(proposal)}/comments/{comment.id}/edit"
    auth.login(world.supporters[0])
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login(world.neighbour)
    form = html_of(client.get(url))
    assert "First thought" in form and "Edit your comment" in form
    bad = post(client, url, {"stance": "for", "body": ""})
    assert bad.status_code == 200 and "Write your comment" in html_of(bad)
    assert post(client, url, {"stance": "for", "body": "Second thought"}).status_code == 302
    assert "edited" not in html_of(client.get(page_of(proposal))).split(f'id="comment-{comment.id}"')[1][:600]
    assert count(CommentRevision) == 0
    fresh(Comment, comment.id).created_at = utcnow() - timedelta(minutes=20)
    db.session.commit()
    assert post(client, url, {"stance": "against", "body": "Third thought"}).status_code == 302
    page = html_of(client.get(page_of(proposal)))
    assert "Third thought" in page and '<span class="edited">edited</span>' in page
    history_url = f"{page_of(proposal)}/comments/{comment.id}/history"
    assert client.get(history_url).status_code == 403  # the author is no moderator
    auth.logout()
    auth.login(world.member_x)
    assert "Earlier versions" in html_of(client.get(page_of(proposal)))
    history = html_of(client.get(history_url))
    assert "Second thought" in history and "Third thought" in history


def test_deleting_a_comment_leaves_a_placeholder_and_keeps_the_replies(client, auth, world):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal, body="Words I regret")
    gen_comment(world, proposal, author=world.supporters[0], parent=top, body="A reply that stays")
    db.session.commit()
    url = f"{page_of(proposal)}/comments/{top.id}/delete"
    auth.login(world.supporters[0])
    assert post(client, url).status_code == 403
    auth.logout()
    auth.login(world.neighbour)
    assert "Delete my comment" in html_of(client.get(page_of(proposal)))
    response = post(client, url)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#comment-{top.id}")
    page = html_of(client.get(page_of(proposal)))
    assert "Comment deleted" in page and "Words I regret" not in page and "A reply that stays" in page
    assert post(client, url).status_code == 403  # already deleted


def test_a_hidden_comment_shows_the_notice_to_the_public_and_the_text_to_its_author_and_moderators(
        client, auth, world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, stance="against", body="Mr Wang in 301 is a liar")
    comment.hidden_state = "pending"
    db.session.commit()
    page = html_of(client.get(page_of(proposal)))
    assert "Hidden pending review" in page and "Mr Wang" not in page
    auth.login(world.supporters[0])
    page = html_of(client.get(page_of(proposal)))
    assert "Hidden pending review" in page and "Mr Wang" not in page
    auth.logout()
    auth.login(world.neighbour)
    assert "Mr Wang in 301 is a liar" in html_of(client.get(page_of(proposal)))
    auth.logout()
    auth.login(world.member_x)
    page = html_of(client.get(page_of(proposal)))
    assert "Mr Wang in 301 is a liar" in page and f"/moderation/comment/{comment.id}/restore" in page


def test_flag_controls_for_verified_people_not_for_visitors_or_the_author(client, auth, world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    db.session.commit()
    flag_url = f"/moderation/flag/comment/{comment.id}"
    assert flag_url not in html_of(client.get(page_of(proposal)))
    auth.login(world.neighbour)
    assert flag_url not in html_of(client.get(page_of(proposal)))
    auth.logout()
    auth.login(world.supporters[0])
    page = html_of(client.get(page_of(proposal)))
    assert flag_url in page and "/moderation/flag/proposal/" in page


# --- links from other pages ------------------------------------------------------------------------------------

def test_the_community_page_links_the_proposals_and_home_offers_to_propose(client, auth, world):
    page = html_of(client.get("/c/x"))
    assert 'href="/c/x/proposals"' in page and 'href="/c/x/proposals/new"' not in page
    auth.login(world.reporter)
    assert 'href="/c/x/proposals/new"' in html_of(client.get("/c/x"))
    assert 'href="/c/x/proposals/new"' in html_of(client.get("/"))
    auth.logout()
    auth.login(world.stranger)
    assert "/proposals/new" not in html_of(client.get("/"))


def test_pages_carry_no_inline_script_or_style(client, auth, world):
    proposal = gen_in_deliberation(world)
    gen_comment(world, proposal)
    db.session.commit()
    auth.login(world.member_x)
    for path in ("/c/x/proposals", page_of(proposal), f"{page_of(proposal)}/history", "/c/x/proposals/new",
                 f"{page_of(proposal)}/summary", "/c/x/proposals/settings", f"{page_of(proposal)}/close"):
        page = html_of(client.get(path))
        assert "<script>" not in page and " style=" not in page and "hx-on" not in page, path


# --- long threads: the first replies on the page, the rest on demand --------------------------------------------

def _thread_with_replies(world, n):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal, body="The thread starts here.")
    people = world.supporters + [world.reporter]
    replies = [gen_comment(world, proposal, author=people[i % len(people)], parent=top, body=f"Reply number {i:03d}.")
               for i in range(n)]
    db.session.commit()
    return proposal, top, replies


def test_a_thread_shows_its_first_replies_and_a_link_to_the_rest_with_and_without_javascript(client, world):
    proposal, top, replies = _thread_with_replies(world, services.REPLIES_SHOWN + 5)
    page = html_of(client.get(page_of(proposal)))
    shown = services.REPLIES_SHOWN
    assert all(f"Reply number {i:03d}." in page for i in range(shown))
    assert f"Reply number {shown:03d}." not in page
    more_url = f"{page_of(proposal)}/comments/{top.id}/replies?after={replies[shown - 1].id}"
    assert "Show 5 more replies" in page and f'href="{more_url}"' in page.replace("&amp;", "&")

    # htmx: only the rows that replace the link
    fragment = html_of(client.get(more_url, headers={"HX-Request": "true"}))
    assert "<html" not in fragment and fragment.lstrip().startswith("<li>")
    assert all(f"Reply number {i:03d}." in fragment for i in range(shown, shown + 5))
    assert f"Reply number {shown - 1:03d}." not in fragment and "more repl" not in fragment
    # without JavaScript: the thread's page, the top comment first
    whole = html_of(client.get(more_url))
    assert "<html" in whole and "The thread starts here." in whole
    assert all(f"Reply number {i:03d}." in whole for i in range(shown, shown + 5))
    assert "Show the thread from its first reply" in whole
    from_start = html_of(client.get(f"{page_of(proposal)}/comments/{top.id}/replies"))
    assert all(f"Reply number {i:03d}." in from_start for i in range(shown + 5))
    # a reply is not a thread; another proposal's comment is not found
    assert client.get(f"{page_of(proposal)}/comments/{replies[0].id}/replies").status_code == 404
    other = gen_in_deliberation(world)
    db.session.commit()
    assert client.get(f"{page_of(other)}/comments/{top.id}/replies").status_code == 404


def test_a_very_long_thread_comes_a_page_of_replies_at_a_time(client, world, monkeypatch):
    monkeypatch.setattr(services, "REPLIES_PER_PAGE", 4)
    proposal, top, replies = _thread_with_replies(world, 10)
    url = f"{page_of(proposal)}/comments/{top.id}/replies"
    first = html_of(client.get(url, headers={"HX-Request": "true"}))
    assert [f"Reply number {i:03d}." in first for i in range(6)] == [True] * 4 + [False] * 2
    assert "Show 6 more replies" in first and f"after={replies[3].id}" in first
    found, later = services.thread_replies(proposal, top, None, after=replies[7].id)
    assert [r.id for r in found] == [replies[8].id, replies[9].id] and later == 0


def test_a_reply_posted_without_javascript_leads_to_its_thread(client, auth, world):
    proposal, top, _replies = _thread_with_replies(world, services.REPLIES_SHOWN + 1)
    url = page_of(proposal)
    auth.login(world.neighbour)
    response = post(client, f"{url}/comments", {"stance": "for", "body": "Late reply.", "parent_id": str(top.id)},
                    token_from=url)
    added = db.session.scalar(db.select(Comment).where(Comment.body == "Late reply."))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{url}/comments/{top.id}/replies#comment-{added.id}")
    assert "Late reply." in html_of(client.get(response.headers["Location"]))
    page = html_of(client.get(url))
    assert "Late reply." not in page and 'href="#new-comment"' in page and 'id="new-comment"' in page


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_list_filters_kept_between_views_are_what_wtforms_renders(app, language):
    """The words box and the selects, read from the address without the form and kept per language and
    value, are what the form itself renders from the same address: chosen, absent, unknown, empty, repeated,
    hostile and overlong values alike."""
    from flask import render_template_string

    from portal.proposals.forms import FilterForm
    from portal.proposals.views import filter_fields, filter_values
    template = '{% from "_macros.html" import field %}{{ field(f) }}'
    queries = [{}, {"status": "open"}, {"status": "archived", "category": "lift", "show": "supported", "q": "电梯"},
               {"status": "no-such-state", "category": "<b>", "show": "needs_support", "q": '"><script>'},
               {"status": "", "q": ""}, {"q": "x" * 101}, [("status", "open"), ("status", "decided"), ("q", "a"),
                                                           ("q", "b")]]
    for query in queries:
        for _round in range(2):  # computed, then kept
            with app.app_context(), app.test_request_context("/", query_string=query,
                                                             headers={"Accept-Language": language}):
                from flask import request
                form = FilterForm(request.args)
                values = filter_values(request.args)
                shown = filter_fields(values)
                assert set(shown) == {"status", "category", "show", "q"}
                for name in shown:
                    assert values[name] == form[name].data or values[name] is None and not form[name].data
                    assert str(shown[name]) == render_template_string(template, f=form[name]), (query, name)
                marked = [o for o in str(shown["status"]).split("<option")[1:] if "selected" in o]
                status = dict(query).get("status") if isinstance(query, dict) else "open"
                assert [o.split('"')[1] for o in marked] == ([status] if status in ("", "open", "archived") else [])


def test_the_step_bar_and_the_tally_are_read_once_per_version_and_follow_changes(client, world):
    """Kept per proposal under the community's version (portal.versions): a second view reads neither, and a
    new step (a proposal event) or comment shows on the next view."""
    from tests.queries import recorded_statements
    proposal = gen_proposal(world)
    db.session.commit()
    page = html_of(client.get(page_of(proposal)))
    html_of(client.get(page_of(proposal)))
    with recorded_statements() as statements:
        assert html_of(client.get(page_of(proposal))).count("<time") == page.count("<time")
    read = " ".join(statements)
    assert "to_state IS NOT NULL" not in read and "GROUP BY proposal_comment.proposal_id" not in read
    gen_supports(world, proposal, proposal.support_threshold)
    gen_comment(world, proposal, stance="against")
    db.session.commit()
    page = html_of(client.get(page_of(proposal)))
    bar = page.split('class="step-bar"')[1].split("</ol>")[0]
    assert bar.count("<time") == 3 and "Against 1" in page
