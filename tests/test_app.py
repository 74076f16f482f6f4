def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_home_is_public_and_carries_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Referrer-Policy" in response.headers


def test_pages_require_sign_in_unless_public(client):
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_id_too_large_for_the_database_is_not_found(client):
    """Every <int:…> in a route stops at what an integer column holds: 404, not an overflow."""
    from portal.extensions import db
    from tests.factories import gen_community, gen_sub_district
    gen_community(gen_sub_district(), slug="x")
    db.session.commit()
    assert client.get("/c/x/proposals/2147483647").status_code == 404  # the largest id: looked up, not there
    assert client.get("/c/x/proposals/" + "9" * 30).status_code == 404
    assert client.get("/c/x/issues/" + "9" * 30).status_code == 404


def test_postgresql_connections_sort_in_memory_sqlite_needs_nothing():
    """No ping before each checkout (a round trip per request); old connections are replaced instead."""
    from portal.config import _engine_options
    assert _engine_options("sqlite:///x.sqlite3") == {"pool_recycle": 1800}
    options = _engine_options("postgresql+psycopg://postgres@127.0.0.1/test")
    from portal.pgcursor import Cursor
    assert options["connect_args"] == {"options": "-c work_mem=16MB", "prepare_threshold": 5,
                                       "cursor_factory": Cursor}


def test_the_database_has_the_work_memory_asked_for(app):
    from sqlalchemy import text

    from portal.extensions import db
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return  # SQLite has no such setting
        assert db.session.scalar(text("SHOW work_mem")) == "16MB"


def test_an_in_memory_database_is_never_recycled():
    """Replacing the one connection of an in-memory SQLite database would lose every table (a suite run past
    half an hour on a busy machine failed with "no such table" from then on)."""
    from portal.config import _engine_options
    assert _engine_options("sqlite://")["pool_recycle"] == -1
    assert _engine_options("sqlite:///:memory:")["pool_recycle"] == -1
    assert _engine_options("sqlite:////tmp/portal.sqlite3")["pool_recycle"] == 1800


def test_a_first_start_makes_one_secret_key_kept_private(tmp_path, monkeypatch):
    from portal import config
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    key = config._secret_key()
    assert len(key) == 64 and int(key, 16) >= 0
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert config._secret_key() == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_a_key_another_worker_made_a_moment_before_is_read_not_an_error(tmp_path, monkeypatch):
    """gunicorn's workers (and the test runner's) start together: one looks for the key, finds none, and
    meanwhile another writes it. The late one reads that key instead of failing to start."""
    from pathlib import Path

    from portal import config
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    (tmp_path / "secret_key").write_text("made-by-the-other-worker\n")
    exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self, *a, **k: False if self.name == "secret_key"
                        else exists(self, *a, **k))
    assert config._secret_key() == "made-by-the-other-worker"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
