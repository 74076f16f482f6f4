"""While the database cannot be reached, pages answer 503 with a translated "try again shortly" page and
Retry-After, /healthz names the dependency that is down, and nothing is half-written (issue #18).

Nothing here is mocked: an unreachable database is a PostgreSQL URL on a port nothing listens on (or an SQLite
file in a folder that does not exist), and a database that goes away mid-request is a connection cut under the
request (PostgreSQL: pg_terminate_backend; SQLite: the driver's connection closed) while every new connection
is sent to that unreachable address (SQLAlchemy's do_connect event)."""
import socket

import pytest
from flask import request
from sqlalchemy import event, text

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db

SUITE_URL = TestConfig().SQLALCHEMY_DATABASE_URI
ON_POSTGRESQL = SUITE_URL.startswith("postgresql")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_url(tmp_path) -> str:
    """The suite's kind of database, where none answers."""
    if ON_POSTGRESQL:
        return f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/yishi"
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.sqlite3'}"


def _app(url):
    app = create_app(TestConfig(url))
    app.config.update(WTF_CSRF_ENABLED=False, PROPAGATE_EXCEPTIONS=False)
    return app


@pytest.fixture
def down_app(tmp_path):
    app = _app(unreachable_url(tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


def signed_in(client, user_id=1):
    """A visitor holding a signed-in session cookie (the person cannot be loaded: the database is away)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    return client


# --- pages while the database cannot be reached ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["/c/quiet/issues", "/c/quiet/proposals", "/open311/", "/c/quiet"])
def test_a_page_answers_503_with_retry_after_in_the_visitors_language(down_app, path):
    client = down_app.test_client()
    response = client.get(path, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN"' in page and "暂时无法使用" in page and "稍后再试" in page
    assert f'href="{path}"' in page  # "try again" reloads the same page

    english = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Please try again shortly." in english


def test_a_signed_in_person_gets_the_page_too_in_the_language_of_their_cookie(down_app):
    client = signed_in(down_app.test_client())
    client.set_cookie("lang", "zh")
    response = client.get("/notifications/", headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    page = response.get_data(as_text=True)
    assert "暂时无法使用" in page and "Sign out" not in page and "退出" not in page


def test_a_form_sent_while_the_database_is_away_is_told_nothing_was_saved(down_app):
    client = signed_in(down_app.test_client())
    response = client.post("/language", data={"language": "zh", "next": "/"}, headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    page = response.get_data(as_text=True)
    assert "Nothing you sent was saved" in page
    assert 'href="/language"' in page


def test_a_json_request_gets_a_json_503(down_app):
    response = down_app.test_client().get("/c/quiet/issues", headers={"Accept": "application/json"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json() == {"error": "Briefly unavailable"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_answers_503_in_the_specs_error_format(down_app, fmt):
    from tests.open311 import error_of
    response = down_app.test_client().get(f"/open311/v2/services.{fmt}?jurisdiction_id=x")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert error_of(response, fmt) == (503, "The service is briefly unavailable: please try again shortly.")


def test_the_unavailable_page_is_logged_as_a_warning_not_an_error(down_app, caplog):
    down_app.test_client().get("/c/quiet/issues")
    unreachable = [r for r in caplog.records if "Database unreachable on GET /c/quiet/issues" in r.getMessage()]
    assert unreachable and unreachable[0].levelname == "WARNING"
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "Unhandled" in r.getMessage()]


# --- /healthz ------------------------------------------------------------------------------------------------

def test_healthz_names_the_database_when_it_is_down(down_app):
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unavailable"}
    assert response.headers["Retry-After"] and response.headers["Cache-Control"] == "no-store"


def test_healthz_checks_redis_only_when_it_is_configured(app, client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        response = client.get("/healthz")
    finally:
        app.config["REDIS_URL"] = saved
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "ok", "redis": "unavailable"}


def test_healthz_says_ok_for_a_redis_that_answers(app, client):
    from redis import Redis
    from redis.exceptions import RedisError
    url = "redis://127.0.0.1:6379/0"
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except (RedisError, OSError):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = url
    try:
        response = client.get("/healthz")
    finally:
        app.config["REDIS_URL"] = saved
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_names_both_when_both_are_down(down_app):
    down_app.config["REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unavailable", "redis": "unavailable"}


# --- a database that goes away in the middle of a request ---------------------------------------------------

def _send_connections_nowhere(engine, tmp_path):
    """From now on every new connection goes to an address where no database answers."""
    port = closed_port()

    def elsewhere(dialect, connection_record, cargs, cparams):
        if ON_POSTGRESQL:
            cparams["port"] = port
        else:
            cargs[:] = [str(tmp_path / "no-such-folder" / "portal.sqlite3")]
    event.listen(engine, "do_connect", elsewhere)
    return lambda: event.remove(engine, "do_connect", elsewhere)


def _cut(session_connection):
    """Cut this connection as a database restart does."""
    if ON_POSTGRESQL:
        import psycopg
        pid = session_connection.execute(text("SELECT pg_backend_pid()")).scalar()
        url = SUITE_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    else:
        session_connection.connection.dbapi_connection.close()


@pytest.fixture
def leaving_app(app, tmp_path):
    """An app on the suite's database (PostgreSQL) or an SQLite file of its own, whose routes write a row, lose
    the database and then try to go on."""
    from tests.factories import gen_sub_district
    url = SUITE_URL if ON_POSTGRESQL else f"sqlite:///{tmp_path / 'leaving.sqlite3'}"
    leaving = _app(url)
    restore = []

    def write_then_lose():
        gen_sub_district(name="Half-written", slug="half-written")
        _cut(db.session.connection())
        restore.append(_send_connections_nowhere(db.engine, tmp_path))
        if request.method == "GET":
            db.session.execute(text("SELECT 1"))  # a read that meets the cut connection
        db.session.commit()
        return "saved"

    leaving.add_url_rule("/write-then-lose", "write_then_lose", write_then_lose, methods=["GET", "POST"])
    leaving.view_functions["write_then_lose"].is_public = True
    leaving.restore = restore
    with leaving.app_context():
        if not ON_POSTGRESQL:
            db.create_all()
    yield leaving
    with leaving.app_context():
        while restore:
            restore.pop()()
        db.engine.dispose()


def test_a_write_that_loses_the_database_before_its_commit_saves_nothing(leaving_app):
    response = leaving_app.test_client().post("/write-then-lose", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "未保存任何内容" in response.get_data(as_text=True)
    assert _half_written_after_restoring(leaving_app) == []


def test_a_read_retried_after_a_cut_while_the_database_stays_away_gets_the_unavailable_page(leaving_app):
    response = leaving_app.test_client().get("/write-then-lose", headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Please try again shortly." in response.get_data(as_text=True)
    assert _half_written_after_restoring(leaving_app) == []


def _half_written_after_restoring(leaving):
    """With connections going to the database again: what the cut request left behind."""
    from portal.places.models import SubDistrict
    with leaving.app_context():
        while leaving.restore:
            leaving.restore.pop()()
        db.engine.dispose()
        found = db.session.scalars(db.select(SubDistrict).where(SubDistrict.slug == "half-written")).all()
        db.session.remove()
        return found
