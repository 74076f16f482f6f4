"""The ballot page of a budget round (issue #23): ticking projects and checking what is left without
JavaScript, the same figure for htmx, a selection over the total refused with the boxes kept (by the form and
by a forged POST), casting and changing with the receipt shown, voting outside the phase, who may do what,
and the receipt check."""
import re

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from portal.extensions import db
from portal.funds import budget_ballot as voting
from portal.funds.rounds_models import BudgetBallot, BudgetLogEntry
from tests.conftest import Auth
from tests.csrf import csrf_token
from tests.funds.test_budget_ballot import D, ids, make_round, voting_round  # noqa: F401  (the fixture)

RECEIPT = re.compile(r'<code class="receipt-code">([A-Z2-7]{20})</code>')


def _client(app, person=None):
    client = app.test_client()
    if person is not None:
        assert Auth(client).login(person).status_code == 302
    return client


def _url(w, tail="ballot"):
    return f"/funds/rounds/{w.round.id}/{tail}"


def _post(client, w, projects, do="cast", tail="ballot", headers=None):
    data = {"csrf_token": csrf_token(client, _url(w)), "project": [str(p) for p in projects]}
    if do is not None:
        data["do"] = do
    return client.post(_url(w, tail), data=data, headers=headers or {})


def _ticked(html) -> set[int]:
    return {int(n) for n in re.findall(r'name="project" value="(\d+)" checked', html)}


def _written(w) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(BudgetLogEntry)
                             .where(BudgetLogEntry.round_id == w.round.id))


def test_the_page_offers_the_accepted_projects_with_their_costs_and_both_buttons(app, voting_round):
    w = voting_round
    page = _client(app, w.resident).get(_url(w)).get_data(as_text=True)
    assert "Benches by the pond" in page and "600.00" in page and "Bicycle shed roof" in page
    assert "A fountain" not in page and "Shade sails" not in page
    assert 'value="check"' in page and 'value="cast"' in page and "1,000.00" in page
    assert f'hx-post="/funds/rounds/{w.round.id}/ballot/check"' in page and "<script>" not in page


def test_checking_without_javascript_shows_what_is_left_and_keeps_the_boxes(app, voting_round):
    w = voting_round
    client = _client(app, w.resident)
    response = _post(client, w, [w.benches.id, w.lights.id], do="check")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Left: 100.00 yuan" in html
    assert _ticked(html) == {w.benches.id, w.lights.id}
    over = _post(client, w, [w.benches.id, w.lights.id, w.shed.id], do="check").get_data(as_text=True)
    assert "Over the total by 150.00 yuan" in over and "more than the round" in over
    assert _ticked(over) == {w.benches.id, w.lights.id, w.shed.id}
    assert _written(w) == 0


def test_htmx_gets_the_summary_alone_as_boxes_are_ticked(app, voting_round):
    w = voting_round
    client = _client(app, w.resident)
    response = _post(client, w, [w.lights.id], do=None, tail="ballot/check", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="ballot-summary"' in html and "Left: 700.00 yuan" in html and "<html" not in html
    assert _written(w) == 0


def test_a_selection_over_the_total_is_refused_with_the_choices_kept(app, voting_round):
    w = voting_round
    response = _post(_client(app, w.resident), w, [w.benches.id, w.lights.id, w.shed.id])
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "more than the round" in html and "Over the total by 150.00" in html
    assert _ticked(html) == {w.benches.id, w.lights.id, w.shed.id}
    assert _written(w) == 0


@pytest.mark.parametrize("forged", ["rejected", "pending", "nul", "huge", "word"])
def test_a_forged_post_is_refused_and_nothing_is_written(app, voting_round, forged):
    w = voting_round
    value = {"rejected": w.fountain.id, "pending": w.sails.id, "nul": "1\x00", "huge": "9" * 30,
             "word": "<b>x</b>"}[forged]
    response = _post(_client(app, w.resident), w, [value, w.lights.id])
    assert response.status_code == 400 and "projects of this round" in response.get_data(as_text=True)
    assert _written(w) == 0


def test_casting_shows_the_receipt_and_the_choices_and_a_change_replaces_them(app, voting_round):
    w = voting_round
    client = _client(app, w.resident)
    response = _post(client, w, [w.benches.id, w.shed.id])
    assert response.status_code == 302 and response.headers["Location"].endswith(_url(w) + "#my-ballot")
    page = client.get(_url(w)).get_data(as_text=True)
    first = RECEIPT.search(page).group(1)
    assert "Your ballot is counted" in page and first in page and "Change my ballot" in page
    assert _ticked(page) == {w.benches.id, w.shed.id}
    _post(client, w, [w.lights.id])
    page = client.get(_url(w)).get_data(as_text=True)
    second = RECEIPT.search(page).group(1)
    assert second != first and _ticked(page) == {w.lights.id}
    db.session.expire_all()
    assert (w.benches.vote_count, w.lights.vote_count, w.shed.vote_count) == (0, 1, 0)
    receipt = _url(w, "receipt")
    anonymous = _client(app)
    token = csrf_token(anonymous, receipt)
    assert "Replaced" in anonymous.post(receipt, data={"csrf_token": token, "receipt": first}).get_data(as_text=True)
    assert "Counted" in anonymous.post(receipt, data={"csrf_token": token, "receipt": second.lower()}).get_data(
        as_text=True)
    assert "Unknown" in anonymous.post(receipt, data={"csrf_token": token, "receipt": "Q" * 20}).get_data(as_text=True)
    assert "Paste the receipt" in anonymous.post(receipt, data={"csrf_token": token, "receipt": " "}).get_data(
        as_text=True)


def test_a_ballot_cast_after_voting_closed_is_refused_on_the_page(app, voting_round):
    w = voting_round
    client = _client(app, w.resident)
    token = csrf_token(client, _url(w))
    w.round.voting_until = w.round.voting_from + D / 2
    db.session.commit()
    response = client.post(_url(w), data={"csrf_token": token, "project": ids(w.lights), "do": "cast"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Voting in this round has closed" in html
    assert 'value="cast"' not in html and "Voting closed at" in html
    assert _written(w) == 0


def test_before_voting_opens_the_page_says_when(app, voting_round):
    w = voting_round
    w.round.voting_from = w.round.voting_from + 3 * D
    db.session.commit()
    page = _client(app, w.resident).get(_url(w)).get_data(as_text=True)
    assert "Voting has not opened yet" in page and 'value="cast"' not in page


@pytest.mark.parametrize("who, status", [("resident", 302), ("neighbour", 302), ("minor", 403), ("resident_y", 403),
                                         ("keeper", 403), ("official", 403), ("property", 403), ("outsider", 403),
                                         ("admin", 403), (None, 302)])
def test_who_may_cast(app, voting_round, who, status):
    w = voting_round
    client = _client(app, getattr(w, who) if who else None)
    response = _post(client, w, [w.lights.id])
    assert response.status_code == status
    if who is None:
        assert "/login" in response.headers["Location"]
    assert _written(w) == (1 if status == 302 and who else 0)


def test_visitors_see_the_projects_and_are_asked_to_sign_in(app, voting_round):
    w = voting_round
    page = _client(app).get(_url(w)).get_data(as_text=True)
    assert "Benches by the pond" in page and "Sign in to vote" in page and 'value="cast"' not in page
    page = _client(app, w.resident_y).get(_url(w)).get_data(as_text=True)
    assert "You have no vote in it" in page
    assert _client(app).get("/funds/rounds/999999/ballot").status_code == 404
    assert _client(app).get("/funds/rounds/99999999999/ballot").status_code == 404


def test_an_approval_page_counts_approvals(app, world):
    w = world
    w.round, (benches, lights, shed, *_rest) = make_round(w, kind="approval", max_approvals=2)
    db.session.commit()
    client = _client(app, w.resident)
    html = _post(client, w, [benches.id, lights.id, shed.id], do="check").get_data(as_text=True)
    assert "3 of at most 2 projects approved" in html and "at most 2 projects" in html
    assert _post(client, w, [benches.id, lights.id]).status_code == 302


def test_a_household_member_sees_the_households_ballot(app, world):
    w = world
    w.round, (benches, *_rest) = make_round(w, unit="household")
    from tests.factories import gen_residency, gen_user
    from tests.funds.test_budget_ballot import _household_of
    partner = gen_user(display_name="Partner")
    gen_residency(partner, household=_household_of(w.resident))
    db.session.commit()
    assert _post(_client(app, w.resident), w, [benches.id]).status_code == 302
    page = _client(app, partner).get(_url(w)).get_data(as_text=True)
    assert "Your household" in page and _ticked(page) == {benches.id}
    assert db.session.scalar(select(func.count()).select_from(BudgetBallot)) == 1


def test_the_round_page_link_shows_vote_to_those_who_may(app, voting_round):
    w = voting_round
    snippet = '{% include "funds/budget_ballot_link.html" %}'
    for person, shown in ((w.resident, True), (w.outsider, False)):
        with app.test_request_context():
            from flask_login import login_user
            login_user(person)
            html = render_template_string(snippet, round=w.round)
        assert (f"/funds/rounds/{w.round.id}/ballot" in html) is shown
    assert voting.can_vote_in_round(w.resident, w.round)


def test_a_ballot_cast_before_voting_opens_is_refused_on_the_page(app, voting_round):
    w = voting_round
    client = _client(app, w.resident)
    token = csrf_token(client, _url(w))
    w.round.voting_from = w.round.voting_from + 2 * D
    db.session.commit()
    response = client.post(_url(w), data={"csrf_token": token, "project": ids(w.lights), "do": "cast"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Voting in this round is not open" in html
    assert _ticked(html) == set() and _written(w) == 0


def test_the_verify_round_command_names_a_changed_entry(app, voting_round):
    from sqlalchemy import update
    w = voting_round
    voting.cast_ballot(w.resident, w.round, ids(w.lights))
    voting.cast_ballot(w.neighbour, w.round, ids(w.shed))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["funds", "verify-round", str(w.round.id)])
    assert result.exit_code == 0 and "The log verifies: 2 entries" in result.output
    db.session.execute(update(BudgetLogEntry).where(BudgetLogEntry.seq == 2).values(receipt="C" * 20))
    db.session.commit()
    result = runner.invoke(args=["funds", "verify-round", str(w.round.id)])
    assert result.exit_code == 1 and "(entry 2)" in result.output
    assert runner.invoke(args=["funds", "verify-round", "424242"]).exit_code == 1
