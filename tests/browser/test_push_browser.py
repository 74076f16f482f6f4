"""Web Push on the notification settings page in a phone browser: with VAPID keys, push.js finds no subscription
in this browser and offers to turn push on (no script or CSP error); the account's browsers are listed and one
is removed with its button; without keys the page says push is off and loads no script; without JavaScript
the list and its buttons still work.

That "Turn on" stores a subscription needs the site's service worker (/sw.js, the installable app's) and is
tested with it."""
import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.notifications import push
from portal.notifications.models import PushSubscription
from tests.browser.flows import sign_in, unique_email, visit
from tests.browser.screens import capture
from tests.factories import DEFAULT_PASSWORD, gen_user
from tests.notifications.push_service import Browser

pytestmark = pytest.mark.browser

SETTINGS = "/notifications/preferences"


@pytest.fixture
def vapid(live_server):
    public, private = push.generate_vapid_keys()
    config = live_server.app.config
    config.update(VAPID_PUBLIC_KEY=public, VAPID_PRIVATE_KEY=private, VAPID_SUBJECT="mailto:ops@yishi.test")
    yield public
    config.update(VAPID_PUBLIC_KEY=None, VAPID_PRIVATE_KEY=None, VAPID_SUBJECT=None)


def person_with_browsers(live_server) -> tuple[str, list[int]]:
    with live_server.app.app_context():
        person = gen_user(email=unique_email("push"), display_name="Zhou Min")
        ids = []
        for n, (browser, system) in enumerate((("Chrome", "Android"), ("Safari", "iOS"))):
            keys = Browser(endpoint=f"https://push.example.org/send/{person.id}-{n}")
            row = PushSubscription(user_id=person.id, endpoint=keys.endpoint, p256dh=keys.p256dh, auth=keys.auth,
                                   browser=browser, system=system)
            db.session.add(row)
            db.session.flush()
            ids.append(row.id)
        db.session.commit()
        return person.email, ids


def remaining(live_server, ids) -> list[int]:
    with live_server.app.app_context():
        return list(db.session.scalars(db.select(PushSubscription.id).where(PushSubscription.id.in_(ids))
                                       .order_by(PushSubscription.id)))


def test_push_settings_offer_this_browser_and_remove_another(page, live_server, vapid):
    login, ids = person_with_browsers(live_server)
    sign_in(page, login, DEFAULT_PASSWORD)
    visit(page, SETTINGS)
    section = page.locator("#browsers")
    expect(section.get_by_role("status")).to_have_text("This browser does not get push notifications.")
    expect(section.get_by_role("button", name="Turn on for this browser")).to_be_visible()
    expect(section.get_by_role("button", name="Turn off for this browser")).to_be_hidden()
    expect(section.locator(".push-browsers li")).to_have_count(2)
    expect(section).to_contain_text("Chrome on Android")
    capture(page, "notifications-push")

    section.get_by_role("button", name="Remove Safari on iOS").click()
    expect(page.get_by_text("The browser no longer gets notifications.")).to_be_visible()
    expect(page.locator("#browsers .push-browsers li")).to_have_count(1)
    assert remaining(live_server, ids) == ids[:1]


def test_without_keys_the_page_says_push_is_off(page, live_server):
    login, _ids = person_with_browsers(live_server)
    sign_in(page, login, DEFAULT_PASSWORD)
    visit(page, SETTINGS)
    expect(page.locator("#browsers")).to_contain_text("Push notifications are not set up on this portal.")
    expect(page.locator("script[src*='push.js']")).to_have_count(0)
    expect(page.locator("#browsers .push-browsers li")).to_have_count(2)


def test_without_javascript_browsers_are_listed_and_removed(new_context, live_server, vapid):
    login, ids = person_with_browsers(live_server)
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    visit(page, SETTINGS)
    expect(page.locator("#browsers .push-status")).to_have_text("Turning them on for this browser needs JavaScript.")
    page.locator("#browsers").get_by_role("button", name="Remove Chrome on Android").click()
    expect(page.locator("#browsers .push-browsers li")).to_have_count(1)
    assert remaining(live_server, ids) == ids[1:]
