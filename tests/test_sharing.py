"""Sharing in WeChat and elsewhere (issue #21): the card tags on every item page, the server-drawn preview, the
short link and its QR code.

A card says only what an anonymous visitor may read: for a hidden, draft or members-only item it carries the
site's name and a neutral title, whoever is looking. Addresses come from PORTAL_BASE_URL
("https://yishi.test" in the tests), never from the request's Host."""
import io
import re
from html import unescape

import pytest
import zxingcpp
from PIL import Image

from portal import previews
from portal.extensions import db
from portal.sharing import ALPHABET, CODE_LENGTH, ShortLink, short_link_for
from tests.actions import gen_action
from tests.actions.conftest import world  # noqa: F401
from tests.issues import gen_issue
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals import gen_proposal
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes import gen_ballot
from tests.votes.conftest import world as votes_world  # noqa: F401

BASE = "https://yishi.test"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
NEUTRAL = ("A page on Yishi", "议事上的一个页面")


def gen_notice(w, **kw):
    from portal.notices import services
    proposal = gen_proposal(w, **kw)
    proposal.status, proposal.outcome = "decided", "passed"
    db.session.flush()
    return services.start_notice(proposal, None)


def items(w):
    """One item of each kind in community x, committed: {kind: (item, page path, its title)}."""
    issue = gen_issue(w, title="3号楼电梯困人 Lift stuck")
    proposal = gen_proposal(w, title="加装电梯 Install a lift", summary="为3号楼加装电梯，方便老人出行。")
    ballot = gen_ballot(w, question="是否同意加装电梯？ Agree to the lift?")
    notice = gen_notice(w, title="公示：停车新规 Parking rules")
    action = gen_action(w, title="修复门禁 Fix the door")
    db.session.commit()
    return {
        "issue": (issue, f"/c/x/issues/{issue.id}", issue.title),
        "proposal": (proposal, f"/c/x/proposals/{proposal.id}", proposal.title),
        "ballot": (ballot, f"/c/x/ballots/{ballot.id}", ballot.question),
        "notice": (notice, f"/c/x/notices/{notice.id}", notice.proposal.title),
        "action": (action, f"/c/x/actions/{action.id}", action.title),
    }


def meta(html: str) -> dict[str, str]:
    """The page's Open Graph and Twitter tags, property/name → content."""
    found = {}
    for attrs in re.findall(r"<meta ([^>]*)>", html):
        key = re.search(r'(?:property|name)="((?:og|twitter):[^"]+)"', attrs)
        content = re.search(r'content="([^"]*)"', attrs)
        if key and content:
            found[key.group(1)] = unescape(content.group(1))
    return found


def head(html: str) -> str:
    return html[:html.index("</head>")]


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def short_url_of(html: str) -> str:
    match = re.search(r'<a href="(https://yishi\.test/s/[a-z0-9]+)"', html)
    assert match, "the page shows its short link"
    return match.group(1)


# --- tags ---------------------------------------------------------------------------------------------------

def test_every_kind_of_item_page_carries_the_card_tags(world, client):
    for kind, (item, path, title) in items(world).items():
        html = client.get(path, headers=FORGED).get_data(as_text=True)
        tags = meta(html)
        assert tags["og:site_name"] == "议事", kind
        assert title in tags["og:title"] and title in tags["twitter:title"], kind
        assert tags["og:url"] == f"{BASE}{path}", kind
        assert tags["og:type"] == "article" and tags["og:locale"] in ("en_US", "zh_CN"), kind
        assert world.x.name in tags["og:description"], kind
        assert "evil.example" not in head(html), kind
        if kind in ("proposal", "notice", "issue", "ballot", "action"):
            assert tags["og:image"].startswith(f"{BASE}/share/{kind}/{item.id}.png?v="), kind
            assert (tags["og:image:width"], tags["og:image:height"]) == ("1200", "630"), kind
            assert tags["twitter:card"] == "summary_large_image", kind


def test_the_card_speaks_the_visitors_language(world, client):
    _item, path, _title = items(world)["proposal"]
    html = client.get(path, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert meta(html)["og:locale"] == "zh_CN"
    html = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert meta(html)["og:locale"] == "en_US"


def test_a_ballot_card_never_shows_a_result_before_the_close(world, client):
    ballot = gen_ballot(world, question="秘密表决 Secret question", secret=True, method="residents")
    db.session.commit()
    html = client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True)
    tags = meta(html)
    assert "Secret question" in tags["og:title"]
    for word in ("Passed", "Failed", "通过", "未通过"):
        assert word not in tags["og:description"]


def _neutral(html: str, *secrets: str) -> None:
    tags = meta(html)
    assert tags["og:site_name"] == "议事"
    assert tags["og:title"] in NEUTRAL
    assert "og:image" not in tags and "og:description" not in tags and "og:url" not in tags
    assert tags["twitter:card"] == "summary"
    for secret in secrets:
        assert secret not in "".join(f"{k}={v}" for k, v in tags.items())


def test_a_hidden_proposal_card_says_nothing_even_to_its_author(world, client, auth):
    found = items(world)
    proposal, path, title = found["proposal"]
    notice, notice_path, notice_title = found["notice"]
    proposal.hidden_state = "hidden"
    notice.proposal.hidden_state = "pending"  # flagged and waiting for a moderator: not public either
    db.session.commit()
    _neutral(client.get(path).get_data(as_text=True), title, "加装电梯")
    _neutral(client.get(notice_path).get_data(as_text=True), notice_title, "停车")
    auth.login(world.reporter)  # the author still reads the page, but the card stays neutral
    html = client.get(path).get_data(as_text=True)
    assert title in html[html.index("</head>"):]
    _neutral(html, title, "加装电梯")


def test_a_hidden_issue_card_is_neutral(world, client, auth):
    issue, path, title = items(world)["issue"]
    issue.hidden_state = "hidden"
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    _neutral(response.get_data(as_text=True), title, "电梯困人")
    auth.login(world.reporter)
    _neutral(client.get(path).get_data(as_text=True), title, "电梯困人")


def test_a_members_only_community_shows_its_members_a_neutral_card(world, client, auth):
    found = items(world)
    world.x.members_only = True
    db.session.commit()
    auth.login(world.chair_x)
    for kind, (_item, path, title) in found.items():
        response = client.get(path)
        assert response.status_code == 200, kind
        _neutral(response.get_data(as_text=True), title, world.x.name)
    auth.logout()
    assert client.get(found["proposal"][1]).status_code == 302  # visitors are asked to sign in, as before


def test_a_draft_shows_its_author_a_neutral_card(world, client, auth):
    draft = gen_proposal(world, title="草稿 Draft idea", publish=False)
    db.session.commit()
    auth.login(world.reporter)
    html = client.get(f"/c/x/proposals/{draft.id}").get_data(as_text=True)
    _neutral(html, "Draft idea")


def test_pages_without_a_card_keep_the_generic_tags(client, world):
    tags = meta(client.get("/c/x/proposals").get_data(as_text=True))
    assert tags["og:site_name"] == "议事" and tags["og:type"] == "website" and tags["og:title"]


# --- preview images -------------------------------------------------------------------------------------------

@pytest.fixture
def preview_dir(app, tmp_path):
    app.config["PREVIEW_DIR"] = str(tmp_path / "previews")
    return tmp_path / "previews"


def test_preview_is_a_1200_by_630_png_for_each_public_kind(world, client, preview_dir):
    for kind, (item, _path, _title) in items(world).items():
        response = client.get(f"/share/{kind}/{item.id}.png", headers=FORGED)
        assert response.status_code == 200, kind
        assert response.mimetype == "image/png"
        image = Image.open(io.BytesIO(response.data))
        assert image.format == "PNG" and image.size == (1200, 630), kind
        assert response.headers["ETag"] and response.headers["Last-Modified"], kind
        assert "public" in response.headers["Cache-Control"], kind


def test_preview_is_drawn_once_per_version_and_again_when_the_title_changes(world, client, preview_dir,
                                                                             monkeypatch):
    proposal = gen_proposal(world, title="旧标题 Old title")
    db.session.commit()
    drawn = []
    real_draw = previews.draw
    monkeypatch.setattr(previews, "draw", lambda *a: drawn.append(a) or real_draw(*a))
    path = f"/share/proposal/{proposal.id}.png"
    first = client.get(path)
    second = client.get(path)
    assert first.data == second.data and len(drawn) == 1
    assert first.headers["ETag"] == second.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and len(drawn) == 1
    assert len(list(preview_dir.glob("*.png"))) == 1

    from portal.proposals import services
    services.update_proposal(world.reporter, proposal, title="新标题 A new title", summary=proposal.summary,
                             body=proposal.body, category=proposal.category, building_ids=[],
                             estimated_cost=proposal.estimated_cost or "")
    db.session.commit()
    changed = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.data != first.data and len(drawn) == 2
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert drawn[-1][0] == "新标题 A new title"


def test_the_card_image_address_changes_with_the_title(world, client):
    proposal = gen_proposal(world, title="第一版 First")
    db.session.commit()
    before = meta(client.get(f"/c/x/proposals/{proposal.id}").get_data(as_text=True))["og:image"]
    proposal.title = "第二版 Second"
    db.session.commit()
    after = meta(client.get(f"/c/x/proposals/{proposal.id}").get_data(as_text=True))["og:image"]
    assert before != after and before.split("?")[0] == after.split("?")[0]


def test_no_preview_for_what_a_visitor_may_not_read(world, client, auth, preview_dir):
    found = items(world)
    draft = gen_proposal(world, title="草稿 Draft", publish=False)
    found["proposal"][0].hidden_state = "hidden"
    found["issue"][0].hidden_state = "pending"
    found["notice"][0].proposal.hidden_state = "hidden"
    db.session.commit()
    auth.login(world.reporter)  # who asks does not matter: the picture is what a card may show
    for path in (f"/share/proposal/{found['proposal'][0].id}.png", f"/share/issue/{found['issue'][0].id}.png",
                 f"/share/notice/{found['notice'][0].id}.png", f"/share/proposal/{draft.id}.png",
                 "/share/proposal/999999.png", "/share/proposal/99999999999999999999.png",
                 f"/share/nothing/{draft.id}.png"):
        assert client.get(path).status_code == 404, path
    world.x.members_only = True
    db.session.commit()
    assert client.get(f"/share/action/{found['action'][0].id}.png").status_code == 404
    assert client.get(f"/share/ballot/{found['ballot'][0].id}.png").status_code == 404


def test_long_chinese_titles_wrap_by_width_and_end_in_an_ellipsis():
    font = previews._font(previews.TITLE_SIZE)
    width = 1056
    title = "关于在本小区三号楼、五号楼和七号楼加装电梯以及改造地下车库照明和排水系统的建议，" * 4
    lines = previews.wrap(title, font, width, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= width for line in lines)
    assert "".join(lines)[:-1] == title[:len("".join(lines)) - 1]  # nothing skipped, nothing reordered
    assert not any(line[0] in previews.NO_LINE_START for line in lines)
    short = previews.wrap("加装电梯 Install a lift", font, width, 3)
    assert short == ["加装电梯 Install a lift"]
    # A Latin word is not cut in the middle where a break before it fits.
    mixed = previews.wrap("电梯" * 12 + " Maintenance", font, font.getlength("电梯" * 12 + " Main"), 3)
    assert mixed[-1] == "Maintenance"


def test_the_cjk_font_is_found_when_installed():
    import glob
    if not glob.glob("/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc"):
        pytest.skip("fonts-noto-cjk is not installed here")
    assert previews.font_found() and previews.font_path().endswith(".ttc")


# --- short links and QR --------------------------------------------------------------------------------------

def test_short_link_is_made_once_and_redirects_to_the_page(world, client):
    found = items(world)
    for kind, (_item, path, _title) in found.items():
        html = client.get(path).get_data(as_text=True)
        url = short_url_of(html)
        code = url.rsplit("/", 1)[1]
        assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET), kind
        assert short_url_of(client.get(path).get_data(as_text=True)) == url, kind  # the same link again
        response = client.get(f"/s/{code}", headers=FORGED)
        assert response.status_code == 302 and response.headers["Location"].endswith(path), kind
        assert client.get(f"/s/{code.upper()}").status_code == 302  # read aloud or typed in capitals
    assert db.session.scalar(db.select(db.func.count()).select_from(ShortLink)) == len(found)


def test_short_links_are_unique_and_never_reused(world, app):
    issue = gen_issue(world)
    proposal = gen_proposal(world)
    db.session.commit()
    a = short_link_for("issue", issue.id)
    b = short_link_for("proposal", proposal.id)
    c = short_link_for("action", issue.id)  # another kind, the same id: another link
    db.session.commit()
    assert len({a.code, b.code, c.code}) == 3
    assert short_link_for("issue", issue.id).code == a.code
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(ShortLink(code=a.code, kind="action", target_id=987654))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(ShortLink(code="zzzzzz", kind="issue", target_id=issue.id))


def test_a_drawn_code_already_taken_is_drawn_again(world, app, monkeypatch):
    from portal import sharing
    issue = gen_issue(world)
    proposal = gen_proposal(world)
    db.session.commit()
    taken = short_link_for("issue", issue.id).code
    draws = iter([taken, taken, "k7m2p9"])
    monkeypatch.setattr(sharing, "new_code", lambda: next(draws))
    link = short_link_for("proposal", proposal.id)
    db.session.commit()
    assert link.code == "k7m2p9" and db.session.get(ShortLink, link.id).code == "k7m2p9"


def test_unknown_or_malformed_short_links_are_404(world, client):
    for code in ("abcdef", "000000", "toolongcode", "a", "ab%00cd", "二维码二维码"):
        assert client.get(f"/s/{code}").status_code == 404, code
        assert client.get(f"/s/{code}/qr.png").status_code == 404, code


def test_a_link_to_a_deleted_item_is_404_not_someone_elses(world, client):
    issue = gen_issue(world)
    db.session.commit()
    link = short_link_for("action", 2_000_000)  # an item that does not (or no longer) exist
    db.session.commit()
    assert client.get(f"/s/{link.code}").status_code == 404
    assert short_link_for("issue", issue.id).code != link.code


def test_the_qr_code_decodes_to_the_absolute_short_link(world, client):
    _item, path, _title = items(world)["proposal"]
    html = client.get(path, headers=FORGED).get_data(as_text=True)
    url = short_url_of(html)
    assert url.startswith(f"{BASE}/s/")
    qr_src = re.search(r'<img src="(/s/[a-z0-9]+/qr\.png)" alt="([^"]+)"', html)
    assert qr_src and url in unescape(qr_src.group(2))
    png = client.get(qr_src.group(1), headers=FORGED)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "immutable" in png.headers["Cache-Control"]
    assert decode(png.data) == [url]


def test_the_share_panel_works_without_javascript(world, client):
    _item, path, _title = items(world)["action"]
    html = client.get(path).get_data(as_text=True)
    panel = html[html.index('class="share-panel"'):]
    panel = panel[:panel.index("</section>")]
    assert 'href="https://yishi.test/s/' in panel and "<summary>" in panel  # the QR code opens without a script
    assert re.search(r'<button type="button" class="[^"]*share-copy"[^>]*hidden>', panel)  # shown by share.js
    assert "js/share.js" in html
