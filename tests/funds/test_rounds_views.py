"""Budget round pages: opening a round (errors on the form, typing kept), the public page in each phase,
proposing and reviewing through the forms, publishing, the lists of rounds, and who may open which page."""
from datetime import timedelta

import pytest

from portal.clock import local_today
from portal.extensions import db
from portal.funds import rounds, services
from portal.funds.rounds_models import BudgetBallot, BudgetBallotChoice, BudgetProject, BudgetRound
from tests.conftest import Auth
from tests.csrf import csrf_token


def _client(app, person=None):
    client = app.test_client()
    if person is not None:
        assert Auth(client).login(person).status_code == 302
    return client


def _days(start):
    return {"proposing_from": start, "review_from": start + timedelta(days=10),
            "voting_from": start + timedelta(days=20), "voting_until": start + timedelta(days=30),
            "results_from": start + timedelta(days=31)}


@pytest.fixture
def money(world):
    services.record_income(world.keeper, world.fund, 100_000_00, source="Sub-district grant")
    db.session.commit()
    return world


def _round(w, days_ago=0, total="5000"):
    """A round whose phases started `days_ago` days ago: 0 proposing, 15 review, 25 voting, 40 results."""
    round_ = rounds.create_round(w.keeper, w.fund, title="Small projects", total=total, ballot_kind="knapsack",
                                 tie_rule="lower_cost",
                                 dates=_days(local_today(w.fund.time_zone) - timedelta(days=days_ago)))
    db.session.commit()
    return round_


def _project(w, round_, title, cost="1000", reviewed=None):
    project = rounds.propose_project(w.resident, round_, title=title, summary="Please", location="Gate 2",
                                     estimated_cost=cost, now=round_.proposing_from + timedelta(hours=1))
    if reviewed is not None:
        rounds.review_project(w.keeper, project, decision="accept", reviewed_cost=reviewed,
                              now=round_.review_from + timedelta(hours=1))
    db.session.commit()
    return project


def _post(client, url, data, page="/"):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def test_opening_a_round_through_the_form(app, money):
    w = money
    client = _client(app, w.keeper)
    url = f"/funds/{w.fund.id}/rounds/new"
    assert client.get(url).status_code == 200
    today = local_today(w.fund.time_zone)
    dates = {k: v.isoformat() for k, v in _days(today).items()}
    refused = _post(client, url, {"title": "Small projects", "total": "100000.01", "ballot_kind": "knapsack",
                                  "voter_unit": "resident", "tie_rule": "lower_cost", **dates}, url)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "is free for a round" in text and 'value="100000.01"' in text
    bad_dates = {**dates, "review_from": (today - timedelta(days=1)).isoformat()}
    refused = _post(client, url, {"title": "Small projects", "total": "500", "ballot_kind": "knapsack",
                                  "voter_unit": "resident", "tie_rule": "lower_cost", **bad_dates}, url)
    assert refused.status_code == 400 and "The phases go in order" in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(BudgetRound)) == 0
    done = _post(client, url, {"title": "Small projects", "total": "500", "ballot_kind": "knapsack",
                               "voter_unit": "resident", "tie_rule": "earlier_proposed", **dates}, url)
    assert done.status_code == 302
    round_ = db.session.scalar(db.select(BudgetRound))
    assert round_.total_fen == 50000 and round_.tie_rule == "earlier_proposed"
    page = _client(app).get(f"/funds/{w.fund.id}").get_data(as_text=True)
    assert f"/funds/rounds/{round_.id}" in page
    page = _client(app).get(f"/c/{w.x.slug}/funds").get_data(as_text=True)
    assert f"/funds/rounds/{round_.id}" in page


@pytest.mark.parametrize("role, status", [("keeper", 200), ("admin", 200), ("official", 403), ("resident", 403),
                                          ("hoa_member", 403), ("outsider", 403)])
def test_who_opens_a_round(app, money, role, status):
    client = _client(app, getattr(money, role))
    assert client.get(f"/funds/{money.fund.id}/rounds/new").status_code == status
    assert client.get(f"/funds/{money.maintenance.id}/rounds/new").status_code == 403 or role != "keeper"


def test_proposing_through_the_round_page(app, money):
    w = money
    round_ = _round(w)
    page = _client(app).get(f"/funds/rounds/{round_.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Proposing projects" in text and "the lower reviewed cost comes first" in text
    assert "Propose a project" not in text  # a visitor does not propose
    client = _client(app, w.resident)
    url = f"/funds/rounds/{round_.id}/projects"
    refused = _post(client, url, {"title": "Benches", "summary": "Two benches", "location": "Pond",
                                  "estimated_cost": "12.345"}, f"/funds/rounds/{round_.id}")
    assert refused.status_code == 400 and 'value="Benches"' in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(BudgetProject)) == 0
    done = _post(client, url, {"title": "Benches", "summary": "Two benches", "location": "Pond",
                               "estimated_cost": "1,234.50"}, f"/funds/rounds/{round_.id}")
    assert done.status_code == 302
    project = db.session.scalar(db.select(BudgetProject))
    assert project.estimated_cost_fen == 123450 and project.proposal.kind == "project"
    assert "Benches" in _client(app).get(f"/funds/rounds/{round_.id}").get_data(as_text=True)
    assert _post(_client(app, w.resident_y), url, {"title": "X", "summary": "Y", "location": "Z",
                                                   "estimated_cost": "1"}).status_code == 403


def test_reviewing_through_the_round_page(app, money):
    w = money
    round_ = _round(w, days_ago=15)
    a = _project(w, round_, "Lights")
    b = _project(w, round_, "A pool")
    page = _client(app, w.official).get(f"/funds/rounds/{round_.id}").get_data(as_text=True)
    assert "Feasibility review" in page and f"/projects/{a.id}/review" in page
    assert f"/projects/{a.id}/review" not in _client(app, w.resident).get(f"/funds/rounds/{round_.id}") \
        .get_data(as_text=True)
    client = _client(app, w.official)
    url = f"/funds/rounds/{round_.id}/projects/{b.id}/review"
    refused = _post(client, url, {f"p{b.id}-decision": "reject", f"p{b.id}-reason": ""})
    assert refused.status_code == 400 and "Give the public reason" in refused.get_data(as_text=True)
    assert _post(client, url, {f"p{b.id}-decision": "reject", f"p{b.id}-reason": "No room"}).status_code == 302
    url = f"/funds/rounds/{round_.id}/projects/{a.id}/review"
    assert _post(client, url, {f"p{a.id}-decision": "accept", f"p{a.id}-reviewed_cost": "990"}).status_code == 302
    db.session.expire_all()
    assert (a.review_state, a.reviewed_cost_fen, b.review_state) == ("accepted", 99000, "rejected")
    text = _client(app).get(f"/funds/rounds/{round_.id}").get_data(as_text=True)
    assert "No room" in text and "990.00" in text
    assert _post(_client(app, w.resident), url, {f"p{a.id}-decision": "accept"}).status_code == 403


def test_results_on_the_page_after_publishing(app, money):
    w = money
    round_ = _round(w, days_ago=40, total="1500")
    a = _project(w, round_, "Lights", reviewed="1000")
    b = _project(w, round_, "Benches", reviewed="800")
    c = _project(w, round_, "Mural", reviewed="500")
    for n, chosen in enumerate(([a.id, c.id], [a.id, b.id], [b.id], [a.id])):
        ballot = BudgetBallot(round_id=round_.id, voter_key=f"u{n}", user_id=w.keeper.id,
                              cast_at=round_.voting_from, receipt=f"r{n}")
        db.session.add(ballot)
        db.session.flush()
        db.session.add_all(BudgetBallotChoice(ballot_id=ballot.id, project_id=pid) for pid in chosen)
    db.session.commit()
    client = _client(app, w.keeper)
    assert _post(client, f"/funds/rounds/{round_.id}/publish", {}).status_code == 302
    db.session.expire_all()
    assert (a.funded, b.funded, c.funded) == (True, False, True)
    text = _client(app).get(f"/funds/rounds/{round_.id}").get_data(as_text=True)
    assert "The outcome" in text and "Skipped" in text and "1,500.00" in text
    assert f"/actions/{a.action_id}" in text and "Spent 0.00 of 1,000.00 yuan allocated" in text
    again = _post(client, f"/funds/rounds/{round_.id}/publish", {})
    assert again.status_code == 302  # refused, said on the page it came from


def test_the_page_publishes_when_the_results_date_has_come(app, money):
    w = money
    round_ = _round(w, days_ago=40)
    a = _project(w, round_, "Lights", reviewed="100")
    assert _client(app).get(f"/funds/rounds/{round_.id}").status_code == 200
    db.session.expire_all()
    assert a.funded is True and round_.results_published_at is not None


def test_unknown_and_members_only(app, money):
    assert _client(app).get("/funds/rounds/999").status_code == 404
    assert _client(app).get("/funds/rounds/99999999999").status_code == 404
    money.x.members_only = True
    round_ = _round(money)
    db.session.commit()
    assert _client(app).get(f"/funds/rounds/{round_.id}").status_code == 302  # sign in first
    assert _client(app, money.outsider).get(f"/funds/rounds/{round_.id}").status_code == 403
    assert _client(app, money.resident).get(f"/funds/rounds/{round_.id}").status_code == 200


def test_the_funds_dashboard_counts_projects_by_state(app, money):
    w = money
    round_ = _round(w, days_ago=15)
    _project(w, round_, "Lights", reviewed="900")
    _project(w, round_, "Benches")
    rejected = _project(w, round_, "A pool")
    rounds.review_project(w.keeper, rejected, decision="reject", reason="No room",
                          now=round_.review_from + timedelta(hours=2))
    db.session.commit()
    assert rounds.projects_by_state([w.fund.id, w.maintenance.id]) == {
        w.fund.id: {"pending": 1, "accepted": 1, "merged": 0, "rejected": 1, "funded": 0}}
    page = _client(app, w.official).get(f"/c/{w.x.slug}/funds/dashboard")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "projects by state" in text and "Rejected in review" in text


def test_a_winners_notice_says_it_was_funded_in_the_budget_round(app, money):
    from portal.notices.models import Notice
    w = money
    round_ = _round(w, days_ago=40)
    a = _project(w, round_, "Lights", reviewed="100")
    assert _client(app).get(f"/funds/rounds/{round_.id}").status_code == 200
    notice = db.session.scalar(db.select(Notice).where(Notice.proposal_id == a.proposal_id))
    text = _client(app).get(f"/c/{notice.community.slug}/notices/{notice.id}").get_data(as_text=True)
    assert "funded by the residents' vote in a budget round" in text and "passed by ballot" not in text
