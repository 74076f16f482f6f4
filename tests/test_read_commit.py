"""A request whose transaction only read ends it with COMMIT, anything that may have written with ROLLBACK as
before (portal.extensions.end_reads_with_commit): psycopg forgets its prepared statements on every rollback,
so that no statement was ever prepared when every request rolled back."""
import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.places.models import SubDistrict


@pytest.fixture
def endings(app):
    seen = []

    def committed(conn):
        seen.append("commit")

    def rolled_back(conn):
        seen.append("rollback")
    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", committed)
    event.listen(engine, "rollback", rolled_back)
    yield seen
    event.remove(engine, "commit", committed)
    event.remove(engine, "rollback", rolled_back)


def in_request(app, work, fail=False):
    """`work()` in a request's app context of its own, as a view would run it; with `fail`, the view raises."""
    try:
        with app.app_context(), app.test_request_context("/"):  # the test's own context is not the request's
            work()
            if fail:
                raise RuntimeError("the view failed")
    except RuntimeError:
        pass


def sub_districts():
    return db.session.scalars(db.select(SubDistrict.name)).all()


def test_reads_end_with_commit(app, endings):
    in_request(app, sub_districts)
    in_request(app, lambda: db.session.scalars(db.select(SubDistrict).with_for_update()).all())
    assert endings == ["commit", "commit"]


def test_a_request_that_used_no_database_ends_no_transaction(app, endings):
    in_request(app, lambda: None)
    assert endings == []


@pytest.mark.parametrize("write", ["pending", "flushed", "statement"])
def test_anything_written_and_not_committed_is_rolled_back(app, endings, write):
    def work():
        sub_districts()
        if write == "pending":  # added, never flushed: a commit would flush it
            db.session.add(SubDistrict(name="未提交街道", slug="never-pending"))
        elif write == "flushed":
            db.session.add(SubDistrict(name="未提交街道", slug="never-flushed"))
            db.session.flush()
        else:
            db.session.execute(db.insert(SubDistrict).values(name="未提交街道", slug="never-statement"))
    in_request(app, work)
    assert endings == ["rollback"]
    with app.app_context():
        assert "未提交街道" not in sub_districts()


def test_a_view_that_failed_rolls_back(app, endings):
    in_request(app, sub_districts, fail=True)
    assert endings == ["rollback"]


def test_a_request_that_committed_its_write_ends_its_later_reads_with_commit(app, endings):
    def work():
        db.session.add(SubDistrict(name="已提交街道", slug="committed-one"))
        db.session.commit()
        sub_districts()
    in_request(app, work)
    assert endings == ["commit", "commit"]
    with app.app_context():
        assert "已提交街道" in sub_districts()


def test_statements_are_prepared_across_requests_on_postgresql(app, client):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's prepared statements")
        engine = db.engine
    used = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        used.append(conn.connection.driver_connection)  # whichever pooled connection served the request
    event.listen(engine, "before_cursor_execute", seen)
    prepared = False
    try:
        for _ in range(60):  # the pool may hold several connections, served in turn: enough uses for each
            assert client.get("/privacy").status_code == 200
            in_request(app, sub_districts)
            prepared = any(c._prepared._names for c in set(used))  # what psycopg has prepared on them
            if prepared:
                break
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert prepared


def test_the_prepare_threshold_is_a_setting(monkeypatch):
    from portal.config import _engine_options
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert _engine_options(url)["connect_args"]["prepare_threshold"] == 5
    for off in ("off", "none", ""):
        monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", off)
        assert _engine_options(url)["connect_args"]["prepare_threshold"] is None
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "2")
    assert _engine_options(url)["connect_args"]["prepare_threshold"] == 2
    assert "connect_args" not in _engine_options("sqlite:///x.sqlite3")
