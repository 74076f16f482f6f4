"""Paper ballots of owners' ballots (issue #19): the print views (announcement, named forms, tally sheet) for
the opening committee, the forms' QR codes — decoded from the printed page — opening the entering page of
their voter and no other, entering a ballot there with a scan of the signed form, the scans shown to owners
once voting closes, and the proxies pages."""
import io
import re

import pytest
import zxingcpp
from PIL import Image

from portal.extensions import db
from portal.votes import services
from portal.votes.models import BallotProxy, BallotScan, BallotVote, BallotVoter
from tests.residents import post
from tests.votes import gen_ballot, option, vote

BASE = "https://yishi.test"


def page_of(ballot, tail="") -> str:
    return f"/c/{ballot.community.slug}/ballots/{ballot.id}{tail}"


def html_of(response) -> str:
    return response.get_data(as_text=True)


def png_bytes(size=(64, 48), colour=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def svg_to_image(svg: str, scale: int = 8) -> Image.Image:
    """Draw segno's inline SVG (one path of horizontal runs: M/m moves, h runs) as a black-and-white image."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    path = re.search(r'stroke="#000" d="([^"]+)"', svg).group(1)  # the dark modules (not the background)
    image = Image.new("L", (size * scale, size * scale), 255)
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHh])\s*(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            run = float(a)
            row = int(y)
            for column in range(int(x), int(x + run)):
                image.paste(0, (column * scale, row * scale, (column + 1) * scale, (row + 1) * scale))
            x += run
    return image


def decoded_codes(html: str) -> list[str]:
    """Every QR code on a printed page, decoded from its drawing."""
    texts = []
    for svg in re.findall(r"<svg[^>]*>.*?</svg>", html, flags=re.S):
        texts += [r.text for r in zxingcpp.read_barcodes(svg_to_image(svg))]
    return texts


def no_script(html: str) -> None:
    assert "<script" not in html and "hx-" not in html and "<nav" not in html and "<form" not in html
    assert "css/print.css" in html and "css/portal.css" not in html


def unlinked_voter(world, ballot):
    return db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                           BallotVoter.owner_id == world.unlinked_owner.id))


@pytest.fixture
def ballot(world):
    found = gen_ballot(world, "owners")
    db.session.commit()
    return found


# --- print views -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tail", ["/print/announcement", "/print/forms", "/print/tally"])
def test_the_print_views_are_for_the_opening_committee(client, auth, world, ballot, tail):
    assert client.get(page_of(ballot, tail)).status_code in (302, 401)
    for outsider in (world.owner_a, world.chair_x, world.admin):
        auth.login(outsider)
        assert client.get(page_of(ballot, tail)).status_code == 403
        auth.logout()
    auth.login(world.hoa_member)
    response = client.get(page_of(ballot, tail))
    assert response.status_code == 200
    no_script(html_of(response))


def test_the_ballot_page_links_the_print_views_for_the_committee(client, auth, world, ballot):
    auth.login(world.hoa_chair)
    html = html_of(client.get(page_of(ballot)))
    for tail in ("/print/announcement", "/print/forms", "/print/tally", "/proxies"):
        assert page_of(ballot, tail) in html
    auth.logout()
    auth.login(world.owner_a)
    assert page_of(ballot, "/print/forms") not in html_of(client.get(page_of(ballot)))


def test_the_announcement_has_the_matter_dates_how_to_vote_and_a_code_to_the_ballot(client, auth, world, ballot):
    auth.login(world.hoa_chair)
    html = html_of(client.get(page_of(ballot, "/print/announcement")))
    assert ballot.question in html and "How to vote" in html and "(5) Using the building maintenance fund" in html
    assert decoded_codes(html) == [BASE + page_of(ballot)]


def test_one_named_form_per_voter_each_with_its_own_code(client, auth, world, ballot):
    auth.login(world.hoa_chair)
    html = html_of(client.get(page_of(ballot, "/print/forms")))
    assert html.count('class="sheet ballot-form-sheet"') == ballot.electorate_count == 10
    assert "吴秀英" in html and "5号楼, 1-0302" in html and "95.25 m²" in html
    assert "300.50 m²" in html  # the buyer of three units: one form, the three areas together
    codes = decoded_codes(html)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code.startswith(BASE + page_of(ballot, "/paper/")) for code in codes)


def test_the_code_on_a_form_opens_the_entering_page_of_that_voter(client, auth, world, ballot, upload_dir):
    voter = unlinked_voter(world, ballot)
    auth.login(world.hoa_chair)
    html = html_of(client.get(page_of(ballot, f"/print/forms/{voter.id}")))
    [code] = decoded_codes(html)
    path = code.removeprefix(BASE)
    page = client.get(path)
    assert page.status_code == 200 and "吴秀英" in html_of(page) and "Enter the paper ballot" in html_of(page)
    response = post(client, path, {"option_id": str(option(ballot, "no").id),
                                   "scan": (io.BytesIO(png_bytes()), "signed form.png")},
                    token_from=path, content_type="multipart/form-data")
    assert response.status_code == 302
    live = db.session.scalar(db.select(BallotVote).where(BallotVote.voter_id == voter.id))
    assert live.is_paper and live.option_id == option(ballot, "no").id
    scan = db.session.scalar(db.select(BallotScan))
    assert scan.voter_id == voter.id and scan.purpose == "paper_ballot" and scan.kind == "image"
    assert (upload_dir / "ballots" / f"{scan.key}-1600.jpg").is_file()
    # The same form scanned again: the page says so, and a second entry is refused.
    assert "already entered" in html_of(client.get(path))


def test_a_code_edited_to_another_voter_opens_nothing(client, auth, world, ballot):
    voter = unlinked_voter(world, ballot)
    other = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                           BallotVoter.id != voter.id).limit(1))
    token = services.form_token(ballot, voter.id)
    auth.login(world.hoa_chair)
    assert client.get(page_of(ballot, f"/paper/{voter.id}/{token}")).status_code == 200
    assert client.get(page_of(ballot, f"/paper/{other.id}/{token}")).status_code == 404
    assert client.get(page_of(ballot, f"/paper/{voter.id}/{token[:-1]}0")).status_code in (200, 404)
    assert client.get(page_of(ballot, f"/paper/{voter.id}/nonsense")).status_code == 404


def test_an_owner_scanning_their_form_sees_their_vote_and_others_the_receipt_check(client, auth, world, ballot):
    [(voter, _vote)] = services.my_votes(world.owner_a, ballot)
    path = page_of(ballot, f"/paper/{voter.id}/{services.form_token(ballot, voter.id)}")
    assert client.get(path).status_code == 302  # sign in first
    auth.login(world.owner_a)
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].endswith(page_of(ballot, f"#vote-{voter.id}"))
    auth.logout()
    auth.login(world.neighbour)
    assert client.get(path).headers["Location"].endswith(page_of(ballot, "/receipt"))


def test_a_scan_that_is_not_a_photo_or_pdf_is_refused_and_nothing_is_entered(client, auth, world, ballot, upload_dir):
    voter = unlinked_voter(world, ballot)
    path = page_of(ballot, f"/paper/{voter.id}/{services.form_token(ballot, voter.id)}")
    auth.login(world.hoa_chair)
    response = post(client, path, {"option_id": str(option(ballot, "yes").id),
                                   "scan": (io.BytesIO(b"<html><script>x</script>"), "form.pdf")},
                    token_from=path, content_type="multipart/form-data")
    assert response.status_code == 200 and "neither a photo nor a PDF" in html_of(response)
    assert db.session.scalar(db.select(db.func.count(BallotVote.id))) == 0


def test_scans_are_shown_to_owners_once_voting_closes(client, auth, world, ballot, upload_dir):
    voter = unlinked_voter(world, ballot)
    services.enter_paper(world.hoa_chair, ballot, voter, option(ballot, "yes").id,
                         scan=("signed.png", png_bytes()))
    db.session.commit()
    scan = db.session.scalar(db.select(BallotScan))
    file_url = page_of(ballot, f"/scans/{scan.key}/1600")
    auth.login(world.owner_a)
    assert client.get(file_url).status_code == 403  # not while voting is open
    services.close(world.hoa_chair, ballot, "测试")
    db.session.commit()
    html = html_of(client.get(page_of(ballot, "/log")))
    assert file_url in html and "signed paper ballot" in html
    response = client.get(file_url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    auth.logout()
    auth.login(world.neighbour)  # a resident, not an owner
    assert client.get(file_url).status_code == 403


# --- the tally sheet -----------------------------------------------------------------------------------------

def test_the_tally_sheet_has_figures_by_headcount_and_area_and_signature_lines(client, auth, world, ballot):
    vote(world.owner_a, ballot, "yes")
    vote(world.buyer, ballot, "no")
    services.close(world.hoa_chair, ballot, "测试")
    db.session.commit()
    auth.login(world.hoa_chair)
    html = html_of(client.get(page_of(ballot, "/print/tally")))
    assert "100.00 m²" in html and "300.50 m²" in html and "1,414.25 m²" in html
    assert html.count("Counter (计票人)") == 2 and html.count("Supervisor (监票人)") == 2


# --- proxies pages -------------------------------------------------------------------------------------------

def test_the_committee_records_a_proxy_and_the_proxy_votes_on_the_ballot_page(client, auth, world, ballot,
                                                                              upload_dir):
    [(voter, _vote)] = services.my_votes(world.owner_a, ballot)
    auth.login(world.hoa_chair)
    path = page_of(ballot, "/proxies")
    assert client.get(path).status_code == 200
    response = post(client, path, {"voter_id": str(voter.id), "proxy_login": world.neighbour.phone,
                                   "proxy_name": "", "signed_on": "2026-01-05",
                                   "scan": (io.BytesIO(png_bytes()), "委托书.png")},
                    token_from=path, content_type="multipart/form-data")
    assert response.status_code == 302, html_of(response)
    proxy = db.session.scalar(db.select(BallotProxy))
    assert proxy.proxy_user_id == world.neighbour.id and proxy.proxy_name == world.neighbour.display_name
    assert db.session.scalar(db.select(BallotScan)).purpose == "proxy"
    auth.logout()
    auth.login(world.neighbour)
    html = html_of(client.get(page_of(ballot)))
    assert "as their proxy" in html and "王建国" in html
    response = post(client, page_of(ballot, "/vote"), {"voter_id": str(voter.id),
                                                       "option_id": str(option(ballot, "yes").id)},
                    token_from=page_of(ballot))
    assert response.status_code == 302
    assert db.session.scalar(db.select(BallotVote)).proxy_id == proxy.id


def test_a_refused_authorization_comes_back_on_the_form(client, auth, world, ballot):
    [(voter, _vote)] = services.my_votes(world.owner_a, ballot)
    auth.login(world.hoa_chair)
    path = page_of(ballot, "/proxies")
    response = post(client, path, {"voter_id": str(voter.id), "proxy_login": "13999999999", "proxy_name": "某某",
                                   "signed_on": "2026-01-05"}, token_from=path)
    assert response.status_code == 200 and "No account has this phone number" in html_of(response)
    response = post(client, path, {"voter_id": str(voter.id), "proxy_name": "某某", "signed_on": "yesterday"},
                    token_from=path)
    assert "such as 2026-12-01" in html_of(response)
    assert db.session.scalar(db.select(db.func.count(BallotProxy.id))) == 0


def test_the_owner_revokes_their_proxy_from_the_ballot_page(client, auth, world, ballot):
    [(voter, _vote)] = services.my_votes(world.owner_a, ballot)
    from datetime import date
    proxy = services.record_proxy(world.hoa_chair, ballot, voter, proxy_user=world.neighbour,
                                  signed_on=date(2026, 1, 5))
    db.session.commit()
    auth.login(world.owner_a)
    html = html_of(client.get(page_of(ballot)))
    assert "Revoke the authorization" in html
    response = post(client, page_of(ballot, f"/proxies/{proxy.id}/revoke"), token_from=page_of(ballot))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(BallotProxy, proxy.id).revoked_at is not None
    auth.logout()
    auth.login(world.buyer)
    assert post(client, page_of(ballot, f"/proxies/{proxy.id}/revoke"),
                token_from=page_of(ballot)).status_code == 403
