import re
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import services
from portal.notifications.models import Notification
from tests.csrf import csrf_token
from tests.factories import gen_user
from tests.issues import T0, gen_issue
from tests.issues.conftest import world as issues_world  # noqa: F401  (the worlds the tests build on)
from tests.proposals import gen_comment, gen_in_deliberation
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.queries import count_queries, recorded_statements

services.register_event("test_view_event", _l("Your claim was checked (%(what)s)"), group="account")


def test_unread_count_shows_in_the_navigation_and_clears_on_mark_all(client, auth):
    alice = gen_user()
    services.notify([alice], "test_view_event", what="one")
    services.notify([alice], "test_view_event", what="two")
    db.session.commit()
    auth.login(alice)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Your claim was checked (two)" in page
    assert 'id="unread-count" class="count"' in page
    token = csrf_token(client, "/notifications/")
    client.post("/notifications/read-all", data={"csrf_token": token})
    assert services.unread_count(alice) == 0


def test_mark_one_read_with_htmx_returns_the_list_partial(client, auth):
    alice = gen_user()
    [row] = services.notify([alice], "test_view_event", what="x")
    db.session.commit()
    auth.login(alice)
    token = csrf_token(client, "/notifications/")
    response = client.post(f"/notifications/{row.id}/read",
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<ul class="notification-list"')
    assert services.unread_count(alice) == 0


def test_nobody_marks_someone_elses_notification_read(client, auth):
    alice, mallory = gen_user(), gen_user()
    [row] = services.notify([alice], "test_view_event", what="x")
    db.session.commit()
    auth.login(mallory)
    token = csrf_token(client, "/notifications/")
    client.post(f"/notifications/{row.id}/read", data={"csrf_token": token})
    assert services.unread_count(alice) == 1


def test_unread_count_partial_for_polling(client, auth):
    alice = gen_user()
    services.notify([alice], "test_view_event", what="x")
    db.session.commit()
    auth.login(alice)
    body = client.get("/notifications/unread-count").get_data(as_text=True)
    assert 'hx-trigger="every 60s"' in body and "1" in body


# --- the centre of issue #9: grouping, marking read, the badge, opening ------------------------------------------

H = timedelta(hours=1)


def mine(user, event=None):
    query = db.select(Notification).where(Notification.recipient_id == user.id)
    if event:
        query = query.where(Notification.event == event)
    return db.session.scalars(query.order_by(Notification.id)).all()


def busy_issue(w, title="Leak under the stairs"):
    """An issue the reporter hears three things about (accepted, an update, resolved)."""
    from portal.issues import services as issues
    issue = gen_issue(w, category="leak", title=title, now=T0)
    issues.accept_issue(w.property_x, issue, now=T0 + H)
    issues.post_update(w.property_x, issue, "Plumber comes on Tuesday", now=T0 + 2 * H)
    issues.resolve_issue(w.property_x, issue, "Pipe replaced", now=T0 + 3 * H)
    return issue


def test_notifications_about_one_object_are_one_entry_with_a_count(client, auth, issues_world):
    w = issues_world
    busy_issue(w)
    other = gen_issue(w, category="leak", title="Broken lamp at gate 2", now=T0)
    from portal.issues import services as issues
    issues.accept_issue(w.property_x, other, now=T0 + H)
    db.session.commit()
    auth.login(w.reporter)
    page = client.get("/notifications/").get_data(as_text=True)
    assert page.count('class="notification unread"') == 2
    assert "3 updates" in page
    assert "“Leak under the stairs” was resolved" in page  # the latest message leads the entry
    assert "Earlier about this" in page and "was accepted by" in page  # the earlier ones, folded
    assert "Plumber" not in page  # the update's words are not repeated


def test_mark_all_read_works_without_javascript_and_with_htmx(client, auth, issues_world):
    w = issues_world
    busy_issue(w)
    db.session.commit()
    auth.login(w.reporter)
    assert client.post("/notifications/read-all").status_code == 400  # no CSRF token: refused
    assert services.unread_count(w.reporter) == 3
    token = csrf_token(client, "/notifications/")
    response = client.post("/notifications/read-all", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications/")
    assert services.unread_count(w.reporter) == 0

    from portal.issues import services as issues
    issue = gen_issue(w, category="leak", title="Another", now=T0)
    issues.accept_issue(w.property_x, issue, now=T0 + H)
    db.session.commit()
    response = client.post("/notifications/read-all", headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<ul class="notification-list"')
    assert 'hx-swap-oob="true"' in body and 'class="count count-zero"' in body  # the badge, updated too
    assert services.unread_count(w.reporter) == 0


def test_the_badge_fragment_is_one_count_and_leaves_the_session_alone(client, auth, issues_world):
    w = issues_world
    busy_issue(w)
    db.session.commit()
    auth.login(w.reporter)
    client.get("/")
    with recorded_statements() as statements:
        response = client.get("/notifications/unread-count", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert re.search(r">\s*3</span>$", body.strip()) and 'hx-trigger="every 60s"' in body
    counts = [s for s in statements if "count(" in s.lower()]
    assert len(counts) == 1 and len(statements) <= 2  # the signed-in person, then one COUNT
    assert "Set-Cookie" not in response.headers  # polling never re-signs (and so never prolongs) the session
    assert response.headers["Cache-Control"] == "no-store"


def test_the_badge_fragment_tells_htmx_to_stop_polling_when_signed_out(client):
    response = client.get("/notifications/unread-count")
    assert response.status_code == 286 and 'class="count count-zero"' in response.get_data(as_text=True)


def test_the_badge_is_in_every_pages_header_for_the_signed_in(client, auth, issues_world):
    w = issues_world
    busy_issue(w)
    db.session.commit()
    auth.login(w.reporter)
    page = client.get("/").get_data(as_text=True)
    header = page[page.index('<header'):page.index('</header>')]
    assert 'id="unread-count"' in header and 'hx-get="/notifications/unread-count"' in header and "3" in header


def test_opening_marks_read_and_leads_to_the_object(client, auth, issues_world):
    w = issues_world
    issue = busy_issue(w)
    db.session.commit()
    latest = mine(w.reporter)[-1]
    auth.login(w.reporter)
    response = client.get(f"/notifications/{latest.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/c/x/issues/{issue.id}")
    assert services.unread_count(w.reporter) == 0  # the whole entry: every notice about the issue
    page = client.get("/notifications/").get_data(as_text=True)
    assert f'href="/notifications/{latest.id}"' in page and "unread" not in page.split('id="notification-list"')[1]


def test_nobody_opens_someone_elses_notification(client, auth, issues_world):
    w = issues_world
    busy_issue(w)
    db.session.commit()
    row = mine(w.reporter)[0]
    auth.login(w.neighbour)
    assert client.get(f"/notifications/{row.id}").status_code == 404
    assert client.get("/notifications/999999").status_code == 404
    assert client.get(f"/notifications/{2**40}").status_code == 404
    assert services.unread_count(w.reporter) == 3
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Leak under the stairs" not in page  # every role sees only their own


def test_a_hidden_issue_is_gone_for_a_supporter_but_its_reporter_is_told_why(client, auth, issues_world):
    w = issues_world
    from portal.issues import services as issues
    from portal.moderation import services as moderation
    issue = gen_issue(w, category="leak", title="Rude words about 0202", now=T0)
    issues.support_issue(w.neighbour, issue, now=T0)
    issues.accept_issue(w.property_x, issue, now=T0 + H)
    moderation.hide(w.chair_x, "issue", issue, "Names a neighbour")
    db.session.commit()
    [accepted] = mine(w.neighbour, "issue_accepted")
    auth.login(w.neighbour)
    response = client.get(f"/notifications/{accepted.id}")
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "This is no longer available" in page and 'href="/notifications/"' in page
    assert "Rude words" not in page
    assert services.unread_count(w.neighbour) == 0
    auth.logout()
    [hidden] = mine(w.reporter, "moderation.hidden")
    auth.login(w.reporter)
    assert client.get(f"/notifications/{hidden.id}").status_code == 302  # the author still sees it, and why


def test_a_deleted_reply_and_a_withdrawn_proposal_are_gone(client, auth, proposals_world):
    w = proposals_world
    from portal.proposals import services as proposals
    proposal = gen_in_deliberation(w)
    parent = gen_comment(w, proposal, author=w.neighbour)
    reply = gen_comment(w, proposal, author=w.supporters[4], parent=parent, body="Not so sure")
    proposals.delete_comment(w.supporters[4], reply)
    db.session.commit()
    [replied] = mine(w.neighbour, "proposals.reply")
    auth.login(w.neighbour)
    assert client.get(f"/notifications/{replied.id}").status_code == 410
    auth.logout()

    other = gen_in_deliberation(w, title="Paint the bike shed")
    db.session.commit()
    [reached] = [n for n in mine(w.supporters[0], "proposals.threshold_reached") if n.object_id == other.id]
    auth.login(w.supporters[0])
    assert client.get(f"/notifications/{reached.id}").status_code == 302
    db.session.execute(db.update(type(other)).where(type(other).id == other.id).values(status="withdrawn"))
    db.session.commit()
    assert client.get(f"/notifications/{reached.id}").status_code == 410


def test_the_list_costs_the_same_statements_for_few_or_many_entries(client, auth, issues_world):
    w = issues_world
    busy_issue(w, title="First")
    db.session.commit()
    auth.login(w.reporter)
    few = count_queries(client, "/notifications/")
    for n in range(8):
        busy_issue(w, title=f"Issue {n}")
    db.session.commit()
    many = count_queries(client, "/notifications/")
    assert few == many


def test_the_list_links_to_the_email_preferences_when_that_page_exists(client, auth, app):
    alice = gen_user()
    db.session.commit()
    auth.login(alice)
    page = client.get("/notifications/").get_data(as_text=True)
    assert ("E-mail preferences" in page) == ("notifications.preferences" in app.view_functions)


def test_pages_of_entries(client, auth, issues_world):
    w = issues_world
    from portal.notifications import centre
    for n in range(centre.PER_PAGE + 1):
        gen_issue(w, category="leak", title=f"Leak {n}", now=T0)
    db.session.commit()
    auth.login(w.property_x)
    first = client.get("/notifications/").get_data(as_text=True)
    assert first.count('class="notification unread"') == centre.PER_PAGE and "?page=2" in first
    second = client.get("/notifications/?page=2").get_data(as_text=True)
    assert second.count('class="notification unread"') == 1 and "Leak 0" in second
    assert client.get("/notifications/?page=99999999").status_code == 200


def test_every_availability_check_names_a_real_table(app):
    from portal.notifications import centre
    assert set(centre.AVAILABILITY) <= set(db.metadata.tables)
