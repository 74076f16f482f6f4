"""Print views for lobby boards (issue #7): a notice, a meeting's agenda (with published minutes and decisions
once held) and a decision, each one A4 page with a QR code to the item's page; the same code as a PNG.

The QR code must hold the absolute address built from PORTAL_BASE_URL ("https://yishi.test" in the tests)
even when the request comes with a forged Host: it is rendered to PNG and decoded with zxing-cpp. The print
pages show only what the item's own page shows to the same person."""
import io
import re

import pytest
import zxingcpp
from markupsafe import escape
from PIL import Image

from portal.extensions import db
from portal.qr import qr_png, qr_svg
from tests.committees.meetings_helpers import gen_held_meeting, gen_meeting
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals import gen_in_deliberation, gen_proposal
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes.conftest import world  # noqa: F401

BASE = "https://yishi.test"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def gen_notice(w, *, outcome="passed", **kw):
    """A public notice of a decided proposal, started through the notices service (no ballot)."""
    from portal.notices import services
    proposal = gen_proposal(w, **kw)
    proposal.status, proposal.outcome = "decided", outcome
    db.session.flush()
    return services.start_notice(proposal, None)


def full_meeting(w, **kw):
    """A held meeting of w.hoa_x with an agenda item on a proposal, published minutes and a decision."""
    from portal.committees import meetings
    proposal = gen_in_deliberation(w)
    meeting = gen_held_meeting(w, agenda=[("电梯加装 Lift", proposal, None)], **kw)
    item = meeting.agenda[0]
    meetings.save_minutes(w.hoa_chair, meeting, {item.id: "同意推进 **Agreed** to go on", None: "会议准时开始"})
    meetings.publish_minutes(w.hoa_member, meeting)
    decision = meetings.record_decision(w.hoa_chair, meeting, text="就加装电梯开展业主表决 Owners vote on the lift",
                                        follow_up="open_ballot", agenda_item=item)
    return meeting, decision


def no_script(html: str) -> None:
    assert "<script" not in html and "htmx" not in html and "hx-" not in html
    assert "<nav" not in html and "<form" not in html
    assert "css/print.css" in html and "css/portal.css" not in html


def svg_name(html: str) -> str:
    match = re.search(r'<svg role="img" aria-label="([^"]+)"[^>]*><title>([^<]+)</title>', html)
    assert match, "the QR code is an inline SVG named for screen readers"
    assert match.group(1) == match.group(2)
    return match.group(1)


# --- the QR code itself --------------------------------------------------------------------------------------

def test_qr_png_decodes_to_the_url():
    url = f"{BASE}/c/x/notices/12?a=1&b=二"
    assert decode(qr_png(url, 4)) == [url]
    assert Image.open(io.BytesIO(qr_png(url, 0))).size[0] > 0  # a scale below 1 is taken as 1


def test_qr_svg_is_inline_accessible_and_escaped():
    svg = str(qr_svg("https://yishi.test/x", 'Scan "<me>"'))
    assert svg.startswith('<svg role="img" aria-label="Scan &#34;&lt;me&gt;&#34;"')
    assert "<title>Scan &#34;&lt;me&gt;&#34;</title>" in svg or "<title>Scan \"&lt;me&gt;\"</title>" in svg
    assert "viewBox" in svg and "<?xml" not in svg and "style=" not in svg


def test_absolute_url_ignores_a_forged_host(app, client):
    from portal.web import absolute_url
    with app.test_request_context("/", headers=FORGED):
        assert absolute_url("notices.detail", slug="x", notice_id=3) == f"{BASE}/c/x/notices/3"
        assert absolute_url("committees.meeting", org_id=1, meeting_id=2, _anchor="decision-9") == \
            f"{BASE}/o/1/meetings/2#decision-9"
    from portal.auth.services import absolute_url as from_auth
    assert from_auth is absolute_url  # one helper, re-exported where the reset links used to build their own


def test_absolute_urls_are_remembered_for_their_values_and_base(app, monkeypatch):
    from portal import formatting
    from portal.web import absolute_url
    with app.test_request_context("/"):
        first = absolute_url("notices.detail", slug="x", notice_id=3)
        assert absolute_url("notices.detail", notice_id=3, slug="x") == first  # the same, in any order
        assert absolute_url("notices.detail", slug="x", notice_id=4) == f"{BASE}/c/x/notices/4"
        assert absolute_url("notices.detail", slug="x", notice_id=3, _anchor="a b") == f"{first}#a%20b"
        assert absolute_url("issues.index", slug="x", status=["open", "closed"]) == \
            f"{BASE}/c/x/issues?status=open&status=closed"  # a list: built, not remembered
        monkeypatch.setitem(app.config, "PORTAL_BASE_URL", "https://elsewhere.example")
        assert absolute_url("notices.detail", slug="x", notice_id=3) == "https://elsewhere.example/c/x/notices/3"
        monkeypatch.setattr(formatting, "ABSOLUTE_URLS_KEPT", 0)
        app.extensions["portal.absolute_urls"].clear()
        assert absolute_url("notices.detail", slug="y", notice_id=5) == "https://elsewhere.example/c/y/notices/5"
        assert not app.extensions["portal.absolute_urls"]  # full: built each time, nothing more kept


# --- notices --------------------------------------------------------------------------------------------------

def test_notice_print_page_and_qr(world, client):
    notice = gen_notice(world)
    db.session.commit()
    page_url = f"{BASE}/c/x/notices/{notice.id}"
    response = client.get(f"/c/x/notices/{notice.id}/print", headers=FORGED)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    no_script(html)
    assert world.x.name in html and notice.proposal.title in html
    assert page_url in html and "evil.example" not in html
    svg_name(html)
    png = client.get(f"/c/x/notices/{notice.id}/qr.png", headers=FORGED)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "attachment" in png.headers["Content-Disposition"]
    assert decode(png.data) == [page_url]


def test_notice_of_a_hidden_proposal_is_not_printed(world, client, auth):
    notice = gen_notice(world)
    notice.proposal.hidden_state = "hidden"
    db.session.commit()
    for path in (f"/c/x/notices/{notice.id}/print", f"/c/x/notices/{notice.id}/qr.png"):
        assert client.get(path).status_code == 404
    auth.login(world.stranger)
    assert client.get(f"/c/x/notices/{notice.id}/print").status_code == 404


def test_notice_of_a_members_only_community_asks_outsiders_to_sign_in(world, client, auth):
    notice = gen_notice(world)
    world.x.members_only = True
    db.session.commit()
    anonymous = client.get(f"/c/x/notices/{notice.id}/print")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    auth.login(world.resident_y)
    assert client.get(f"/c/x/notices/{notice.id}/print").status_code == 403
    assert client.get(f"/c/x/notices/{notice.id}/qr.png").status_code == 403


def test_notice_of_another_community_or_unknown_id_is_404(world, client):
    notice = gen_notice(world)
    db.session.commit()
    assert client.get(f"/c/y/notices/{notice.id}/print").status_code == 404
    assert client.get(f"/c/nowhere/notices/{notice.id}/print").status_code == 404
    assert client.get("/c/x/notices/999999/print").status_code == 404
    assert client.get("/c/x/notices/99999999999999999999/print").status_code == 404


# --- meetings ---------------------------------------------------------------------------------------------

def test_agenda_print_of_a_scheduled_public_meeting(world, client):
    proposal = gen_in_deliberation(world)
    meeting = gen_meeting(world, agenda=[("电梯加装 Lift", proposal, None)])
    db.session.commit()
    response = client.get(f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print", headers=FORGED)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    no_script(html)
    for text in (world.x.name, world.hoa_x.name, meeting.title, "电梯加装 Lift", "社区活动室"):
        assert str(escape(text)) in html
    page_url = f"{BASE}/o/{world.hoa_x.id}/meetings/{meeting.id}"
    assert page_url in html and "evil.example" not in html
    png = client.get(f"/o/{world.hoa_x.id}/meetings/{meeting.id}/qr.png", headers=FORGED)
    assert decode(png.data) == [page_url]


def test_held_meeting_prints_published_minutes_and_decisions(world, client):
    meeting, decision = full_meeting(world)
    db.session.commit()
    html = client.get(f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print").get_data(as_text=True)
    assert "<strong>Agreed</strong>" in html and "会议准时开始" in html
    assert decision.text in html


def test_unpublished_minutes_are_not_printed(world, client, auth):
    from portal.committees import meetings
    meeting = gen_held_meeting(world)
    meetings.save_minutes(world.hoa_chair, meeting, {None: "草稿 draft words not yet approved"})
    db.session.commit()
    path = f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print"
    assert "draft words" not in client.get(path).get_data(as_text=True)
    auth.login(world.hoa_member)  # not even for members: the print page is what goes on the board
    assert "draft words" not in client.get(path).get_data(as_text=True)


def test_a_correction_prints_after_the_version_it_corrects(world, client):
    from portal.committees import meetings
    meeting, _ = full_meeting(world)
    meetings.save_minutes(world.hoa_chair, meeting, {None: "更正：会议推迟十分钟开始"}, correction_note="开始时间有误")
    meetings.publish_minutes(world.hoa_member, meeting)
    db.session.commit()
    html = client.get(f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print").get_data(as_text=True)
    assert html.index("会议准时开始") < html.index("开始时间有误") < html.index("更正：会议推迟十分钟开始")


def test_a_non_public_meeting_is_not_there_for_outsiders(world, client, auth):
    meeting = gen_meeting(world, is_public=False, title="闭门会议 Closed meeting")
    db.session.commit()
    paths = (f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print", f"/o/{world.hoa_x.id}/meetings/{meeting.id}/qr.png")
    for path in paths:
        assert client.get(path).status_code == 404
    auth.login(world.resident)  # a resident of the community, not a member of the committee
    for path in paths:
        assert client.get(path).status_code == 404
    auth.logout()
    auth.login(world.hoa_member)
    response = client.get(paths[0])
    assert response.status_code == 200 and "闭门会议" in response.get_data(as_text=True)


def test_meeting_of_another_organization_or_unknown_is_404(world, client):
    meeting = gen_meeting(world)
    db.session.commit()
    assert client.get(f"/o/{world.rc_x.id}/meetings/{meeting.id}/print").status_code == 404
    assert client.get(f"/o/{world.hoa_x.id}/meetings/999999/print").status_code == 404
    assert client.get(f"/o/{world.hoa_x.id}/meetings/99999999999999999999/print").status_code == 404


def test_cancelled_meeting_prints_as_cancelled(world, client):
    from portal.committees import meetings
    meeting = gen_meeting(world)
    meetings.cancel_meeting(world.hoa_chair, meeting, "主任出差 The chair is away")
    db.session.commit()
    html = client.get(f"/o/{world.hoa_x.id}/meetings/{meeting.id}/print").get_data(as_text=True)
    assert "主任出差" in html


# --- decisions --------------------------------------------------------------------------------------------

def test_decision_print_and_qr_point_at_the_decision_on_the_meeting_page(world, client):
    meeting, decision = full_meeting(world)
    db.session.commit()
    path = f"/o/{world.hoa_x.id}/decisions/{decision.id}/print"
    response = client.get(path, headers=FORGED)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    no_script(html)
    page_url = f"{BASE}/o/{world.hoa_x.id}/meetings/{meeting.id}#decision-{decision.id}"
    for text in (decision.text, meeting.title, world.hoa_x.name, page_url):
        assert str(escape(text)) in html
    png = client.get(f"/o/{world.hoa_x.id}/decisions/{decision.id}/qr.png", headers=FORGED)
    assert decode(png.data) == [page_url]


def test_decision_of_a_non_public_meeting_is_not_there_for_outsiders(world, client, auth):
    meeting, decision = full_meeting(world, is_public=False)
    db.session.commit()
    path = f"/o/{world.hoa_x.id}/decisions/{decision.id}/print"
    assert client.get(path).status_code == 404
    auth.login(world.stranger)
    assert client.get(path).status_code == 404
    assert client.get(f"/o/{world.hoa_x.id}/decisions/{decision.id}/qr.png").status_code == 404
    assert client.get(f"/o/{world.rc_x.id}/decisions/{decision.id}/print").status_code == 404


@pytest.mark.parametrize("path", ["/c/x/notices/1/print", "/o/1/meetings/1/print", "/o/1/decisions/1/print"])
def test_unknown_items_are_404_not_500(world, client, path):
    assert client.get(path).status_code == 404


def test_print_stylesheet_sets_a4_and_large_type(app):
    from pathlib import Path
    css = (Path(app.static_folder) / "css" / "print.css").read_text()
    assert re.search(r"@page\s*{[^}]*size:\s*A4", css)
    assert re.search(r"@page\s*{[^}]*margin:", css)
    assert "font-size: 14pt" in css and re.search(r"h1\s*{[^}]*font-size:\s*2[4-9]pt", css)
