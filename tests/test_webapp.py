"""The installable web app (portal/webapp.py, issue #21): the manifest, the service worker at the site root,
the offline page, the form token for offline drafts, and the forms that keep drafts. The worker's behaviour
in a browser (installability, offline drafts sent when the connection returns) is in
tests/browser/test_pwa_browser.py."""
import io
import json
import re
import shutil

import pytest
from PIL import Image

from portal.delivery import StaticFiles
from portal.extensions import db
from portal.i18n import LANGUAGE_COOKIE
from tests.factories import gen_user
from tests.proposals import gen_in_deliberation
from tests.proposals.conftest import issues_world, world  # noqa: F401  (the proposals world)


def _manifest(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    return response, json.loads(response.get_data(as_text=True))


def test_a_visitors_manifest_meets_the_install_criteria_and_is_cacheable(client):
    response, manifest = _manifest(client)
    assert manifest["name"] == manifest["short_name"] == "议事"
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["id"] == "/"  # the same app whatever the start address
    assert manifest["theme_color"] == "#a4262c" and manifest["background_color"] == "#f6f5f2"
    css = client.get("/static/css/portal.css").get_data(as_text=True)
    assert "--red: #a4262c" in css and "--bg: #f6f5f2" in css
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert "Cookie" in response.headers["Vary"]
    again = client.get("/manifest.webmanifest", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_the_manifests_icons_are_png_of_the_sizes_they_claim(client):
    _response, manifest = _manifest(client)
    purposes = set()
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200 and served.mimetype == "image/png"
        assert "immutable" in served.headers["Cache-Control"]
        width, height = (int(n) for n in icon["sizes"].split("x"))
        image = Image.open(io.BytesIO(served.data))
        assert image.format == "PNG" and image.size == (width, height)
        assert len(served.data) < 16 * 1024  # committed small
        purposes.add((icon["sizes"], icon["purpose"]))
    assert purposes == {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")}


def test_the_installed_app_opens_on_the_residents_community(client, auth, world):
    auth.login(world.reporter)
    response, manifest = _manifest(client)
    assert manifest["start_url"] == "/c/x"
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_someone_with_no_community_starts_at_home(client, auth, world):
    stranger = gen_user(display_name="Nobody Here", phone="13900009999")
    db.session.commit()
    auth.login(stranger)
    assert _manifest(client)[1]["start_url"] == "/"


def test_the_manifest_speaks_the_visitors_language(client):
    client.set_cookie(LANGUAGE_COOKIE, "zh")
    manifest = _manifest(client)[1]
    assert manifest["lang"] == "zh-CN" and manifest["description"].startswith("反映身边问题")


def test_the_service_worker_is_served_from_the_root_for_the_whole_site(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "application/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert client.get("/sw.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    script = response.get_data(as_text=True)
    assert 'importScripts("/static/js/sw-push.js");' in script
    push = client.get("/static/js/sw-push.js")
    assert push.status_code == 200 and push.mimetype in ("text/javascript", "application/javascript")
    assert 'addEventListener("push"' in push.get_data(as_text=True)
    assert 'addEventListener("notificationclick"' in push.get_data(as_text=True)


def test_every_file_the_worker_stores_at_install_is_served(client):
    script = client.get("/sw.js").get_data(as_text=True)
    shell = json.loads(re.search(r"var SHELL = (\[.*?\]);", script).group(1))
    assert any(url.endswith("/js/webapp.js") for url in shell) and any(url.endswith(".css") for url in shell)
    for url in shell:
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    offline_url = json.loads(re.search(r"var OFFLINE_URL = (\".*?\");", script).group(1))
    assert client.get(offline_url).status_code == 200


def _version(client) -> str:
    return re.search(r'var VERSION = "([0-9a-f]{12})";', client.get("/sw.js").get_data(as_text=True)).group(1)


def test_the_cache_version_changes_with_any_static_file(app, client, tmp_path, monkeypatch):
    folder = tmp_path / "static"
    shutil.copytree(app.static_folder, folder)
    monkeypatch.setitem(app.extensions, "portal.static", StaticFiles(folder))
    before = _version(client)
    assert _version(client) == before
    (folder / "css" / "portal.css").write_text("body { color: black; }\n", encoding="utf-8")
    changed = _version(client)
    assert changed != before
    (folder / "js" / "new.js").write_text("/* new */\n", encoding="utf-8")
    assert _version(client) not in (before, changed)


def test_old_caches_are_deleted_when_a_new_worker_takes_over(client):
    script = client.get("/sw.js").get_data(as_text=True)
    version = _version(client)
    assert 'var STATIC_CACHE = "yishi-static-" + VERSION;' in script and version in script
    activate = script[script.index('addEventListener("activate"'):]
    assert "caches.delete(name)" in activate.split("});\n});")[0]


def test_the_offline_page_is_translated_and_carries_nobodys_menu(client, auth, world):
    auth.login(world.reporter)
    client.set_cookie(LANGUAGE_COOKIE, "zh")
    response = client.get("/offline")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "没有网络连接" in html
    assert "csrf" not in html and "Reporter P" not in html and "<form" not in html
    assert "<script>" not in html and 'id="offline-retry" hidden' in html


def test_a_fresh_form_token_says_whose_it_is_and_is_never_cached(client, auth, world):
    assert client.get("/webapp/form-token").status_code == 302  # signed out: to the sign-in page
    auth.login(world.reporter)
    response = client.get("/webapp/form-token")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    assert answer["person"] == world.reporter.id and len(answer["csrf_token"]) > 20


def test_every_page_links_the_manifest_and_the_app_script_without_inline_script(client, auth, world):
    html = client.get("/").get_data(as_text=True)
    # With credentials: the manifest's start address is the signed-in person's community.
    assert '<link rel="manifest" href="/manifest.webmanifest" crossorigin="use-credentials">' in html
    assert re.search(r'<script src="/static/[0-9a-f]{12}/js/webapp\.js" defer></script>', html)
    assert 'name="yishi-person"' not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    auth.login(world.reporter)
    html = client.get("/").get_data(as_text=True)
    assert f'<meta name="yishi-person" content="{world.reporter.id}">' in html


@pytest.mark.parametrize("language, saved", [
    ("en", "No connection. What you wrote is kept on this phone"),
    ("zh", "没有网络连接。您填写的内容已保存在这部手机上"),
])
def test_the_report_form_keeps_an_offline_draft_in_the_readers_language(client, auth, world, language, saved):
    auth.login(world.reporter)
    client.set_cookie(LANGUAGE_COOKIE, language)
    html = client.get("/c/x/issues/new").get_data(as_text=True)
    form = re.search(r'<form [^>]*class="report-form"[^>]*>', html).group(0)
    assert "data-draft " in form and saved in form and "data-draft-refused=" in form


def test_the_comment_form_keeps_offline_drafts(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.neighbour)
    html = client.get(f"/c/x/proposals/{proposal.id}").get_data(as_text=True)
    form = re.search(r'<form [^>]*class="comment-form"[^>]*>', html).group(0)
    assert "data-draft " in form
    assert f'action="/c/x/proposals/{proposal.id}/comments"' in form
