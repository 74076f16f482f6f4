from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import services
from tests.csrf import csrf_token
from tests.factories import gen_user

services.register_event("test_view_event", _l("Your claim was checked (%(what)s)"))


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
