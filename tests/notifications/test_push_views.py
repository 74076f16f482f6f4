"""Subscribing browsers from the notification settings page: push.js's JSON posts (CSRF in the X-CSRFToken header,
as htmx sends it), the "Browsers on this account" list and its remove buttons, and who may do what."""
import re

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.notifications import push
from portal.notifications.models import PushSubscription
from tests.csrf import csrf_token
from tests.factories import gen_user
from tests.notifications.push_service import Browser

ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Mobile Safari/537.36")
SETTINGS = "/notifications/preferences"


@pytest.fixture
def keys(app, monkeypatch):
    public, private = push.generate_vapid_keys()
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", private)
    monkeypatch.setitem(app.config, "VAPID_SUBJECT", "mailto:ops@yishi.test")
    return public


def browser(n=1) -> Browser:
    return Browser(endpoint=f"https://fcm.googleapis.com/fcm/send/device-{n}")


def post_json(client, url, body, *, token=None, agent=ANDROID_CHROME):
    headers = {"User-Agent": agent}
    if token is not None:
        headers["X-CSRFToken"] = token
    return client.post(url, json=body, headers=headers)


def signed_up():
    person = gen_user()
    db.session.commit()
    return person


def subscriptions():
    return db.session.scalars(select(PushSubscription).order_by(PushSubscription.id)).all()


def test_the_settings_page_hands_the_key_to_push_js_and_subscribing_stores_the_browser(client, auth, keys):
    li = gen_user(display_name="Li")
    db.session.commit()
    auth.login(li)
    page = client.get(SETTINGS).get_data(as_text=True)
    assert f'data-push-key="{keys}"' in page
    assert 'src="/static/' in page and "js/push.js" in page
    assert "<script>" not in page  # no inline script: the CSP stays strict
    assert "No browser gets push notifications from this account." in page

    phone = browser()
    response = post_json(client, "/notifications/push/subscribe", phone.to_json(), token=csrf_token(client, SETTINGS))
    assert response.status_code == 201 and response.json == {"ok": True}
    [stored] = subscriptions()
    assert (stored.user_id, stored.endpoint, stored.p256dh, stored.auth) == (li.id, phone.endpoint, phone.p256dh,
                                                                            phone.auth)
    assert (stored.browser, stored.system) == ("Chrome", "Android")  # never the user agent itself
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "notifications.push_subscribed"))
    assert entry.details == {"browser": "Chrome · Android"} and entry.subject_user_id == li.id

    page = client.get(SETTINGS).get_data(as_text=True)
    assert "Chrome on Android" in page and f'data-endpoint="{phone.endpoint}"' in page
    assert f'action="/notifications/push/{stored.id}/remove"' in page


def test_subscribing_without_the_csrf_header_is_refused(client, auth, keys):
    auth.login(signed_up())
    assert post_json(client, "/notifications/push/subscribe", browser().to_json()).status_code == 400
    assert subscriptions() == []


def test_a_visitor_cannot_subscribe(client, keys):
    response = post_json(client, "/notifications/push/subscribe", browser().to_json(),
                         token=csrf_token(client, "/login"))
    assert response.status_code in (302, 401) and subscriptions() == []


@pytest.mark.parametrize("change", [
    lambda b: b.update(keys={"p256dh": "AAAA", "auth": b["keys"]["auth"]}),    # not a point on P-256
    lambda b: b.update(keys={"p256dh": b["keys"]["p256dh"], "auth": "c2hvcnQ"}),  # auth not 16 bytes
    lambda b: b.update(endpoint="ftp://push.example.org/x"),
    lambda b: b.update(endpoint="x" * 1001),
    lambda b: b.update(endpoint="https://push.example.org/\x00"),
    lambda b: b.pop("keys"),
    lambda b: b.update(keys="not an object"),
])
def test_a_subscription_that_cannot_be_used_is_refused_with_a_reason(client, auth, keys, change):
    auth.login(signed_up())
    body = browser().to_json()
    change(body)
    response = post_json(client, "/notifications/push/subscribe", body, token=csrf_token(client, SETTINGS))
    assert response.status_code == 400
    assert response.json["error"].startswith("This browser sent a subscription that cannot be used.")
    assert subscriptions() == []


def test_a_body_that_is_not_json_is_refused(client, auth, keys):
    auth.login(signed_up())
    response = client.post("/notifications/push/subscribe", data="endpoint=x",
                           headers={"X-CSRFToken": csrf_token(client, SETTINGS),
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and subscriptions() == []


@pytest.mark.parametrize("endpoint", ["http://push.example.org/x", "https://127.0.0.1:6379/x",
                                      "https://10.1.2.3/x", "https://localhost/x", "https://[::1]/x"])
def test_endpoints_on_plain_http_or_private_addresses_are_refused(client, auth, keys, app, monkeypatch, endpoint):
    """A forged subscription must not make the portal post into its own network."""
    monkeypatch.setitem(app.config, "PUSH_ALLOW_LOCAL_ENDPOINTS", False)
    auth.login(signed_up())
    body = browser().to_json() | {"endpoint": endpoint}
    assert post_json(client, "/notifications/push/subscribe", body,
                     token=csrf_token(client, SETTINGS)).status_code == 400
    assert subscriptions() == []


def test_without_vapid_keys_the_page_says_push_is_off_and_nothing_subscribes(client, auth):
    auth.login(signed_up())
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "Push notifications are not set up on this portal." in page
    assert "data-push-key" not in page and "js/push.js" not in page
    response = post_json(client, "/notifications/push/subscribe", browser().to_json(),
                         token=csrf_token(client, SETTINGS))
    assert response.status_code == 400 and subscriptions() == []


def test_the_same_browser_again_updates_it_and_another_account_takes_it_over(client, auth, keys):
    li, wang = gen_user(), gen_user()
    db.session.commit()
    phone = browser()
    auth.login(li)
    token = csrf_token(client, SETTINGS)
    post_json(client, "/notifications/push/subscribe", phone.to_json(), token=token)
    renewed = Browser(endpoint=phone.endpoint)
    assert post_json(client, "/notifications/push/subscribe", renewed.to_json(), token=token).status_code == 201
    [stored] = subscriptions()
    assert stored.p256dh == renewed.p256dh and stored.user_id == li.id

    auth.logout()
    auth.login(wang)
    post_json(client, "/notifications/push/subscribe", renewed.to_json(), token=csrf_token(client, SETTINGS))
    db.session.expire_all()
    assert [s.user_id for s in subscriptions()] == [wang.id]


def test_remove_button_removes_only_ones_own_browser(client, auth, keys):
    li, wang = gen_user(), gen_user()
    db.session.commit()
    auth.login(li)
    post_json(client, "/notifications/push/subscribe", browser(1).to_json(), token=csrf_token(client, SETTINGS))
    auth.logout()
    auth.login(wang)
    post_json(client, "/notifications/push/subscribe", browser(2).to_json(), token=csrf_token(client, SETTINGS))
    li_browser, wang_browser = subscriptions()

    page = client.get(SETTINGS).get_data(as_text=True)
    assert li_browser.endpoint not in page and wang_browser.endpoint in page
    token = csrf_token(client, SETTINGS)
    assert client.post(f"/notifications/push/{li_browser.id}/remove",
                       data={"csrf_token": token}).status_code == 403
    response = client.post(f"/notifications/push/{wang_browser.id}/remove", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications/preferences#browsers")
    db.session.expire_all()
    assert [s.id for s in subscriptions()] == [li_browser.id]
    assert "The browser no longer gets notifications." in client.get(SETTINGS).get_data(as_text=True)
    assert client.post("/notifications/push/999999/remove", data={"csrf_token": token}).status_code == 404


def test_the_browser_turning_push_off_forgets_its_subscription(client, auth, keys):
    li, wang = gen_user(), gen_user()
    db.session.commit()
    phone = browser()
    auth.login(li)
    token = csrf_token(client, SETTINGS)
    post_json(client, "/notifications/push/subscribe", phone.to_json(), token=token)
    auth.logout()
    auth.login(wang)  # someone else cannot forget it, even knowing its address
    post_json(client, "/notifications/push/unsubscribe", {"endpoint": phone.endpoint},
              token=csrf_token(client, SETTINGS))
    assert len(subscriptions()) == 1
    auth.logout()
    auth.login(li)
    response = post_json(client, "/notifications/push/unsubscribe", {"endpoint": phone.endpoint},
                         token=csrf_token(client, SETTINGS))
    assert response.status_code == 200 and subscriptions() == []
    assert db.session.scalar(select(AuditEntry.details).where(
        AuditEntry.action == "notifications.push_removed")) == {"browser": "Chrome · Android"}


@pytest.mark.parametrize(("agent", "label"), [
    (ANDROID_CHROME, ("Chrome", "Android")),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
     ("Chromium", "Linux")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", ("Safari", "iOS")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0",
     ("Edge", "Windows")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0", ("Firefox", "macOS")),
    ("", ("", "")),
])
def test_a_browser_is_named_coarsely(agent, label):
    assert push.browser_names(agent) == label


def test_labels_read_in_the_page_language(app):
    row = PushSubscription(browser="Chrome", system="Android")
    with app.test_request_context(), force_locale("zh"):
        assert push.label_of(row) == "Android上的Chrome"
    with app.test_request_context(), force_locale("en"):
        assert push.label_of(row) == "Chrome on Android"
        assert push.label_of(PushSubscription(browser="", system="Android")) == "Android"
        assert push.label_of(PushSubscription(browser="", system="")) == "A browser"


def test_the_settings_page_costs_one_query_for_the_browsers(client, auth, keys):
    from tests.test_request_cost import count_queries
    li = gen_user()
    db.session.commit()
    auth.login(li)
    before = count_queries(client, SETTINGS)
    for n in range(3):
        post_json(client, "/notifications/push/subscribe", browser(n).to_json(), token=csrf_token(client, SETTINGS))
    assert count_queries(client, SETTINGS) == before
    assert len(re.findall(r"<li data-endpoint=", client.get(SETTINGS).get_data(as_text=True))) == 3
