"""What production serving adds to every page: compression, hashed static files cached for a year, no session
for visitors on pages without forms, conditional requests on public pages, and recovery from a dropped
database connection without a ping per request."""
import gzip
import re

import brotli
import pytest
from flask import Response, stream_with_context

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from tests.factories import gen_community, gen_sub_district, gen_user

STATIC_LINK = re.compile(r'(?:href|src)="(/static/([0-9a-f]{12})/([^"]+))"')


def _is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


# --- compression ----------------------------------------------------------------------------------------------

def test_pages_are_compressed_with_brotli_or_gzip_as_the_browser_accepts(client):
    plain = client.get("/login", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    text = plain.get_data(as_text=True)
    assert len(plain.data) > 512

    zipped = client.get("/login", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data)
    page = gzip.decompress(zipped.data).decode()
    assert page.count("<form") == text.count("<form") and "</html>" in page

    squeezed = client.get("/login", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert squeezed.headers["Content-Encoding"] == "br"
    assert "</html>" in brotli.decompress(squeezed.data).decode()


def test_small_answers_and_head_requests_are_left_alone(client):
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip, br"})
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
    assert small.get_json() == {"status": "ok", "database": "ok"}
    head = client.head("/", headers={"Accept-Encoding": "gzip, br"})
    assert head.status_code == 200 and "Content-Encoding" not in head.headers


@pytest.fixture
def bare_app():
    """A second app for routes the shared one cannot take any more (Flask adds routes only before serving)."""
    app = create_app(TestConfig())

    @app.get("/stream")
    def stream():
        def lines():
            for n in range(2000):
                yield f"line {n}\n"
        return Response(stream_with_context(lines()), mimetype="text/csv")

    @app.get("/archive")
    def archive():
        return Response(b"PK\x03\x04" + b"\0" * 5000, mimetype="application/zip")

    @app.get("/picture")
    def picture():
        return Response(b"\xff\xd8\xff\xe0" + b"\0" * 5000, mimetype="image/jpeg")

    for view in (stream, archive, picture):
        view.is_public = True
    return app


def test_a_streamed_answer_stays_streamed_and_is_compressed(bare_app):
    response = bare_app.test_client().get("/stream", headers={"Accept-Encoding": "gzip"})
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data).decode() == "".join(f"line {n}\n" for n in range(2000))
    response = bare_app.test_client().get("/stream", headers={"Accept-Encoding": "br"})
    assert brotli.decompress(response.data).decode().endswith("line 1999\n")


def test_compressed_types_are_never_compressed_again(bare_app):
    client = bare_app.test_client()
    for path in ("/archive", "/picture"):
        response = client.get(path, headers={"Accept-Encoding": "gzip, br"})
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert len(response.data) == 5004


# --- static files ---------------------------------------------------------------------------------------------

def test_templates_link_static_files_by_content_hash_cached_for_a_year(app, client):
    import hashlib
    page = client.get("/").get_data(as_text=True)
    links = STATIC_LINK.findall(page)
    assert {name for _, _, name in links} >= {"css/portal.css", "vendor/htmx.min.js", "favicon.svg"}
    for url, digest, name in links:
        content = (app.static_folder + "/" + name)
        with open(content, "rb") as f:
            data = f.read()
        assert digest == hashlib.sha256(data).hexdigest()[:12]
        response = client.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200 and response.data == data
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Cookie" not in response.headers.get("Vary", "") and "Set-Cookie" not in response.headers


def test_static_files_are_compressed_once_and_answer_conditional_requests(app, client):
    page = client.get("/").get_data(as_text=True)
    url = next(url for url, _, name in STATIC_LINK.findall(page) if name == "vendor/htmx.min.js")
    with open(app.static_folder + "/vendor/htmx.min.js", "rb") as f:
        script = f.read()
    response = client.get(url, headers={"Accept-Encoding": "br, gzip"})
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(response.data) == script and len(response.data) < len(script) / 2
    again = client.get(url, headers={"Accept-Encoding": "br, gzip", "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["ETag"] != response.headers["ETag"]  # another body, another tag
    assert gzip.decompress(zipped.data) == script


def test_plain_static_names_still_work_with_a_short_cache(client):
    response = client.get("/static/css/portal.css", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200 and b"{" in response.data
    assert response.headers["Cache-Control"] == "public, max-age=300"
    stale = client.get("/static/000000000000/css/portal.css")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    assert client.get("/static/000000000000/no-such.css").status_code == 404
    assert client.get("/static/../portal/config.py").status_code == 404


def test_a_changed_file_gets_a_new_hash(tmp_path):
    import os

    from portal.delivery import StaticFiles
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "site.css"
    sheet.write_text("body { color: red }")
    files = StaticFiles(tmp_path)
    before = files.digest("css/site.css")
    sheet.write_text("body { color: blue }")
    os.utime(sheet, ns=(1, 1))  # a different modification time, as an edit or a deploy gives
    assert files.digest("css/site.css") != before
    assert files.digest("css/none.css") is None


# --- sessions and conditional requests ------------------------------------------------------------------------

@pytest.fixture
def community():
    place = gen_community(gen_sub_district(), slug="quiet")
    db.session.commit()
    return place


def test_visitors_pages_without_forms_write_no_session(client, community):
    for path in ("/", "/c/quiet", "/c/quiet/issues", "/c/quiet/issues?sort=due", "/c/quiet/proposals",
                 "/c/quiet/ballots", "/c/quiet/actions", "/c/quiet/notices", "/c/quiet/calendar", "/privacy"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
        assert "csrf_token" not in response.get_data(as_text=True), path
    assert client.get_cookie("session") is None
    login = client.get("/login")  # a page with a form carries its token, so it keeps a session
    assert 'name="csrf_token"' in login.get_data(as_text=True)
    assert client.get_cookie("session") is not None


def test_visitors_switch_language_and_text_size_with_get_forms(client, community):
    page = client.get("/c/quiet/issues", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<form method="get" action="/language"' in page and '<form method="get" action="/text-size"' in page
    assert 'name="next" value="/c/quiet/issues"' in page and 'name="language" value="zh"' in page
    response = client.get("/language", query_string={"language": "zh", "next": "/c/quiet/issues"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/quiet/issues")
    page = client.get("/c/quiet/issues", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page and 'name="large" value="1"' in page
    client.get("/text-size", query_string={"large": "1", "next": "/"})
    assert 'class="large-text"' in client.get("/").get_data(as_text=True)
    assert client.get_cookie("session") is None


def test_signed_in_pages_carry_the_token_and_switch_by_form(client, auth):
    user = gen_user(phone="13900000001")
    db.session.commit()
    auth.login(user)
    page = client.get("/").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert '<form method="post" action="/language"' in page and '<form method="get" action="/language"' not in page
    # A link cannot change a signed-in person's stored choice: only the form, with its token, does.
    client.get("/language?language=zh&next=/")
    db.session.refresh(user)
    assert user.locale != "zh"


def test_public_pages_answer_conditional_requests_and_may_be_shared_for_a_minute(client, community):
    first = client.get("/c/quiet/issues", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Cache-Control"] == "public, max-age=60"
    vary = {v.strip() for v in first.headers["Vary"].split(",")}
    assert {"Accept-Language", "Cookie", "Accept-Encoding", "HX-Request"} <= vary
    etag = first.headers["ETag"]
    again = client.get("/c/quiet/issues", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.data == b""
    plain = client.get("/c/quiet/issues", headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert plain.status_code == 304  # the same page, whichever encoding carried it
    other = client.get("/c/quiet/issues", headers={"If-None-Match": etag, "Accept-Language": "zh-CN"})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_personal_pages_stay_private(client, auth, community):
    login = client.get("/login")
    assert login.headers["Cache-Control"] == "private, no-cache" and "ETag" not in login.headers
    user = gen_user(phone="13900000002")
    db.session.commit()
    auth.login(user)
    for path in ("/", "/c/quiet/issues"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-cache", path
        assert "ETag" not in response.headers, path
    auth.logout()  # the next page shows "signed out": a flash, for this visitor only
    shown = client.get("/")
    assert shown.headers["Cache-Control"] == "private, no-cache" and "ETag" not in shown.headers


# --- dropped database connections -----------------------------------------------------------------------------

class _Dropped(Exception):
    pass


def _disconnect():
    from sqlalchemy.exc import OperationalError
    return OperationalError("SELECT 1", {}, _Dropped("server closed the connection"), connection_invalidated=True)


@pytest.fixture
def flaky_app():
    """Routes whose first call meets a dropped connection, as a database restart gives."""
    app = create_app(TestConfig())
    calls = {"read": 0, "write": 0}

    @app.get("/flaky-read")
    def flaky_read():
        calls["read"] += 1
        if calls["read"] == 1:
            raise _disconnect()
        return f"read on attempt {calls['read']}"

    @app.route("/flaky-write", methods=["GET", "POST"])
    def flaky_write():
        calls["write"] += 1
        raise _disconnect()

    for view in (flaky_read, flaky_write):
        view.is_public = True
    app.config["WTF_CSRF_ENABLED"] = False
    app.calls = calls
    return app


def test_a_read_that_meets_a_dropped_connection_runs_once_more(flaky_app):
    response = flaky_app.test_client().get("/flaky-read")
    assert response.status_code == 200 and response.get_data(as_text=True) == "read on attempt 2"


def test_a_read_is_retried_only_once(flaky_app):
    response = flaky_app.test_client().get("/flaky-write")
    assert response.status_code == 503 and flaky_app.calls["write"] == 2


def test_a_write_that_meets_a_dropped_connection_is_told_to_try_again(flaky_app):
    response = flaky_app.test_client().post("/flaky-write", headers={"Accept-Language": "zh-CN"})
    assert flaky_app.calls["write"] == 1  # never run twice
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "未保存任何内容" in response.get_data(as_text=True)


def _terminate_other_backends(app):
    """Cut every connection to the test database but this one, as a restart or failover does."""
    import psycopg
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        cut = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    return cut


def test_postgresql_restart_between_requests_loses_nothing(app, client, auth, community, caplog):
    from portal.audit.models import AuditEntry
    if db.engine.dialect.name != "postgresql":
        pytest.skip("connections are cut on PostgreSQL only")
    user = gen_user(phone="13900000003")
    db.session.commit()
    auth.login(user)
    assert client.get("/c/quiet/issues").status_code == 200  # the pool now holds live connections
    db.session.remove()
    assert _terminate_other_backends(app) >= 1
    assert client.get("/c/quiet/issues").status_code == 200
    assert "Database connection lost on GET /c/quiet/issues; retrying once" in caplog.text  # it was cut

    from tests.csrf import csrf_token
    token = csrf_token(client, "/")
    db.session.remove()
    _terminate_other_backends(app)
    response = client.post("/language", data={"language": "zh", "next": "/", "csrf_token": token})
    assert response.status_code in (302, 503)
    # Read what was saved on a fresh connection: the pool may hold another connection cut above that the
    # request did not meet (how many the pool holds depends on the tests before this one).
    db.session.remove()
    db.engine.dispose()
    saved = db.session.get(type(user), user.id)
    entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "account.preferences")).all()
    if response.status_code == 302:
        assert saved.locale == "zh" and len(entries) == 1
    else:
        assert response.headers["Retry-After"] == "5"
        assert saved.locale != "zh" and entries == []
    assert client.get("/").status_code == 200
    # The pool may still hold a connection cut above that no request has met: the cleaning after the test
    # must not be the one to meet it.
    db.session.remove()
    db.engine.dispose()
