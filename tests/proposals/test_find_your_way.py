"""Finding one's way (issue 16): from the home page and a community page the community's ballots, public
notices, agreed actions and calendar are one tap away; the ballots list puts "needs my vote" first; the
notices list offers "object" on an open notice; a proposal's page links to its ballot, its notice and its
action; "My proposals" lists one's own, drafts included; someone signed in but not verified is told why they
cannot support, propose, comment or vote, with a button to claim their home; the Report link says
"Reported" once one has reported."""
import re

from portal.extensions import db
from portal.notices.models import Notice
from portal.proposals.models import Proposal
from tests.factories import gen_user
from tests.issues.conftest import world as issues_world  # noqa: F401  (the worlds the votes one extends)
from tests.notices import decide
from tests.proposals import gen_in_deliberation, gen_proposal
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes import gen_ballot, vote
from tests.votes.conftest import world  # noqa: F401  (this module's world: the votes world)

COMMUNITY_LINKS = ("/c/x/ballots", "/c/x/notices", "/c/x/actions", "/c/x/calendar")


def html_of(response) -> str:
    return response.get_data(as_text=True)


def hrefs(page) -> set[str]:
    return set(re.findall(r'href="([^"#?]+)', page))


def test_home_and_community_page_reach_ballots_notices_actions_and_calendar_in_one_tap(client, auth, world):
    auth.login(world.neighbour)
    for start in ("/", "/c/x"):
        found = hrefs(html_of(client.get(start)))
        assert set(COMMUNITY_LINKS) <= found, start
    for path in COMMUNITY_LINKS:
        assert client.get(path).status_code == 200, path
    auth.logout()
    assert set(COMMUNITY_LINKS) <= hrefs(html_of(client.get("/c/x")))  # visitors too


def test_ballots_list_puts_needs_my_vote_first_until_i_have_voted(client, auth, world):
    ballot = gen_ballot(world, "residents", question="是否同意在花园增设长椅？")
    db.session.commit()
    auth.login(world.neighbour)
    page = html_of(client.get("/c/x/ballots"))
    assert "Needs my vote" in page
    assert page.index("Needs my vote") < page.index("是否同意在花园增设长椅？")
    vote(world.neighbour, ballot, "yes")
    db.session.commit()
    page = html_of(client.get("/c/x/ballots"))
    assert "Needs my vote" not in page and "是否同意在花园增设长椅？" in page


def test_notices_list_offers_to_object_to_an_open_notice(client, world):
    ballot = decide(world)
    db.session.commit()
    notice = db.session.scalar(db.select(Notice).where(Notice.ballot_id == ballot.id))
    page = html_of(client.get("/c/x/notices"))
    assert f'/c/x/notices/{notice.id}#how-to-object' in page and ">Object<" in page


def test_a_proposal_on_notice_says_so_and_links_to_the_notice_and_its_ballot(client, world):
    ballot = decide(world)
    db.session.commit()
    notice = db.session.scalar(db.select(Notice).where(Notice.ballot_id == ballot.id))
    proposal = db.session.get(Proposal, notice.proposal_id)
    assert proposal.status == "notice"
    path = f"/c/x/proposals/{proposal.id}"
    page = html_of(client.get(path))
    assert f'href="/c/x/notices/{notice.id}"' in page and "Read the notice and object" in page
    assert f'/c/x/ballots/{ballot.id}"' in page
    assert "&lt;Notice" not in page  # the support block once showed the notice object as its message
    chinese = html_of(client.get(path, headers={"Accept-Language": "zh-CN"}))
    assert "公示中" in chinese and f'href="/c/x/notices/{notice.id}"' in chinese


def test_my_proposals_lists_mine_drafts_included_and_nobody_elses(client, auth, world):
    gen_proposal(world, title="My published bench idea")
    gen_proposal(world, title="My draft about bins", publish=False)
    gen_proposal(world, author=world.neighbour, title="Neighbour's lights")
    db.session.commit()
    auth.login(world.reporter)
    listing = html_of(client.get("/c/x/proposals"))
    assert 'value="mine"' in listing and "My proposals" in listing
    mine = html_of(client.get("/c/x/proposals?show=mine"))
    assert "My published bench idea" in mine and "My draft about bins" in mine
    assert "Neighbour&#39;s lights" not in mine and "Neighbour's lights" not in mine
    auth.logout()
    auth.login(world.neighbour)
    theirs = html_of(client.get("/c/x/proposals?show=mine"))
    assert "Neighbour" in theirs and "My draft about bins" not in theirs


def test_a_pending_resident_is_told_why_they_cannot_support(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    auth.login(world.pending)
    page = html_of(client.get(f"/c/x/proposals/{proposal.id}"))
    assert "Only verified residents of" in page and "waiting for the committee to verify" in page
    assert 'value="support"' not in page


def test_someone_with_no_home_claimed_is_told_why_and_offered_to_claim_it(client, auth, world):
    stranger = gen_user(display_name="Newcomer", phone="13900001111")
    collecting = gen_proposal(world, title="Bins by the gate")
    consulting = gen_in_deliberation(world, title="Benches in the garden")
    ballot = gen_ballot(world, "residents")
    db.session.commit()
    auth.login(stranger)
    for path, says in ((f"/c/x/proposals/{collecting.id}", "can support proposals"),
                       (f"/c/x/proposals/{consulting.id}", "can comment in its consultations"),
                       (f"/c/x/ballots/{ballot.id}", "vote in its ballots")):
        page = html_of(client.get(path))
        assert says in page and 'href="/claim"' in page and "Claim your home" in page, path
    refused = client.get("/c/x/proposals/new")
    assert refused.status_code == 403
    page = html_of(refused)
    assert "can make proposals" in page and 'href="/claim"' in page


def test_verified_residents_and_visitors_see_no_such_explanation(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    path = f"/c/x/proposals/{proposal.id}"
    assert "Claim your home" not in html_of(client.get(path))
    assert client.get("/c/x/proposals/new").status_code == 302  # visitors are asked to sign in
    auth.login(world.neighbour)
    page = html_of(client.get(path))
    assert 'value="support"' in page and "Only verified residents" not in page
    assert client.get("/c/x/proposals/new").status_code == 200


def test_the_report_link_says_reported_once_i_have_reported(client, auth, world):
    from portal.moderation import services as moderation
    proposal = gen_proposal(world)
    db.session.commit()
    path = f"/c/x/proposals/{proposal.id}"
    flag_url = f"/moderation/flag/proposal/{proposal.id}"
    auth.login(world.neighbour)
    assert flag_url in html_of(client.get(path))
    moderation.flag(world.neighbour, "proposal", proposal, "spam")
    db.session.commit()
    page = html_of(client.get(path))
    assert flag_url not in page and ">Reported<" in page
    chinese = html_of(client.get(path, headers={"Accept-Language": "zh-CN"}))
    assert ">已举报<" in chinese
    auth.logout()
    auth.login(world.supporters[0])
    assert flag_url in html_of(client.get(path))  # only the one who reported


def test_staff_and_officials_are_not_asked_to_claim_a_home(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    for person in (world.property_x, world.official_a):
        auth.login(person)
        assert "Claim your home" not in html_of(client.get(f"/c/x/proposals/{proposal.id}"))
        auth.logout()
