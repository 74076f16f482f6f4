"""Fixtures: one app per test session (SQLite in memory, or PostgreSQL with TEST_DATABASE_URL), every
table emptied after each test, and a client that can sign in as anyone.

`make test` spreads the suite over the machine's cores (pytest-xdist). Each worker is its own process with
its own in-memory SQLite database; on PostgreSQL each worker gets a database of its own, named after the
given one (`test_gw0`, `test_gw1`, …, made here when missing), so nothing a test writes, empties or
restores reaches another worker's tests."""
import os
import re
import socket
import tempfile
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask.testing import FlaskClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoInspectionAvailable

os.environ.setdefault("PORTAL_INSTANCE_DIR", tempfile.mkdtemp(prefix="yishi-test-instance-"))


def _database_for_this_worker() -> None:
    """Point TEST_DATABASE_URL at this xdist worker's own PostgreSQL database, creating it if needed.

    The test databases do not wait for the disk at each commit (synchronous_commit off: a crash of the server
    could lose the last few commits, which a throwaway test database does not mind); the suite commits after
    every world, request and cleaning, and each wait for the WAL's fsync was most of a small test's time."""
    base, worker = os.environ.get("TEST_DATABASE_URL"), os.environ.get("PYTEST_XDIST_WORKER")
    if not base or not base.startswith("postgres"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from portal.config import _database_url

    url = make_url(_database_url(base))
    name = f"{url.database}_{worker}" if worker else url.database
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        admin.dispose()
    os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)


_database_for_this_worker()

from portal import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.extensions import db  # noqa: E402
from tests.factories import DEFAULT_PASSWORD  # noqa: E402


class RequestIsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production: the test's own context (and its `g`,
    its database session, Flask-Login's cached user, Flask-Babel's cached locale) does not leak into it."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    app = create_app(TestConfig())
    app.test_client_class = RequestIsolatedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


# Tables some statement inserted into since the last cleaning, from every engine in this process (a test
# may make a second app on the same database): emptying only those is far cheaper than sixty DELETEs.
_written_tables: set[str] = set()
_INSERT = re.compile(r'\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+"?(\w+)"?', re.IGNORECASE)


@event.listens_for(Engine, "before_cursor_execute")
def _note_inserts(conn, cursor, statement, parameters, context, executemany):
    match = _INSERT.match(statement)
    if match:
        _written_tables.add(match.group(1))


@pytest.fixture(autouse=True)
def _clean_database(request, app):
    if "browser" in request.keywords:
        yield
        return
    with app.app_context():
        yield
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            if table.name in _written_tables:
                db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
        _written_tables.clear()


# --- A world built once per process, restored for each test -------------------------------------------------------

# {builder: (rows per table, the world with its rows as references)}: what the builder wrote, as it left it.
_worlds: dict = {}


def reused_world(build):
    """The world `build()` makes (a namespace of rows, committed), built by the first test of this process that
    asks for it and copied for every later one: its rows are inserted again with their own ids (one
    executemany per table, no ORM flush) and the namespace is given fresh instances of the same rows, expired
    in the session as after build()'s own commit. Building a world took most of a small test's time (dozens of
    flushes, each through every area's session hooks).

    Only from an empty database: when something was written before (another fixture), it builds as before."""
    from sqlalchemy.orm import make_transient_to_detached

    if _written_tables:
        return build()
    cached = _worlds.get(build)
    if cached is None:
        world = build()
        db.session.commit()
        rows = {table: [dict(zip(table.c.keys(), row, strict=True)) for row in db.session.execute(table.select())]
                for table in db.metadata.sorted_tables if table.name in _written_tables}
        _worlds[build] = ({table: found for table, found in rows.items() if found}, _as_references(world))
        return world
    rows, references = cached
    for table, found in rows.items():
        db.session.execute(table.insert(), found)
    _raise_sequences(rows)
    db.session.commit()

    def instance(cls, key):
        obj = cls.__mapper__.class_manager.new_instance()
        for column, value in zip(cls.__mapper__.primary_key, key, strict=True):
            setattr(obj, cls.__mapper__.get_property_by_column(column).key, value)
        make_transient_to_detached(obj)
        db.session.add(obj)
        db.session.expire(obj)
        return obj

    return _from_references(references, instance, {})


def _as_references(value):
    """The world with each of its rows replaced by (class, primary key): nothing tied to the first session."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm.exc import UnmappedInstanceError
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, SimpleNamespace):
        return ("namespace", {k: _as_references(v) for k, v in vars(value).items()})
    if isinstance(value, (list, tuple, set)):
        return (type(value).__name__, [_as_references(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(_as_references(k), _as_references(v)) for k, v in value.items()])
    try:
        state = sa_inspect(value)
    except (UnmappedInstanceError, NoInspectionAvailable):
        return ("value", value)
    return ("row", type(value), state.identity)


def _from_references(reference, instance, made):
    if not isinstance(reference, tuple):
        return reference
    kind = reference[0]
    if kind == "namespace":
        return SimpleNamespace(**{k: _from_references(v, instance, made) for k, v in reference[1].items()})
    if kind in ("list", "tuple", "set"):
        return {"list": list, "tuple": tuple, "set": set}[kind](_from_references(v, instance, made)
                                                                for v in reference[1])
    if kind == "dict":
        return {_from_references(k, instance, made): _from_references(v, instance, made) for k, v in reference[1]}
    if kind == "value":
        return reference[1]
    key = (reference[1], reference[2])
    if key not in made:
        made[key] = instance(*key)
    return made[key]


def _raise_sequences(rows) -> None:
    """PostgreSQL: each restored table's id sequence past the restored ids (a table made again restarts it)."""
    if db.engine.dialect.name != "postgresql":
        return
    pairs = [(table.name, max(row["id"] for row in found)) for table, found in rows.items()
             if "id" in table.c and isinstance(found[0]["id"], int)]
    if not pairs:
        return
    values = ", ".join(f"(:t{n}, :m{n})" for n in range(len(pairs)))
    params = {k: v for n, (name, top) in enumerate(pairs) for k, v in ((f"t{n}", name), (f"m{n}", top))}
    db.session.execute(text(
        "SELECT setval(s, GREATEST(m, COALESCE(pg_sequence_last_value(s), 1))) FROM "
        f"(SELECT pg_get_serial_sequence(t, 'id')::regclass AS s, m FROM (VALUES {values}) AS v(t, m)) AS q "
        "WHERE s IS NOT NULL"), params)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_login, password=DEFAULT_PASSWORD, remember=False):
        from tests.csrf import csrf_token
        login = getattr(user_or_login, "login_name", user_or_login)
        data = {"login": login, "password": password, "csrf_token": csrf_token(self.client, "/login")}
        if remember:
            data["remember"] = "y"
        return self.client.post("/login", data=data)

    def logout(self):
        from tests.csrf import csrf_token
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client):
    return Auth(client)


# --- A real SMTP server for the e-mail channel -------------------------------------------------

class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_inbox(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    saved = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    app.config.update(saved)
    controller.stop()


# --- Uploaded files in a folder of their own -------------------------------------------------------------

@pytest.fixture
def upload_dir(app, tmp_path):
    """Photos and attachments go to a fresh folder for the test (returned), not the instance's."""
    saved = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = saved
