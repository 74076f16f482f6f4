"""Issue pages that tell people what happened and what to do next (issue 16): the reporter of a resolved
issue reads what was done and is asked to rate it; the report form names every missing required field at
once; without JavaScript "check for similar issues" says when nothing matches; a hidden issue answers 410
with the page giving the reason; the author told "moderators hid something you wrote" reads which item."""
import pytest

from portal.extensions import db
from portal.issues import services
from portal.notifications.models import Notification
from portal.notifications.services import link_for, message_for
from tests.issues import gen_issue
from tests.residents import post


def html_of(response) -> str:
    return response.get_data(as_text=True)


def test_the_reporter_of_a_resolved_issue_reads_what_was_done_and_is_asked_to_rate(client, auth, world):
    issue = gen_issue(world)
    services.accept_issue(world.admin, issue)
    services.resolve_issue(world.admin, issue, "Replaced the lift's door sensor")
    db.session.commit()
    path = f"/c/x/issues/{issue.id}"
    auth.login(world.reporter)
    page = html_of(client.get(path))
    assert "Your issue was resolved" in page and "Replaced the lift&#39;s door sensor" in page
    assert 'href="#rate"' in page and 'id="rate"' in page
    auth.logout()
    auth.login(world.neighbour)
    assert "Your issue was resolved" not in html_of(client.get(path))  # only its reporter


def test_an_open_issue_shows_no_resolved_banner(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.reporter)
    assert "Your issue was resolved" not in html_of(client.get(f"/c/x/issues/{issue.id}"))


def test_the_report_form_names_every_missing_required_field_at_once(client, auth, world):
    auth.login(world.reporter)
    sent = post(client, "/c/x/issues/new", {"title": "", "description": "", "category": ""},
                token_from="/c/x/issues/new")
    page = html_of(sent)
    assert sent.status_code == 200
    assert "Choose one of this community&#39;s categories." in page and "Give the issue a short title." in page
    assert db.session.scalar(db.select(db.func.count()).select_from(services.Issue)) == 0


def test_report_problems_lists_each_problem_once(world):
    lift = world.categories["lift"]
    assert [p.field for p in services.report_problems(world.x, category=None, title=" ")] == ["category", "title"]
    assert services.report_problems(world.x, category=lift, title="Lift stuck") == []
    assert [p.field for p in services.report_problems(world.y, category=lift, title="Lift stuck")] == ["category"]


def test_checking_for_similar_issues_without_javascript_says_when_none_match(client, auth, world):
    auth.login(world.reporter)
    sent = post(client, "/c/x/issues/new", {"title": "Graffiti on the bike shed", "check": "1"},
                token_from="/c/x/issues/new")
    assert "No similar open issues found." in html_of(sent)
    empty = post(client, "/c/x/issues/new", {"title": "", "check": "1"}, token_from="/c/x/issues/new")
    assert "Write what the problem is first" in html_of(empty)


@pytest.fixture
def hidden_issue(world):
    from portal.moderation import services as moderation
    issue = gen_issue(world, title="Lift stuck again")
    moderation.hide(world.chair_x, "issue", issue, "Names a neighbour")
    db.session.commit()
    return issue


def test_a_hidden_issue_answers_410_with_the_reason(client, auth, world, hidden_issue):
    path = f"/c/x/issues/{hidden_issue.id}"
    gone = client.get(path)
    assert gone.status_code == 410
    page = html_of(gone)
    assert "Names a neighbour" in page and "Lift stuck again" not in page
    auth.login(world.neighbour)
    assert client.get(path).status_code == 410
    auth.logout()
    auth.login(world.reporter)  # its reporter still reads it
    assert client.get(path).status_code == 200


def test_the_hidden_notification_names_the_item_and_links_to_it(app, world, hidden_issue):
    row = db.session.scalar(db.select(Notification).where(
        Notification.event == "moderation.hidden", Notification.recipient_id == world.reporter.id))
    with app.test_request_context():
        text = message_for(row)
        assert f"your issue no. {hidden_issue.id}" in text and "Names a neighbour" in text
        assert "Lift stuck again" not in text  # never quotes what was hidden
        assert link_for(row).endswith(f"/c/x/issues/{hidden_issue.id}")


def test_a_hidden_comment_is_named_by_the_proposal_it_was_on(app, world):
    from portal.moderation import services as moderation
    from portal.proposals import services as proposals
    proposal = proposals.create_proposal(world.reporter, world.x, title="Benches in the garden",
                                         summary="Two benches", body="Near the pond", category="facilities",
                                         publish=True)
    proposal.status = "deliberation"
    proposal.deliberation_at = proposal.published_at
    db.session.flush()
    comment = proposals.add_comment(world.neighbour, proposal, stance="against", body="Rude words")
    moderation.hide(world.chair_x, "comment", comment, "Personal attack")
    db.session.flush()
    row = db.session.scalar(db.select(Notification).where(
        Notification.event == "moderation.hidden", Notification.recipient_id == world.neighbour.id))
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        text = message_for(row)
        assert f"{proposal.id}" in text and "Benches in the garden" in text and "Rude words" not in text
        assert "Personal attack" in text and "Moderators" not in text  # in the reader's language
