"""Ballot pages: opening a ballot (each method, bad input kept on the form), the ballot page (rule, period,
status in words, participation), casting and changing a vote with and without htmx, several votes for one
account, paper ballots, extending, closing early, the result with its figures, the outcome statement, the
published log, receipts, the proposal page's ballot section and the home page's "Needs my vote" — and that a
hidden result or a secret ballot never shows through any of them."""
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from portal.clock import utcnow
from portal.extensions import db
from portal.places.models import Ownership
from portal.proposals.models import Proposal
from portal.votes import services
from portal.votes.models import Ballot, BallotLogEntry, BallotVote, BallotVoter
from tests.proposals import gen_in_deliberation
from tests.residents import post
from tests.votes import gen_ballot, option, vote


def html_of(response) -> str:
    return response.get_data(as_text=True)


def fresh(model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)


def count(model) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def page_of(ballot, tail="") -> str:
    return f"/c/{ballot.community.slug}/ballots/{ballot.id}{tail}"


def local_input(moment, zone="Asia/Shanghai") -> str:
    from portal.clock import in_zone
    return in_zone(moment, zone).strftime("%Y-%m-%dT%H:%M")


def voter_of(ballot, user) -> BallotVoter:
    mine = services.my_votes(user, ballot)
    assert len(mine) == 1
    return mine[0][0]


def cast_form(ballot, user, code_or_label, **extra):
    data = {"voter_id": str(voter_of(ballot, user).id), "option_id": str(option(ballot, code_or_label).id)}
    data.update(extra)
    return data


# --- opening a ballot ----------------------------------------------------------------------------------------

def test_the_proposal_page_offers_open_a_ballot_to_the_committee_only(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    path = f"/c/x/proposals/{proposal.id}"
    assert "Open a ballot" not in html_of(client.get(path))
    auth.login(world.neighbour)
    assert "Open a ballot" not in html_of(client.get(path))
    assert client.get(f"{path}/ballots/new").status_code == 403
    auth.logout()
    auth.login(world.chair_x)
    page = html_of(client.get(path))
    assert "Open a ballot" in page and f'href="{path}/ballots/new"' in page


def test_opening_starts_by_choosing_who_votes_then_shows_that_methods_questions(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.chair_x)
    base = f"/c/x/proposals/{proposal.id}/ballots/new"
    first = html_of(client.get(base))
    assert 'method="get"' in first and "Committee vote" in first and "Homeowners' decision" in first
    assert 'name="question"' not in first
    committee = html_of(client.get(f"{base}?method=committee"))
    assert 'name="organization"' in committee and "X residents&#39; committee" in committee
    assert 'name="matter"' not in committee and 'name="quorum_percent"' not in committee
    residents = html_of(client.get(f"{base}?method=residents"))
    assert 'name="quorum_percent"' in residents and 'name="options"' in residents and 'name="threshold"' in residents
    owners = html_of(client.get(f"{base}?method=owners"))
    assert 'name="matter"' in owners and 'name="notice"' in owners and 'name="secret"' not in owners
    assert "(5) Using the building maintenance fund" in owners
    # Every control has its label.
    for name in ("question", "opens_at", "closes_at", "matter", "notice"):
        field_id = re.search(rf'id="([^"]+)"[^>]*name="{name}"|name="{name}"[^>]*id="([^"]+)"', owners)
        assert field_id, name
        assert f'for="{field_id.group(1) or field_id.group(2)}"' in owners, name


def test_a_committee_opens_a_committee_ballot_and_the_proposal_goes_to_voting(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.chair_x)
    now = utcnow()
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method=committee", {
        "method": "committee", "question": "Send the lift plan to the owners?", "organization": str(world.rc_x.id),
        "opens_at": local_input(now), "closes_at": local_input(now + timedelta(days=3))})
    assert response.status_code == 302
    ballot = db.session.scalar(db.select(Ballot))
    assert response.headers["Location"].endswith(page_of(ballot))
    assert ballot.status == "open" and ballot.method == "committee" and ballot.organization_id == world.rc_x.id
    assert fresh(Proposal, proposal.id).status == "voting"
    page = html_of(client.get(page_of(ballot)))
    assert "Voting is open" in page and "Send the lift plan to the owners?" in page
    assert "0 of 2 have voted" in page  # chair and member of the residents' committee
    assert "Valid when more than half of all members of X residents&#39; committee vote." in page


def test_a_residents_ballot_with_named_choices(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.chair_x)
    now = utcnow()
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method=residents", {
        "method": "residents", "question": "Which colour for the railings?", "resident_unit": "household",
        "kind": "choices", "options": "Green\n\nGrey\r\nRed\n", "quorum_percent": "30 %",
        "opens_at": local_input(now), "closes_at": local_input(now + timedelta(days=3))})
    assert response.status_code == 302
    ballot = db.session.scalar(db.select(Ballot))
    assert [o.label for o in ballot.options] == ["Green", "Grey", "Red"] and ballot.threshold is None
    assert ballot.quorum_percent == Decimal("30") and ballot.resident_unit == "household"
    page = html_of(client.get(page_of(ballot)))
    assert "The choice with the most votes wins" in page and "at least 30% of the electorate" in page


@pytest.mark.parametrize("method, data, message, kept", [
    ("committee", {"question": "", "closes_at": "+3"}, "Write the question people vote on.", None),
    ("committee", {"question": "Kept question", "closes_at": ""}, "Say when voting closes.", "Kept question"),
    ("committee", {"question": "Kept question", "closes_at": "next tuesday"}, "Write a date and time such as",
     "next tuesday"),
    ("committee", {"question": "Kept question", "closes_at": "-1"}, "Voting must close after it opens.",
     "Kept question"),
    ("committee", {"question": "Q", "closes_at": "+3", "organization": "99999"}, "Choose the committee that votes.",
     None),
    ("residents", {"question": "Q", "closes_at": "+3", "resident_unit": "person", "kind": "yes_no",
                   "threshold": "simple", "quorum_percent": "lots"}, "Write the quorum as a number", "lots"),
    ("residents", {"question": "Q", "closes_at": "+3", "resident_unit": "person", "kind": "yes_no",
                   "threshold": "simple", "quorum_percent": "150"}, "Give the quorum as a percentage", "150"),
    ("residents", {"question": "Q", "closes_at": "+3", "resident_unit": "person", "kind": "choices",
                   "options": "Only one", "quorum_percent": "50"}, "Give from 2 to 10 options.", "Only one"),
    ("owners", {"question": "Q", "opens_at": "+10", "closes_at": "+20", "matter": "5", "notice": "Repair the roof"},
     "at least 15 days before voting opens", "Repair the roof"),
    ("owners", {"question": "Q", "opens_at": "+16", "closes_at": "+20", "matter": "", "notice": "Repair"},
     "Choose the matter", "Repair"),
    ("owners", {"question": "Q", "opens_at": "+16", "closes_at": "+20", "matter": "5", "notice": ""},
     "Write the notice every owner receives.", None),
])
def test_bad_input_comes_back_on_the_same_form_with_the_typing_kept_and_nothing_written(
        client, auth, world, method, data, message, kept):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair if method == "owners" else world.chair_x)
    now = utcnow()
    form = {"method": method, "organization": str(world.rc_x.id), "opens_at": local_input(now)}
    for key, value in data.items():
        if re.fullmatch(r"[+-][0-9]+", value):
            value = local_input(now + timedelta(days=int(value)))
        form[key] = value
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method={method}", form)
    page = html_of(response)
    assert response.status_code == 200
    assert message in page.replace("&#39;", "'")
    if kept:
        assert kept in page
    assert count(Ballot) == 0 and fresh(Proposal, proposal.id).status == "deliberation"


def test_an_owners_ballot_is_announced_and_shows_its_notice_and_when_voting_opens(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    now = utcnow()
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method=owners", {
        "method": "owners", "question": "Use the maintenance fund to repair the roof of building 5?", "matter": "5",
        "notice": "The roof of building 5 leaks. Budget 186,000 yuan.",
        "opens_at": local_input(now + timedelta(days=16)), "closes_at": local_input(now + timedelta(days=30))})
    assert response.status_code == 302
    ballot = db.session.scalar(db.select(Ballot))
    assert ballot.status == "scheduled"
    auth.logout()
    page = html_of(client.get(page_of(ballot)))
    assert "Announced" in page and "ballot-status-scheduled" in page and "Voting opens in 2 weeks" in page
    assert "The roof of building 5 leaks" in page and "(5) Using the building maintenance fund" in page
    assert "more than half of the participating area" in page
    assert "Cast my vote" not in page and "Voting has not opened yet" in page


def test_a_second_ballot_on_the_same_proposal_is_refused_with_a_message(client, auth, world):
    ballot = gen_ballot(world, "committee")
    proposal = ballot.proposal
    db.session.commit()
    auth.login(world.chair_x)
    # The proposal is in voting now: the rule lets nobody open another one.
    assert client.get(f"/c/x/proposals/{proposal.id}/ballots/new?method=committee").status_code == 403
    assert count(Ballot) == 1


# --- the ballot page and casting -----------------------------------------------------------------------------

def test_the_ballot_page_is_public_with_the_rule_period_status_log_head_and_open_graph(client, world):
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert f'<meta property="og:title" content="{ballot.question}' in page
    description = r'property="og:description" content="Homeowners(&#39;|\')? decision · Voting open · Huajiadi"'
    assert re.search(description, page)
    assert "ballot-status-open" in page and "Voting open" in page and "Voting closes in 1 week" in page
    assert "0 of 10 have voted" in page
    assert ballot.log_head in page and "Sign in to vote" in page
    assert 'style="' not in page and "hx-on" not in page
    assert page.count("<script") == page.count("<script src=") == 3  # htmx, webapp.js, share.js: none inline


def test_casting_without_javascript_redirects_with_the_receipt_and_changing_keeps_one_live_vote(client, auth, world):
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    auth.login(world.owner_a)
    page = html_of(client.get(page_of(ballot)))
    assert "Cast my vote" in page and "0 of 10 have voted" in page
    response = post(client, page_of(ballot, "/vote"), cast_form(ballot, world.owner_a, "yes"))
    assert response.status_code == 302 and response.headers["Location"].endswith(page_of(ballot, "#vote"))
    first = db.session.scalar(db.select(BallotLogEntry))
    page = html_of(client.get(page_of(ballot)))
    assert "Your vote is counted" in page and first.receipt in page
    assert re.search(r"You voted Yes at \d\d:\d\d", page) and "Change my vote" in page
    assert "1 of 10 has voted" in page
    # Changing: the latest counts, the first ballot stays in the log.
    post(client, page_of(ballot, "/vote"), cast_form(ballot, world.owner_a, "no"))
    page = html_of(client.get(page_of(ballot)))
    assert "You voted No at" in page and "1 of 10 has voted" in page
    assert count(BallotVote) == 1 and count(BallotLogEntry) == 2
    assert services.check_receipt(ballot, first.receipt)[0] == "replaced"


def test_casting_with_htmx_swaps_the_vote_block_and_refreshes_the_live_count_out_of_band(client, auth, world):
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    auth.login(world.member_x)
    page = html_of(client.get(page_of(ballot)))
    assert 'hx-post="' + page_of(ballot, "/vote") + '"' in page and 'hx-target="#vote"' in page
    response = post(client, page_of(ballot, "/vote"), cast_form(ballot, world.member_x, "abstain"),
                    headers={"HX-Request": "true"})
    block = html_of(response)
    assert response.status_code == 200 and "<html" not in block and block.lstrip().startswith("<section id=\"vote\"")
    entry = db.session.scalar(db.select(BallotLogEntry))
    assert entry.receipt in block and "You voted Abstain at" in block and "1 of 2 has voted" in block
    live = block.split('<div id="ballot-live" hx-swap-oob="true">')[1]
    assert "1 vote · 100.00%" in live and entry.hash in live and "1 entry so far" in live


def test_refused_votes_show_a_message_keep_the_choice_and_change_nothing(client, auth, world):
    ballot = gen_ballot(world, "owners")
    other = gen_ballot(world, "committee")
    vote(world.owner_a, ballot, "yes")
    db.session.commit()
    auth.login(world.owner_a)
    mine = voter_of(ballot, world.owner_a)

    # No option chosen: the page again, with the message (htmx: the block).
    response = post(client, page_of(ballot, "/vote"), {"voter_id": str(mine.id)})
    assert response.status_code == 200 and "Choose one of the options." in html_of(response)
    block = html_of(post(client, page_of(ballot, "/vote"), {"voter_id": str(mine.id), "option_id": "x"},
                         headers={"HX-Request": "true"}))
    assert "Choose one of the options." in block and "<html" not in block
    # A forged option id (another ballot's option).
    page = html_of(post(client, page_of(ballot, "/vote"),
                        {"voter_id": str(mine.id), "option_id": str(option(other, "no").id)}))
    assert "Choose one of the ballot" in page.replace("&#39;", "'")
    # A voter id of someone else, or of another ballot.
    someone = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                            BallotVoter.id != mine.id))
    assert post(client, page_of(ballot, "/vote"), {"voter_id": str(someone.id),
                                                  "option_id": str(option(ballot, "no").id)}).status_code == 403
    other_voter = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == other.id))
    page = html_of(post(client, page_of(ballot, "/vote"), {"voter_id": str(other_voter.id),
                                                          "option_id": str(option(ballot, "no").id)}))
    assert "That vote is not one you may cast" in page
    # Another community's address for this ballot.
    assert post(client, f"/c/y/ballots/{ballot.id}/vote", cast_form(ballot, world.owner_a, "no")).status_code == 404
    # Someone with no vote in it.
    auth.logout()
    auth.login(world.neighbour)
    assert post(client, page_of(ballot, "/vote"), {"option_id": str(option(ballot, "no").id)}).status_code == 403
    db.session.expire_all()
    assert count(BallotLogEntry) == 1 and db.session.scalar(db.select(BallotVote.option_id)) == option(ballot, "yes").id


def test_voting_after_the_close_time_says_so_and_changes_nothing(client, auth, world):
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    auth.login(world.member_x)
    data = cast_form(ballot, world.member_x, "yes")
    ballot.closes_at = utcnow() - timedelta(minutes=1)
    ballot.opens_at = ballot.closes_at - timedelta(days=1)
    db.session.commit()
    response = post(client, page_of(ballot, "/vote"), data)
    page = html_of(response)
    assert response.status_code == 200 and "Voting has closed: your vote was not cast." in page
    assert count(BallotLogEntry) == 0 and fresh(Ballot, ballot.id).status == "closed"
    assert "No quorum" in page  # the ballot closed on this access, and its result shows


def test_one_account_with_several_votes_gets_one_form_for_each(client, auth, world):
    # The co-owner also owns the empty unit alone: a vote of their own and the co-owned unit's.
    db.session.add(Ownership(household=world.empty_unit, owner=world.co_record_1, start_date=utcnow().date()
                             - timedelta(days=400)))
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    auth.login(world.co_owner_1)
    page = html_of(client.get(page_of(ballot)))
    assert "Your votes" in page and page.count('name="voter_id"') == 2
    assert "5号楼, 1-0301" in page and "李娜" in page
    voters = {v.kind: v for v, _vote in services.my_votes(world.co_owner_1, ballot)}
    post(client, page_of(ballot, "/vote"), {"voter_id": str(voters["co_owned_unit"].id),
                                            "option_id": str(option(ballot, "no").id)})
    # Without a voter id, an account with several votes is asked which one.
    page = html_of(post(client, page_of(ballot, "/vote"), {"option_id": str(option(ballot, "yes").id)}))
    assert "choose which one" in page
    # The other co-owner sees the unit's vote (theirs too) and may change it.
    auth.logout()
    auth.login(world.co_owner_2)
    page = html_of(client.get(page_of(ballot)))
    assert "You voted No at" in page and "Change my vote" in page


# --- hidden results and secret ballots -----------------------------------------------------------------------

def test_live_results_show_while_open_unless_hidden(client, auth, world):
    live = gen_ballot(world, "committee")
    vote(world.chair_x, live, "yes")
    db.session.commit()
    page = html_of(client.get(page_of(live)))
    assert "Votes so far" in page and "option-figures" in page and "1 vote · 100.00%" in page


def test_the_live_count_is_kept_until_the_next_vote_moves_the_log(client, auth, world):
    """The live count and log head are rendered once per head of the log (portal.versions)."""
    from tests.queries import recorded_statements
    live = gen_ballot(world, "committee")
    vote(world.chair_x, live, "yes")
    db.session.commit()
    html_of(client.get(page_of(live)))  # makes the ballot's short link, which changes the version
    assert "1 vote · 100.00%" in html_of(client.get(page_of(live)))
    with recorded_statements() as statements:
        assert "1 entry so far" in html_of(client.get(page_of(live)))
    # The running totals (totals.running_figures) are not read again.
    assert not [s for s in statements if s.lstrip().startswith("SELECT ballot.electorate_count")]
    vote(world.member_x, live, "no")
    db.session.commit()
    page = html_of(client.get(page_of(live)))
    assert "2 entries so far" in page and "1 vote · 50.00%" in page
    vote(world.member_x, live, "yes")  # a changed vote: same voters, the count moves
    db.session.commit()
    assert "2 votes · 100.00%" in html_of(client.get(page_of(live)))


def test_the_dashboard_counts_a_ballots_participation_again_only_after_a_vote(client, auth, world):
    """Votes change no community's version: the dashboard keeps the participation under the ballots' log
    heads, so the next view after a vote shows it, and a view with no vote since counts nothing."""
    from tests.queries import recorded_statements
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    auth.login(world.official_a)

    def participation():
        page = html_of(client.get("/dashboard"))
        table = page[page.index('id="ballots"'):]
        return re.findall(r'<td data-label="[^"]*">(\d+)</td>', table[:table.index("</table>")])[:2]

    assert participation() == ["0", "2"]
    vote(world.chair_x, ballot, "yes")
    db.session.commit()
    assert participation() == ["1", "2"]
    with recorded_statements() as statements:
        assert participation() == ["1", "2"]
    assert not [s for s in statements if "ballot_voter" in s]


def test_hidden_results_never_show_before_close_on_any_page_or_partial(client, auth, world):
    ballot = gen_ballot(world, "owners", results_hidden=True)
    vote(world.owner_a, ballot, "yes")
    vote(world.buyer, ballot, "yes")
    receipt = vote(world.owners_more[0], ballot, "no").receipt
    db.session.commit()
    marks = ("Votes so far", "option-figures", "tally-bar", "ballot-part-yes", "result-heading", "most votes")
    pages = []
    for who in (None, world.owner_a, world.hoa_chair, world.admin):
        if who:
            auth.login(who)
        pages += [html_of(client.get(page_of(ballot))), html_of(client.get(page_of(ballot, "/log"))),
                  html_of(post(client, page_of(ballot, "/receipt"), {"receipt": receipt})),
                  html_of(client.get(f"/c/x/proposals/{ballot.proposal_id}")), html_of(client.get("/c/x/ballots"))]
        if who is world.owner_a:
            pages.append(html_of(post(client, page_of(ballot, "/vote"), cast_form(ballot, world.owner_a, "yes"),
                                      headers={"HX-Request": "true"})))
        if who:
            auth.logout()
    for text in pages:
        for mark in marks:
            assert mark not in text, mark
        assert not re.search(r"\d+ votes? · \d", text)  # no count per option
        assert "2 of" not in text.replace("3 of 10", "")  # no per-option count leaks next to the participation
    assert "Results hidden until voting closes" in pages[0] and "3 of 10 have voted" in pages[0]
    # After the close the result shows, to everyone.
    services.close(world.hoa_chair, ballot, "Everyone has voted who will", now=utcnow())
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "option-figures" in page and "result-heading" in page and "2 votes · 66.67%" in page


def test_a_secret_ballot_never_shows_who_voted_what(client, auth, world):
    ballot = gen_ballot(world, "committee", secret=True)
    vote(world.chair_x, ballot, "yes")
    vote(world.member_x, ballot, "no")
    services.close(world.chair_x, ballot, "All members voted", now=utcnow())
    db.session.commit()
    auth.login(world.chair_x)
    log_page = html_of(client.get(page_of(ballot, "/log")))
    assert "secret ballot" in log_page and "Member X" not in log_page and "Chair X" not in log_page
    entry = db.session.scalar(db.select(BallotLogEntry).where(BallotLogEntry.seq == 1))
    assert entry.receipt in log_page and entry.hash not in log_page
    page = html_of(client.get(page_of(ballot)))
    assert "Secret ballot" in page and "Member X" not in page
    assert "You voted Yes" in page  # only one's own choice


# --- paper ballots -------------------------------------------------------------------------------------------

def test_a_committee_member_enters_a_paper_ballot_and_online_casting_is_locked_for_that_vote(client, auth, world):
    ballot = gen_ballot(world, "owners")
    vote(world.owner_a, ballot, "yes")
    db.session.commit()
    path = page_of(ballot, "/paper")
    auth.login(world.member_x)  # the residents' committee did not open this ballot
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login(world.hoa_member)
    assert "Enter paper ballots" in html_of(client.get(page_of(ballot)))
    page = html_of(client.get(path + "?q=吴秀"))
    assert "吴秀英" in page and "王建国" not in page
    unlinked = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                             BallotVoter.label == "吴秀英"))
    # No option: the form again, the voter still chosen.
    page = html_of(post(client, path, {"q": "吴秀", "voter_id": str(unlinked.id)}))
    assert "Choose what the paper ballot says." in page
    assert re.search(rf'value="{unlinked.id}"[^>]*checked|checked[^>]*value="{unlinked.id}"', page)
    response = post(client, path, {"q": "吴秀", "voter_id": str(unlinked.id), "option_id": str(option(ballot, "yes").id)})  # noqa: E501
    assert response.status_code == 302
    entry = db.session.scalar(db.select(BallotLogEntry).where(BallotLogEntry.voter_id == unlinked.id))
    assert entry.is_paper and entry.cast_by_id == world.hoa_member.id
    assert entry.receipt in html_of(client.get(response.headers["Location"]))
    # Someone who voted online cannot have a paper ballot.
    online = voter_of(ballot, world.owner_a)
    page = html_of(post(client, path, {"voter_id": str(online.id), "option_id": str(option(ballot, "no").id)}))
    assert "has voted online" in page
    assert count(BallotLogEntry) == 2


def test_a_paper_ballot_locks_the_co_owned_units_online_vote(client, auth, world):
    ballot = gen_ballot(world, "owners")
    unit = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                         BallotVoter.kind == "co_owned_unit"))
    services.enter_paper(world.hoa_member, ballot, unit, option(ballot, "no").id)
    db.session.commit()
    auth.login(world.co_owner_1)
    page = html_of(client.get(page_of(ballot)))
    assert "on paper" in page and "cannot be cast online" in page and "Cast my vote" not in page
    page = html_of(post(client, page_of(ballot, "/vote"), {"voter_id": str(unit.id),
                                                          "option_id": str(option(ballot, "yes").id)}))
    assert "paper ballot was entered" in page and count(BallotLogEntry) == 1


# --- extend, close, result, outcome --------------------------------------------------------------------------

def test_extending_once_with_a_reason(client, auth, world):
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    auth.login(world.hoa_chair)
    path = page_of(ballot, "/extend")
    page = html_of(client.get(path))
    assert "0 of 10 have voted so far" in page and 'name="closes_at"' in page
    later = local_input(ballot.closes_at + timedelta(days=5))
    page = html_of(post(client, path, {"closes_at": later, "reason": ""}))
    assert "Say why voting is extended." in page and later in page
    response = post(client, path, {"closes_at": later, "reason": "Many owners are away for the holiday"})
    assert response.status_code == 302
    ballot = fresh(Ballot, ballot.id)
    assert ballot.extended_at is not None and ballot.original_closes_at is not None
    page = html_of(client.get(page_of(ballot)))
    assert "Many owners are away for the holiday" in page and "Extend voting" not in page
    assert client.get(path).status_code == 403  # once only


def test_closing_early_needs_a_reason_and_the_opening_committee(client, auth, world):
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    auth.login(world.chair_x)  # a committee member, but not of the opening committee
    assert client.get(page_of(ballot, "/close")).status_code == 403
    assert post(client, page_of(ballot, "/close"), {"reason": "Because"}).status_code == 403
    auth.logout()
    auth.login(world.hoa_member)
    page = html_of(post(client, page_of(ballot, "/close"), {"reason": "  "}))
    assert "Say why voting closes early." in page and fresh(Ballot, ballot.id).status == "open"


def test_the_result_page_of_an_owners_ballot_shows_word_colour_figures_and_percentages(client, auth, world):
    ballot = gen_ballot(world, "owners")
    # 8 of 10 owners take part; area: all but the unlinked owner's 95.25 m² and the developer's 320 m².
    for user in (world.owner_a, world.buyer, world.co_owner_1, world.reporter, *world.owners_more[:3]):
        vote(user, ballot, "yes")
    vote(world.owners_more[3], ballot, "no")
    db.session.commit()
    auth.login(world.hoa_chair)
    response = post(client, page_of(ballot, "/close"), {"reason": "All who will vote have voted"})
    assert response.status_code == 302
    page = html_of(client.get(page_of(ballot)))
    assert 'ballot-result ballot-result-passed">Passed' in page and "The proposal passed." in page
    assert "8 of 10 (80.00%)" in page  # participating headcount
    assert "999.00 m² of 1,414.25 m² (70.64%)" in page  # participating area
    assert "7 · 87.50% of the 8 participating" in page  # yes by headcount
    assert "899.00 m² · 89.99% of the participating area" in page  # yes by area
    assert "Votes by headcount" in page and "Votes by area" in page and "tally-w" in page
    assert fresh(Proposal, ballot.proposal_id).status == "notice"  # decided; the public notice starts at once
    # The committee records the outcome.
    assert "Record the outcome" in page
    response = post(client, page_of(ballot, "/outcome"), {"statement": "The roof repair is commissioned."})
    assert response.status_code == 302
    assert "The roof repair is commissioned." in html_of(client.get(page_of(ballot)))
    # The log is published: receipts, choices and weights; names for the committee and owners.
    log_page = html_of(client.get(page_of(ballot, "/log")))
    assert "王建国" in log_page and "cast by" in log_page and "999.00" not in log_page
    auth.logout()
    public = html_of(client.get(page_of(ballot, "/log")))
    assert "王建国" not in public and db.session.scalar(db.select(BallotLogEntry.receipt)) in public


def test_a_closed_ballots_result_is_kept_for_every_viewer_and_follows_the_names_it_shows(client, auth, world):
    """The result block of a closed ballot is rendered once per language and close (portal.versions): the
    stored figures read the same for everyone the page is served to."""
    from tests.queries import recorded_statements
    ballot = gen_ballot(world, "owners")
    for user in (world.owner_a, world.buyer, world.co_owner_1, world.reporter, *world.owners_more[:3]):
        vote(user, ballot, "yes")
    vote(world.owners_more[3], ballot, "no")
    services.close(world.hoa_chair, ballot, "All who will vote have voted")
    db.session.commit()
    estate = ballot.estate
    html_of(client.get(page_of(ballot)))  # makes the ballot's short link, which changes the version
    first = html_of(client.get(page_of(ballot)))
    assert "The proposal passed." in first and f"<dt>Who decided</dt><dd>Owners of {estate.name}</dd>" in first
    auth.login(world.owner_a)
    with recorded_statements() as statements:
        again = html_of(client.get(page_of(ballot)))
    assert "The proposal passed." in again and "Your vote" in again
    assert not [s for s in statements if "ballot_exclusion" in s or "proxy_id IS NOT NULL" in s]
    estate.name = "南区（新）"  # the estate names who decided, in the result too
    db.session.commit()
    assert "<dt>Who decided</dt><dd>Owners of 南区（新）</dd>" in html_of(client.get(page_of(ballot)))
    chinese = html_of(client.get(page_of(ballot), headers={"Accept-Language": "zh-CN"}))
    assert "The proposal passed." not in chinese


def test_what_the_page_says_of_the_ballot_is_drawn_once_and_follows_every_field_it_shows(client, auth, world,
                                                                                          monkeypatch):
    """The heading, statements, rule, times and links (votes/_about.html) are drawn once per ballot and
    language: a vote moves only the running totals and draws nothing again, while an extension, an early
    close and the outcome statement (columns that do not change the community's version) show at once."""
    from portal.votes import views
    drawn = []

    class Counted(views._About):
        def __new__(cls, *parts):
            drawn.append(parts)
            return super().__new__(cls, *parts)

    monkeypatch.setattr(views, "_About", Counted)
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    html_of(client.get(page_of(ballot)))  # makes the ballot's short link, which changes the version
    drawn.clear()
    auth.login(world.owner_a)
    assert "Announcement to the owners" in html_of(client.get(page_of(ballot)))
    vote(world.buyer, ballot, "yes")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "1 of 10 has voted" in page and "Announcement to the owners" in page and len(drawn) == 1

    services.extend(world.hoa_chair, ballot, ballot.closes_at + timedelta(days=5), "Many owners are away")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "Extended from" in page and "Many owners are away" in page and len(drawn) == 2
    assert "Closed early" not in page and "The ballot log</a>" in page
    services.close(world.hoa_chair, ballot, "Every owner who will vote has voted")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "<dt>Closed early</dt><dd class=\"details\">Every owner who will vote has voted</dd>" in page
    assert "The published ballot log</a>" in page and "The committee's statement" not in page
    services.record_outcome(world.hoa_chair, ballot, "The lifts will be replaced in spring")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "The committee's statement" in page and "The lifts will be replaced in spring" in page
    services.record_outcome(world.hoa_chair, ballot, "The lifts will be replaced in summer")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "replaced in summer" in page and "replaced in spring" not in page
    chinese = html_of(client.get(page_of(ballot), headers={"Accept-Language": "zh-CN"}))
    assert "The committee's statement" not in chinese and "replaced in summer" in chinese
    drawn.clear()
    html_of(client.get(page_of(ballot)))
    html_of(client.get(page_of(ballot), headers={"Accept-Language": "zh-CN"}))
    assert drawn == []


def test_no_quorum_is_said_in_words_and_the_proposal_goes_back_to_consultation(client, auth, world):
    ballot = gen_ballot(world, "owners")
    vote(world.owner_a, ballot, "yes")
    ballot.closes_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))  # first access after the close time closes it
    assert 'ballot-result-no_quorum">No quorum' in page and "Too few voted" in page
    assert "1 of 10 (10.00%)" in page
    assert fresh(Proposal, ballot.proposal_id).status == "deliberation"


def test_a_tie_of_named_choices(client, auth, world):
    ballot = gen_ballot(world, "residents", options=["Green", "Grey"], quorum_percent=Decimal("10"))
    vote(world.reporter, ballot, "Green")
    vote(world.neighbour, ballot, "Grey")
    services.close(world.chair_x, ballot, "Enough", now=utcnow())
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert 'ballot-result-tie">Tie' in page and "Equal top counts: “Green”, “Grey”" in page


# --- receipts, lists, home -----------------------------------------------------------------------------------

def test_the_receipt_page_says_counted_replaced_or_unknown(client, auth, world):
    ballot = gen_ballot(world, "owners")
    first = vote(world.owner_a, ballot, "yes").receipt
    second = vote(world.owner_a, ballot, "no").receipt
    db.session.commit()
    path = page_of(ballot, "/receipt")
    assert 'name="receipt"' in html_of(client.get(path))
    spaced = " ".join(second[i:i + 4] for i in range(0, 20, 4)).lower()
    page = html_of(post(client, path, {"receipt": spaced}))
    assert "Counted" in page and "No" not in re.sub(r"<[^>]+>", "", page).split("Counted")[1][:80]
    page = html_of(post(client, path, {"receipt": first}))
    assert "Replaced" in page and "replaced by a later one at" in page
    tampered = ("A" if first[0] != "A" else "B") + first[1:]
    assert "Unknown" in html_of(post(client, path, {"receipt": tampered}))
    assert "Unknown" in html_of(post(client, path, {"receipt": "<script>alert(1)</script>" * 50}))
    assert "Paste the receipt" in html_of(post(client, path, {"receipt": "   "}))


def test_the_communitys_ballots_open_first(client, world):
    closed = gen_ballot(world, "committee", question="An old question")
    services.close(world.chair_x, closed, "Done", now=utcnow())
    gen_ballot(world, "committee", question="A current question")
    db.session.commit()
    page = html_of(client.get("/c/x/ballots"))
    assert page.index("A current question") < page.index("An old question")
    assert "ballot-status-open" in page and "No quorum" in page


def test_home_lists_ballots_that_need_my_vote_until_i_vote(client, auth, world):
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    auth.login(world.owner_a)
    page = html_of(client.get("/"))
    assert "Needs my vote" in page and ballot.question in page and page_of(ballot) in page
    post(client, page_of(ballot, "/vote"), cast_form(ballot, world.owner_a, "yes"))
    assert "Needs my vote" not in html_of(client.get("/"))
    auth.logout()
    auth.login(world.neighbour)  # not an owner
    assert "Needs my vote" not in html_of(client.get("/"))


def test_the_proposal_page_lists_its_ballot_with_status_and_result(client, world):
    ballot = gen_ballot(world, "committee")
    vote(world.chair_x, ballot, "yes")
    vote(world.member_x, ballot, "yes")
    db.session.commit()
    path = f"/c/x/proposals/{ballot.proposal_id}"
    page = html_of(client.get(path))
    assert ballot.question in page and "Voting open" in page and page_of(ballot) in page
    services.close(world.chair_x, ballot, "Both voted", now=utcnow())
    db.session.commit()
    page = html_of(client.get(path))
    assert 'ballot-result-passed">Passed' in page


def test_a_ballot_of_a_members_only_community_is_for_its_members(client, auth, world):
    ballot = gen_ballot(world, "committee")
    world.x.members_only = True
    db.session.commit()
    for tail in ("", "/log", "/receipt"):
        assert client.get(page_of(ballot, tail)).status_code == 302
    assert client.get("/c/x/ballots").status_code == 302
    auth.login(world.stranger)
    assert client.get(page_of(ballot)).status_code == 403


def test_an_announced_ballot_opens_on_the_first_page_load_after_its_time(client, auth, world):
    ballot = gen_ballot(world, "owners", open=False)
    db.session.commit()
    auth.login(world.owner_a)
    assert "Voting has not opened yet" in html_of(client.get(page_of(ballot)))
    ballot.opens_at = utcnow() - timedelta(minutes=1)  # the fifteen days have passed; run-due has not run
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "ballot-status-open" in page and "Cast my vote" in page and "0 of 10 have voted" in page
    assert fresh(Ballot, ballot.id).frozen_at is not None


def test_the_log_while_voting_is_open_shows_only_its_length_and_head(client, auth, world):
    ballot = gen_ballot(world, "committee")
    entry = vote(world.chair_x, ballot, "yes")
    db.session.commit()
    page = html_of(client.get(page_of(ballot, "/log")))
    assert "1 entry." in page and entry.hash in page and "published when voting closes" in page
    assert entry.receipt not in page and "log-entry" not in page


def test_the_outcome_statement_is_required(client, auth, world):
    ballot = gen_ballot(world, "committee")
    services.close(world.chair_x, ballot, "Early", now=utcnow())
    db.session.commit()
    auth.login(world.member_x)
    page = html_of(post(client, page_of(ballot, "/outcome"), {"statement": " "}))
    assert "Write the outcome statement." in page and fresh(Ballot, ballot.id).outcome_statement is None
    auth.logout()
    auth.login(world.neighbour)
    assert client.get(page_of(ballot, "/outcome")).status_code == 403


# --- issue #16: defects found by residents and officials -----------------------------------------------------

def _opens_at_value(page) -> str | None:
    tag = re.search(r'<input[^>]*name="opens_at"[^>]*>', page).group(0)
    found = re.search(r'value="([^"]*)"', tag)
    return found.group(1) if found else None


def test_voting_opens_is_left_empty_so_leaving_it_as_it_is_opens_the_ballot_now(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.chair_x)
    base = f"/c/x/proposals/{proposal.id}/ballots/new"
    for method in ("committee", "residents"):
        page = html_of(client.get(f"{base}?method={method}"))
        assert not _opens_at_value(page), method  # it was now + 5 minutes, which scheduled the ballot
        assert "Leave it empty to open voting now" in page
    # The owners' ballot keeps its prefilled date: the notice period is the point of it.
    assert _opens_at_value(html_of(client.get(f"{base}?method=owners")))
    # Submitting the form as it is shown (only the closing time filled in) opens the ballot at once.
    page = html_of(client.get(f"{base}?method=committee"))
    closes = re.search(r'<input[^>]*name="closes_at"[^>]*>', page).group(0)
    closes_at = re.search(r'value="([^"]*)"', closes).group(1)
    response = post(client, f"{base}?method=committee", {
        "method": "committee", "question": "Paint the railings?", "organization": str(world.rc_x.id),
        "opens_at": "", "closes_at": closes_at})
    assert response.status_code == 302
    ballot = db.session.scalar(db.select(Ballot))
    assert ballot.status == "open"
    assert "Voting is open" in html_of(client.get(page_of(ballot)))


def test_a_second_paper_ballot_for_the_same_voter_is_refused_on_the_page(client, auth, world):
    ballot = gen_ballot(world, "owners")
    db.session.commit()
    unlinked = db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                             BallotVoter.label == "吴秀英"))
    auth.login(world.hoa_member)
    path = page_of(ballot, "/paper")
    first = post(client, path, {"q": "吴秀", "voter_id": str(unlinked.id), "option_id": str(option(ballot, "yes").id)})
    assert first.status_code == 302
    page = html_of(post(client, path, {"q": "吴秀", "voter_id": str(unlinked.id),
                                       "option_id": str(option(ballot, "no").id)}))
    assert "already entered" in page and "吴秀英" in page
    assert count(BallotLogEntry) == 1
    ballot = fresh(Ballot, ballot.id)
    assert ballot.voted_count == 1 and option(ballot, "yes").live_count == 1 and option(ballot, "no").live_count == 0
    assert services.running_figures(ballot) == services.tally(ballot)
    assert db.session.scalar(db.select(BallotVote.option_id).where(BallotVote.voter_id == unlinked.id)) \
        == option(ballot, "yes").id


def test_the_results_hidden_badge_is_gone_once_voting_closes(client, auth, world):
    ballot = gen_ballot(world, "committee", results_hidden=True)
    vote(world.chair_x, ballot, "yes")
    db.session.commit()
    assert "Results hidden until voting closes" in html_of(client.get(page_of(ballot)))
    services.close(world.chair_x, ballot, "Enough", now=utcnow())
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "result-heading" in page
    assert "Results hidden until voting closes" not in page and "hidden until voting closes" not in page


def test_a_secret_ballot_with_two_voters_shows_no_totals_and_no_count_before_close(client, auth, world):
    ballot = gen_ballot(world, "committee", secret=True)  # results not hidden: the secret alone must hold
    vote(world.chair_x, ballot, "yes")
    db.session.commit()
    assert services.visible_tally(world.chair_x, ballot) is None
    pages = []
    for who in (None, world.chair_x, world.member_x, world.admin):
        if who:
            auth.login(who)
        pages += [html_of(client.get(page_of(ballot))), html_of(client.get("/c/x/ballots")),
                  html_of(client.get(f"/c/x/proposals/{ballot.proposal_id}"))]
        pages.append(html_of(client.get(page_of(ballot, "/log"))))
        if who is world.chair_x:  # the committee's extend page tells no more than the ballot page
            pages.append(html_of(client.get(page_of(ballot, "/extend"))))
            assert "Fewer than 3 have voted so far" in pages[-1]
        if who is world.member_x:
            pages.append(html_of(post(client, page_of(ballot, "/vote"), cast_form(ballot, world.member_x, "no"),
                                      headers={"HX-Request": "true"})))
            pages.append(html_of(client.get(page_of(ballot))))
        if who:
            auth.logout()
    for text in pages:
        for mark in ("Votes so far", "option-figures", "tally-bar", "ballot-part-yes"):
            assert mark not in text, mark
        assert not re.search(r"\d+ votes? · \d", text)
        assert not re.search(r"\d+ of 2 (has|have) voted", text)  # the count would tell who voted
        assert "entries so far" not in text and "entry so far" not in text
        assert "Head hash" not in text and not re.search(r"\d+ entr(y|ies)\.", text)  # the log's length and head
    assert "Fewer than 3 have voted so far" in pages[0]
    assert "shown only when voting closes" in pages[0]
    # After the close the result is shown, to everyone.
    services.close(world.chair_x, fresh(Ballot, ballot.id), "Both members voted", now=utcnow())
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "result-heading" in page and "2 of 2 (100.00%)" in page and "1 vote · 50.00%" in page


def test_a_secret_ballot_shows_how_many_voted_from_three_voters_on(client, auth, world):
    ballot = gen_ballot(world, "residents", secret=True)
    for who in (world.reporter, world.neighbour):
        vote(who, ballot, "yes")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "Fewer than 3 have voted so far" in page and "have voted" not in page.replace("Fewer than 3 have voted", "")
    vote(world.supporters[0], ballot, "no")
    db.session.commit()
    page = html_of(client.get(page_of(ballot)))
    assert "3 of 14 have voted" in page and "3 entries so far" in page
    assert "Head hash" in html_of(client.get(page_of(ballot, "/log")))
    assert "Votes so far" not in page and not re.search(r"\d+ votes? · \d", page)
