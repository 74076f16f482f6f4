"""A request whose transaction only read ends it with COMMIT, anything that may have written with ROLLBACK as
before (portal.extensions.end_reads_with_commit): psycopg forgets its prepared statements on every rollback,
so that no statement was ever prepared when every request rolled back. On PostgreSQL a GET reads in autocommit,
with no transaction at all, until a statement may write or lock; from there on it is one transaction."""
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, text

from portal.extensions import _may_write, db
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


def in_request(app, work, fail=False, method="POST"):
    """`work()` in a request's app context of its own, as a view would run it; with `fail`, the view raises.
    A POST unless `method` says otherwise: a GET on PostgreSQL reads in autocommit (the tests further down)."""
    try:
        # the test's own context is not the request's
        with app.app_context(), app.test_request_context("/", method=method):
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


def test_a_get_reads_as_any_request_on_sqlite(app, endings):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite keeps its transactions")
    in_request(app, sub_districts, method="GET")
    assert endings == ["commit"]


@pytest.fixture
def postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("autocommit reads are PostgreSQL's")
        yield db.engine


@pytest.fixture
def states(postgresql):
    """(statement's first words, the connection's transaction state after it) for every statement sent."""
    seen = []

    def ran(conn, cursor, statement, parameters, context, executemany):
        seen.append((" ".join(statement.split()[:2]), cursor.connection.info.transaction_status))
    event.listen(postgresql, "after_cursor_execute", ran)
    yield seen
    event.remove(postgresql, "after_cursor_execute", ran)


IDLE, IN_TRANSACTION = TransactionStatus.IDLE, TransactionStatus.INTRANS


def test_a_signed_in_get_sends_its_reads_without_a_transaction(app, auth, states, endings):
    from tests.factories import gen_user
    with app.app_context():
        login = gen_user().login_name
        db.session.commit()
    auth.login(login)
    states.clear()
    endings.clear()
    assert auth.client.get("/privacy").status_code == 200
    assert states and all(state == IDLE for _words, state in states)  # each SELECT committed as it ran
    assert endings == ["rollback"]  # the session's close: psycopg sends nothing on an idle connection


def test_other_methods_and_commands_still_read_in_a_transaction(app, states, endings):
    in_request(app, sub_districts, method="POST")
    with app.app_context():  # a command's or the worker's
        sub_districts()
        db.session.commit()
    assert [state for _words, state in states] == [IN_TRANSACTION, IN_TRANSACTION]
    assert endings == ["commit", "commit"]


@pytest.mark.parametrize("lock", ["row", "advisory"])
def test_a_get_that_locks_holds_the_lock_to_the_end_of_the_request(app, states, endings, lock):
    def work():
        sub_districts()
        if lock == "row":
            db.session.scalars(db.select(SubDistrict).with_for_update()).all()
        else:
            db.session.execute(db.select(db.func.pg_advisory_xact_lock(4242)))
        sub_districts()
    in_request(app, work, method="GET")
    assert [state for _words, state in states] == [IDLE, IN_TRANSACTION, IN_TRANSACTION]
    assert endings == ["commit"]  # the lock and the reads after it: one transaction, ended with COMMIT


@pytest.mark.parametrize("commit", [False, True])
def test_a_get_that_writes_writes_in_one_transaction(app, states, endings, commit):
    def work():
        sub_districts()
        db.session.add(SubDistrict(name="读后写街道一", slug="get-write-one"))
        db.session.flush()
        db.session.execute(db.insert(SubDistrict).values(name="读后写街道二", slug="get-write-two"))
        if commit:
            db.session.commit()
    in_request(app, work, method="GET", fail=not commit)
    assert [state for _words, state in states] == [IDLE, IN_TRANSACTION, IN_TRANSACTION]
    assert endings == (["commit"] if commit else ["rollback"])
    with app.app_context():
        written = {"读后写街道一", "读后写街道二"} & set(sub_districts())
    assert written == ({"读后写街道一", "读后写街道二"} if commit else set())


def test_a_connection_leaves_autocommit_before_anyone_else_uses_it(app, postgresql):
    used = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        used.append(cursor.connection)
    event.listen(postgresql, "before_cursor_execute", seen)
    try:
        in_request(app, sub_districts, method="GET")
    finally:
        event.remove(postgresql, "before_cursor_execute", seen)
    (raw,) = set(used)
    assert raw.autocommit  # back in the pool as the GET left it
    held = []
    try:
        while True:  # every pooled connection in turn, until the GET's comes out again
            held.append(postgresql.connect())
            if held[-1].connection.driver_connection is raw:
                break
        assert raw.autocommit is False
        held[-1].execute(text("SELECT 1"))
        assert raw.info.transaction_status == IN_TRANSACTION
    finally:
        for connection in held:
            connection.close()


def test_an_engine_made_for_autocommit_keeps_it(app, postgresql):
    from sqlalchemy import create_engine
    engine = create_engine(postgresql.url, isolation_level="AUTOCOMMIT")  # as for CREATE and DROP DATABASE
    try:
        for _ in range(2):  # a new connection, then the same one from the pool
            with app.test_request_context("/"), engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                conn.execute(text("SET application_name = 'autocommit-kept'"))
                assert conn.connection.driver_connection.autocommit
            with engine.connect() as conn:
                assert conn.connection.driver_connection.autocommit
    finally:
        engine.dispose()


@pytest.mark.parametrize(("statement", "may_write"), [
    ("SELECT id FROM issue WHERE title = 'before the update'", False),
    ("select id from ballot where id = 1 for update", True),  # written by hand, in lower case
    ("  select 1", False),
    ("SELECT id FROM ballot WHERE id = %(id)s FOR UPDATE", True),
    ("SELECT id FROM ballot FOR NO KEY UPDATE OF ballot", True),
    ("SELECT id FROM ballot\nFOR SHARE", True),
    ("SELECT id FROM ballot FOR KEY SHARE", True),
    ("SELECT pg_advisory_xact_lock(%(key)s)", True),
    ("INSERT INTO issue (title) VALUES (%(title)s)", True),
    ("WITH moved AS (UPDATE issue SET status = 'x' RETURNING id) SELECT id FROM moved", True),
    ("SAVEPOINT sa_savepoint_1", True),
])
def test_what_counts_as_writing_or_locking(statement, may_write):
    assert _may_write(statement) is may_write


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
