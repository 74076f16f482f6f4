"""The admins' key pages: issue (the secret shown once), list, edit the scope and allow-list, revoke; the
docs page for everyone."""
import re

import pytest

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.open311.models import Open311Key
from tests.residents import post

TOKEN_SHOWN = re.compile(r'id="open311-token"[^>]*value="(o311_[^"]+)"')


@pytest.mark.parametrize("path", ["/open311/keys", "/open311/keys/{id}"])
def test_key_pages_are_for_admins_only(client, auth, world, path):
    path = path.format(id=world.key.id)
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(world.resident)
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login(world.chair_x)
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login(world.admin)
    assert client.get(path).status_code == 200


def test_residents_cannot_issue_or_revoke(client, auth, world):
    auth.login(world.resident)
    response = post(client, "/open311/keys", {"name": "Mine", "communities": [world.x.id]})
    assert response.status_code == 403
    response = post(client, f"/open311/keys/{world.key.id}/revoke")
    assert response.status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(Open311Key)) == 1
    db.session.expire_all()
    assert db.session.get(Open311Key, world.key.id).revoked_at is None


def test_admin_issues_a_key_and_sees_its_secret_once(client, auth, world):
    auth.login(world.admin)
    response = post(client, "/open311/keys", {"name": "12345 hotline, Xicheng district",
                                              "communities": [world.x.id, world.y.id],
                                              "media_hosts": "media.12345.example.cn\nPhotos.Example.cn",
                                              "rate_limit": "30"}, token_from="/open311/keys")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = TOKEN_SHOWN.search(response.get_data(as_text=True)).group(1)
    key = db.session.scalar(db.select(Open311Key).where(Open311Key.name == "12345 hotline, Xicheng district"))
    assert key.key_hash != token and token not in (key.key_hash, key.prefix) and token.startswith(key.prefix)
    assert {c.slug for c in key.communities} == {"x", "y"}
    assert key.media_hosts == ["media.12345.example.cn", "photos.example.cn"] and key.rate_limit == 30
    listing = client.get("/open311/keys").get_data(as_text=True)
    assert key.prefix in listing and token not in listing
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "open311_key.created",
                                                          AuditEntry.object_id == key.id))
    assert entry.actor_id == world.admin.id and token not in str(entry.details)
    # The key works for both communities.
    for slug, building in (("x", "3"), ("y", "7")):
        response = client.post("/open311/v2/requests.json", data={"api_key": token, "jurisdiction_id": slug,
                                                                   "service_code": "lift", "address_id": building})
        assert response.status_code == 201


@pytest.mark.parametrize("fields,message", [
    ({"name": "", "communities": [1]}, "The name is 1 to 120 characters."),
    ({"name": "App"}, "Choose at least one community this key may report into."),
    ({"name": "App", "communities": [1], "media_hosts": "http://evil/"}, "is not a host name"),
    ({"name": "App", "communities": [1], "rate_limit": "0"}, "The limit is between 1 and 10000"),
    ({"name": "App", "communities": [1], "rate_limit": "lots"}, "Not a valid integer value."),
])
def test_bad_key_forms_say_why_and_issue_nothing(client, auth, world, fields, message):
    auth.login(world.admin)
    fields = dict(fields)
    if "communities" in fields:
        fields["communities"] = [world.x.id]
    response = post(client, "/open311/keys", fields, token_from="/open311/keys")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True).replace("&#34;", '"').replace("&#39;", "'")
    assert db.session.scalar(db.select(db.func.count()).select_from(Open311Key)) == 1


def test_admin_edits_scope_and_the_key_follows(client, auth, world):
    auth.login(world.admin)
    path = f"/open311/keys/{world.key.id}"
    response = post(client, path, {"name": "Renamed", "communities": [world.y.id], "media_hosts": "a.example.cn",
                                   "rate_limit": "10"}, token_from=path)
    assert response.status_code == 302
    db.session.expire_all()
    key = db.session.get(Open311Key, world.key.id)
    assert key.name == "Renamed" and [c.slug for c in key.communities] == ["y"] and key.rate_limit == 10
    data = {"api_key": world.token, "service_code": "lift", "address_id": "3"}
    assert client.post("/open311/v2/requests.json", data={**data, "jurisdiction_id": "x"}).status_code == 403
    assert client.post("/open311/v2/requests.json", data={**data, "jurisdiction_id": "y",
                                                          "address_id": "7"}).status_code == 201
    assert db.session.scalar(db.select(AuditEntry.id).where(AuditEntry.action == "open311_key.updated"))


def test_admin_revokes_and_the_key_stops_working(client, auth, world):
    auth.login(world.admin)
    response = post(client, f"/open311/keys/{world.key.id}/revoke", token_from="/open311/keys")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Open311Key, world.key.id).revoked_at is not None
    response = client.post("/open311/v2/requests.json", data={"api_key": world.token, "jurisdiction_id": "x",
                                                               "service_code": "lift", "address_id": "3"})
    assert response.status_code == 403
    assert db.session.scalar(db.select(AuditEntry.id).where(AuditEntry.action == "open311_key.revoked"))
    assert "Revoked" in client.get("/open311/keys").get_data(as_text=True)


def test_key_forms_need_their_csrf_token(app, auth, world):
    from flask.testing import FlaskClient
    app.config["WTF_CSRF_ENABLED"], saved = True, app.config.get("WTF_CSRF_ENABLED")
    try:
        client = FlaskClient(app)
        from tests.conftest import Auth
        Auth(client).login(world.admin)
        response = client.post(f"/open311/keys/{world.key.id}/revoke")
        assert response.status_code == 400
        db.session.expire_all()
        assert db.session.get(Open311Key, world.key.id).revoked_at is None
    finally:
        app.config["WTF_CSRF_ENABLED"] = saved


@pytest.mark.parametrize("locale,words", [("en", '<html lang="en"'), ("zh", '<html lang="zh-CN"')])
def test_docs_page_is_public_with_endpoints_and_curl(client, world, locale, words):
    response = client.get("/open311/", headers={"Accept-Language": locale})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert words in page
    assert "curl -X POST" in page
    assert "https://yishi.test/open311/v2/requests.json" in page
    assert "jurisdiction_id=x" in page
    assert "Manage API keys" not in page


def test_docs_page_links_admins_to_the_keys(client, auth, world):
    auth.login(world.admin)
    assert "/open311/keys" in client.get("/open311/").get_data(as_text=True)
