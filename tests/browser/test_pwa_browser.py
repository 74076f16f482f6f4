"""The installable web app in a phone browser (issue #21): Chromium finds the app installable (the DevTools
protocol's Page.getInstallabilityErrors reports nothing; the service worker is registered); a report and a
comment written with the network switched off are kept on the phone, said so, and sent when the network
returns, and the server's answer is shown; a report the server refuses stays on the phone and is filled back
into the form."""
import json
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.browser.flows import form_with, press_switch, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_committee_member,
    gen_community,
    gen_household,
    gen_residency,
    gen_user,
)

pytestmark = pytest.mark.browser

KEPT = "No connection. What you wrote is kept on this phone and will be sent when the connection returns."


def seed(live_server, label: str) -> dict:
    """A community with a verified resident and a proposal in deliberation."""
    from portal.issues import services as issues
    from portal.proposals import services as proposals
    with live_server.app.app_context():
        community = gen_community(name=f"Osmanthus Lane {label}", slug=f"osmanthus-{label}")
        building = gen_building(community, code="B2", name="Building 2")
        chair = gen_committee_member(community, kind="residents_committee", title="chair")
        resident = gen_user(email=unique_email("pwa"), display_name="Li Na 李娜", phone=unique_phone())
        gen_residency(resident, household=gen_household(building, entrance="1", room="0502"))
        issues.ensure_default_categories(community)
        proposal = proposals.create_proposal(
            resident, community, publish=True, title="Benches by the garden path",
            summary="Two benches for older neighbours to rest on.", body="Near the east gate.", category="other")
        proposals.move_to_deliberation(chair, proposal, "Everyone asked for it at the meeting.")
        db.session.commit()
        return {"slug": community.slug, "resident": resident.email, "proposal": proposal.id}


def issues_titled(live_server, slug: str, title: str) -> list[tuple[int, int]]:
    from portal.issues.models import Issue
    from portal.places.models import Community
    with live_server.app.app_context():
        community = db.session.scalar(db.select(Community).where(Community.slug == slug))
        found = db.session.scalars(db.select(Issue).where(Issue.community_id == community.id,
                                                          Issue.title == title)).all()
        return [(issue.id, len(issue.photos)) for issue in found]


def comments_of(live_server, proposal_id: int) -> list[str]:
    from portal.proposals.models import Comment
    with live_server.app.app_context():
        return list(db.session.scalars(db.select(Comment.body).where(Comment.proposal_id == proposal_id)))


def kept_drafts(page) -> list[dict]:
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("yishi-drafts", 1);
        open.onupgradeneeded = () => open.result.createObjectStore("drafts", {keyPath: "id", autoIncrement: true});
        open.onsuccess = () => {
          const request = open.result.transaction("drafts").objectStore("drafts").getAll();
          request.onsuccess = () => resolve(request.result.map(d => ({
            action: d.action, state: d.state, fields: d.fields,
            files: d.files.map(f => ({name: f.name, type: f.file.type, size: f.file.size}))})));
          request.onerror = () => reject(request.error);
        };
        open.onerror = () => reject(open.error);
      })""")


@pytest.fixture
def installing_context(browser, live_server, tmp_path):
    """A browser profile on disk: Chromium never offers to install an app from an incognito context (which
    is what `new_context` opens). Script and console errors fail the test, as in `new_context`."""
    problems = []
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=live_server.url, **PHONE)
    context.on("console", lambda message: message.type == "error" and problems.append(
        f"console error on {message.page.url if message.page else '?'}: {message.text}"))
    context.on("weberror", lambda error: problems.append(f"page error: {error.error}"))
    context.set_default_timeout(10_000)
    yield context
    context.close()
    assert not problems, "\n".join(problems)


def wait_for_worker(page) -> str:
    """The registered worker's script, once it is active and controls the page."""
    script = page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
    # A function, not an expression: Playwright evaluates the text once, with the inspector's leave, and calls the
    # function on each later poll; an expression would be evaluated again on each poll, which the page's CSP
    # (script-src 'self', no 'unsafe-eval') refuses whenever the worker does not control the page at the first look.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return script


def wait_for_value(page, expression: str, tries: int = 200, on=None):
    """The expression's first truthy value (in the page, or in `on`, a worker), looked at every 50 ms.
    page.wait_for_function does not await a promise (a promise is truthy at once), so an expression that
    returns one is evaluated here again."""
    value = None
    for _ in range(tries):
        value = (on or page).evaluate(expression)
        if value:
            return value
        page.wait_for_timeout(50)
    return value


# Wraps the worker's registration.showNotification so that each call is written down with what came of it.
RECORD_NOTIFICATIONS = """() => {
  self.notificationsAsked = [];
  const show = self.registration.showNotification.bind(self.registration);
  self.registration.showNotification = (title, options) => {
    const call = {title: title, body: options.body, tag: options.tag, url: options.data.url, outcome: ""};
    self.notificationsAsked.push(call);
    return show(title, options).then(() => { call.outcome = "shown"; },
                                     error => { call.outcome = error.name + ": " + error.message; throw error; });
  };
}"""


def test_installable_and_a_report_written_offline_is_sent_when_the_network_returns(installing_context, live_server,
                                                                                 tmp_path):
    place = seed(live_server, unique_phone()[-6:])
    slug = place["slug"]
    context = installing_context
    page = context.pages[0] if context.pages else context.new_page()
    sign_in(page, place["resident"], DEFAULT_PASSWORD)
    visit(page, f"/c/{slug}")
    assert wait_for_worker(page).endswith("/sw.js")

    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest") and not manifest["errors"]
    assert f'"start_url":"/c/{slug}"' in manifest["data"]  # fetched with the person's cookie
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []

    # A push message in the shape the push channel sends is shown as a notification (static/js/sw-push.js).
    context.grant_permissions(["notifications"])
    worker = next(worker for worker in context.service_workers if worker.url.endswith("/sw.js"))
    worker.evaluate(RECORD_NOTIFICATIONS)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if registrations:
            break
        page.wait_for_timeout(100)
    payload = {"title": "Your issue is resolved", "body": "Lift in building 2", "url": f"/c/{slug}", "tag": "issue-1"}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server.url + "/", "data": json.dumps(payload),
                                                  "registrationId": registrations[0]["registrationId"]})
    expected = {"title": "Your issue is resolved", "body": "Lift in building 2", "tag": "issue-1",
                "url": f"{live_server.url}/c/{slug}"}
    asked = wait_for_value(page, "self.notificationsAsked.filter(call => call.outcome)", on=worker)
    assert asked, "the worker's push handler asked for no notification"
    assert [{key: call[key] for key in expected} for call in asked] == [expected]
    if page.evaluate("Notification.permission") == "granted":
        assert asked[0]["outcome"] == "shown"
        # Chromium lists what it shows (Debian's does); a headless build without a notification centre may keep
        # no list (puppeteer#3432), but never lists another notification than the one asked for.
        listed = wait_for_value(page, """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list =>
            list.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))""", tries=60)
        assert listed in ([], [expected])
    else:
        # Some headless builds (Chrome for Testing's) deny notifications whatever is granted (playwright#23954):
        # there the worker asked for the right notification and the browser refused it for want of permission.
        assert asked[0]["outcome"].startswith("TypeError") and "permission" in asked[0]["outcome"]

    # Open the report form while connected (the worker keeps the page), then lose the connection.
    visit(page, f"/c/{slug}/issues/new")
    context.set_offline(True)
    form = form_with(page, "title")
    title = "Garden path lamp is broken"
    form.locator("[name=title]").fill(title)
    # Checking for similar issues asks the server: it needs the connection, and makes no draft.
    form.get_by_role("button", name="Check for similar issues").click()
    expect(page.locator("main")).to_contain_text("No connection: this button needs one.")
    assert kept_drafts(page) == []
    form.locator("[name=description]").fill("The lamp by the east gate has been dark for three nights.")
    form.locator("[name=category]").select_option(label="Lighting")
    form.locator("[name=building]").select_option(label="Building 2")
    photo = tmp_path / "lamp.jpg"
    Image.new("RGB", (2400, 1800), (200, 180, 40)).save(photo, "JPEG", quality=92)
    form.locator("[name=photos]").set_input_files(str(photo))
    expect(form.locator("[name=photos]")).to_have_attribute("data-shrunk", "done")
    form.get_by_role("button", name="Send the issue").click()
    expect(page.locator("main")).to_contain_text(KEPT)
    capture(page, "pwa-report-kept-offline")
    assert page.url.endswith(f"/c/{slug}/issues/new")  # nothing left the phone
    drafts = kept_drafts(page)
    assert len(drafts) == 1 and drafts[0]["state"] == "waiting"
    assert ["title", title] in drafts[0]["fields"]
    assert drafts[0]["files"][0]["type"] == "image/jpeg" and drafts[0]["files"][0]["size"] < photo.stat().st_size
    assert issues_titled(live_server, slug, title) == []

    # The connection returns: the draft is sent with a fresh token and the server's answer shown.
    context.set_offline(False)
    messages = page.locator("#draft-messages")
    expect(messages).to_contain_text("Sent what you wrote without a connection:")
    expect(messages).to_contain_text("Your issue is sent as number")
    capture(page, "pwa-report-sent")
    [(issue_id, photos)] = issues_titled(live_server, slug, title)
    assert photos == 1
    expect(messages.get_by_role("link", name="Open it")).to_have_attribute("href", re.compile(rf"/issues/{issue_id}$"))
    assert kept_drafts(page) == []
    visit(page, f"/c/{slug}/issues")
    expect(page.locator("main")).to_contain_text(title)

    # Without a connection, a page never opened shows the offline page; one opened before is still there.
    context.set_offline(True)
    page.goto(f"/c/{slug}/issues?sort=oldest")
    expect(page.locator("main h1")).to_have_text("No connection")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    capture(page, "pwa-offline-page")
    page.goto(f"/c/{slug}")
    expect(page.locator("main h1")).to_contain_text("Osmanthus Lane")
    context.set_offline(False)

    # Switching the language stores the offline page again, in Chinese.
    press_switch(page, "language", "zh")
    wait_for_value(page, """caches.keys().then(names => Promise.all(names.filter(n => n.startsWith("yishi-pages-"))
        .map(n => caches.open(n).then(c => c.match("/offline")).then(r => r ? r.text() : ""))))
        .then(texts => texts.some(t => t.includes("没有网络连接")))""")
    context.set_offline(True)
    page.goto(f"/c/{slug}/issues?sort=newest")
    expect(page.locator("main h1")).to_have_text("没有网络连接")
    context.set_offline(False)


def test_a_comment_written_offline_is_sent_on_the_next_visit_and_a_refused_report_stays_on_the_phone(
        new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    slug = place["slug"]
    context = new_context()
    page = context.new_page()
    sign_in(page, place["resident"], DEFAULT_PASSWORD)
    visit(page, f"/c/{slug}/proposals/{place['proposal']}")
    wait_for_worker(page)

    context.set_offline(True)
    comment = page.locator("main form.comment-form").first
    comment.get_by_label("For", exact=True).check()
    comment.locator("[name=body]").fill("Yes please, one in the shade.")
    comment.get_by_role("button", name="Post my comment").click()
    expect(page.locator("main")).to_contain_text(KEPT)
    assert comments_of(live_server, place["proposal"]) == []
    # The phone is put away before the connection returns: the next page opened sends the draft.
    page.close()
    context.set_offline(False)
    page = context.new_page()
    visit(page, "/")
    expect(page.locator("#draft-messages")).to_contain_text("Your comment is posted.")
    assert comments_of(live_server, place["proposal"]) == ["Yes please, one in the shade."]

    # A report without a title is refused by the server: the draft stays and comes back in the form.
    visit(page, f"/c/{slug}/issues/new")
    context.set_offline(True)
    form = form_with(page, "title")
    form.locator("[name=description]").fill("Someone left a sofa in the bike shed.")
    form.get_by_role("button", name="Send the issue").click()
    expect(page.locator("main")).to_contain_text(KEPT)
    context.set_offline(False)
    messages = page.locator("#draft-messages")
    expect(messages).to_contain_text("What you wrote without a connection was not accepted.")
    assert [d["state"] for d in kept_drafts(page)] == ["refused"]
    expect(page.locator("main")).not_to_contain_text(KEPT)
    # Its form is on this page: filled in at once, and again whenever the form is opened.
    form = form_with(page, "title")
    expect(form.locator("[name=description]")).to_have_value("Someone left a sofa in the bike shed.")
    capture(page, "pwa-report-refused")
    messages.get_by_role("link", name="Open the form to correct it").click()
    form = form_with(page, "title")
    expect(form.locator("[name=description]")).to_have_value("Someone left a sofa in the bike shed.")
    expect(page.get_by_text("What you wrote earlier is filled in below")).to_have_count(1)
    form.locator("[name=title]").fill("Sofa left in the bike shed")
    form.locator("[name=category]").select_option(label="Rubbish and cleaning")
    form.get_by_role("button", name="Send the issue").click()
    expect(page).to_have_url(re.compile(rf"/c/{slug}/issues/\d+$"))
    assert len(issues_titled(live_server, slug, "Sofa left in the bike shed")) == 1
    assert kept_drafts(page) == []
