"""The notification centre keeps a person's page of notifications between requests (portal.versions,
remember_as) under centre.inbox_version and never shows it stale (nor one of an earlier life of the
database: these tests fill it again with the same ids and counts): a new notification, one read, a payload
written again by moderation, one deleted, and the clock moving "1 minute ago" on each show on the next view;
another person, another language or another page is never served the kept list; every form on it carries the
token of the session it is served to."""
import re
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from portal.clock import utcnow
from portal.extensions import db
from portal.notifications import centre, services
from portal.notifications.models import Notification
from tests.csrf import tokens_alike
from tests.factories import gen_user
from tests.issues import T0, gen_issue
from tests.issues.conftest import world as issues_world  # noqa: F401  (the world the tests build on)
from tests.queries import recorded_statements

services.register_event("test_kept_event", _l("Your claim was checked (%(what)s)"), group="account")


def page(client, path="/notifications/"):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def notify(person, what):
    [row] = services.notify([person], "test_kept_event", what=what)
    db.session.commit()
    return row


def test_a_second_view_reads_only_the_version(client, auth):
    alice = gen_user()
    notify(alice, "one")
    notify(alice, "two")
    auth.login(alice)
    first = page(client)
    with recorded_statements() as statements:
        assert tokens_alike(page(client)) == tokens_alike(first)
    about_notifications = [s for s in statements if "notification" in s.lower()
                           and not s.lstrip().lower().startswith(('select user.', 'select "user".'))]
    assert len(about_notifications) == 1 and "GROUP BY" not in about_notifications[0].upper()
    assert "Your claim was checked (two)" in first


def test_new_read_rewritten_and_deleted_notifications_show_on_the_next_view(client, auth):
    alice = gen_user()
    first = notify(alice, "first")
    auth.login(alice)
    assert page(client).count('class="notification unread"') == 1
    second = notify(alice, "second")
    shown = page(client)
    assert "(second)" in shown and shown.count('class="notification unread"') == 2
    services.mark_read(alice, first.id)
    db.session.commit()
    assert page(client).count('class="notification unread"') == 1
    second.payload = {**second.payload, "what": "#17"}  # as moderation names a hidden item by its number
    db.session.commit()
    shown = page(client)
    assert "(#17)" in shown and "(second)" not in shown
    db.session.delete(db.session.get(Notification, first.id))
    db.session.commit()
    assert "(first)" not in page(client)


def test_moderation_hiding_an_issue_reaches_the_kept_list(client, auth, issues_world):
    from portal.issues import services as issues
    from portal.moderation import services as moderation
    w = issues_world
    issue = gen_issue(w, category="leak", title="Rude words about 0202", now=T0)
    issues.support_issue(w.neighbour, issue, now=T0)
    issues.accept_issue(w.property_x, issue, now=T0 + timedelta(hours=1))
    db.session.commit()
    auth.login(w.neighbour)
    assert "Rude words" in page(client)
    moderation.hide(w.chair_x, "issue", issue, "Names a neighbour")
    db.session.commit()
    assert "Rude words" not in page(client)


def test_a_payload_written_again_draws_a_new_stamp_and_reading_does_not(app):
    alice = gen_user()
    row = notify(alice, "x")
    drawn = row.stamp
    before = centre.inbox_version(alice)
    assert before == (1, 0, row.id, drawn)
    row.read_at = utcnow()
    db.session.commit()
    assert row.stamp == drawn
    row.payload = {**row.payload, "what": "y"}
    db.session.commit()
    assert row.stamp != drawn and centre.inbox_version(alice) == (1, 1, row.id, row.stamp)


def test_the_clock_moves_the_relative_times_with_nothing_written(client, auth, monkeypatch):
    import portal.clock
    import portal.notifications.views
    alice = gen_user()
    notify(alice, "x")
    auth.login(alice)
    assert "1 minute ago" in page(client)
    later = utcnow() + timedelta(minutes=10)
    for module in (portal.clock, portal.notifications.views):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    shown = page(client)
    assert "10 minutes ago" in shown and "1 minute ago" not in shown


def test_never_served_to_another_person_language_or_page(client, auth):
    alice, bob = gen_user(), gen_user()
    notify(alice, "for alice")
    for n in range(centre.PER_PAGE + 1):
        notify(bob, f"bob {n}")
    auth.login(alice)
    assert "(for alice)" in page(client)
    auth.logout()
    auth.login(bob)
    first = page(client)
    assert "(for alice)" not in first and "(bob 20)" in first and "(bob 0)" not in first
    assert "(bob 0)" in page(client, "/notifications/?page=2")
    bob.locale = "zh"
    db.session.commit()
    chinese = page(client)
    assert "分钟前" in chinese and "minute ago" not in chinese


def test_each_session_gets_its_own_token_in_the_kept_forms(app):
    from tests.conftest import Auth
    alice = gen_user()
    row = notify(alice, "x")
    tokens = []
    for _ in range(2):
        client = app.test_client()
        Auth(client).login(alice)
        shown = page(client)
        [token] = set(re.findall(r'name="csrf_token" value="([^"]+)"', shown))
        tokens.append((client, token))
    assert tokens[0][1] != tokens[1][1]
    client, token = tokens[0]
    assert client.post(f"/notifications/{row.id}/read", data={"csrf_token": token}).status_code == 302
    assert services.unread_count(alice) == 0
