"""media_url: fetched only from the key's allow-listed hosts, checked and re-encoded as an issue photo;
anything else stays a link. A real HTTP server on 127.0.0.1 serves the files."""
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from portal.extensions import db
from portal.issues.models import Issue, IssuePhoto
from portal.open311.models import Open311Request
from tests.open311 import BASE


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


class _Server:
    def __init__(self):
        self.hits = []
        png = _png()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                if self.path == "/photo.png":
                    self._send(200, png, "image/png")
                elif self.path == "/notes.txt":
                    self._send(200, b"not a picture", "image/png")
                elif self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", "http://localhost:%d/photo.png" % self.server.server_port)
                    self.end_headers()
                elif self.path == "/hop":
                    self.send_response(302)
                    self.send_header("Location", "/photo.png")
                    self.end_headers()
                else:
                    self._send(404, b"no", "text/plain")

            def _send(self, code, body, content_type):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def media_server():
    server = _Server()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _allow(world, *hosts):
    from portal.open311 import services
    services.update_key(world.admin, world.key, name=world.key.name, communities=[world.x],
                        media_hosts="\n".join(hosts), rate_limit=60)
    db.session.commit()


def _post(client, world, media_url):
    response = client.post(f"{BASE}/requests.json", data={
        "api_key": world.token, "jurisdiction_id": "x", "service_code": "lift", "address_id": "3",
        "media_url": media_url})
    assert response.status_code == 201, response.get_json()
    issue = db.session.get(Issue, int(response.get_json()[0]["service_request_id"]))
    link = db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == issue.id))
    return issue, link


def test_allow_listed_media_is_fetched_and_stored_as_a_photo(client, world, media_server, upload_dir):
    _allow(world, "127.0.0.1")
    issue, link = _post(client, world, media_server.url("/photo.png"))
    assert media_server.hits == ["/photo.png"]
    (photo,) = db.session.scalars(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id)).all()
    assert (photo.width, photo.height) == (64, 48)
    assert link.media_stored is True and link.media_url == media_server.url("/photo.png")
    assert (upload_dir / "issues" / f"{photo.key}-1600.jpg").read_bytes()[:2] == b"\xff\xd8"  # re-encoded JPEG
    found = client.get(f"{BASE}/requests/{issue.id}.json?jurisdiction_id=x").get_json()[0]
    assert found["media_url"] == f"https://yishi.test/issues/photos/{photo.key}-1600.jpg"
    assert client.get(f"/issues/photos/{photo.key}-1600.jpg").status_code == 200


def test_media_off_the_allow_list_is_kept_as_a_link_and_never_fetched(client, world, media_server, upload_dir):
    _allow(world, "media.example.cn")
    issue, link = _post(client, world, media_server.url("/photo.png"))
    assert media_server.hits == []
    assert link.media_stored is False and link.media_url == media_server.url("/photo.png")
    assert db.session.scalar(db.select(IssuePhoto.id).where(IssuePhoto.issue_id == issue.id)) is None
    found = client.get(f"{BASE}/requests/{issue.id}.json?jurisdiction_id=x").get_json()[0]
    assert found["media_url"] == media_server.url("/photo.png")


def test_a_redirect_off_the_allow_list_is_not_followed(client, world, media_server, upload_dir):
    _allow(world, "127.0.0.1")
    issue, link = _post(client, world, media_server.url("/away"))
    assert media_server.hits == ["/away"]  # localhost is not on the list: never asked
    assert link.media_stored is False


def test_a_redirect_within_the_allow_list_is_followed(client, world, media_server, upload_dir):
    _allow(world, "127.0.0.1")
    issue, link = _post(client, world, media_server.url("/hop"))
    assert media_server.hits == ["/hop", "/photo.png"]
    assert link.media_stored is True


@pytest.mark.parametrize("path", ["/notes.txt", "/missing.png"])
def test_what_is_not_a_photo_stays_a_link(client, world, media_server, upload_dir, path):
    _allow(world, "127.0.0.1")
    issue, link = _post(client, world, media_server.url(path))
    assert media_server.hits == [path]
    assert link.media_stored is False
    assert db.session.scalar(db.select(IssuePhoto.id).where(IssuePhoto.issue_id == issue.id)) is None


def test_a_rejected_issue_shows_no_media(client, world, media_server, upload_dir):
    from portal.issues import services as issues
    _allow(world, "127.0.0.1")
    issue, link = _post(client, world, media_server.url("/photo.png"))
    issues.reject_issue(world.property_x, issue, "Not a lift problem")
    db.session.commit()
    found = client.get(f"{BASE}/requests/{issue.id}.json?jurisdiction_id=x").get_json()[0]
    assert found["media_url"] is None
